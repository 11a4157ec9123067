"""Backups are consistent while the node serves, and restore into a new data directory."""

from __future__ import annotations

import asyncio
import io
import json
import tarfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from node.app import build_app
from node.backup import create_backup, restore_backup
from node.config import NodeConfig, UnlockMethod
from node.errors import BackupError, NodeExists, UnlockFailed
from node.instance import Node, init_node, open_node
from node.keyring import UnlockSecret
from node.members import MemberProfile, invite_member, list_members

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
async def passphrase_node(tmp_path: Path) -> Any:
    config = NodeConfig(
        data_dir=tmp_path / "node",
        name="Backup University",
        base_url="http://127.0.0.1:8080",
        unlock=UnlockMethod.PASSPHRASE,
    )
    node = await init_node(config, UnlockSecret.from_passphrase(PASSPHRASE))
    yield node
    await node.close()


async def _invite(node: Node, index: int) -> None:
    await invite_member(node, MemberProfile.validated(name=f"Member {index}", email=f"m{index}@example.org"), "mentee")


async def test_a_backup_taken_while_the_node_serves_and_writes_restores_and_reads_with_the_passphrase(
    passphrase_node: Node, tmp_path: Path, aiohttp_client: Callable[[web.Application], Awaitable[TestClient[Any, Any]]]
) -> None:
    client = await aiohttp_client(build_app(passphrase_node.config, UnlockSecret.from_passphrase(PASSPHRASE)))
    for index in range(20):
        await _invite(passphrase_node, index)
    progress: list[tuple[int, int]] = []

    async def keep_writing() -> None:
        for index in range(20, 40):
            await _invite(passphrase_node, index)

    writer = asyncio.create_task(keep_writing())
    info = await asyncio.to_thread(
        create_backup,
        passphrase_node.config,
        tmp_path / "node.backup",
        progress=lambda done, total: progress.append((done, total)),
    )
    await writer
    assert (await client.get("/healthz")).status == 200
    assert progress and progress[-1][0] == progress[-1][1]
    assert (tmp_path / "node.backup").stat().st_mode & 0o777 == 0o600

    config, members = await restore_backup(
        info.path, tmp_path / "restored", key_file=None, passphrase=lambda: PASSPHRASE
    )

    assert 20 <= members <= 40
    restored = await open_node(config, UnlockSecret.from_passphrase(PASSPHRASE))
    try:
        names = {m.profile.name for m in await list_members(restored) if m.profile}
        assert {f"Member {i}" for i in range(20)} <= names
        assert await restored.verify_audit_log() == members + 1
    finally:
        await restored.close()


async def test_a_wrong_passphrase_at_restore_is_refused_and_leaves_nothing_behind(
    passphrase_node: Node, tmp_path: Path
) -> None:
    info = create_backup(passphrase_node.config, tmp_path / "node.backup")
    with pytest.raises(UnlockFailed, match="wrong passphrase"):
        await restore_backup(info.path, tmp_path / "restored", key_file=None, passphrase=lambda: "wrong")
    assert not (tmp_path / "restored").exists()


async def test_restore_refuses_to_overwrite_an_existing_node(passphrase_node: Node, tmp_path: Path) -> None:
    info = create_backup(passphrase_node.config, tmp_path / "node.backup")
    with pytest.raises(NodeExists):
        await restore_backup(info.path, passphrase_node.config.data_dir, key_file=None, passphrase=lambda: PASSPHRASE)


def test_backup_refuses_to_overwrite_a_file(passphrase_node: Node, tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("precious")
    with pytest.raises(BackupError, match="already exists"):
        create_backup(passphrase_node.config, tmp_path / "taken")
    assert (tmp_path / "taken").read_text() == "precious"


async def test_a_corrupted_backup_is_refused(passphrase_node: Node, tmp_path: Path) -> None:
    info = create_backup(passphrase_node.config, tmp_path / "node.backup")
    data = bytearray(info.path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    broken = tmp_path / "broken.backup"
    broken.write_bytes(bytes(data))
    with pytest.raises(BackupError, match=r"broken\.backup"):
        await restore_backup(broken, tmp_path / "restored", key_file=None, passphrase=lambda: PASSPHRASE)
    assert not (tmp_path / "restored").exists()


async def test_a_backup_whose_database_does_not_match_its_checksum_is_refused(
    passphrase_node: Node, tmp_path: Path
) -> None:
    info = create_backup(passphrase_node.config, tmp_path / "node.backup")
    with tarfile.open(info.path, "r:gz") as archive:
        files = {m.name: archive.extractfile(m).read() for m in archive.getmembers()}  # type: ignore[union-attr]
    database = bytearray(files["node.db"])
    database[100] ^= 0xFF  # inside the SQLite header: the copy no longer matches its checksum
    files["node.db"] = bytes(database)
    forged = tmp_path / "forged.backup"
    with tarfile.open(forged, "w:gz") as archive:
        for name, content in files.items():
            entry = tarfile.TarInfo(name)
            entry.size = len(content)
            archive.addfile(entry, io.BytesIO(content))
    with pytest.raises(BackupError, match="checksum"):
        await restore_backup(forged, tmp_path / "restored", key_file=None, passphrase=lambda: PASSPHRASE)


async def test_a_key_file_node_restores_only_with_its_key_file(node: Node, tmp_path: Path) -> None:
    if node.config.sqlite_path is None:
        with pytest.raises(BackupError, match="pg_dump"):
            create_backup(node.config, tmp_path / "node.backup")
        return
    await _invite(node, 1)
    info = create_backup(node.config, tmp_path / "node.backup")
    with tarfile.open(info.path, "r:gz") as archive:
        assert sorted(archive.getnames()) == ["manifest.json", "mentornet.toml", "node.db"]
        manifest = json.loads(archive.extractfile("manifest.json").read())  # type: ignore[union-attr]
    assert manifest["unlock"] == "key-file"
    with pytest.raises(BackupError, match="--key-file"):
        await restore_backup(info.path, tmp_path / "restored", key_file=None, passphrase=lambda: "")
    assert node.config.key_file is not None
    config, members = await restore_backup(
        info.path, tmp_path / "restored", key_file=node.config.key_file, passphrase=lambda: ""
    )
    assert members == 1 and config.key_file == (tmp_path / "restored" / "node.key").resolve()


async def test_a_key_file_kept_outside_the_data_dir_is_copied_in_at_restore(tmp_path: Path) -> None:
    outside = tmp_path / "vault" / "node.key"
    outside.parent.mkdir()
    config = NodeConfig(
        data_dir=tmp_path / "node",
        name="Vault College",
        base_url="http://127.0.0.1:8080",
        unlock=UnlockMethod.KEY_FILE,
        key_file=outside,
    )
    node = await init_node(config, None)
    await node.close()
    info = create_backup(config, tmp_path / "node.backup")

    restored, members = await restore_backup(info.path, tmp_path / "restored", key_file=outside, passphrase=str)

    assert members == 0
    assert restored.key_file == (tmp_path / "restored" / "node.key").resolve()
    assert (tmp_path / "restored" / "node.key").read_bytes() == outside.read_bytes()


async def test_restore_never_overwrites_a_key_file_already_in_the_target(sqlite_node: Node, tmp_path: Path) -> None:
    node = sqlite_node
    info = create_backup(node.config, tmp_path / "node.backup")
    target = tmp_path / "restored"
    target.mkdir()
    (target / "node.key").write_text("someone else's key\n")
    assert node.config.key_file is not None
    with pytest.raises(NodeExists, match=r"node\.key already exists"):
        await restore_backup(info.path, target, key_file=node.config.key_file, passphrase=str)
    assert (target / "node.key").read_text() == "someone else's key\n"

"""Canary: distinctive personal data never appears in the database files, the WAL, or the logs."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from node.app import build_app
from node.instance import Node
from node.keyring import UnlockSecret
from node.logs import JsonFormatter
from node.members import MemberProfile, export_member, invite_member, list_members, remove_member

CANARIES = [
    ("Zebulon Quixotewright", "zebulon.canary7731@example.org", "Xylophonic marsupial studies"),
    ("Philippa Vanderquack", "quackcanary-4412@example.net", "Bioluminescent origami"),
]


def _needles() -> list[bytes]:
    needles = []
    for name, email, profile in CANARIES:
        for text in (name, email, profile, name.split()[1], email.split("@")[0]):
            needles += [text.encode(), text.lower().encode(), text.encode("utf-16-le")]
    return needles


async def test_personal_data_is_absent_from_the_database_files_and_the_logs(
    sqlite_node: Node,
    caplog: pytest.LogCaptureFixture,
    aiohttp_client: Callable[[web.Application], Awaitable[TestClient[Any, Any]]],
) -> None:
    caplog.set_level(logging.DEBUG)
    node, config = sqlite_node, sqlite_node.config
    data_dir = config.data_dir
    assert config.key_file is not None
    client = await aiohttp_client(build_app(config, UnlockSecret.from_key_file(config.key_file)))
    try:
        for name, email, profile in CANARIES:
            invitation = await invite_member(
                node, MemberProfile.validated(name=name, email=email, profile=profile, interests=(profile,)), "both"
            )
            await export_member(node, invitation.member_id)
        assert {m.profile.name for m in await list_members(node) if m.profile} == {n for n, _, _ in CANARIES}
        await client.get("/healthz")
        await client.get("/.well-known/mentornet")
        await client.get("/metrics")

        wal = data_dir / "node.db-wal"
        assert wal.exists() and wal.stat().st_size > 0, "the canaries must have passed through the WAL"
        files = {path.name: path.read_bytes() for path in data_dir.iterdir() if path.is_file()}
        formatter = JsonFormatter()
        logs = "\n".join(formatter.format(record) for record in caplog.records).encode()
        assert logs, "the node must have logged something for this test to mean anything"
        for needle in _needles():
            for file_name, content in files.items():
                assert needle not in content, f"{needle!r} found in {file_name}"
            assert needle not in logs, f"{needle!r} found in the logs"
            assert needle not in caplog.text.encode()
        for _, email, _ in CANARIES:
            found = [m for m in await list_members(node) if m.profile and m.profile.email == email]
            await remove_member(node, found[0].id)
    finally:
        await client.close()

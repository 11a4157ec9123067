"""Backups of a node on the embedded SQLite database, taken while the node serves.

A backup is a gzip'd tar archive holding ``manifest.json``, ``mentornet.toml`` and ``node.db``.
The database copy is made with SQLite's online backup API, so it is consistent even while the
node and the CLI write. Key files are never put in a backup: store them apart, as the
passphrase is. For PostgreSQL, use ``pg_dump`` (see docs/operator-guide.md).
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from node.config import CONFIG_FILE, KEY_FILE, SQLITE_FILE, NodeConfig, UnlockMethod, load_config, write_config
from node.errors import BackupError, NodeExists
from node.instance import Clock, open_node, read_secret_for, system_clock
from node.members import list_members

BACKUP_FORMAT = "mentornet/v1/backup"
MANIFEST = "manifest.json"
_MEMBERS = (MANIFEST, CONFIG_FILE, SQLITE_FILE)
_PAGES_PER_STEP = 256

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    created_at: int
    database_bytes: int
    sha256: str


def create_backup(
    config: NodeConfig, destination: Path, *, progress: Progress | None = None, clock: Clock = system_clock
) -> BackupInfo:
    """Write a consistent backup of a SQLite node to ``destination`` (mode 0600, never overwritten).

    Raises:
        BackupError: for a PostgreSQL node, an existing destination, or an unreadable database.
    """
    if config.sqlite_path is None:
        raise BackupError(
            "this node stores its data in PostgreSQL: back it up with pg_dump "
            "(see docs/operator-guide.md), plus mentornet.toml"
        )
    if destination.exists():
        raise BackupError(f"{destination} already exists; refusing to overwrite it")
    with tempfile.TemporaryDirectory(prefix="mentornet-backup-") as scratch:
        copy = Path(scratch) / SQLITE_FILE
        _online_copy(config.sqlite_path, copy, progress)
        database = copy.read_bytes()
        config_text = config.config_path.read_bytes()
        created_at = clock()
        manifest = {
            "format": BACKUP_FORMAT,
            "created_at": created_at,
            "node": {"name": config.name, "base_url": config.base_url},
            "unlock": str(config.unlock),
            "sha256": {
                SQLITE_FILE: hashlib.sha256(database).hexdigest(),
                CONFIG_FILE: hashlib.sha256(config_text).hexdigest(),
            },
        }
        partial = destination.with_name(destination.name + ".partial")
        try:
            with partial.open("xb") as handle:
                partial.chmod(0o600)
                with tarfile.open(fileobj=handle, mode="w:gz") as archive:
                    for name, data in (
                        (MANIFEST, json.dumps(manifest, indent=2).encode()),
                        (CONFIG_FILE, config_text),
                        (SQLITE_FILE, database),
                    ):
                        info = tarfile.TarInfo(name)
                        info.size, info.mode, info.mtime = len(data), 0o600, created_at
                        archive.addfile(info, io.BytesIO(data))
            partial.rename(destination)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise BackupError(f"{destination}: cannot write the backup: {exc}") from exc
    return BackupInfo(destination, created_at, len(database), manifest["sha256"][SQLITE_FILE])  # type: ignore[index]


async def restore_backup(
    source: Path, data_dir: Path, *, key_file: Path | None, passphrase: Callable[[], str]
) -> tuple[NodeConfig, int]:
    """Restore a backup into a new data directory, unlock it and read every member back.

    Returns:
        The restored node's config and the number of member records read.

    Raises:
        NodeExists: if ``data_dir`` already holds a node.
        BackupError: if the archive is unreadable, of another format, or fails its checksums;
            or if the node uses a key file and none is given.
        UnlockFailed: if the passphrase or key file does not unlock the restored node (nothing is kept).
    """
    data_dir = data_dir.resolve()  # noqa: ASYNC240 (one stat before any I/O of substance)
    created = not data_dir.exists()
    config = _unpack(source, data_dir, key_file=key_file)
    try:
        node = await open_node(config, read_secret_for(config, passphrase))
        try:
            members = await list_members(node)
        finally:
            await node.close()
    except BaseException:
        _discard(data_dir, created)
        raise
    return config, len(members)


def _unpack(source: Path, data_dir: Path, *, key_file: Path | None) -> NodeConfig:
    """Unpack a backup into a new data directory and return its config.

    Raises:
        NodeExists: if ``data_dir`` already holds a node.
        BackupError: if the archive is unreadable, of another format, or fails its checksums;
            or if the node uses a key file and none is given.
    """
    for name in (CONFIG_FILE, SQLITE_FILE, KEY_FILE):
        if (data_dir / name).exists():
            raise NodeExists(f"{data_dir / name} already exists; restore into a new directory")
    files = _read_archive(source)
    manifest = _manifest(source, files)
    uses_key_file = manifest["unlock"] == str(UnlockMethod.KEY_FILE)
    if uses_key_file and key_file is None:
        raise BackupError("this node unlocks with a key file, which backups never contain: pass --key-file")
    if not uses_key_file and key_file is not None:
        raise BackupError("this node unlocks with a passphrase, not a key file: leave out --key-file")
    created = not data_dir.exists()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        for name in (CONFIG_FILE, SQLITE_FILE):
            target = data_dir / name
            with target.open("xb") as handle:
                target.chmod(0o600)
                handle.write(files[name])
        if key_file is not None:
            try:
                shutil.copyfile(key_file, data_dir / KEY_FILE)
            except OSError as exc:
                raise BackupError(f"{key_file}: cannot copy the key file: {exc}") from exc
            (data_dir / KEY_FILE).chmod(0o600)
        config = load_config(data_dir)
        if uses_key_file and config.key_file != data_dir / KEY_FILE:
            # The original key file may have lived anywhere; the restored node keeps its copy here.
            config = replace(config, key_file=data_dir / KEY_FILE)
            write_config(config)
        return config
    except BaseException:
        _discard(data_dir, created)
        raise


def _discard(data_dir: Path, created: bool) -> None:
    """Remove what a failed restore wrote, and the directory if the restore created it."""
    if created:
        shutil.rmtree(data_dir, ignore_errors=True)
        return
    for name in (CONFIG_FILE, SQLITE_FILE, f"{SQLITE_FILE}-wal", f"{SQLITE_FILE}-shm", KEY_FILE):
        (data_dir / name).unlink(missing_ok=True)


def _online_copy(source: Path, target: Path, progress: Progress | None) -> None:
    def report(_status: int, remaining: int, total: int) -> None:
        if progress is not None:
            progress(total - remaining, total)

    try:
        src = sqlite3.connect(source.resolve().as_uri() + "?mode=ro", uri=True)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst, pages=_PAGES_PER_STEP, progress=report)
                (result,) = dst.execute("PRAGMA integrity_check").fetchone()
            finally:
                dst.close()
        finally:
            src.close()
    except sqlite3.Error as exc:
        raise BackupError(f"{source}: cannot copy the database: {exc}") from exc
    if result != "ok":
        raise BackupError(f"{source}: the database copy fails its integrity check: {result}")


def _read_archive(source: Path) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(source, mode="r:gz") as archive:
            for member in archive.getmembers():
                if member.name not in _MEMBERS or not member.isfile() or member.name in files:
                    raise BackupError(f"{source}: unexpected entry {member.name!r}; not a Mentornet backup")
                extracted = archive.extractfile(member)
                assert extracted is not None
                files[member.name] = extracted.read()
    except (OSError, tarfile.TarError, EOFError) as exc:
        raise BackupError(f"{source}: cannot read the backup: {exc}") from exc
    missing = set(_MEMBERS) - set(files)
    if missing:
        raise BackupError(f"{source}: incomplete backup, missing {', '.join(sorted(missing))}")
    return files


def _manifest(source: Path, files: dict[str, bytes]) -> dict[str, object]:
    try:
        manifest = json.loads(files[MANIFEST])
        if manifest.get("format") != BACKUP_FORMAT:
            raise BackupError(f"{source}: unknown backup format {manifest.get('format')!r}")
        for name in (CONFIG_FILE, SQLITE_FILE):
            if hashlib.sha256(files[name]).hexdigest() != manifest["sha256"][name]:
                raise BackupError(f"{source}: {name} does not match its checksum; the backup is corrupted")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{source}: unreadable manifest: {exc}") from exc
    return dict(manifest)

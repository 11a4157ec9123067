"""Creating, opening and describing a node: the unit every CLI command and the server work on."""

from __future__ import annotations

import getpass
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crypto
from crypto.kdf import SALT_BYTES
from node.config import CONFIG_FILE, SQLITE_FILE, NodeConfig, UnlockMethod, validate_config, write_config
from node.errors import NodeExists, StorageError
from node.keyring import Keyring, UnlockSecret, create_key_file, open_value, seal_value
from node.storage.audit import AuditStore
from node.storage.database import Database, QueryObserver
from node.storage.keys import KeyStore, StoredSigningKey
from node.storage.members import MemberStore
from protocol.audit import AuditEntry, verify_chain
from protocol.canonical import JsonValue
from protocol.errors import AuditChainBroken

Clock = Callable[[], int]
DAY = 86_400


def system_clock() -> int:
    return int(time.time())


def operator_actor() -> str:
    """Who is acting, for the audit log: the operating-system user running the CLI."""
    try:
        return f"operator:{getpass.getuser()}"
    except (KeyError, OSError):
        return "operator:unknown"


@dataclass
class Node:
    """An opened and unlocked node."""

    config: NodeConfig
    database: Database
    keyring: Keyring
    clock: Clock = system_clock
    actor: str = field(default_factory=operator_actor)

    async def audit(
        self,
        store: AuditStore,
        action: str,
        target: str,
        details: dict[str, Any] | None = None,
        *,
        actor: str | None = None,
    ) -> None:
        """Append an action to the audit log in the caller's transaction (by the operator, unless
        ``actor`` names someone else, such as ``member:<id>`` for the client API)."""
        await store.append(
            self.keyring.audit_key,
            at=self.clock(),
            actor=actor or self.actor,
            action=action,
            target=target,
            details=details or {},
        )

    async def verify_audit_log(self) -> int:
        """Verify the whole audit chain; return the number of entries (raises AuditChainBroken)."""
        async with self.database.transaction() as session:
            store = AuditStore(session)
            entries = [item async for item in store.entries()]
            count = verify_chain(self.keyring.audit_key, entries, await store.head())
        if count == 0:
            raise AuditChainBroken(1, "the audit log is empty, but every node logs its creation: entries were removed")
        return count

    async def audit_entries(self) -> list[AuditEntry]:
        """Every audit entry, oldest first (verify them with :meth:`verify_audit_log`)."""
        async with self.database.transaction() as session:
            return [entry async for entry, _digest in AuditStore(session).entries()]

    async def close(self) -> None:
        await self.database.close()


async def init_node(config: NodeConfig, secret: UnlockSecret | None, *, clock: Clock = system_clock) -> Node:
    """Create a node: data directory, config, database schema, key hierarchy and first signing key.

    In key-file mode (``secret`` is ``None``), a new random key file is created at
    ``config.key_file`` with mode 0600. Nothing existing is ever overwritten.

    Raises:
        NodeExists: if the data directory, key file or database already holds a node.
    """
    validate_config(config)
    _refuse_existing(config)
    created: list[Path] = []
    if not config.data_dir.exists():
        config.data_dir.mkdir(parents=True, mode=0o700)
        created.append(config.data_dir)
    try:
        if config.unlock is UnlockMethod.KEY_FILE:
            assert config.key_file is not None
            create_key_file(config.key_file)
            created.append(config.key_file)
            secret = UnlockSecret.from_key_file(config.key_file)
        assert secret is not None
        keyring, record = Keyring.create(secret)
        database = Database(config.effective_database_url)
        if config.sqlite_path is not None:
            created.append(config.sqlite_path)
        node = Node(config, database, keyring, clock)
        try:
            await database.upgrade()
            now = clock()
            async with database.transaction() as session:
                keys = KeyStore(session)
                if await keys.unlock_record() is not None:
                    raise NodeExists(f"{database.where} already holds a Mentornet node")
                await keys.save_unlock_record(record, now)
                kek = await keys.add_kek(1, secrets.token_bytes(SALT_BYTES), now)
                signing = crypto.SigningKey(secrets.token_bytes(32))
                await keys.add_signing_key(seal_signing_key(node, signing, kek.version, kek.salt, now))
                await node.audit(
                    AuditStore(session),
                    "node.init",
                    config.name,
                    {"key_id": signing.key_id, "unlock": str(config.unlock)},
                )
        except BaseException:
            await database.close()
            raise
        write_config(config)
        return node
    except BaseException:
        _remove_created(created)
        raise


async def open_node(
    config: NodeConfig, secret: UnlockSecret, *, observe_query: QueryObserver | None = None, clock: Clock = system_clock
) -> Node:
    """Open the database, check its schema and unlock the key hierarchy.

    Raises:
        SchemaMismatch: if the schema is not this version's.
        UnlockFailed: on a wrong passphrase or key file.
        StorageError: if the database is unreachable or corrupted.
    """
    database = Database(config.effective_database_url, observe_query=observe_query)
    try:
        await database.check_schema()
        async with database.transaction() as session:
            record = await KeyStore(session).unlock_record()
        if record is None:
            raise StorageError(f"{database.where}: the database holds no node keys (incomplete init?)")
        keyring = Keyring.unlock(secret, record)
    except BaseException:
        await database.close()
        raise
    return Node(config, database, keyring, clock)


def read_secret_for(config: NodeConfig, passphrase: Callable[[], str]) -> UnlockSecret:
    """The unlock secret for ``config``: its key file, or the passphrase that ``passphrase()`` supplies."""
    if config.unlock is UnlockMethod.KEY_FILE:
        assert config.key_file is not None
        return UnlockSecret.from_key_file(config.key_file)
    return UnlockSecret.from_passphrase(passphrase())


@dataclass(frozen=True)
class NodeStatus:
    """What ``mentornet status`` shows; everything here is public or a count."""

    name: str
    base_url: str
    data_dir: str
    key_id: str | None
    fingerprint: str | None
    old_keys: int
    kek_versions: list[int]
    members_by_role: dict[str, int]
    members_by_status: dict[str, int]
    backend: str
    database: str
    schema_revision: str
    unlock: str

    def as_json(self) -> dict[str, JsonValue]:
        return {
            "name": self.name,
            "base_url": self.base_url,
            "data_dir": self.data_dir,
            "key_id": self.key_id,
            "fingerprint": self.fingerprint,
            "old_keys": self.old_keys,
            "kek_versions": list(self.kek_versions),
            "members": {
                "total": sum(self.members_by_role.values()),
                "by_role": dict(self.members_by_role),
                "by_status": dict(self.members_by_status),
            },
            "database": {"backend": self.backend, "where": self.database, "schema_revision": self.schema_revision},
            "unlock": self.unlock,
        }


async def describe(config: NodeConfig) -> NodeStatus:
    """The node's status; needs no unlock."""
    database = Database(config.effective_database_url)
    try:
        revision = await database.check_schema()
        async with database.transaction() as session:
            signing_keys = await KeyStore(session).signing_keys()
            counts = await MemberStore(session).counts()
            keks = await KeyStore(session).kek_versions()
    finally:
        await database.close()
    current = [key for key in signing_keys if key.expired_at is None]
    by_role: dict[str, int] = {}
    by_status: dict[str, int] = {}
    for (role, status), count in counts.items():
        by_status[status] = by_status.get(status, 0) + count
        if status != "removed":
            by_role[role] = by_role.get(role, 0) + count
    return NodeStatus(
        name=config.name,
        base_url=config.base_url,
        data_dir=str(config.data_dir),
        key_id=current[-1].key_id if current else None,
        fingerprint=crypto.fingerprint(current[-1].public_key) if current else None,
        old_keys=len(signing_keys) - len(current),
        kek_versions=[kek.version for kek in keks if kek.retired_at is None],
        members_by_role=by_role,
        members_by_status=by_status,
        backend=database.backend,
        database=database.where,
        schema_revision=revision,
        unlock=str(config.unlock),
    )


def seal_signing_key(
    node: Node, key: crypto.SigningKey, kek_version: int, kek_salt: bytes, now: int
) -> StoredSigningKey:
    """A new signing key's row, its seed sealed under the given KEK version."""
    kek = node.keyring.kek(kek_version, kek_salt)
    sealed = seal_value(kek, key.seed, **signing_key_binding(key.key_id, kek_version))
    return StoredSigningKey(
        key.key_id, key.public_key, sealed, kek_version, now, now + node.config.signing_key_validity_days * DAY, None
    )


def open_signing_key(node: Node, stored: StoredSigningKey, kek_salt: bytes) -> crypto.SigningKey:
    seed = open_value(
        node.keyring.kek(stored.kek_version, kek_salt),
        stored.sealed_seed,
        **signing_key_binding(stored.key_id, stored.kek_version),
    )
    return crypto.SigningKey(seed)


def signing_key_binding(key_id: str, kek_version: int) -> dict[str, JsonValue]:
    """What a sealed signing seed is bound to."""
    return {"table": "node_signing_keys", "row": key_id, "field": "seed", "kek_version": kek_version}


def _refuse_existing(config: NodeConfig) -> None:
    for path in (config.data_dir / CONFIG_FILE, config.data_dir / SQLITE_FILE, config.key_file):
        if path is not None and path.exists():
            raise NodeExists(f"{path} already exists; refusing to overwrite an existing node")


def _remove_created(paths: list[Path]) -> None:
    for path in reversed(paths):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
                candidate.unlink(missing_ok=True)

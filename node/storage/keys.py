"""Repository for key material: the unlock record, KEK versions and node signing keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

import crypto
from node.config import UnlockMethod
from node.keyring import UnlockRecord
from node.storage.tables import KekVersion, MemberRow, NodeSigningKey, UnlockParams


@dataclass(frozen=True)
class StoredKek:
    version: int
    salt: bytes
    created_at: int
    retired_at: int | None


@dataclass(frozen=True)
class StoredSigningKey:
    key_id: str
    public_key: bytes
    sealed_seed: bytes
    kek_version: int
    created_at: int
    valid_until: int
    expired_at: int | None
    endorsed_by: str | None = None
    endorsement: bytes | None = None


class KeyStore:
    """Reads and writes key rows inside the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def unlock_record(self) -> UnlockRecord | None:
        row = await self._session.get(UnlockParams, 1)
        if row is None:
            return None
        params = None
        if row.argon_memory_kib is not None and row.argon_iterations is not None and row.argon_lanes is not None:
            params = crypto.Argon2Params(row.argon_memory_kib, row.argon_iterations, row.argon_lanes)
        return UnlockRecord(UnlockMethod(row.method), row.hkdf_salt, row.check_value, row.argon_salt, params)

    async def save_unlock_record(self, record: UnlockRecord, now: int) -> None:
        params = record.argon_params
        self._session.add(
            UnlockParams(
                id=1,
                method=str(record.method),
                argon_salt=record.argon_salt,
                argon_memory_kib=params.memory_kib if params else None,
                argon_iterations=params.iterations if params else None,
                argon_lanes=params.lanes if params else None,
                hkdf_salt=record.hkdf_salt,
                check_value=record.check_value,
                created_at=now,
            )
        )

    async def kek_versions(self) -> list[StoredKek]:
        rows = (await self._session.execute(select(KekVersion).order_by(col(KekVersion.version)))).scalars()
        return [StoredKek(row.version, row.salt, row.created_at, row.retired_at) for row in rows]

    async def kek(self, version: int) -> StoredKek:
        row = await self._session.get(KekVersion, version)
        if row is None:
            raise LookupError(f"KEK version {version} is not in the database")
        return StoredKek(row.version, row.salt, row.created_at, row.retired_at)

    async def current_kek(self) -> StoredKek:
        """The newest KEK version: new data keys are sealed under it."""
        versions = await self.kek_versions()
        if not versions:
            raise LookupError("no KEK version in the database")
        return versions[-1]

    async def add_kek(self, version: int, salt: bytes, now: int) -> StoredKek:
        self._session.add(KekVersion(version=version, salt=salt, created_at=now))
        await self._session.flush()
        return StoredKek(version, salt, now, None)

    async def kek_reference_counts(self) -> dict[int, int]:
        """How many data keys and signing keys each KEK version still seals."""
        counts: dict[int, int] = {}
        for column in (col(MemberRow.kek_version), col(NodeSigningKey.kek_version)):
            result = await self._session.execute(
                select(column, func.count()).where(column.is_not(None)).group_by(column)
            )
            for version, count in result.all():
                if version is not None:
                    counts[version] = counts.get(version, 0) + count
        return counts

    async def retire_kek(self, version: int, now: int) -> None:
        await self._session.execute(
            update(KekVersion)
            .where(col(KekVersion.version) == version, col(KekVersion.retired_at).is_(None))
            .values(retired_at=now)
        )

    async def signing_keys(self) -> list[StoredSigningKey]:
        rows = (await self._session.execute(select(NodeSigningKey).order_by(col(NodeSigningKey.created_at)))).scalars()
        return [_signing_key(row) for row in rows]

    async def add_signing_key(self, key: StoredSigningKey) -> None:
        self._session.add(
            NodeSigningKey(
                key_id=key.key_id,
                public_key=key.public_key,
                sealed_seed=key.sealed_seed,
                kek_version=key.kek_version,
                created_at=key.created_at,
                valid_until=key.valid_until,
                expired_at=key.expired_at,
                endorsed_by=key.endorsed_by,
                endorsement=key.endorsement,
            )
        )
        await self._session.flush()

    async def expire_signing_keys(self, keep_key_id: str, now: int) -> list[str]:
        """Move every current key but ``keep_key_id`` to the old keys; return their ids."""
        rows = (
            (
                await self._session.execute(
                    select(NodeSigningKey).where(
                        col(NodeSigningKey.expired_at).is_(None), col(NodeSigningKey.key_id) != keep_key_id
                    )
                )
            )
            .scalars()
            .all()
        )
        for row in rows:
            row.expired_at = now
        return [row.key_id for row in rows]

    async def signing_keys_sealed_under(self, version: int) -> list[StoredSigningKey]:
        rows = (
            await self._session.execute(select(NodeSigningKey).where(col(NodeSigningKey.kek_version) == version))
        ).scalars()
        return [_signing_key(row) for row in rows]

    async def reseal_signing_key(self, key_id: str, old_version: int, new_version: int, sealed_seed: bytes) -> bool:
        result = await self._session.execute(
            update(NodeSigningKey)
            .where(col(NodeSigningKey.key_id) == key_id, col(NodeSigningKey.kek_version) == old_version)
            .values(kek_version=new_version, sealed_seed=sealed_seed)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _signing_key(row: NodeSigningKey) -> StoredSigningKey:
    return StoredSigningKey(
        row.key_id,
        row.public_key,
        row.sealed_seed,
        row.kek_version,
        row.created_at,
        row.valid_until,
        row.expired_at,
        row.endorsed_by,
        row.endorsement,
    )

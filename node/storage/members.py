"""Repository for members, their blind indexes and invites. Works only with ciphertext."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from node.errors import Conflict
from node.storage.tables import AccessTokenRow, BlindIndexRow, InviteRow, MemberRow

PERSONAL_FIELDS = ("name", "email", "profile", "interests", "languages", "timezone")


@dataclass(frozen=True)
class StoredMember:
    """A member row as stored: clear metadata, sealed data key, sealed personal fields."""

    id: str
    role: str
    status: str
    kek_version: int | None
    sealed_data_key: bytes | None
    data_key_version: int
    created_at: int
    updated_at: int
    removed_at: int | None
    sealed_fields: dict[str, bytes | None]


@dataclass(frozen=True)
class StoredInvite:
    member_id: str
    created_at: int
    expires_at: int
    used_at: int | None


class MemberStore:
    """Reads and writes member rows inside the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def insert(self, member: StoredMember) -> None:
        self._session.add(
            MemberRow(
                id=member.id,
                role=member.role,
                status=member.status,
                kek_version=member.kek_version,
                sealed_data_key=member.sealed_data_key,
                data_key_version=member.data_key_version,
                created_at=member.created_at,
                updated_at=member.updated_at,
                removed_at=member.removed_at,
                **member.sealed_fields,
            )
        )
        await self._session.flush()

    async def get(self, member_id: str, *, for_update: bool = False) -> StoredMember | None:
        """The member row (locked until the transaction ends when ``for_update``)."""
        row = await self._session.get(MemberRow, member_id, with_for_update=for_update)
        return None if row is None else _stored(row)

    async def all(self) -> list[StoredMember]:
        rows = (
            await self._session.execute(select(MemberRow).order_by(col(MemberRow.created_at), col(MemberRow.id)))
        ).scalars()
        return [_stored(row) for row in rows]

    async def counts(self) -> dict[tuple[str, str], int]:
        """Number of members by (role, status)."""
        result = await self._session.execute(
            select(col(MemberRow.role), col(MemberRow.status), func.count()).group_by(
                col(MemberRow.role), col(MemberRow.status)
            )
        )
        return {(role, status): count for role, status, count in result.all()}

    async def add_blind_index(self, kind: str, digest: bytes, member_id: str) -> None:
        """Record a blind index; raise :class:`Conflict` if another member already has it."""
        try:
            async with self._session.begin_nested():
                self._session.add(BlindIndexRow(kind=kind, digest=digest, member_id=member_id))
                await self._session.flush()
        except IntegrityError as exc:
            raise Conflict(f"a member with this {kind} already exists") from exc

    async def find_by_blind_index(self, kind: str, digest: bytes) -> str | None:
        result = await self._session.execute(
            select(col(BlindIndexRow.member_id)).where(
                col(BlindIndexRow.kind) == kind, col(BlindIndexRow.digest) == digest
            )
        )
        return result.scalar_one_or_none()

    async def add_invite(self, code_hash: bytes, member_id: str, created_at: int, expires_at: int) -> None:
        self._session.add(
            InviteRow(code_hash=code_hash, member_id=member_id, created_at=created_at, expires_at=expires_at)
        )
        await self._session.flush()

    async def invites_of(self, member_id: str) -> list[StoredInvite]:
        rows = (await self._session.execute(select(InviteRow).where(col(InviteRow.member_id) == member_id))).scalars()
        return [StoredInvite(row.member_id, row.created_at, row.expires_at, row.used_at) for row in rows]

    async def shred(self, member_id: str, now: int, status: str) -> None:
        """Crypto-shred: destroy the data key, blind indexes and invites; the sealed fields stay unreadable."""
        await self._session.execute(delete(BlindIndexRow).where(col(BlindIndexRow.member_id) == member_id))
        await self._session.execute(delete(InviteRow).where(col(InviteRow.member_id) == member_id))
        await self._session.execute(delete(AccessTokenRow).where(col(AccessTokenRow.member_id) == member_id))
        await self._session.execute(
            update(MemberRow)
            .where(col(MemberRow.id) == member_id)
            .values(sealed_data_key=None, kek_version=None, status=status, removed_at=now, updated_at=now)
        )

    async def set_status(self, member_id: str, status: str, now: int) -> None:
        await self._session.execute(
            update(MemberRow).where(col(MemberRow.id) == member_id).values(status=status, updated_at=now)
        )

    async def redeem_invite(self, code_hash: bytes, now: int) -> str | None:
        """Mark an unused, unexpired invite as used and its member active; return the member id."""
        invite = await self._session.get(InviteRow, code_hash, with_for_update=True)
        if invite is None or invite.used_at is not None or invite.expires_at <= now:
            return None
        invite.used_at = now
        await self._session.execute(
            update(MemberRow).where(col(MemberRow.id) == invite.member_id).values(status="active", updated_at=now)
        )
        await self._session.flush()
        return invite.member_id

    async def sealed_under(self, kek_version: int, limit: int) -> list[StoredMember]:
        rows = (
            await self._session.execute(
                select(MemberRow)
                .where(col(MemberRow.kek_version) == kek_version)
                .order_by(col(MemberRow.id))
                .limit(limit)
            )
        ).scalars()
        return [_stored(row) for row in rows]

    async def reseal_data_key(self, member_id: str, old_version: int, new_version: int, sealed: bytes) -> bool:
        """Swap in a data key rewrapped under ``new_version``, only if still under ``old_version``."""
        result = await self._session.execute(
            update(MemberRow)
            .where(col(MemberRow.id) == member_id, col(MemberRow.kek_version) == old_version)
            .values(kek_version=new_version, sealed_data_key=sealed)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _stored(row: MemberRow) -> StoredMember:
    return StoredMember(
        id=row.id,
        role=row.role,
        status=row.status,
        kek_version=row.kek_version,
        sealed_data_key=row.sealed_data_key,
        data_key_version=row.data_key_version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        removed_at=row.removed_at,
        sealed_fields={name: getattr(row, name) for name in PERSONAL_FIELDS},
    )

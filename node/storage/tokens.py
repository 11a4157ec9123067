"""Repository for members' client access tokens (stored as SHA-256 only)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from node.storage.tables import AccessTokenRow, MemberRow


class TokenStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, token_hash: bytes, member_id: str, now: int) -> None:
        self._session.add(AccessTokenRow(token_hash=token_hash, member_id=member_id, created_at=now))
        await self._session.flush()

    async def member_of(self, token_hash: bytes) -> tuple[str, str] | None:
        """The member a valid token belongs to and the member's status, in one query."""
        row = (
            await self._session.execute(
                select(col(AccessTokenRow.member_id), col(MemberRow.status))
                .join(MemberRow, col(MemberRow.id) == col(AccessTokenRow.member_id))
                .where(col(AccessTokenRow.token_hash) == token_hash, col(AccessTokenRow.revoked_at).is_(None))
            )
        ).first()
        return None if row is None else (str(row[0]), str(row[1]))

"""Repository for members' client access tokens (stored as SHA-256 only)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from node.storage.tables import AccessTokenRow


class TokenStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, token_hash: bytes, member_id: str, now: int) -> None:
        self._session.add(AccessTokenRow(token_hash=token_hash, member_id=member_id, created_at=now))
        await self._session.flush()

    async def member_of(self, token_hash: bytes) -> str | None:
        row = await self._session.get(AccessTokenRow, token_hash)
        return None if row is None or row.revoked_at is not None else row.member_id

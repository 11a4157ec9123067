"""Seen nonces of accepted federation requests: a nonce is accepted once within its window."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from node.storage.sql import insert
from node.storage.tables import SeenNonceRow


class NonceStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def remember(self, keyid: str, nonce: str, expires_at: int) -> bool:
        """Record a nonce; ``False`` if it was already seen (a replay). One statement, no savepoint."""
        connection = await self._session.connection()
        result = await connection.execute(
            insert(connection.dialect, SeenNonceRow.__table__)  # type: ignore[attr-defined]
            .values(keyid=keyid, nonce=nonce, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["keyid", "nonce"])
        )
        return bool(result.rowcount)

    async def forget_expired(self, now: int) -> int:
        result = await self._session.execute(delete(SeenNonceRow).where(col(SeenNonceRow.expires_at) <= now))
        return int(result.rowcount)  # type: ignore[attr-defined]

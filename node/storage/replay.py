"""Seen nonces of accepted federation requests: a nonce is accepted once within its window."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from node.storage.tables import SeenNonceRow


class NonceStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def remember(self, keyid: str, nonce: str, expires_at: int) -> bool:
        """Record a nonce; ``False`` if it was already seen (a replay)."""
        try:
            async with self._session.begin_nested():
                self._session.add(SeenNonceRow(keyid=keyid, nonce=nonce, expires_at=expires_at))
                await self._session.flush()
        except IntegrityError:
            return False
        return True

    async def forget_expired(self, now: int) -> int:
        result = await self._session.execute(delete(SeenNonceRow).where(col(SeenNonceRow.expires_at) <= now))
        return int(result.rowcount)  # type: ignore[attr-defined]

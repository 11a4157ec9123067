"""Repository of shared files' ciphertext."""

from __future__ import annotations

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from node.storage.tables import BlobRow


class BlobStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, blob_id: str, owner: str, ciphertext: bytes, now: int) -> None:
        self._session.add(BlobRow(id=blob_id, owner=owner, size=len(ciphertext), ciphertext=ciphertext, created_at=now))
        await self._session.flush()

    async def used_by(self, owner: str) -> int:
        total = await self._session.execute(
            select(func.coalesce(func.sum(col(BlobRow.size)), 0)).where(col(BlobRow.owner) == owner)
        )
        return int(total.scalar_one())

    async def delete(self, blob_id: str, owner: str) -> bool:
        result = await self._session.execute(
            delete(BlobRow).where(col(BlobRow.id) == blob_id, col(BlobRow.owner) == owner)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def delete_owned(self, owner: str) -> int:
        result = await self._session.execute(delete(BlobRow).where(col(BlobRow.owner) == owner))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def chunk(self, blob_id: str, offset: int, length: int) -> tuple[int, bytes] | None:
        """The blob's size and ``length`` bytes from ``offset`` (read in the database, not whole)."""
        row = (
            await self._session.execute(
                select(col(BlobRow.size), func.substr(col(BlobRow.ciphertext), offset + 1, length)).where(
                    col(BlobRow.id) == blob_id
                )
            )
        ).first()
        return None if row is None else (int(row[0]), bytes(row[1] or b""))

    async def purge_before(self, before: int) -> int:
        result = await self._session.execute(delete(BlobRow).where(col(BlobRow.created_at) < before))
        return int(result.rowcount)  # type: ignore[attr-defined]

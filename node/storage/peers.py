"""Repository for federation peers and blocked hosts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from node.storage.tables import BlockedHostRow, PeerRow


@dataclass(frozen=True)
class StoredPeer:
    id: int
    base_url: str
    host: str
    name: str
    pinned_fingerprint: str
    keys: dict[str, dict[str, Any]]
    state: str
    added_at: int
    last_contact_at: int | None
    last_error: str | None
    clock_offset: int | None
    feed_cursor: int
    push_cursor: int
    failures: int
    retry_at: int | None


class PeerStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self, *, base_url: str, host: str, name: str, pinned_fingerprint: str, keys: dict[str, dict[str, Any]], now: int
    ) -> StoredPeer:
        row = PeerRow(
            base_url=base_url,
            host=host,
            name=name,
            pinned_fingerprint=pinned_fingerprint,
            keys=json.dumps(keys, sort_keys=True),
            state="active",
            added_at=now,
        )
        self._session.add(row)
        await self._session.flush()
        return _peer(row)

    async def all(self) -> list[StoredPeer]:
        rows = (await self._session.execute(select(PeerRow).order_by(col(PeerRow.base_url)))).scalars()
        return [_peer(row) for row in rows]

    async def by_base_url(self, base_url: str) -> StoredPeer | None:
        row = await self._row(base_url)
        return None if row is None else _peer(row)

    async def remove(self, base_url: str) -> bool:
        result = await self._session.execute(delete(PeerRow).where(col(PeerRow.base_url) == base_url))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def update(self, base_url: str, **changes: object) -> None:
        """Change columns of one peer (``keys`` as a dict)."""
        values = {
            name: json.dumps(value, sort_keys=True) if name == "keys" else value for name, value in changes.items()
        }
        await self._session.execute(update(PeerRow).where(col(PeerRow.base_url) == base_url).values(**values))

    async def block(self, host: str, now: int) -> None:
        if await self._session.get(BlockedHostRow, host) is None:
            self._session.add(BlockedHostRow(host=host, blocked_at=now))
            await self._session.flush()

    async def unblock(self, host: str) -> bool:
        result = await self._session.execute(delete(BlockedHostRow).where(col(BlockedHostRow.host) == host))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def blocked_hosts(self) -> set[str]:
        return set((await self._session.execute(select(col(BlockedHostRow.host)))).scalars())

    async def _row(self, base_url: str) -> PeerRow | None:
        return (
            await self._session.execute(select(PeerRow).where(col(PeerRow.base_url) == base_url))
        ).scalar_one_or_none()


def _peer(row: PeerRow) -> StoredPeer:
    assert row.id is not None
    return StoredPeer(
        id=row.id,
        base_url=row.base_url,
        host=row.host,
        name=row.name,
        pinned_fingerprint=row.pinned_fingerprint,
        keys=json.loads(row.keys),
        state=row.state,
        added_at=row.added_at,
        last_contact_at=row.last_contact_at,
        last_error=row.last_error,
        clock_offset=row.clock_offset,
        feed_cursor=row.feed_cursor,
        push_cursor=row.push_cursor,
        failures=row.failures,
        retry_at=row.retry_at,
    )

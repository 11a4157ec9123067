"""Repository for announcements and the feed that orders their changes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel, col, select

from node.storage.sql import insert
from node.storage.tables import AnnouncementRow, FeedCounterRow


@dataclass(frozen=True)
class StoredAnnouncement:
    origin: str
    mentor: str
    seq: int
    issued_at: int
    expires_at: int
    withdrawn: bool
    raw: str
    feed_seq: int


_REPLACED = ("seq", "issued_at", "expires_at", "withdrawn", "raw", "feed_seq", "received_at")


class AnnouncementStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, origin: str, mentor: str) -> StoredAnnouncement | None:
        row = await self._row(origin, mentor)
        return None if row is None else _stored(row)

    async def seqs(self, keys: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The stored ``seq`` of each (origin, mentor) that has one."""
        if not keys:
            return {}
        origins = {origin for origin, _ in keys}
        mentors = {mentor for _, mentor in keys}
        result = await self._session.execute(
            select(col(AnnouncementRow.origin), col(AnnouncementRow.mentor), col(AnnouncementRow.seq)).where(
                col(AnnouncementRow.origin).in_(origins), col(AnnouncementRow.mentor).in_(mentors)
            )
        )
        wanted = set(keys)
        return {(o, m): s for o, m, s in result.all() if (o, m) in wanted}

    async def upsert(self, items: list[StoredAnnouncement], now: int) -> None:
        """Store each item as the newest for its (origin, mentor), in one statement for the batch.

        Feed sequence numbers come from the counter row, which stays locked until the transaction
        ends, so they are handed out in commit order and the feed never skips a change. The
        upsert only replaces a row whose ``seq`` is lower, which also settles a race between two
        writers of the same mentor.
        """
        if not items:
            return
        counter = await self._session.get(FeedCounterRow, 1, with_for_update=True)
        if counter is None:
            counter = FeedCounterRow(id=1, value=0)
            self._session.add(counter)
        first = counter.value + 1
        counter.value += len(items)
        await self._session.flush()
        table = SQLModel.metadata.tables[AnnouncementRow.__tablename__]
        connection = await self._session.connection()
        statement = insert(connection, table)
        statement = statement.on_conflict_do_update(
            index_elements=["origin", "mentor"],
            set_={name: statement.excluded[name] for name in _REPLACED},
            where=table.c.seq < statement.excluded.seq,
        )
        rows = [
            {
                "origin": item.origin,
                "mentor": item.mentor,
                "seq": item.seq,
                "issued_at": item.issued_at,
                "expires_at": item.expires_at,
                "withdrawn": item.withdrawn,
                "raw": item.raw,
                "feed_seq": first + offset,
                "received_at": now,
            }
            for offset, item in enumerate(items)
        ]
        await connection.execute(statement, rows)

    async def feed(self, since: int, limit: int, *, origin: str | None = None) -> list[StoredAnnouncement]:
        """Changes after ``since`` in feed order; only ``origin``'s when given."""
        query = select(AnnouncementRow).where(col(AnnouncementRow.feed_seq) > since)
        if origin is not None:
            query = query.where(col(AnnouncementRow.origin) == origin)
        rows = (await self._session.execute(query.order_by(col(AnnouncementRow.feed_seq)).limit(limit))).scalars()
        return [_stored(row) for row in rows]

    async def pending(self, origin: str, since: int, now: int) -> int:
        """How many of ``origin``'s unexpired changes come after ``since`` (a peer's push backlog)."""
        query = (
            select(func.count())
            .select_from(AnnouncementRow)
            .where(
                col(AnnouncementRow.origin) == origin,
                col(AnnouncementRow.feed_seq) > since,
                col(AnnouncementRow.expires_at) > now,
            )
        )
        return int((await self._session.execute(query)).scalar_one())

    async def feed_head(self) -> int:
        counter = await self._session.get(FeedCounterRow, 1)
        return 0 if counter is None else counter.value

    async def live(self, now: int) -> list[StoredAnnouncement]:
        """Every unexpired, not withdrawn announcement."""
        rows = (
            await self._session.execute(
                select(AnnouncementRow).where(
                    col(AnnouncementRow.expires_at) > now, col(AnnouncementRow.withdrawn).is_(False)
                )
            )
        ).scalars()
        return [_stored(row) for row in rows]

    async def purge_expired(self, now: int, *, keep_origin: str) -> int:
        """Drop expired announcements, except ``keep_origin``'s: our own rows keep their ``seq``
        so that a mentor's next announcement continues the sequence instead of restarting it."""
        result = await self._session.execute(
            delete(AnnouncementRow).where(
                col(AnnouncementRow.expires_at) <= now, col(AnnouncementRow.origin) != keep_origin
            )
        )
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def delete_origin(self, origin: str) -> int:
        """Forget every announcement of one origin (a removed peer)."""
        result = await self._session.execute(delete(AnnouncementRow).where(col(AnnouncementRow.origin) == origin))
        return int(result.rowcount)  # type: ignore[attr-defined]

    async def count(self) -> int:
        return int((await self._session.execute(select(func.count()).select_from(AnnouncementRow))).scalar_one())

    async def _row(self, origin: str, mentor: str) -> AnnouncementRow | None:
        return (
            await self._session.execute(
                select(AnnouncementRow).where(
                    col(AnnouncementRow.origin) == origin, col(AnnouncementRow.mentor) == mentor
                )
            )
        ).scalar_one_or_none()


def _stored(row: AnnouncementRow) -> StoredAnnouncement:
    return StoredAnnouncement(
        row.origin, row.mentor, row.seq, row.issued_at, row.expires_at, row.withdrawn, row.raw, row.feed_seq
    )

"""Repository for announcements and the feed that orders their changes."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, delete, func
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
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

    async def upsert(self, items: list[StoredAnnouncement], now: int) -> set[tuple[str, str]]:
        """Store each item as the newest for its (origin, mentor), in one statement for the batch;
        return the (origin, mentor) of the items stored. An item is not stored when the same or a
        higher ``seq`` already is, which also settles a race between two writers of one mentor.

        Feed sequence numbers come from the counter row, which stays locked until the transaction
        ends, so they are handed out in commit order and the feed never skips a change (an item
        not stored leaves a gap in the numbers, which readers never notice).
        """
        if not items:
            return set()
        counter = await self._session.get(FeedCounterRow, 1, with_for_update=True)
        if counter is None:
            counter = FeedCounterRow(id=1, value=0)
            self._session.add(counter)
        first = counter.value + 1
        counter.value += len(items)
        await self._session.flush()
        connection = await self._session.connection()
        sql, order = _upsert_sql(connection)
        last = first + len(items) - 1
        rows = []
        for offset, item in enumerate(items):
            values = {
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
            rows.append(tuple(values[name] for name in order))
        await connection.exec_driver_sql(sql, rows)
        # A stored item took its feed number; one refused by the seq guard did not.
        table = AnnouncementRow.__table__  # type: ignore[attr-defined]
        written = await connection.execute(
            select(table.c.origin, table.c.mentor).where(table.c.feed_seq.between(first, last))
        )
        return {(origin, mentor) for origin, mentor in written.all()}

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


_UPSERT_SQL: dict[str, tuple[str, tuple[str, ...]]] = {}


def _upsert_sql(connection: AsyncConnection) -> tuple[str, tuple[str, ...]]:
    """The upsert as driver SQL and its parameters' order, compiled once per backend and executed
    with plain tuples: SQLAlchemy's per-row parameter handling cost twice the statement itself."""
    dialect = connection.dialect
    if dialect.name not in _UPSERT_SQL:
        table = SQLModel.metadata.tables[AnnouncementRow.__tablename__]
        plain = insert(dialect, table).values({name: bindparam(name) for name in ("origin", "mentor", *_REPLACED)})
        statement = plain.on_conflict_do_update(
            index_elements=["origin", "mentor"],
            set_={name: plain.excluded[name] for name in _REPLACED},
            where=table.c.seq < plain.excluded.seq,
        )
        compiled = statement.compile(dialect=dialect)
        assert compiled.positiontup is not None
        _UPSERT_SQL[dialect.name] = (compiled.string, tuple(compiled.positiontup))
    return _UPSERT_SQL[dialect.name]

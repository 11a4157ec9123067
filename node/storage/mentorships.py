"""Repository of mentorship records (each member's side of a request) and mentors' declared places."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from node.storage.tables import MentorPlacesRow, MentorshipRow

OPEN_STATES = ("pending", "viewed")


@dataclass(frozen=True)
class StoredMentorship:
    member_id: str
    request_id: str
    role: str
    state: str
    duration_weeks: int
    created_at: int
    expires_at: int
    updated_at: int
    answered_at: int | None
    sessions_held: int


class MentorshipStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, member_id: str, request_id: str) -> StoredMentorship | None:
        row = await self._session.get(MentorshipRow, (member_id, request_id))
        return None if row is None else _stored(row)

    async def of_member(self, member_id: str) -> list[StoredMentorship]:
        rows = (
            await self._session.execute(
                select(MentorshipRow)
                .where(col(MentorshipRow.member_id) == member_id)
                .order_by(col(MentorshipRow.created_at), col(MentorshipRow.request_id))
            )
        ).scalars()
        return [_stored(row) for row in rows]

    async def add(self, record: StoredMentorship) -> None:
        self._session.add(MentorshipRow(**record.__dict__))
        await self._session.flush()

    async def set_state(self, record: StoredMentorship, state: str, now: int, *, answered: bool) -> StoredMentorship:
        """Move a record (read in this transaction) to ``state``; return it as stored now."""
        updated = replace(record, state=state, updated_at=now, answered_at=now if answered else record.answered_at)
        await self._update(record, state=state, updated_at=now, answered_at=updated.answered_at)
        return updated

    async def add_session(self, record: StoredMentorship) -> StoredMentorship:
        await self._update(record, sessions_held=MentorshipRow.sessions_held + 1)
        return replace(record, sessions_held=record.sessions_held + 1)

    async def _update(self, record: StoredMentorship, **values: object) -> None:
        await self._session.execute(
            update(MentorshipRow)
            .where(col(MentorshipRow.member_id) == record.member_id, col(MentorshipRow.request_id) == record.request_id)
            .values(**values)
        )

    async def count(
        self, member_id: str, role: str, states: tuple[str, ...], *, unexpired_at: int | None = None
    ) -> int:
        query = select(func.count()).where(
            col(MentorshipRow.member_id) == member_id,
            col(MentorshipRow.role) == role,
            col(MentorshipRow.state).in_(states),
        )
        if unexpired_at is not None:
            query = query.where(col(MentorshipRow.expires_at) > unexpired_at)
        return int((await self._session.execute(query)).scalar_one())

    async def expire_due(self, now: int) -> list[StoredMentorship]:
        """Mark every open record whose time to answer ran out as expired; return them. Each update
        re-checks that the record is still open, so a move that won the race (an acceptance just
        before the deadline) is never overwritten."""
        rows = (
            await self._session.execute(
                select(MentorshipRow).where(
                    col(MentorshipRow.state).in_(OPEN_STATES), col(MentorshipRow.expires_at) <= now
                )
            )
        ).scalars()
        expired = []
        for record in [_stored(row) for row in rows]:
            result = await self._session.execute(
                update(MentorshipRow)
                .where(
                    col(MentorshipRow.member_id) == record.member_id,
                    col(MentorshipRow.request_id) == record.request_id,
                    col(MentorshipRow.state).in_(OPEN_STATES),
                )
                .values(state="expired", updated_at=now)
            )
            if result.rowcount:  # type: ignore[attr-defined]
                expired.append(record)
        return expired

    async def all(self) -> list[StoredMentorship]:
        return [_stored(row) for row in (await self._session.execute(select(MentorshipRow))).scalars()]

    async def declared_places(self, member_id: str) -> int | None:
        row = await self._session.get(MentorPlacesRow, member_id)
        return None if row is None else row.capacity

    async def declare_places(self, member_id: str, capacity: int) -> None:
        row = await self._session.get(MentorPlacesRow, member_id)
        if row is None:
            self._session.add(MentorPlacesRow(member_id=member_id, capacity=capacity))
        else:
            row.capacity = capacity
        await self._session.flush()


def _stored(row: MentorshipRow) -> StoredMentorship:
    return StoredMentorship(
        member_id=row.member_id,
        request_id=row.request_id,
        role=row.role,
        state=row.state,
        duration_weeks=row.duration_weeks,
        created_at=row.created_at,
        expires_at=row.expires_at,
        updated_at=row.updated_at,
        answered_at=row.answered_at,
        sessions_held=row.sessions_held,
    )

"""Repository of abuse reports about this node's members (their content sealed)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from node.storage.tables import AbuseReportRow


@dataclass(frozen=True)
class StoredReport:
    id: str
    reported_member: str
    origin: str
    sealed: bytes
    status: str
    created_at: int
    resolved_at: int | None


class ReportStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, report: StoredReport) -> None:
        self._session.add(AbuseReportRow(**report.__dict__))
        await self._session.flush()

    async def get(self, report_id: str) -> StoredReport | None:
        row = await self._session.get(AbuseReportRow, report_id)
        return None if row is None else _stored(row)

    async def all(self, status: str | None = None) -> list[StoredReport]:
        query = select(AbuseReportRow).order_by(col(AbuseReportRow.created_at), col(AbuseReportRow.id))
        if status is not None:
            query = query.where(col(AbuseReportRow.status) == status)
        return [_stored(row) for row in (await self._session.execute(query)).scalars()]

    async def resolve(self, report_id: str, sealed: bytes, now: int) -> bool:
        """Close an open report; ``False`` if it was not open (another operator closed it first)."""
        result = await self._session.execute(
            update(AbuseReportRow)
            .where(col(AbuseReportRow.id) == report_id, col(AbuseReportRow.status) == "open")
            .values(status="resolved", sealed=sealed, resolved_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def _stored(row: AbuseReportRow) -> StoredReport:
    return StoredReport(
        row.id, row.reported_member, row.origin, row.sealed, row.status, row.created_at, row.resolved_at
    )

"""Repository for the append-only audit log and its head."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from node.storage.tables import AuditHeadRow, AuditLogRow
from protocol.audit import GENESIS_DIGEST, AuditEntry, chain_digest, head_digest


class AuditStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(
        self, audit_key: bytes, *, at: int, actor: str, action: str, target: str, details: dict[str, object]
    ) -> AuditEntry:
        """Chain a new entry onto the head, in the caller's transaction (which serializes writers)."""
        head = await self._session.get(AuditHeadRow, 1, with_for_update=True)
        last = await self._session.get(AuditLogRow, head.seq) if head else None
        previous_seq, previous_digest = (last.seq, last.digest) if last else (0, GENESIS_DIGEST)
        entry = AuditEntry(seq=previous_seq + 1, at=at, actor=actor, action=action, target=target, details=details)  # type: ignore[arg-type]
        digest = chain_digest(audit_key, previous_digest, entry)
        self._session.add(
            AuditLogRow(
                seq=entry.seq,
                at=at,
                actor=actor,
                action=action,
                target=target,
                details=json.dumps(details, sort_keys=True),
                digest=digest,
            )
        )
        new_head = head_digest(audit_key, entry.seq, digest)
        if head is None:
            self._session.add(AuditHeadRow(id=1, seq=entry.seq, digest=new_head))
        else:
            head.seq, head.digest = entry.seq, new_head
        await self._session.flush()
        return entry

    async def entries(self, batch: int = 500) -> AsyncIterator[tuple[AuditEntry, bytes]]:
        """Every entry with its stored digest, in sequence order, read in batches."""
        last = 0
        while True:
            rows = (
                (
                    await self._session.execute(
                        select(AuditLogRow)
                        .where(col(AuditLogRow.seq) > last)
                        .order_by(col(AuditLogRow.seq))
                        .limit(batch)
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                return
            for row in rows:
                entry = AuditEntry(row.seq, row.at, row.actor, row.action, row.target, json.loads(row.details))
                yield entry, row.digest
            last = rows[-1].seq

    async def head(self) -> tuple[int, bytes] | None:
        row = await self._session.get(AuditHeadRow, 1)
        return None if row is None else (row.seq, row.digest)

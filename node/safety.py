"""Reports about members: received from the reporter's node (or our own members), kept sealed
for this node's operator, listed and resolved through ``mentornet reports``; every step in the
audit log. The report's content is what the reporter chose to reveal; nothing else is readable."""

from __future__ import annotations

import json
import secrets
from typing import Any

from node.errors import Conflict, NotFound
from node.instance import Node
from node.keyring import open_value, seal_value
from node.storage.audit import AuditStore
from node.storage.members import MemberStore
from node.storage.reports import ReportStore, StoredReport
from protocol.safety import Report, report_json

OPEN = "open"
RESOLVED = "resolved"
MAX_NOTE = 2000


async def receive_report(node: Node, origin: str, report: Report) -> str:
    """Keep a report about one of our members, sealed; return its id.

    Raises:
        NotFound: if the reported member is not a member here.
    """
    report_id = secrets.token_hex(8)
    now = node.clock()
    content = {**report_json(report), "received_at": now}
    async with node.database.transaction() as session:
        if await MemberStore(session).get(report.member) is None:
            raise NotFound(f"no member {report.member} at this node")
        await ReportStore(session).add(
            StoredReport(report_id, report.member, origin, _seal(node, report_id, content), OPEN, now, None)
        )
        details: dict[str, Any] = {"report": report_id, "from": origin}
        await node.audit(AuditStore(session), "report.receive", report.member, details, actor=f"node:{origin}")
    return report_id


async def list_reports(node: Node, *, include_resolved: bool = False) -> list[dict[str, Any]]:
    """Reports about our members, oldest first, opened for the operator."""
    async with node.database.transaction() as session:
        stored = await ReportStore(session).all(None if include_resolved else OPEN)
    return [_opened(node, report) for report in stored]


async def get_report(node: Node, report_id: str) -> dict[str, Any]:
    async with node.database.transaction() as session:
        stored = await ReportStore(session).get(report_id)
    if stored is None:
        raise NotFound(f"no report {report_id}")
    return _opened(node, stored)


async def resolve_report(node: Node, report_id: str, note: str) -> dict[str, Any]:
    """Close a report with the operator's note (kept sealed with it); audit-logged.

    Raises:
        NotFound: no such report. Conflict: already resolved, or no note.
    """
    if not 0 < len(note) <= MAX_NOTE:
        raise Conflict(f"say what was done, in 1 to {MAX_NOTE} characters")
    now = node.clock()
    async with node.database.transaction() as session:
        store = ReportStore(session)
        stored = await store.get(report_id)
        if stored is None:
            raise NotFound(f"no report {report_id}")
        if stored.status == RESOLVED:
            raise Conflict(f"report {report_id} is already resolved")
        content = {**_content(node, stored), "resolution": note, "resolved_at": now}
        if not await store.resolve(report_id, _seal(node, report_id, content), now):
            raise Conflict(f"report {report_id} is already resolved")
        await node.audit(AuditStore(session), "report.resolve", stored.reported_member, {"report": report_id})
        updated = await store.get(report_id)
    assert updated is not None
    return _opened(node, updated)


def _seal(node: Node, report_id: str, content: dict[str, Any]) -> bytes:
    return seal_value(node.keyring.reports_key, json.dumps(content).encode(), table="abuse_reports", row=report_id)


def _content(node: Node, stored: StoredReport) -> dict[str, Any]:
    opened = open_value(node.keyring.reports_key, stored.sealed, table="abuse_reports", row=stored.id)
    return dict(json.loads(opened))


def _opened(node: Node, stored: StoredReport) -> dict[str, Any]:
    return {
        "id": stored.id,
        "member": stored.reported_member,
        "from_node": stored.origin,
        "status": stored.status,
        "created_at": stored.created_at,
        "resolved_at": stored.resolved_at,
        **{k: v for k, v in _content(node, stored).items() if k != "member"},
    }

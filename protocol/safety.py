"""Reports about a member, sent to the operator of the member's home node.

The reporter chooses what to reveal: a reason, and as evidence some of the messages they
exchanged with the member (which, until then, no node could read). Their own address is included
unless they report anonymously; the reporting node is always known to the receiving one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from protocol.errors import InvalidField

MAX_REASON = 2000
MAX_EVIDENCE = 20
MAX_EVIDENCE_BYTES = 256 * 1024


@dataclass(frozen=True)
class Report:
    member: str
    reason: str
    evidence: list[dict[str, Any]]
    reporter: str | None


def make_report(raw: object) -> Report:
    """A report from its wire form, checked.

    Raises:
        InvalidField: naming what is wrong.
    """
    if not isinstance(raw, dict):
        raise InvalidField("report", 'expected {"member", "reason", "evidence", "reporter"}')
    member, reason, evidence, reporter = (raw.get(k) for k in ("member", "reason", "evidence", "reporter"))
    if not isinstance(member, str) or not 1 <= len(member) <= 36:
        raise InvalidField("member", "the reported member's id")
    if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidField("reason", f"say what happened, in 1 to {MAX_REASON} characters")
    if evidence is None:
        evidence = []
    if not isinstance(evidence, list) or len(evidence) > MAX_EVIDENCE or not all(isinstance(e, dict) for e in evidence):
        raise InvalidField("evidence", f"a list of at most {MAX_EVIDENCE} messages")
    if len(json.dumps(evidence).encode()) > MAX_EVIDENCE_BYTES:
        raise InvalidField("evidence", f"at most {MAX_EVIDENCE_BYTES // 1024} KiB in all")
    if reporter is not None and (not isinstance(reporter, str) or len(reporter) > 400):
        raise InvalidField("reporter", "the reporter's address, or null to report anonymously")
    return Report(member, reason, evidence, reporter)


def report_json(report: Report) -> dict[str, Any]:
    return {"member": report.member, "reason": report.reason, "evidence": report.evidence, "reporter": report.reporter}

"""What an institution may see of its members' mentoring: aggregate counts, never content, and
only figures that at least :data:`MIN_GROUP` different members contribute to (a smaller group
could be re-identified)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from node.instance import DAY, Node
from node.storage.members import MemberStore
from node.storage.mentorships import MentorshipStore, StoredMentorship
from protocol.lifecycle import Actor, State
from protocol.member import MemberStatus

MIN_GROUP = 5


@dataclass(frozen=True)
class Figure:
    """One reported number; ``value`` is ``None`` when fewer than :data:`MIN_GROUP` members contribute."""

    name: str
    label: str
    value: float | None
    members: int

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "label": self.label, "value": self.value, "withheld": self.value is None}


async def institution_report(node: Node, *, days: int) -> dict[str, object]:
    """Aggregate figures over requests made in the last ``days`` days."""
    since = node.clock() - days * DAY
    async with node.database.transaction() as session:
        records = [r for r in await MentorshipStore(session).all() if r.created_at >= since]
        counts = await MemberStore(session).counts()
    mentees = [r for r in records if r.role == Actor.MENTEE]
    mentors = [r for r in records if r.role == Actor.MENTOR]
    answered = [r for r in mentors if r.answered_at is not None]
    # Answered and not declined: accepted, whatever happened later (an operator's end of a request
    # that was never answered is not an acceptance).
    accepted = [r for r in answered if r.state != State.DECLINED]
    figures = [
        _counted("requests_made", "requests made by our mentees", mentees),
        _counted("requests_received", "requests received by our mentors", mentors),
        _counted("requests_answered", "requests answered", answered),
        _figure(
            "answer_rate_percent",
            "answered, per cent of received",
            answered,  # withheld with the count of answered requests, which it would give away
            round(100 * len(answered) / len(mentors), 1) if mentors else None,
        ),
        _figure(
            "median_answer_hours",
            "median time to answer, hours",
            answered,
            round(statistics.median((r.answered_at or 0) - r.created_at for r in answered) / 3600, 1)
            if answered
            else None,
        ),
        _counted("accepted", "requests accepted", accepted),
        _counted("running", "mentorships running", [r for r in mentors if r.state == State.ACTIVE]),
        _counted("completed", "mentorships completed", [r for r in mentors if r.state == State.COMPLETED]),
        _figure(
            "sessions_held",
            "sessions held",
            [r for r in mentors if r.sessions_held],
            sum(r.sessions_held for r in mentors),
        ),
    ]
    active = {role: n for (role, status), n in counts.items() if status == MemberStatus.ACTIVE}
    return {
        "institution": node.config.name,
        "days": days,
        "min_group": MIN_GROUP,
        "members": {role: (n if n >= MIN_GROUP else None) for role, n in sorted(active.items())},
        "figures": [figure.as_json() for figure in figures],
    }


def _figure(name: str, label: str, records: list[StoredMentorship], value: float | None) -> Figure:
    """``value``, withheld unless at least :data:`MIN_GROUP` different members' records made it."""
    contributors = len({r.member_id for r in records})
    return Figure(name, label, value if contributors >= MIN_GROUP else None, contributors)


def _counted(name: str, label: str, records: list[StoredMentorship]) -> Figure:
    return _figure(name, label, records, len(records))

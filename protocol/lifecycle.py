"""The mentorship request: its states, who may move it where, and the guards on each move.

Both members' clients apply the same rules to the events they exchange end to end, and the
mentor's home node applies them to the little it enforces (capacity, open-request counts, expiry),
so an illegal move is refused in the same words everywhere.

::

    pending ──view──► viewed
       │  └─────────────┴──accept (mentor)──► active ──complete (either)──► completed
       │                │                       ├──cancel (either)───────► cancelled
       ├ decline (mentor) ► declined            └──end (operator)────────► ended
       ├ withdraw (mentee) ► withdrawn
       ├ expire (system, at expires_at) ► expired
       └ end (operator) ► ended

``pending`` and ``viewed`` are *open*; ``active`` holds one of the mentor's places; the rest are
final. A request expires ``REQUEST_TTL`` after it was made (default 14 days), with a reminder
due at half of that. Pure: times are parameters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from protocol.errors import IllegalTransition, InvalidField

DAY = 86_400
REQUEST_TTL = 14 * DAY
MIN_DURATION_WEEKS = 1
MAX_DURATION_WEEKS = 52
MAX_OPEN_REQUESTS = 5
MAX_REASON = 500


class State(StrEnum):
    PENDING = "pending"
    VIEWED = "viewed"
    ACTIVE = "active"
    COMPLETED = "completed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    CANCELLED = "cancelled"
    ENDED = "ended"


class Action(StrEnum):
    VIEW = "view"
    ACCEPT = "accept"
    DECLINE = "decline"
    WITHDRAW = "withdraw"
    EXPIRE = "expire"
    COMPLETE = "complete"
    CANCEL = "cancel"
    END = "end"


class Actor(StrEnum):
    MENTEE = "mentee"
    MENTOR = "mentor"
    OPERATOR = "operator"
    SYSTEM = "system"  # the expiry timer


OPEN = frozenset({State.PENDING, State.VIEWED})
FINAL = frozenset({State.COMPLETED, State.DECLINED, State.WITHDRAWN, State.EXPIRED, State.CANCELLED, State.ENDED})

_FROM_OPEN: dict[Action, tuple[frozenset[Actor], State]] = {
    Action.VIEW: (frozenset({Actor.MENTOR}), State.VIEWED),
    Action.ACCEPT: (frozenset({Actor.MENTOR}), State.ACTIVE),
    Action.DECLINE: (frozenset({Actor.MENTOR}), State.DECLINED),
    Action.WITHDRAW: (frozenset({Actor.MENTEE}), State.WITHDRAWN),
    Action.EXPIRE: (frozenset({Actor.SYSTEM}), State.EXPIRED),
    Action.END: (frozenset({Actor.OPERATOR}), State.ENDED),
}
TRANSITIONS: dict[State, dict[Action, tuple[frozenset[Actor], State]]] = {
    State.PENDING: _FROM_OPEN,
    State.VIEWED: {action: rule for action, rule in _FROM_OPEN.items() if action is not Action.VIEW},
    State.ACTIVE: {
        Action.COMPLETE: (frozenset({Actor.MENTEE, Actor.MENTOR}), State.COMPLETED),
        Action.CANCEL: (frozenset({Actor.MENTEE, Actor.MENTOR}), State.CANCELLED),
        Action.END: (frozenset({Actor.OPERATOR}), State.ENDED),
    },
    **{state: {} for state in FINAL},
}


@dataclass(frozen=True)
class Step:
    """One applied move, as the history keeps it."""

    action: Action
    actor: Actor
    at: int
    state: State
    reason: str | None = None


@dataclass(frozen=True)
class MentorshipRequest:
    id: str
    mentee: str
    mentor: str
    duration_weeks: int
    created_at: int
    expires_at: int
    state: State = State.PENDING
    history: tuple[Step, ...] = field(default=())

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    @property
    def holds_a_place(self) -> bool:
        """Whether it takes one of the mentor's open places (an accepted, running mentorship)."""
        return self.state is State.ACTIVE

    def reminder_due(self, now: int) -> bool:
        """The mentor has not answered and half of the time to answer has gone."""
        return (
            self.is_open and now >= self.created_at + (self.expires_at - self.created_at) // 2 and now < self.expires_at
        )


def new_request(
    request_id: str, mentee: str, mentor: str, duration_weeks: int, now: int, *, ttl: int = REQUEST_TTL
) -> MentorshipRequest:
    """A new pending request.

    Raises:
        InvalidField: if the duration is outside 1–52 weeks, the two members are the same, or the
            time to answer is not positive.
    """
    if not MIN_DURATION_WEEKS <= duration_weeks <= MAX_DURATION_WEEKS:
        raise InvalidField("duration_weeks", f"must be {MIN_DURATION_WEEKS} to {MAX_DURATION_WEEKS}")
    if mentee == mentor:
        raise InvalidField("mentor", "a member cannot ask themselves for mentoring")
    if ttl <= 0:
        raise InvalidField("ttl", "must be positive")
    return MentorshipRequest(request_id, mentee, mentor, duration_weeks, now, now + ttl)


def apply(
    request: MentorshipRequest, action: Action, actor: Actor, at: int, *, reason: str | None = None
) -> MentorshipRequest:
    """The request after ``actor`` made ``action`` at time ``at``.

    Raises:
        IllegalTransition: if the move is not in the table for the current state, the actor may
            not make it, time runs backwards, an open request has expired (only ``expire`` and an
            operator's ``end`` are then allowed), or ``expire`` comes before ``expires_at``.
        InvalidField: if a reason is too long.
    """
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidField("reason", f"at most {MAX_REASON} characters")
    last = request.history[-1].at if request.history else request.created_at
    target = check_move(request.state, action, actor, at, last_at=last, expires_at=request.expires_at)
    return replace(request, state=target, history=(*request.history, Step(action, actor, at, target, reason)))


def check_move(state: State, action: Action, actor: Actor, at: int, *, last_at: int, expires_at: int) -> State:
    """The state a request in ``state`` moves to when ``actor`` makes ``action`` at ``at``; for a
    holder of only the request's state and times (a node keeps no history and no counterpart).

    Raises:
        IllegalTransition: as :func:`apply`.
    """
    rule = TRANSITIONS[state].get(action)
    if rule is None:
        raise IllegalTransition(f"cannot {action} a request that is {state}")
    allowed, target = rule
    if actor not in allowed:
        who = " or ".join(sorted(allowed))
        raise IllegalTransition(f"only the {who} can {action} a request that is {state}")
    if at < last_at:
        raise IllegalTransition("a move cannot come before the previous one")
    if action is Action.EXPIRE and at < expires_at:
        raise IllegalTransition("the request has not expired yet")
    if state in OPEN and at >= expires_at and action not in (Action.EXPIRE, Action.END):
        raise IllegalTransition(f"the request expired; it can no longer be {_past(action)}")
    return target


def request_to_json(request: MentorshipRequest) -> dict[str, object]:
    return {
        "id": request.id,
        "mentee": request.mentee,
        "mentor": request.mentor,
        "duration_weeks": request.duration_weeks,
        "created_at": request.created_at,
        "expires_at": request.expires_at,
        "state": str(request.state),
        "history": [
            {"action": str(s.action), "actor": str(s.actor), "at": s.at, "state": str(s.state), "reason": s.reason}
            for s in request.history
        ],
    }


def request_from_json(data: dict[str, Any]) -> MentorshipRequest:
    """A request as :func:`request_to_json` wrote it.

    Raises:
        InvalidField: if it is not one.
    """
    try:
        return MentorshipRequest(
            id=str(data["id"]),
            mentee=str(data["mentee"]),
            mentor=str(data["mentor"]),
            duration_weeks=int(data["duration_weeks"]),
            created_at=int(data["created_at"]),
            expires_at=int(data["expires_at"]),
            state=State(data["state"]),
            history=tuple(
                Step(Action(s["action"]), Actor(s["actor"]), int(s["at"]), State(s["state"]), s.get("reason"))
                for s in data["history"]
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidField("request", f"not a saved request: {exc}") from exc


RESPONSIVENESS_DAYS = 90


def responsiveness(answer_delays: Sequence[int | None]) -> dict[str, int | None] | None:
    """A mentor's responsiveness from their decided requests: each request's time to answer in
    seconds, or ``None`` if it expired unanswered. ``None`` when nothing was decided yet.

    The median is the upper median of whole minutes, so every node computes the same number.
    """
    if not answer_delays:
        return None
    answered = sorted(delay // 60 for delay in answer_delays if delay is not None)
    return {
        "decided": len(answer_delays),
        "answered": len(answered),
        "median_answer_minutes": answered[len(answered) // 2] if answered else None,
    }


def check_open_requests(open_requests: int) -> None:
    """A mentee may have at most :data:`MAX_OPEN_REQUESTS` open requests.

    Raises:
        IllegalTransition: if one more would exceed it.
    """
    if open_requests >= MAX_OPEN_REQUESTS:
        raise IllegalTransition(
            f"you have {open_requests} open requests, the most allowed; withdraw one or wait for answers"
        )


def check_capacity(capacity: int, active: int) -> None:
    """Accepting needs an open place: ``active`` running mentorships out of ``capacity``.

    Raises:
        IllegalTransition: if every place is taken.
    """
    if active >= capacity:
        raise IllegalTransition(f"no open place: {active} of {capacity} taken")


def _past(action: Action) -> str:
    return {
        Action.VIEW: "viewed",
        Action.ACCEPT: "accepted",
        Action.DECLINE: "declined",
        Action.WITHDRAW: "withdrawn",
        Action.COMPLETE: "completed",
        Action.CANCEL: "cancelled",
    }.get(action, str(action))

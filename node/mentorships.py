"""Mentorship requests as a home node enforces them.

The two members' clients carry the request and every move end to end; each tells its own home
node what the node must enforce, and nothing else: the mentee's node caps open requests, the
mentor's node holds the places (capacity) and re-announces the places still open when one is
taken or given back, and both expire unanswered requests. A node's record names neither the
other member nor any content: a random request id, the local member's role, state and times.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict

from node.announcements import refresh_announcement
from node.errors import Conflict, NotFound, RequestRejected
from node.instance import DAY, Node
from node.storage.audit import AuditStore
from node.storage.members import MemberStore
from node.storage.mentorships import OPEN_STATES, MentorshipStore, StoredMentorship
from protocol.errors import IllegalTransition, InvalidField, MalformedMessage
from protocol.lifecycle import (
    MAX_DURATION_WEEKS,
    MAX_REASON,
    MIN_DURATION_WEEKS,
    TRANSITIONS,
    Action,
    Actor,
    State,
    check_capacity,
    check_move,
)
from protocol.member import MemberStatus, Role

log = logging.getLogger("mentornet.mentorships")
MIN_TIME_TO_ANSWER = DAY
REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
MEMBER_MOVES = frozenset({Action.VIEW, Action.ACCEPT, Action.DECLINE, Action.WITHDRAW, Action.COMPLETE, Action.CANCEL})


async def open_request(
    node: Node, member_id: str, request_id: str, role: Actor, duration_weeks: int, expires_at: int | None = None
) -> StoredMentorship:
    """Record a request this member made (``role`` mentee) or received (``role`` mentor).

    Idempotent: recording the same request again returns the stored record.

    Raises:
        MalformedMessage / InvalidField: a bad id, role, duration or expiry.
        RequestRejected: (409 ``too_many_open_requests``) if a mentee already has the most open
            requests the node allows.
        Conflict: the member may not take this role, or the id is already used otherwise.
    """
    if not REQUEST_ID.fullmatch(request_id):
        raise MalformedMessage("a request id is 16 to 64 characters of A-Z a-z 0-9 _ -")
    if role not in (Actor.MENTEE, Actor.MENTOR):
        raise InvalidField("role", "must be mentee or mentor")
    if not MIN_DURATION_WEEKS <= duration_weeks <= MAX_DURATION_WEEKS:
        raise InvalidField("duration_weeks", f"must be {MIN_DURATION_WEEKS} to {MAX_DURATION_WEEKS}")
    now = node.clock()
    deadline = now + node.config.request_ttl_days * DAY
    if expires_at is not None:
        if expires_at <= now:
            raise IllegalTransition("the request expired before it was recorded")
        # Never less than a day to answer, whatever the (other member's) request claims: an
        # unanswered expiry counts against the mentor's responsiveness.
        deadline = max(min(deadline, expires_at), now + MIN_TIME_TO_ANSWER)
    async with node.database.transaction() as session:
        # The member row lock serializes this member's requests, so two at once cannot both
        # take the last open slot (PostgreSQL; SQLite's BEGIN IMMEDIATE serializes anyway).
        member = await MemberStore(session).get(member_id, for_update=True)
        if member is None or member.status != MemberStatus.ACTIVE:
            raise Conflict("only an active member can make or receive requests")
        allowed = (Role.MENTEE, Role.BOTH) if role is Actor.MENTEE else (Role.MENTOR, Role.BOTH)
        if member.role not in allowed:
            raise Conflict(f"a {member.role} cannot {'make' if role is Actor.MENTEE else 'receive'} mentoring requests")
        store = MentorshipStore(session)
        existing = await store.get(member_id, request_id)
        if existing is not None:
            if existing.role != role:
                raise Conflict(f"request {request_id} is already recorded as a {existing.role}'s")
            return existing
        if role is Actor.MENTEE:
            open_requests = await store.count(member_id, Actor.MENTEE, OPEN_STATES, unexpired_at=now)
            if open_requests >= node.config.max_open_requests:
                raise RequestRejected(
                    409,
                    "too_many_open_requests",
                    f"you have {open_requests} open requests, the most allowed; withdraw one or wait for answers",
                )
        record = StoredMentorship(
            member_id=member_id,
            request_id=request_id,
            role=str(role),
            state=str(State.PENDING),
            duration_weeks=duration_weeks,
            created_at=now,
            expires_at=deadline,
            updated_at=now,
            answered_at=None,
            sessions_held=0,
        )
        await store.add(record)
    return record


async def move(node: Node, member_id: str, request_id: str, action: Action, by: Actor) -> StoredMentorship:
    """Apply a move on a request, made by this member or (as their client reports it) by the
    other member; the mentor's own acceptance must find an open place.

    Raises:
        NotFound: no such request for this member.
        IllegalTransition: the move is not allowed now (the message says why).
        RequestRejected: (409 ``no_open_place``) every one of the mentor's places is taken.
    """
    if action not in MEMBER_MOVES or by not in (Actor.MENTEE, Actor.MENTOR):
        raise IllegalTransition(f"a member cannot {action} a request as {by}")
    async with node.database.transaction() as session:
        member = await MemberStore(session).get(member_id, for_update=True)  # one move of this member at a time
        if member is None or member.status != MemberStatus.ACTIVE:
            raise Conflict("only an active member can move a request")
        now = node.clock()  # read under the lock: moves of one member are in time order
        store = MentorshipStore(session)
        record = await store.get(member_id, request_id)
        if record is None:
            raise NotFound(f"no request {request_id} recorded for you")
        if _repeated(record, action, by):
            return record  # a retry of a move that was stored (its answer was lost): the same answer
        target = check_move(
            State(record.state), action, by, now, last_at=record.updated_at, expires_at=record.expires_at
        )
        holds_places = record.role == Actor.MENTOR
        if holds_places and target is State.ACTIVE:
            declared = await store.declared_places(member_id)
            if declared is None:
                raise RequestRejected(409, "no_open_place", "announce your availability (with a capacity) first")
            try:
                check_capacity(declared, await store.count(member_id, Actor.MENTOR, (State.ACTIVE,)))
            except IllegalTransition as exc:
                raise RequestRejected(409, "no_open_place", str(exc)) from exc
        answered = holds_places and record.answered_at is None and action in (Action.ACCEPT, Action.DECLINE)
        updated = await store.set_state(record, target, now, answered=answered)
    if holds_places and (answered or State.ACTIVE in (target, State(record.state))):
        await republish_places(node, member_id)  # places open, and how the mentor answers
    return updated


def _repeated(record: StoredMentorship, action: Action, by: Actor) -> bool:
    """Whether the record is already where this move leads, and the move is one this actor makes."""
    rule = _FROM_OPEN_OR_ACTIVE.get(action)
    return rule is not None and by in rule[0] and record.state == rule[1]


_FROM_OPEN_OR_ACTIVE = {**TRANSITIONS[State.PENDING], **TRANSITIONS[State.ACTIVE]}


async def end_one(node: Node, member_id: str, request_id: str, reason: str) -> StoredMentorship:
    """An operator ends one open request or running mentorship of a member; audit-logged. The
    member's client follows at its next receive and tells the other member.

    Raises:
        NotFound: no such request for this member. IllegalTransition: it is already over.
        Conflict: no reason, or one over 500 characters.
    """
    check_reason(reason)
    async with node.database.transaction() as session:
        await MemberStore(session).get(member_id, for_update=True)
        now = node.clock()
        store = MentorshipStore(session)
        record = await store.get(member_id, request_id)
        if record is None:
            raise NotFound(f"no request {request_id} recorded for member {member_id}")
        target = check_move(
            State(record.state),
            Action.END,
            Actor.OPERATOR,
            now,
            last_at=record.updated_at,
            expires_at=record.expires_at,
        )
        updated = await store.set_state(record, target, now, answered=False)
        await node.audit(AuditStore(session), "mentorship.end", member_id, {"request": request_id, "reason": reason})
    if record.role == Actor.MENTOR and record.state == State.ACTIVE:
        await republish_places(node, member_id)  # the place is open again
    return updated


def check_reason(reason: str) -> None:
    """An operator's reason for an action (it goes to the audit log).

    Raises:
        Conflict: if it is empty or over :data:`MAX_REASON` characters.
    """
    if not 0 < len(reason) <= MAX_REASON:
        raise Conflict(f"give a reason of 1 to {MAX_REASON} characters (it goes to the audit log)")


async def record_session(node: Node, member_id: str, request_id: str) -> StoredMentorship:
    """Count a session held in a running mentorship (a number only; when and what stay private)."""
    async with node.database.transaction() as session:
        store = MentorshipStore(session)
        record = await store.get(member_id, request_id)
        if record is None:
            raise NotFound(f"no request {request_id} recorded for you")
        if record.state != State.ACTIVE:
            raise IllegalTransition(f"sessions are held in an active mentorship; this one is {record.state}")
        return await store.add_session(record)


async def mentorships_of(node: Node, member_id: str) -> list[StoredMentorship]:
    async with node.database.transaction() as session:
        return await MentorshipStore(session).of_member(member_id)


async def expire_due(node: Node) -> int:
    """Expire every open request whose time to answer ran out; return how many. A mentor who let
    one expire is re-announced: the announcement says how the mentor answers."""
    async with node.database.transaction() as session:
        expired = await MentorshipStore(session).expire_due(node.clock())
    for mentor in sorted({r.member_id for r in expired if r.role == Actor.MENTOR}):
        await republish_places(node, mentor)
    return len(expired)


async def end_all(store: MentorshipStore, member_id: str, now: int) -> int:
    """An operator ends every open request and running mentorship of a member (suspension,
    removal), in the caller's transaction; returns how many."""
    ending = [r for r in await store.of_member(member_id) if r.state in (*OPEN_STATES, State.ACTIVE)]
    for record in ending:
        await store.set_state(record, State.ENDED, now, answered=False)
    return len(ending)


async def republish_places(node: Node, member_id: str) -> bool:
    """Re-announce a mentor with the places open now and how they answer requests. A failure is
    logged, never raised: the move that caused it is already stored, and the next move or the
    mentor's next publish announces the same numbers."""
    try:
        return await refresh_announcement(node, member_id)
    except Exception:
        log.exception("re-announcing a mentor failed", extra={"member_id": member_id})
        return False


def record_json(record: StoredMentorship) -> dict[str, object]:
    """A record as the client API and the CLI show it (the member is the one asking)."""
    return {name: value for name, value in asdict(record).items() if name != "member_id"}

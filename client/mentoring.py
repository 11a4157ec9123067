"""Mentorships on a member's client: requests, sessions, goals and feedback as end-to-end events.

Every event travels encrypted to the other member (see :mod:`client.member`); the sender's
identity comes from the session, so an event is applied only if *that* member may make the
move (:mod:`protocol.lifecycle`, :mod:`protocol.scheduling`, :mod:`protocol.goals`). The client
tells its own home node only what the node enforces: that a request exists, its moves (the
mentor's node checks places), and that a session was held. Event types::

    mentorship.request  {"request", "message", "goals", "duration_weeks", "expires_at"}
    mentorship.move     {"request", "action", "reason", "at", "availability" (mentor's, on accept)}
    session             {"request", "method": REQUEST|COUNTER|REPLY|CANCEL, "session", "sequence", ...}
    goal.op             {"request", "op": {...}}
    feedback            {"request", "about", "ratings", "text"}
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar
from zoneinfo import ZoneInfoNotFoundError

from client.api import ApiError, NodeApi
from client.calendar import CalendarEntry, sessions_ics
from client.groups import KINDS as GROUP_EVENTS
from client.groups import Groups
from client.member import Address, ClientError, MemberClient, Received, new_id
from client.resources import RESOURCE, Resources
from protocol.discovery import LocalWindow
from protocol.errors import ProtocolError, StaleSequence
from protocol.feedback import make_feedback
from protocol.goals import Goal, Kind, fold, make_op, next_lamport, op_to_json
from protocol.lifecycle import (
    FINAL,
    MAX_REASON,
    OPEN,
    Action,
    Actor,
    MentorshipRequest,
    State,
    apply,
    new_request,
    request_from_json,
    request_to_json,
)
from protocol.scheduling import (
    Method,
    Session,
    SessionState,
    Slot,
    cancel,
    counter,
    crossed,
    parse_slot,
    propose,
    reply,
    session_from_json,
    session_to_json,
)

REQUEST = "mentorship.request"
MOVE = "mentorship.move"
SESSION = "session"
GOAL = "goal.op"
FEEDBACK = "feedback"
MAX_MESSAGE = 2000
MAX_GOALS_TEXT = 10
DEFAULT_VIDEO_BASE = "https://meet.jit.si/"
MAX_REJECTED = 200


@dataclass(frozen=True)
class Update:
    """One received event, as the member should read it; ``refused`` says why it was not applied."""

    sender: Address
    event: dict[str, Any]
    summary: str
    refused: str | None = None


class Mentoring:
    """The member's mentorships, kept in the keystore under ``mentorships``."""

    def __init__(self, member: MemberClient) -> None:
        self.member = member
        self.records: dict[str, dict[str, Any]] = member.state.setdefault("mentorships", {})

    @property
    def me(self) -> str:
        return str(self.member.address)

    # --- requests -----------------------------------------------------------------------------

    async def request(self, mentor: Address, message: str, goals: list[str], duration_weeks: int) -> str:
        """Ask a mentor found through discovery; return the request id. The home node first checks
        the open-request cap; if sending then fails, the request is withdrawn there again."""
        _check_text(message, "message", MAX_MESSAGE)
        if len(goals) > MAX_GOALS_TEXT or any(not 0 < len(goal) <= 200 for goal in goals):
            raise ClientError(f"give at most {MAX_GOALS_TEXT} goals of 1 to 200 characters")
        if str(mentor) == self.me:
            raise ClientError("you cannot ask yourself for mentoring")
        request_id = new_id()
        async with self.member.api() as api:
            recorded = await _node(api.open_request(request_id, Actor.MENTEE, duration_weeks))
        request = new_request(
            request_id,
            self.me,
            str(mentor),
            duration_weeks,
            recorded["created_at"],
            ttl=recorded["expires_at"] - recorded["created_at"],
        )
        self.records[request_id] = _record(request, Actor.MENTEE, mentor, message, goals)
        event = {
            "type": REQUEST,
            "request": request_id,
            "message": message,
            "goals": goals,
            "duration_weeks": duration_weeks,
            "expires_at": request.expires_at,
        }
        try:
            await self.member.send_events(mentor, [event])
        except Exception:
            del self.records[request_id]
            async with self.member.api() as api:
                await _node(api.move(request_id, Action.WITHDRAW, Actor.MENTEE))
            raise
        return request_id

    async def move(self, request_id: str, action: Action, *, reason: str | None = None) -> MentorshipRequest:
        """Make a move on a request as this member (view, accept, decline, withdraw, complete,
        cancel). The home node applies it first: a mentor's acceptance needs an open place."""
        record = self._record(request_id)
        role = Actor(record["role"])
        now = int(time.time())
        try:
            moved = apply(request_from_json(record["request"]), action, role, now, reason=reason)
        except ProtocolError as exc:
            raise ClientError(str(exc)) from exc
        async with self.member.api() as api:
            await _node(api.move(request_id, action, role))
        event: dict[str, Any] = {"type": MOVE, "request": request_id, "action": str(action), "at": now}
        if reason:
            event["reason"] = reason
        if action is Action.ACCEPT:
            # Both sides check session times against the same windows: the ones sent now.
            event["availability"] = record["availability"] = _schedule_of(self.member.state.get("availability"))
        record["request"] = request_to_json(moved)
        self.member.keystore.save()
        await self.member.send_events(Address.parse(record["other"]), [event], durable=True)
        return moved

    def requests(self) -> list[dict[str, Any]]:
        """Every mentorship of this member, newest first, with a reminder flag for open ones."""
        now = int(time.time())
        listed = []
        for request_id, record in self.records.items():
            request = request_from_json(record["request"])
            listed.append(
                {
                    "request_id": request_id,
                    "role": record["role"],
                    "with": record["other"],
                    "state": str(request.state),
                    "duration_weeks": request.duration_weeks,
                    "created_at": request.created_at,
                    "expires_at": request.expires_at,
                    "reminder": request.reminder_due(now),
                    "message": record["message"],
                    "goals": record["goals"],
                }
            )
        return sorted(listed, key=lambda item: item["created_at"], reverse=True)

    def due_reminders(self, now: int | None = None) -> list[str]:
        """Once per request, when half its time to answer has gone unanswered: a line for the
        mentor (answer it) or the mentee (it may expire). Marked as given in the keystore."""
        now = int(time.time()) if now is None else now
        lines = []
        for request_id, record in self.records.items():
            request = request_from_json(record["request"])
            if record.get("reminded") or not request.reminder_due(now):
                continue
            record["reminded"] = now
            days = max(1, round((request.expires_at - now) / 86_400))
            if record["role"] == Actor.MENTOR:
                lines.append(
                    f"Reminder: {record['other']} waits for your answer to request {request_id} ({days} day(s) left)"
                )
            else:
                lines.append(
                    f"Reminder: {record['other']} has not answered request {request_id} yet ({days} day(s) left)"
                )
        if lines:
            self.member.keystore.save()
        return lines

    # --- sessions -----------------------------------------------------------------------------

    async def propose_session(self, request_id: str, slots: list[Slot], note: str = "") -> Session:
        """Propose session times inside the mentor's published windows (iTIP ``REQUEST``)."""
        record = self._active(request_id)
        zone, windows = self._mentor_schedule(record)
        session_id = new_id()
        base = self.member.state.get("video_base", DEFAULT_VIDEO_BASE)
        session = _checked(
            lambda: propose(
                session_id,
                request_id,
                slots,
                record["role"],
                windows=windows,
                zone=zone,
                now=int(time.time()),
                video_url=f"{base}mentornet-{new_id()}",
                note=note,
            )
        )
        await self._send_session(record, session, {"method": Method.REQUEST, "session": session_to_json(session)})
        return session

    async def answer_session(self, session_id: str, accept: Slot | None) -> Session:
        """Confirm one proposed slot, or decline (iTIP ``REPLY``)."""
        record, session = self._session(session_id)
        answered = _checked(lambda: reply(session, record["role"], session.sequence, accept=accept))
        extra = {"accept": None if accept is None else [accept.start, accept.minutes]}
        await self._send_session(record, answered, {"method": Method.REPLY, "sequence": session.sequence, **extra})
        return answered

    async def counter_session(self, session_id: str, slots: list[Slot]) -> Session:
        """Propose other times instead (iTIP ``COUNTER``)."""
        record, session = self._session(session_id)
        zone, windows = self._mentor_schedule(record)
        sequence = session.sequence + 1
        moved = _checked(
            lambda: counter(session, slots, record["role"], sequence, windows=windows, zone=zone, now=int(time.time()))
        )
        wire = [[slot.start, slot.minutes] for slot in moved.slots]
        await self._send_session(record, moved, {"method": Method.COUNTER, "sequence": sequence, "slots": wire})
        return moved

    async def cancel_session(self, session_id: str) -> Session:
        """Call a session off (iTIP ``CANCEL``)."""
        record, session = self._session(session_id)
        cancelled = _checked(lambda: cancel(session, session.sequence + 1, record["role"]))
        await self._send_session(record, cancelled, {"method": Method.CANCEL, "sequence": cancelled.sequence})
        return cancelled

    def sessions(self, request_id: str | None = None) -> list[Session]:
        return [
            session_from_json(data)
            for rid, record in self.records.items()
            if request_id in (None, rid)
            for data in record["sessions"].values()
        ]

    def ics(self, request_id: str, session_id: str | None = None, *, zone: str = "UTC") -> bytes:
        """The ``.ics`` of one session, or of every scheduled session of a mentorship."""
        record = self._record(request_id)
        other = Address.parse(record["other"]).member
        entries = [
            CalendarEntry(session, f"Mentoring session with {other}")
            for session in self.sessions(request_id)
            if session_id in (None, session.id)
        ]
        try:
            return sessions_ics(entries, zone, now=int(time.time()))
        except ZoneInfoNotFoundError as exc:
            raise ClientError(f"{zone!r} is not an IANA time zone") from exc
        except ValueError as exc:
            raise ClientError(f"nothing to export: {exc}") from exc

    async def _send_session(self, record: dict[str, Any], session: Session, fields: dict[str, Any]) -> None:
        record["sessions"][session.id] = session_to_json(session)
        self.member.keystore.save()
        event = {"type": SESSION, "request": session.request_id, "session_id": session.id, **fields}
        await self.member.send_events(Address.parse(record["other"]), [event], durable=True)

    # --- goals --------------------------------------------------------------------------------

    async def add_goal(self, request_id: str, title: str, due: str | None = None) -> str:
        goal_id = new_id()
        await self._goal_ops(request_id, goal_id, [("title", title), *([("due", due)] if due else [])])
        return goal_id

    async def set_goal(self, request_id: str, goal_id: str, field: str, value: Any) -> None:
        """Set a goal's ``title``, ``due``, ``status``, or ``milestone/<id>/title|due|done``."""
        self._goal(request_id, goal_id)
        await self._goal_ops(request_id, goal_id, [(field, value)])

    async def add_milestone(self, request_id: str, goal_id: str, title: str, due: str | None = None) -> str:
        self._goal(request_id, goal_id)
        milestone = new_id()
        fields = [(f"milestone/{milestone}/title", title)]
        if due:
            fields.append((f"milestone/{milestone}/due", due))
        await self._goal_ops(request_id, goal_id, fields)
        return milestone

    async def check_in(self, request_id: str, goal_id: str, note: str, progress: int) -> None:
        self._goal(request_id, goal_id)
        await self._goal_ops(request_id, goal_id, [("", {"note": note, "progress": progress})], kind=Kind.CHECK_IN)

    def goals(self, request_id: str) -> dict[str, Goal]:
        return fold(make_op(raw) for raw in self._record(request_id)["goal_ops"])

    async def _goal_ops(
        self, request_id: str, goal_id: str, fields: list[tuple[str, Any]], *, kind: Kind = Kind.SET
    ) -> None:
        record = self._active(request_id)
        known = [make_op(raw) for raw in record["goal_ops"]]
        lamport = next_lamport(known)
        ops = []
        for offset, (field, value) in enumerate(fields):
            raw = {
                "lamport": lamport + offset,
                "author": self.me,
                "id": new_id(),
                "goal": goal_id,
                "kind": str(kind),
                "field": field,
                "value": value,
                "made_at": int(time.time()),
            }
            ops.append(op_to_json(_checked(functools.partial(make_op, raw))))
        record["goal_ops"].extend(ops)
        self.member.keystore.save()
        events = [{"type": GOAL, "request": request_id, "op": op} for op in ops]
        await self.member.send_events(Address.parse(record["other"]), events, durable=True)

    def _goal(self, request_id: str, goal_id: str) -> Goal:
        goal = self.goals(request_id).get(goal_id)
        if goal is None:
            raise ClientError(f"no goal {goal_id} in mentorship {request_id}")
        return goal

    # --- feedback -----------------------------------------------------------------------------

    async def feedback(
        self, request_id: str, ratings: dict[str, int], text: str, session_id: str | None = None
    ) -> None:
        """Send structured feedback to the other member (after a session, or at the end)."""
        record = self._record(request_id)
        if session_id is not None and session_id not in record["sessions"]:
            raise ClientError(f"no session {session_id} in mentorship {request_id}")
        about = f"session:{session_id}" if session_id else "mentorship"
        given = _checked(lambda: make_feedback(about, ratings, text))
        entry = {"about": given.about, "ratings": given.ratings, "text": given.text, "at": int(time.time())}
        record["feedback"]["sent"].append(entry)
        self.member.keystore.save()
        await self.member.send_events(
            Address.parse(record["other"]), [{"type": FEEDBACK, "request": request_id, **entry}], durable=True
        )

    # --- receiving ----------------------------------------------------------------------------

    async def receive(self, *, wait: float = 0) -> list[Update]:
        """Receive waiting events and apply each that its sender may make; then bring the home
        node up to date (moves reported, sessions held counted) and expire what the node expired."""
        updates = []
        for received in await self.member.receive(wait=wait):
            updates.append(await self._apply(received))
            self.member.keystore.save()  # the message is acknowledged already: keep what it did
        try:
            await self._catch_up()
        finally:
            self.member.keystore.save()
        return updates

    async def _apply(self, received: Received) -> Update:
        event, sender = received.event, received.sender
        kind = event.get("type")
        try:
            if kind == "message":
                return Update(sender, event, f"{sender}: {event.get('body')}")
            if kind == REQUEST:
                return await self._on_request(sender, event)
            if kind == RESOURCE:
                return Update(sender, event, Resources(self.member).on_event(sender, event))
            if kind in GROUP_EVENTS:
                return Update(sender, event, await Groups(self.member).on_event(sender, event))
            record = self.records.get(str(event.get("request")))
            if record is None or record["other"] != str(sender):
                raise ClientError("it names no mentorship of yours with this member")
            if kind == MOVE:
                return await self._on_move(sender, record, event)
            if kind == SESSION:
                return self._on_session(sender, record, event)
            if kind == GOAL:
                return self._on_goal(sender, record, event)
            if kind == FEEDBACK:
                return self._on_feedback(sender, record, event)
            raise ClientError(f"unknown event type {kind!r}")
        except Exception as exc:  # whatever a sender put in it, it must not cost the other events
            reason = str(exc) if isinstance(exc, ClientError | ProtocolError) else f"malformed: {exc!r}"
            rejected = self.member.state.setdefault("rejected_events", [])
            rejected.append({"from": str(sender), "type": str(kind), "reason": reason, "at": int(time.time())})
            del rejected[:-MAX_REJECTED]
            return Update(sender, event, f"{sender}: a {kind} event was refused: {reason}", refused=reason)

    async def _on_request(self, sender: Address, event: dict[str, Any]) -> Update:
        request_id, weeks = str(event["request"]), event["duration_weeks"]
        if request_id in self.records:
            raise ClientError(f"request {request_id} was already received")
        message, goals = event.get("message", ""), event.get("goals", [])
        _check_text(message, "message", MAX_MESSAGE)
        if not isinstance(goals, list) or len(goals) > MAX_GOALS_TEXT or not all(isinstance(g, str) for g in goals):
            raise ClientError("the request's goals are malformed")
        weeks, expires_at = _whole(weeks, "duration_weeks"), _whole(event["expires_at"], "expires_at")
        now = int(time.time())
        request = new_request(request_id, str(sender), self.me, weeks, now, ttl=max(expires_at - now, 1))
        record = _record(request, Actor.MENTOR, sender, message, goals)
        record["node_open_pending"] = True
        self.records[request_id] = record
        summary = f"{sender} asks you for mentoring ({weeks} weeks): {message!r} — request {request_id}"
        async with self.member.api() as api:
            try:
                await self._register_received(api, request_id, record)
            except ApiError as exc:
                if not exc.passing:
                    raise ClientError(f"your node refused the request and it was declined: {exc}") from exc
                summary += " (your node records it at your next receive)"
        return Update(sender, event, summary)

    async def _register_received(self, api: NodeApi, request_id: str, record: dict[str, Any]) -> None:
        """Tell the home node of a received request (its clock and limits set the time to answer);
        if the node refuses it for good, decline it to the mentee with the node's reason.

        Raises:
            ApiError: if the node refused it (for good: it is declined) or could not be reached.
        """
        request = request_from_json(record["request"])
        try:
            recorded = await api.open_request(request_id, Actor.MENTOR, request.duration_weeks, request.expires_at)
        except ApiError as exc:
            if exc.passing:
                raise
            record.pop("node_open_pending", None)
            if not request.is_open:  # answered or withdrawn meanwhile: nothing to decline
                raise
            reason = str(exc)[:MAX_REASON]
            declined = apply(
                request, Action.DECLINE, Actor.MENTOR, max(int(time.time()), request.created_at), reason=reason
            )
            record["request"] = request_to_json(declined)
            event = {"type": MOVE, "request": request_id, "action": "decline", "reason": reason, "at": int(time.time())}
            await self.member.send_events(Address.parse(record["other"]), [event], durable=True)
            raise
        record.pop("node_open_pending", None)
        # The node's clock and limits decide the time to answer.
        record["request"] = request_to_json(
            replace(request, created_at=recorded["created_at"], expires_at=recorded["expires_at"])
        )

    async def _on_move(self, sender: Address, record: dict[str, Any], event: dict[str, Any]) -> Update:
        request = request_from_json(record["request"])
        action, actor = Action(event["action"]), _other(record)
        last = request.history[-1].at if request.history else request.created_at
        at = max(min(_whole(event["at"], "at"), int(time.time())), last)
        if action is Action.WITHDRAW and request.state is State.ACTIVE:
            # The mentee withdrew while the acceptance was on its way: the withdrawal wins, and
            # the place is given back (as a cancellation: the mentorship never ran).
            action = Action.CANCEL
        moved = apply(request, action, actor, at, reason=event.get("reason"))
        if action is Action.ACCEPT:
            record["availability"] = _schedule_of(event.get("availability"))
        record["request"] = request_to_json(moved)
        record.setdefault("node_pending", []).append({"action": str(action), "by": str(actor)})
        reason = f" ({event['reason']})" if event.get("reason") else ""
        return Update(sender, event, f"{sender} {_past(action)} request {request.id}{reason}: now {moved.state}")

    def _on_session(self, sender: Address, record: dict[str, Any], event: dict[str, Any]) -> Update:
        method, by = Method(event["method"]), str(_other(record))
        if method is Method.REQUEST:
            if State(record["request"]["state"]) is not State.ACTIVE:
                raise ClientError("sessions are scheduled in an active mentorship")
            proposed = session_from_json(event["session"])
            if proposed.id in record["sessions"] or proposed.request_id != record["request"]["id"]:
                raise ClientError("the session proposal repeats or names another mentorship")
            zone, windows = self._mentor_schedule(record)
            session = propose(
                proposed.id,
                proposed.request_id,
                proposed.slots,
                by,
                windows=windows,
                zone=zone,
                now=int(time.time()),
                video_url=proposed.video_url,
                note=proposed.note,
            )
        else:
            current = record["sessions"].get(str(event["session_id"]))
            if current is None:
                raise ClientError("it names no session of this mentorship")
            existing, sequence = session_from_json(current), _whole(event["sequence"], "sequence")
            zone, windows = self._mentor_schedule(record)
            slots = [parse_slot(raw) for raw in event.get("slots", [])]
            now = int(time.time())
            try:
                if method is Method.REPLY:
                    accept = None if event.get("accept") is None else parse_slot(event["accept"])
                    session = reply(existing, by, sequence, accept=accept)
                elif method is Method.COUNTER:
                    session = counter(existing, slots, by, sequence, windows=windows, zone=zone, now=now)
                else:
                    session = cancel(existing, sequence, by)
            except StaleSequence:  # it may have crossed a change of ours: both sides settle alike
                session = crossed(existing, method, by, sequence, slots, windows=windows, zone=zone, now=now)
        record["sessions"][session.id] = session_to_json(session)
        return Update(sender, event, f"{sender}: session {session.id} {_session_words(session)}")

    def _on_goal(self, sender: Address, record: dict[str, Any], event: dict[str, Any]) -> Update:
        op = make_op(event["op"])
        if op.author != str(sender):
            raise ClientError("a goal edit must be authored by its sender")
        if not any(step.action is Action.ACCEPT for step in request_from_json(record["request"]).history):
            raise ClientError("goals belong to a mentorship that was accepted")  # edits in flight at its end count
        record["goal_ops"].append(op_to_json(op))
        goal = fold(make_op(raw) for raw in record["goal_ops"])[op.goal]
        return Update(sender, event, f"{sender} updated goal {goal.title!r}: {goal.status}, {goal.progress} %")

    def _on_feedback(self, sender: Address, record: dict[str, Any], event: dict[str, Any]) -> Update:
        given = make_feedback(str(event["about"]), dict(event["ratings"]), str(event.get("text", "")))
        entry = {"about": given.about, "ratings": given.ratings, "text": given.text, "at": int(time.time())}
        record["feedback"]["received"].append(entry)
        ratings = ", ".join(f"{name} {value}/5" for name, value in given.ratings.items())
        return Update(sender, event, f"{sender} sent feedback on the {given.about}: {ratings}")

    async def _catch_up(self) -> None:
        """Report received moves to the home node, record received requests it could not take
        before, count sessions held, and follow the node where it expired an open request or an
        operator ended one (a suspension). Passing failures leave the rest for the next receive."""
        now = int(time.time())
        async with self.member.api() as api:
            for request_id, record in self.records.items():
                try:
                    await self._catch_up_one(api, request_id, record, now)
                except ApiError as exc:
                    if exc.passing:
                        return
                    _note(record, f"your node: {exc}")
                except (ClientError, ProtocolError) as exc:
                    _note(record, str(exc))
            try:
                on_node = {item["request_id"]: item for item in await api.mentorships()}
            except ApiError:
                return
        for request_id, record in self.records.items():
            node_state = on_node.get(request_id, {}).get("state")
            request = request_from_json(record["request"])
            if node_state not in (State.EXPIRED, State.ENDED) or request.state in FINAL:
                continue
            if node_state == State.EXPIRED and request.state not in OPEN:
                if not record.get("expiry_conflict"):
                    record["expiry_conflict"] = True
                    _note(record, "your node let this request expire, but it was answered in time here")
                continue
            action, actor = (
                (Action.EXPIRE, Actor.SYSTEM) if node_state == State.EXPIRED else (Action.END, Actor.OPERATOR)
            )
            at = max(now, request.expires_at) if action is Action.EXPIRE else max(now, request.created_at)
            try:
                record["request"] = request_to_json(apply(request, action, actor, at))
            except ProtocolError as exc:
                _note(record, f"could not follow your node ({node_state}): {exc}")
                continue
            if action is Action.END:
                await self._tell_ended(record, request)

    async def _tell_ended(self, record: dict[str, Any], request: MentorshipRequest) -> None:
        """Our operator ended it: tell the other member with the move our role may make, so their
        client and node follow (and a mentor's node gives the place back)."""
        role = Actor(record["role"])
        if request.state is State.ACTIVE:
            action = Action.CANCEL
        else:
            action = Action.WITHDRAW if role is Actor.MENTEE else Action.DECLINE
        reason = "ended by the operator of their institution"
        event = {"type": MOVE, "request": request.id, "action": str(action), "reason": reason, "at": int(time.time())}
        try:
            await self.member.send_events(Address.parse(record["other"]), [event], durable=True)
        except ClientError as exc:
            _note(record, f"the other member is not told yet: {exc}")

    async def _catch_up_one(self, api: NodeApi, request_id: str, record: dict[str, Any], now: int) -> None:
        if record.get("node_open_pending"):
            await self._register_received(api, request_id, record)
        pending = record.setdefault("node_pending", [])
        while pending:
            try:
                await api.move(request_id, pending[0]["action"], pending[0]["by"])
            except ApiError as exc:
                if exc.passing:
                    raise
                _note(record, f"your node did not follow {pending[0]['action']}: {exc}")
            pending.pop(0)
        counted = record.setdefault("sessions_counted", [])
        for session_id, data in record["sessions"].items():
            session = session_from_json(data)
            ended = session.confirmed is not None and session.confirmed.end <= now
            if session.state is SessionState.CONFIRMED and ended and session_id not in counted:
                try:
                    await api.session_held(request_id)
                except ApiError as exc:
                    if exc.passing:
                        raise  # counted at a later receive
                    _note(record, f"your node did not count session {session_id}: {exc}")
                counted.append(session_id)

    # --- helpers ------------------------------------------------------------------------------

    def _record(self, request_id: str) -> dict[str, Any]:
        record = self.records.get(request_id)
        if record is None:
            raise ClientError(f"no mentorship request {request_id}; see 'mentornet client requests'")
        return record

    def _active(self, request_id: str) -> dict[str, Any]:
        record = self._record(request_id)
        state = record["request"]["state"]
        if state != State.ACTIVE:
            raise ClientError(f"mentorship {request_id} is {state}; this needs an active mentorship")
        return record

    def _session(self, session_id: str) -> tuple[dict[str, Any], Session]:
        for record in self.records.values():
            if session_id in record["sessions"]:
                return record, session_from_json(record["sessions"][session_id])
        raise ClientError(f"no session {session_id}")

    def _mentor_schedule(self, record: dict[str, Any]) -> tuple[str, list[LocalWindow]]:
        """The mentor's zone and weekly windows: our own if we are the mentor, else those the
        mentor sent with the acceptance (no windows: any time, in UTC)."""
        schedule = record.get("availability")
        if schedule is None and record["role"] == Actor.MENTOR:
            schedule = _schedule_of(self.member.state.get("availability"))
        schedule = schedule or {"timezone": "UTC", "windows": []}
        windows = [
            LocalWindow(int(w["day"]), int(w["start_minute"]), int(w["end_minute"])) for w in schedule["windows"]
        ]
        return str(schedule["timezone"]), windows


def _record(request: MentorshipRequest, role: Actor, other: Address, message: str, goals: list[str]) -> dict[str, Any]:
    return {
        "role": str(role),
        "other": str(other),
        "request": request_to_json(request),
        "message": message,
        "goals": list(goals),
        "availability": None,
        "sessions": {},
        "goal_ops": [],
        "feedback": {"sent": [], "received": []},
    }


def _schedule_of(availability: object) -> dict[str, Any] | None:
    """Only the zone and windows of an availability (what scheduling needs)."""
    if not isinstance(availability, dict) or not isinstance(availability.get("timezone"), str):
        return None
    windows = availability.get("windows", [])
    return {"timezone": availability["timezone"], "windows": windows if isinstance(windows, list) else []}


def _other(record: dict[str, Any]) -> Actor:
    return Actor.MENTOR if record["role"] == Actor.MENTEE else Actor.MENTEE


T = TypeVar("T")


def _checked(make: Callable[[], T]) -> T:
    """Run a protocol rule; its refusal becomes a :class:`ClientError` with the same words."""
    try:
        return make()
    except ProtocolError as exc:
        raise ClientError(str(exc)) from exc


async def _node(call: Any) -> dict[str, Any]:
    """A home-node call whose refusal (e.g. no open place, too many open requests) the member reads."""
    try:
        return dict(await call)
    except ApiError as exc:
        if exc.status == 0:
            raise
        raise ClientError(f"your node refused: {exc}") from exc


def _transient(exc: ApiError) -> bool:
    return exc.status in (0, 408, 429) or exc.status >= 500


def _whole(value: object, name: str) -> int:
    """An integer field of an event (JSON allows ``1e400`` and ``Infinity``; an event may not)."""
    if not isinstance(value, int) or isinstance(value, bool):
        raise ClientError(f"{name} must be an integer")
    return value


def _note(record: dict[str, Any], what: str) -> None:
    record.setdefault("notes", []).append({"at": int(time.time()), "what": what})


def _check_text(value: object, name: str, limit: int) -> None:
    if not isinstance(value, str) or len(value) > limit:
        raise ClientError(f"the {name} must be text of at most {limit} characters")


def _past(action: Action) -> str:
    return {Action.VIEW: "viewed", Action.ACCEPT: "accepted", Action.DECLINE: "declined"}.get(
        action,
        {Action.WITHDRAW: "withdrew", Action.COMPLETE: "completed", Action.CANCEL: "cancelled"}.get(
            action, str(action)
        ),
    )


def _session_words(session: Session) -> str:
    if session.state is SessionState.CONFIRMED and session.confirmed is not None:
        return f"confirmed for {session.confirmed.in_zone('UTC'):%Y-%m-%d %H:%M} UTC ({session.confirmed.minutes} min)"
    if session.state in (SessionState.PROPOSED, SessionState.COUNTERED):
        times = ", ".join(f"{slot.in_zone('UTC'):%a %Y-%m-%d %H:%M} UTC" for slot in session.slots)
        return f"{session.state}: {times}"
    return str(session.state)

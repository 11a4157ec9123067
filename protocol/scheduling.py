"""Scheduling sessions across time zones, with the semantics of iTIP (RFC 5546).

A session is proposed with up to :data:`MAX_SLOTS` candidate slots inside the mentor's published
weekly windows; the other member confirms one (``REPLY`` accepted), declines (``REPLY``
declined), or proposes others (``COUNTER``); either may ``CANCEL``. Every proposal and
cancellation raises ``sequence``; a message with an older sequence than the session's is stale
and refused (RFC 5546 §2.1.4). ::

    proposed ──reply accepted──► confirmed ──counter──► countered ──reply accepted──► confirmed
       │  ╰──counter──► countered ◄──counter──╯            │
       ├──reply declined──► declined                        └──reply declined──► declined
       └──cancel (any open or confirmed)──► cancelled

Times are UTC instants (Unix seconds); windows are wall-clock times in the mentor's IANA zone,
so a window at 10:00 Berlin is 09:00 UTC in winter and 08:00 UTC in summer. Pure: ``now`` and
ids are parameters.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocol.errors import IllegalTransition, InvalidField, StaleSequence

MAX_SLOTS = 5
MIN_MINUTES = 15
MAX_MINUTES = 240
MAX_NOTE = 1000
SESSION_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")  # never read as a command-line option


class WindowLike(Protocol):
    """A weekly window (as :class:`protocol.announcement.Window`): ISO weekday and minutes of the day."""

    @property
    def day(self) -> int: ...

    @property
    def start_minute(self) -> int: ...

    @property
    def end_minute(self) -> int: ...


class SessionState(StrEnum):
    PROPOSED = "proposed"
    COUNTERED = "countered"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class Method(StrEnum):
    """The iTIP methods a session message carries."""

    REQUEST = "REQUEST"
    REPLY = "REPLY"
    COUNTER = "COUNTER"
    CANCEL = "CANCEL"


@dataclass(frozen=True, order=True)
class Slot:
    """A candidate time: ``start`` in UTC Unix seconds, lasting ``minutes``."""

    start: int
    minutes: int

    @property
    def end(self) -> int:
        return self.start + self.minutes * 60

    def in_zone(self, zone: str) -> datetime:
        return datetime.fromtimestamp(self.start, UTC).astimezone(_zone(zone))


@dataclass(frozen=True)
class Session:
    id: str
    request_id: str
    state: SessionState
    sequence: int
    slots: tuple[Slot, ...]
    proposed_by: str  # the member whose proposal (slots) is on the table: "mentee" or "mentor"
    confirmed: Slot | None
    video_url: str
    note: str = ""
    last_by: str = ""  # who made the last change that raised the sequence (to settle crossing ones)


def local_to_utc(local: str, zone: str) -> int:
    """A wall-clock time in an IANA zone (``2027-03-28T10:00``) as UTC Unix seconds.

    Raises:
        InvalidField: if the text is not a date and time, the zone is unknown, or the time does
            not exist there (skipped by a daylight-saving change) or happens twice (repeated by
            one): the member must then say which, in UTC or another zone.
    """
    tz = _zone(zone)
    try:
        naive = datetime.fromisoformat(local)
    except ValueError as exc:
        raise InvalidField("start", f"{local!r} is not a date and time such as 2027-03-28T10:00") from exc
    if naive.tzinfo is not None:
        return int(naive.timestamp())
    early, late = naive.replace(tzinfo=tz, fold=0), naive.replace(tzinfo=tz, fold=1)
    if early.utcoffset() != late.utcoffset():
        instants = {int(early.timestamp()), int(late.timestamp())}
        round_trip = {datetime.fromtimestamp(t, UTC).astimezone(tz).replace(tzinfo=None) for t in instants}
        if round_trip != {naive}:
            raise InvalidField("start", f"{local} does not exist in {zone} (the clocks skip it)")
        raise InvalidField("start", f"{local} happens twice in {zone} (the clocks go back); give the UTC offset")
    return int(early.timestamp())


def check_slots(slots: Sequence[Slot], windows: Sequence[WindowLike], zone: str, *, now: int) -> tuple[Slot, ...]:
    """The slots, checked: 1 to :data:`MAX_SLOTS`, distinct, in the future, 15–240 minutes long,
    each wholly inside one of the mentor's weekly ``windows`` in ``zone`` (on the day it falls
    on there, which daylight saving may shift against UTC).

    Raises:
        InvalidField: naming the first slot that fails and why.
    """
    if not 1 <= len(slots) <= MAX_SLOTS or len(set(slots)) != len(slots):
        raise InvalidField("slots", f"give 1 to {MAX_SLOTS} different slots")
    for index, slot in enumerate(slots):
        where = f"slots[{index}]"
        if not MIN_MINUTES <= slot.minutes <= MAX_MINUTES:
            raise InvalidField(where, f"a session lasts {MIN_MINUTES} to {MAX_MINUTES} minutes")
        if slot.start <= now:
            raise InvalidField(where, "is in the past")
        if windows and not _inside(slot, windows, zone):
            local = slot.in_zone(zone)
            raise InvalidField(
                where,
                f"{local:%a %Y-%m-%d %H:%M} {zone} for {slot.minutes} min is outside the mentor's windows "
                f"({describe_windows(windows)})",
            )
    return tuple(sorted(slots))


def propose(
    session_id: str,
    request_id: str,
    slots: Sequence[Slot],
    by: str,
    *,
    windows: Sequence[WindowLike],
    zone: str,
    now: int,
    video_url: str,
    note: str = "",
) -> Session:
    """A new session proposal (iTIP ``REQUEST``) with checked slots."""
    if not SESSION_ID.fullmatch(session_id):
        raise InvalidField("session", "a session id is 1 to 64 of A-Z a-z 0-9 _ - and does not start with -")
    if len(note) > MAX_NOTE:
        raise InvalidField("note", f"at most {MAX_NOTE} characters")
    if not video_url.startswith("https://") or len(video_url) > 500:
        raise InvalidField("video_url", "must be an https:// link of at most 500 characters")
    checked = check_slots(slots, windows, zone, now=now)
    return Session(session_id, request_id, SessionState.PROPOSED, 0, checked, by, None, video_url, note, by)


def counter(
    session: Session,
    slots: Sequence[Slot],
    by: str,
    sequence: int,
    *,
    windows: Sequence[WindowLike],
    zone: str,
    now: int,
) -> Session:
    """Other slots proposed instead (iTIP ``COUNTER``), by the member who did not make the
    proposal on the table, or by either to move a confirmed session.

    Raises:
        StaleSequence: if ``sequence`` is not the next one.
        IllegalTransition: if the session is final, or a member counters their own proposal.
    """
    _check_sequence(session, sequence, raises=True)
    if session.state in (SessionState.DECLINED, SessionState.CANCELLED):
        raise IllegalTransition(f"the session is {session.state}; propose a new one")
    if session.state is not SessionState.CONFIRMED and by == session.proposed_by:
        raise IllegalTransition("you proposed these slots; wait for an answer or cancel")
    checked = check_slots(slots, windows, zone, now=now)
    return replace(
        session,
        state=SessionState.COUNTERED,
        sequence=sequence,
        slots=checked,
        proposed_by=by,
        confirmed=None,
        last_by=by,
    )


def reply(session: Session, by: str, sequence: int, *, accept: Slot | None) -> Session:
    """Confirm one of the proposed slots, or decline them all (``accept`` is ``None``): iTIP ``REPLY``.

    Raises:
        StaleSequence: if ``sequence`` is not the session's.
        IllegalTransition: if nothing awaits an answer, the member answers their own proposal,
            or the slot is not one of those proposed.
    """
    _check_sequence(session, sequence, raises=False)
    if session.state not in (SessionState.PROPOSED, SessionState.COUNTERED):
        raise IllegalTransition(f"the session is {session.state}; there is nothing to answer")
    if by == session.proposed_by:
        raise IllegalTransition("the other member answers a proposal, not the one who made it")
    if accept is None:
        return replace(session, state=SessionState.DECLINED)
    if accept not in session.slots:
        raise IllegalTransition("confirm one of the proposed slots")
    return replace(session, state=SessionState.CONFIRMED, confirmed=accept)


def cancel(session: Session, sequence: int, by: str) -> Session:
    """Call a session off (iTIP ``CANCEL``), by either member.

    Raises:
        StaleSequence: if ``sequence`` is not the next one.
        IllegalTransition: if it is already declined or cancelled.
    """
    _check_sequence(session, sequence, raises=True)
    if session.state in (SessionState.DECLINED, SessionState.CANCELLED):
        raise IllegalTransition(f"the session is already {session.state}")
    return replace(session, state=SessionState.CANCELLED, sequence=sequence, last_by=by)


def crossed(
    session: Session,
    method: Method,
    by: str,
    sequence: int,
    slots: Sequence[Slot] = (),
    *,
    windows: Sequence[WindowLike],
    zone: str,
    now: int,
) -> Session:
    """Settle a ``COUNTER`` or ``CANCEL`` that crossed one of ours: both members raised the
    sequence to the same number at once. Both sides apply the same rule, so they end up alike: a
    ``CANCEL`` wins over a ``COUNTER``, and of two ``COUNTER`` s the mentor's.

    Raises:
        StaleSequence: if it did not cross a change of ours (then it is simply stale).
    """
    ours = session.last_by not in ("", by) and session.state in (SessionState.COUNTERED, SessionState.CANCELLED)
    if method not in (Method.COUNTER, Method.CANCEL) or sequence != session.sequence or not ours:
        raise StaleSequence(f"sequence {sequence} is older than the session's {session.sequence}")
    if session.state is SessionState.CANCELLED:
        return session
    if method is Method.CANCEL:
        return replace(session, state=SessionState.CANCELLED, last_by=by)
    if by != "mentor":
        return session
    checked = check_slots(slots, windows, zone, now=now)
    return replace(session, slots=checked, proposed_by=by, last_by=by)


def describe_windows(windows: Sequence[WindowLike]) -> str:
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    return ", ".join(
        f"{days[w.day - 1]} {w.start_minute // 60:02d}:{w.start_minute % 60:02d}-"
        f"{w.end_minute // 60:02d}:{w.end_minute % 60:02d}"
        for w in windows
    )


def session_to_json(session: Session) -> dict[str, object]:
    return {
        "id": session.id,
        "request_id": session.request_id,
        "state": str(session.state),
        "sequence": session.sequence,
        "slots": [[slot.start, slot.minutes] for slot in session.slots],
        "proposed_by": session.proposed_by,
        "confirmed": None if session.confirmed is None else [session.confirmed.start, session.confirmed.minutes],
        "video_url": session.video_url,
        "note": session.note,
        "last_by": session.last_by,
    }


def session_from_json(data: dict[str, object]) -> Session:
    """Raises:
    InvalidField: if the data is not a saved session."""
    try:
        confirmed = data["confirmed"]
        return Session(
            id=str(data["id"]),
            request_id=str(data["request_id"]),
            state=SessionState(str(data["state"])),
            sequence=int(data["sequence"]),  # type: ignore[call-overload]
            slots=tuple(parse_slot(slot) for slot in data["slots"]),  # type: ignore[attr-defined]
            proposed_by=str(data["proposed_by"]),
            confirmed=None if confirmed is None else parse_slot(confirmed),
            video_url=str(data["video_url"]),
            note=str(data.get("note", "")),
            last_by=str(data.get("last_by", "")),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidField("session", f"not a saved session: {exc}") from exc


def parse_slot(raw: object) -> Slot:
    """``[start, minutes]`` as integers.

    Raises:
        InvalidField: for anything else.
    """
    if (
        not isinstance(raw, list | tuple)
        or len(raw) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in raw)
    ):
        raise InvalidField("slot", "must be [start (UTC Unix seconds), minutes]")
    return Slot(int(raw[0]), int(raw[1]))


def _check_sequence(session: Session, sequence: int, *, raises: bool) -> None:
    expected = session.sequence + 1 if raises else session.sequence
    if sequence < expected:
        raise StaleSequence(f"sequence {sequence} is older than the session's {session.sequence}")
    if sequence != expected:
        raise IllegalTransition(f"sequence {sequence} skips ahead of {expected}")


def _inside(slot: Slot, windows: Sequence[WindowLike], zone: str) -> bool:
    start = slot.in_zone(zone)
    end = datetime.fromtimestamp(slot.end, UTC).astimezone(_zone(zone))
    if end.date() != start.date() and not (end.date() == start.date() + timedelta(days=1) and _midnight(end)):
        return False  # across midnight there: no weekly window spans two days
    first = start.hour * 60 + start.minute
    last = 1440 if _midnight(end) and end.date() != start.date() else end.hour * 60 + end.minute
    # Wall-clock minutes: a slot of 60 minutes across a 'clocks forward' change spans 120 on the clock.
    return any(w.day == start.isoweekday() and w.start_minute <= first and last <= w.end_minute for w in windows)


def _midnight(moment: datetime) -> bool:
    return moment.hour == 0 and moment.minute == 0


def _zone(zone: str) -> ZoneInfo:
    try:
        return ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidField("timezone", f"{zone!r} is not an IANA time zone") from exc

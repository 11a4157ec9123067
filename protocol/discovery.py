"""Matching mentees with mentors: weekly overlap across time zones and a transparent score.

Availability windows are local to each person's IANA time zone. To compare them, both are laid
onto the same UTC week (the week that contains ``now``, so daylight-saving rules of that week
apply) as a bitmask of 15-minute slots; the overlap is the number of common slots.

Score (every part is reported back, so a mentee sees why a mentor ranks where it does):

    10 per shared topic + 5 per common language + 1 per hour of weekly overlap (at most 10)
    + 1 per operator-verified credential (at most 3)
    - 10 if the mentor answered fewer than half of at least 3 requests decided in 90 days
    - 3 if their median time to answer is over 3 days

Responsiveness comes from the mentor's home node, signed in the announcement.
"""

from __future__ import annotations

import datetime
import heapq
import zoneinfo
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from protocol.errors import InvalidField

SLOT_MINUTES = 15
SLOTS_PER_WEEK = 7 * 24 * 60 // SLOT_MINUTES
_WEEK_MASK = (1 << SLOTS_PER_WEEK) - 1
TOPIC_POINTS = 10
LANGUAGE_POINTS = 5
MAX_OVERLAP_POINTS = 10
MAX_CREDENTIAL_POINTS = 3
UNRESPONSIVE_PENALTY = 10
SLOW_PENALTY = 3
MIN_DECIDED = 3  # fewer decided requests say too little to rank on
SLOW_MINUTES = 3 * 24 * 60


@dataclass(frozen=True, slots=True)
class LocalWindow:
    """ISO weekday (1 = Monday) and minutes since local midnight, in some time zone."""

    day: int
    start_minute: int
    end_minute: int


@dataclass(frozen=True, slots=True)
class Candidate:
    """What discovery knows about one mentor (from a verified, unexpired announcement)."""

    origin: str
    mentor: str
    topics: frozenset[str]
    languages: frozenset[str]
    slots: int
    capacity: int
    verified_credentials: int
    decided: int = 0  # requests answered or expired unanswered in the last 90 days
    answered: int = 0
    median_answer_minutes: int | None = None

    @property
    def unresponsive(self) -> bool:
        return self.decided >= MIN_DECIDED and 2 * self.answered < self.decided

    @property
    def slow(self) -> bool:
        return self.median_answer_minutes is not None and self.median_answer_minutes > SLOW_MINUTES


@dataclass(frozen=True, slots=True)
class MentorQuery:
    topics: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()
    slots: int | None = None
    institution: str | None = None
    open_only: bool = True
    limit: int = 20


@dataclass(frozen=True, slots=True)
class Match:
    candidate: Candidate
    score: int
    shared_topics: tuple[str, ...]
    common_languages: tuple[str, ...]
    overlap_minutes: int
    reasons: tuple[str, ...] = field(default=())


def normalize_term(term: str) -> str:
    """Topics and languages match case-insensitively and ignoring surrounding space."""
    return " ".join(term.casefold().split())


def week_start(now: int) -> datetime.datetime:
    """Monday 00:00 UTC of the week that contains ``now``."""
    moment = datetime.datetime.fromtimestamp(now, tz=datetime.UTC)
    monday = moment - datetime.timedelta(days=moment.weekday())
    return monday.replace(hour=0, minute=0, second=0, microsecond=0)


def weekly_slots(windows: Iterable[LocalWindow], timezone: str, *, now: int) -> int:
    """The UTC week's 15-minute slots covered by local ``windows`` in ``timezone``.

    Each window is placed on its local date in the week around ``now`` and converted with that
    date's UTC offset, so a window keeps its local hours across daylight-saving changes.
    Windows that cross the end of the UTC week wrap to its start.
    """
    zone = zoneinfo.ZoneInfo(timezone)
    start = week_start(now)
    mask = 0
    for window in windows:
        local_day = (start + datetime.timedelta(days=window.day - 1)).date()
        local_start = datetime.datetime.combine(local_day, datetime.time(), tzinfo=zone) + datetime.timedelta(
            minutes=window.start_minute
        )
        begin = _slot_of(local_start, start)
        count = -(-(window.end_minute - window.start_minute) // SLOT_MINUTES)
        run = (1 << count) - 1
        mask |= ((run << begin) | (run >> (SLOTS_PER_WEEK - begin))) & _WEEK_MASK
    return mask


def _slot_of(local: datetime.datetime, week: datetime.datetime) -> int:
    # Fold onto the UTC week: a window before Monday 00:00 UTC (east of UTC) wraps to the end.
    minutes = int((local.astimezone(datetime.UTC) - week).total_seconds() // 60)
    return (minutes // SLOT_MINUTES) % SLOTS_PER_WEEK


def scorer(query: MentorQuery) -> Callable[[Candidate], int | None]:
    """A function giving a candidate's score for ``query``, or ``None`` when a filter excludes it.

    The query's terms are bound once, so that scoring many candidates stays cheap.
    """
    topics, languages, slots = query.topics, query.languages, query.slots
    open_only, institution = query.open_only, query.institution

    def score(candidate: Candidate) -> int | None:
        if (open_only and candidate.capacity <= 0) or (institution is not None and candidate.origin != institution):
            return None
        shared = len(candidate.topics & topics) if topics else 0
        common = len(candidate.languages & languages) if languages else 0
        overlap = (candidate.slots & slots).bit_count() * SLOT_MINUTES if slots is not None else 0
        if (topics and not shared) or (languages and not common) or (slots is not None and not overlap):
            return None
        return (
            TOPIC_POINTS * shared
            + LANGUAGE_POINTS * common
            + min(overlap // 60, MAX_OVERLAP_POINTS)
            + min(candidate.verified_credentials, MAX_CREDENTIAL_POINTS)
            - (UNRESPONSIVE_PENALTY if candidate.unresponsive else 0)
            - (SLOW_PENALTY if candidate.slow else 0)
        )

    return score


def match(candidate: Candidate, query: MentorQuery) -> Match | None:
    """Score one candidate against a query, with the parts of the score; ``None`` when excluded."""
    points = scorer(query)(candidate)
    if points is None:
        return None
    shared = tuple(sorted(candidate.topics & query.topics))
    common = tuple(sorted(candidate.languages & query.languages))
    overlap = (candidate.slots & query.slots).bit_count() * SLOT_MINUTES if query.slots is not None else 0
    return Match(candidate, points, shared, common, overlap, _reasons(candidate, shared, common, overlap, query))


def rank(candidates: Iterable[Candidate], query: MentorQuery) -> list[Match]:
    """Every matching candidate, best first (ties broken by open places, then by origin and mentor).

    Only the best ``query.limit`` get their full :class:`Match`, so a search over many mentors
    stays fast.
    """
    score = scorer(query)
    pool = list(candidates)
    scored = []
    for position, candidate in enumerate(pool):
        points = score(candidate)
        if points is not None:
            # The position breaks any remaining tie, so tuples never compare candidates themselves.
            scored.append((-points, -candidate.capacity, candidate.origin, candidate.mentor, position))
    best = heapq.nsmallest(query.limit, scored)
    return [found for *_, position in best if (found := match(pool[position], query)) is not None]


def _reasons(
    candidate: Candidate, shared: Sequence[str], common: Sequence[str], overlap: int, query: MentorQuery
) -> tuple[str, ...]:
    reasons = []
    if shared:
        reasons.append(f"shares {len(shared)} topic(s): {', '.join(shared)}")
    if common:
        reasons.append(f"speaks {', '.join(common)}")
    if query.slots is not None:
        reasons.append(f"{overlap / 60:g} hours of overlapping availability per week")
    if candidate.capacity > 0:
        reasons.append(f"{candidate.capacity} open place(s)")
    if candidate.verified_credentials:
        reasons.append(f"{candidate.verified_credentials} credential(s) verified by the home institution")
    if candidate.decided:
        answered = f"answered {candidate.answered} of {candidate.decided} request(s) in the last 90 days"
        if candidate.median_answer_minutes is not None:
            answered += f", usually within {_duration(candidate.median_answer_minutes)}"
        reasons.append(answered + ("; ranked lower: often does not answer" if candidate.unresponsive else ""))
        if candidate.slow:
            reasons.append("ranked lower: slow to answer")
    return tuple(reasons)


def _duration(minutes: int) -> str:
    if minutes < 120:
        return f"{minutes} minutes"
    if minutes < 48 * 60:
        return f"{minutes // 60} hours"
    return f"{minutes // 1440} days"


_DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}


def parse_window(text: str) -> LocalWindow:
    """Parse ``mon:18:00-20:30`` (a weekday, then local start and end; ``24:00`` ends a day).

    Raises:
        InvalidField: naming the window when it does not parse or ends before it starts.
    """
    try:
        day, times = text.strip().lower().split(":", 1)
        start, end = times.split("-", 1)
        window = LocalWindow(_DAYS[day], _minutes(start), _minutes(end))
    except (KeyError, ValueError) as exc:
        raise InvalidField("window", f"{text!r} is not like mon:18:00-20:30") from exc
    if not 0 <= window.start_minute < window.end_minute <= 1440:
        raise InvalidField("window", f"{text!r} must end after it starts, within one day")
    return window


def format_window(window: LocalWindow) -> str:
    day = next(name for name, number in _DAYS.items() if number == window.day)
    return (
        f"{day}:{window.start_minute // 60:02d}:{window.start_minute % 60:02d}-"
        f"{window.end_minute // 60:02d}:{window.end_minute % 60:02d}"
    )


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    if len(minutes) != 2 or not hours.isdigit() or not minutes.isdigit() or int(minutes) > 59:
        raise ValueError(text)
    return int(hours) * 60 + int(minutes)

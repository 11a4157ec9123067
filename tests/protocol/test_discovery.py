"""Matching across time zones and the transparent score (protocol.discovery)."""

from __future__ import annotations

import datetime

import pytest

from protocol.discovery import (
    SLOT_MINUTES,
    Candidate,
    LocalWindow,
    MentorQuery,
    format_window,
    match,
    parse_window,
    rank,
    week_start,
    weekly_slots,
)
from protocol.errors import InvalidField

WINTER = int(datetime.datetime(2027, 1, 13, 12, tzinfo=datetime.UTC).timestamp())  # a Wednesday
SUMMER = int(datetime.datetime(2027, 7, 14, 12, tzinfo=datetime.UTC).timestamp())
# Europe switches to summer time on 2027-03-28, the USA on 2027-03-14: this week they differ.
GAP_WEEK = int(datetime.datetime(2027, 3, 17, 12, tzinfo=datetime.UTC).timestamp())


def _overlap_minutes(a: int, b: int) -> int:
    return (a & b).bit_count() * SLOT_MINUTES


def test_the_same_local_hours_in_one_zone_overlap_fully() -> None:
    window = [LocalWindow(1, 18 * 60, 20 * 60)]
    assert (
        _overlap_minutes(
            weekly_slots(window, "Europe/Berlin", now=WINTER), weekly_slots(window, "Europe/Berlin", now=WINTER)
        )
        == 120
    )


def test_berlin_evening_meets_london_an_hour_earlier_in_winter_and_summer() -> None:
    for now in (WINTER, SUMMER):
        berlin = weekly_slots([LocalWindow(1, 18 * 60, 20 * 60)], "Europe/Berlin", now=now)
        london = weekly_slots([LocalWindow(1, 17 * 60, 19 * 60)], "Europe/London", now=now)
        assert _overlap_minutes(berlin, london) == 120


def test_the_weeks_between_two_daylight_saving_changes_shift_the_overlap() -> None:
    new_york = [LocalWindow(3, 12 * 60, 14 * 60)]  # Wednesday noon to two in New York
    london = [LocalWindow(3, 17 * 60, 19 * 60)]  # Wednesday five to seven in London
    assert (
        _overlap_minutes(
            weekly_slots(new_york, "America/New_York", now=WINTER), weekly_slots(london, "Europe/London", now=WINTER)
        )
        == 120
    )
    assert (
        _overlap_minutes(
            weekly_slots(new_york, "America/New_York", now=GAP_WEEK),
            weekly_slots(london, "Europe/London", now=GAP_WEEK),
        )
        == 60
    )


def test_a_window_before_the_utc_week_starts_wraps_to_its_end() -> None:
    tokyo_monday_early = weekly_slots([LocalWindow(1, 5 * 60, 6 * 60)], "Asia/Tokyo", now=WINTER)
    utc_sunday_evening = weekly_slots([LocalWindow(7, 20 * 60, 21 * 60)], "UTC", now=WINTER)
    assert _overlap_minutes(tokyo_monday_early, utc_sunday_evening) == 60


def test_the_week_starts_on_monday_at_midnight_utc() -> None:
    assert week_start(WINTER) == datetime.datetime(2027, 1, 11, tzinfo=datetime.UTC)


@pytest.mark.parametrize(
    ("text", "window"),
    [
        ("mon:18:00-20:30", LocalWindow(1, 1080, 1230)),
        ("SUN:00:00-24:00", LocalWindow(7, 0, 1440)),
    ],
)
def test_windows_parse_and_format_back(text: str, window: LocalWindow) -> None:
    assert parse_window(text) == window
    assert format_window(window) == text.lower()


@pytest.mark.parametrize(
    "text", ["mon", "mon:18-20", "xyz:10:00-11:00", "mon:20:00-18:00", "mon:10:75-11:00", "mon:23:00-25:00"]
)
def test_bad_windows_are_refused_with_the_field_named(text: str) -> None:
    with pytest.raises(InvalidField, match="window"):
        parse_window(text)


def _candidate(**changes: object) -> Candidate:
    values: dict[str, object] = {
        "origin": "https://c.example",
        "mentor": "m",
        "topics": frozenset({"robotics", "ai"}),
        "languages": frozenset({"en", "it"}),
        "slots": weekly_slots([LocalWindow(2, 17 * 60, 20 * 60)], "UTC", now=WINTER),
        "capacity": 2,
        "verified_credentials": 1,
    }
    values.update(changes)
    return Candidate(**values)  # type: ignore[arg-type]


def test_the_score_adds_up_its_reported_parts() -> None:
    query = MentorQuery(
        topics=frozenset({"robotics", "ai", "art"}),
        languages=frozenset({"it"}),
        slots=weekly_slots([LocalWindow(2, 18 * 60, 21 * 60)], "UTC", now=WINTER),
    )
    found = match(_candidate(), query)
    assert found is not None
    assert (found.shared_topics, found.common_languages, found.overlap_minutes) == (("ai", "robotics"), ("it",), 120)
    assert found.score == 10 * 2 + 5 * 1 + 2 + 1
    assert "2 hours of overlapping availability per week" in found.reasons


@pytest.mark.parametrize(
    ("candidate", "query"),
    [
        ({"capacity": 0}, {}),
        ({}, {"topics": frozenset({"cooking"})}),
        ({}, {"languages": frozenset({"fi"})}),
        ({}, {"institution": "https://other.example"}),
        ({}, {"slots": weekly_slots([LocalWindow(5, 0, 60)], "UTC", now=WINTER)}),
    ],
)
def test_filters_exclude_candidates(candidate: dict[str, object], query: dict[str, object]) -> None:
    assert match(_candidate(**candidate), MentorQuery(**query)) is None  # type: ignore[arg-type]


def test_full_mentors_are_included_when_asked() -> None:
    assert match(_candidate(capacity=0), MentorQuery(open_only=False)) is not None


def test_ranking_is_best_first_then_by_open_places_and_limited() -> None:
    weak = _candidate(mentor="weak", topics=frozenset({"ai"}))
    strong = _candidate(mentor="strong")
    roomy = _candidate(mentor="roomy", capacity=9)
    ranked = rank([weak, strong, roomy], MentorQuery(topics=frozenset({"ai", "robotics"}), limit=2))
    assert [m.candidate.mentor for m in ranked] == ["roomy", "strong"]


def test_mentors_who_rarely_or_slowly_answer_rank_lower_and_are_told_why() -> None:
    query = MentorQuery(topics=frozenset({"robotics"}))
    prompt = _candidate(mentor="prompt", decided=6, answered=6, median_answer_minutes=9 * 60)
    silent = _candidate(mentor="silent", decided=6, answered=1, median_answer_minutes=30)
    slow = _candidate(mentor="slow", decided=4, answered=4, median_answer_minutes=5 * 24 * 60)
    unknown = _candidate(mentor="new", decided=2, answered=0)  # too few requests to judge
    ranked = rank([silent, slow, unknown, prompt], query)
    assert [m.candidate.mentor for m in ranked] == ["new", "prompt", "slow", "silent"]
    by_mentor = {m.candidate.mentor: m for m in ranked}
    assert by_mentor["prompt"].score - by_mentor["silent"].score == 10
    assert "answered 6 of 6 request(s) in the last 90 days, usually within 9 hours" in by_mentor["prompt"].reasons
    assert any("ranked lower: often does not answer" in r for r in by_mentor["silent"].reasons)
    assert "ranked lower: slow to answer" in by_mentor["slow"].reasons

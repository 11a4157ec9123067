"""Sessions scheduled across time zones: windows in the mentor's zone, daylight saving, iTIP moves."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import IllegalTransition, InvalidField, StaleSequence
from protocol.scheduling import (
    Method,
    Session,
    SessionState,
    Slot,
    cancel,
    counter,
    crossed,
    local_to_utc,
    propose,
    reply,
    session_from_json,
    session_to_json,
)

VIDEO = "https://meet.example/mentornet-abc"
NOW = local_to_utc("2027-01-04T00:00", "UTC")


@dataclass(frozen=True)
class W:
    day: int
    start_minute: int
    end_minute: int


TUESDAY_MORNINGS = [W(2, 9 * 60, 12 * 60)]  # 09:00-12:00 in the mentor's zone


def proposal(
    slots: list[Slot], *, windows: list[W] = TUESDAY_MORNINGS, zone: str = "Europe/Berlin", video_url: str = VIDEO
) -> Session:
    """The mentee's proposal of session s1 in mentorship r1, checked as of ``NOW``."""
    return propose("s1", "r1", slots, "mentee", windows=windows, zone=zone, now=NOW, video_url=video_url)


def test_a_window_keeps_its_wall_clock_time_across_daylight_saving() -> None:
    winter = local_to_utc("2027-03-23T10:00", "Europe/Berlin")  # CET, UTC+1
    summer = local_to_utc("2027-03-30T10:00", "Europe/Berlin")  # CEST, UTC+2 since 28 March
    assert winter == local_to_utc("2027-03-23T09:00", "UTC")
    assert summer == local_to_utc("2027-03-30T08:00", "UTC")
    for start in (winter, summer):
        proposal([Slot(start, 60)])
    # The same UTC time as in winter is 11:00 in summer: still inside; 08:00 UTC + 3 h is not.
    with pytest.raises(InvalidField, match=r"slots\[0\].*Tue 2027-03-30 12:00 Europe/Berlin"):
        proposal([Slot(summer + 2 * 3600, 60)])


def test_the_weekday_is_the_mentors_not_utcs() -> None:
    # Tuesday 09:30 in Auckland is still Monday in UTC.
    start = local_to_utc("2027-06-08T09:30", "Pacific/Auckland")
    assert Slot(start, 30).in_zone("UTC").isoweekday() == 1
    proposal([Slot(start, 30)], zone="Pacific/Auckland")
    with pytest.raises(InvalidField, match="outside the mentor's windows"):
        proposal([Slot(start, 30)], zone="UTC")


def test_times_the_clocks_skip_or_repeat_are_refused_with_the_reason() -> None:
    with pytest.raises(InvalidField, match="does not exist in Europe/Berlin"):
        local_to_utc("2027-03-28T02:30", "Europe/Berlin")
    with pytest.raises(InvalidField, match="happens twice in Europe/Berlin"):
        local_to_utc("2027-10-31T02:30", "Europe/Berlin")
    assert (
        local_to_utc("2027-10-31T02:30+01:00", "Europe/Berlin")
        - local_to_utc("2027-10-31T02:30+02:00", "Europe/Berlin")
        == 3600
    )
    with pytest.raises(InvalidField, match="not an IANA time zone"):
        local_to_utc("2027-10-31T02:30", "Mars/Olympus")
    with pytest.raises(InvalidField, match="not a date and time"):
        local_to_utc("next tuesday", "UTC")


def test_a_session_across_the_spring_change_is_measured_on_the_wall_clock() -> None:
    # 01:30-03:30 on the clock is one hour of real time on 28 March 2027 in Berlin.
    night = [W(7, 60, 4 * 60)]
    start = local_to_utc("2027-03-28T01:30", "Europe/Berlin")
    proposal([Slot(start, 60)], windows=night)
    with pytest.raises(InvalidField):
        proposal([Slot(start, 150)], windows=night)


def test_slots_are_checked() -> None:
    start = local_to_utc("2027-03-23T10:00", "Europe/Berlin")
    cases = {
        "give 1 to 5 different slots": [],
        "lasts 15 to 240 minutes": [Slot(start, 10)],
        "in the past": [Slot(NOW - 3600, 60)],
    }
    for message, slots in cases.items():
        with pytest.raises(InvalidField, match=message):
            proposal(slots)
    with pytest.raises(InvalidField, match="https"):
        proposal([Slot(start, 60)], windows=[], zone="UTC", video_url="http://x")


def test_confirm_counter_and_cancel_follow_itip() -> None:
    a, b = (local_to_utc(f"2027-03-{day}T10:00", "Europe/Berlin") for day in ("23", "30"))
    session = proposal([Slot(a, 60), Slot(b, 60)])
    with pytest.raises(IllegalTransition, match="the other member answers"):
        reply(session, "mentee", 0, accept=Slot(a, 60))
    with pytest.raises(IllegalTransition, match="one of the proposed slots"):
        reply(session, "mentor", 0, accept=Slot(a + 3600, 60))
    countered = counter(
        session, [Slot(a + 3600, 60)], "mentor", 1, windows=TUESDAY_MORNINGS, zone="Europe/Berlin", now=NOW
    )
    assert countered.state is SessionState.COUNTERED and countered.proposed_by == "mentor"
    with pytest.raises(StaleSequence):
        reply(countered, "mentee", 0, accept=Slot(a, 60))  # an answer to the old proposal
    confirmed = reply(countered, "mentee", 1, accept=Slot(a + 3600, 60))
    assert confirmed.state is SessionState.CONFIRMED and confirmed.confirmed == Slot(a + 3600, 60)
    moved = counter(confirmed, [Slot(b, 60)], "mentee", 2, windows=TUESDAY_MORNINGS, zone="Europe/Berlin", now=NOW)
    assert moved.state is SessionState.COUNTERED and moved.confirmed is None
    cancelled = cancel(moved, 3, "mentor")
    assert cancelled.state is SessionState.CANCELLED
    with pytest.raises(IllegalTransition, match="already cancelled"):
        cancel(cancelled, 4, "mentee")
    assert session_from_json(session_to_json(cancelled)) == cancelled


@settings(max_examples=200)
@given(
    moves=st.lists(
        st.tuples(st.sampled_from(["counter", "accept", "decline", "cancel"]), st.sampled_from(["mentee", "mentor"])),
        max_size=12,
    )
)
def test_random_move_sequences_keep_the_session_consistent(moves: list[tuple[str, str]]) -> None:
    first = local_to_utc("2027-03-23T10:00", "Europe/Berlin")
    session = proposal([Slot(first, 60)])
    for step, (move, by) in enumerate(moves):
        before = session
        try:
            if move == "counter":
                slot = Slot(first + (step + 1) * 7 * 86_400, 60)
                session = counter(
                    session, [slot], by, session.sequence + 1, windows=TUESDAY_MORNINGS, zone="Europe/Berlin", now=NOW
                )
            elif move == "cancel":
                session = cancel(session, session.sequence + 1, by)
            else:
                session = reply(session, by, session.sequence, accept=session.slots[0] if move == "accept" else None)
        except IllegalTransition:
            assert session == before  # a refused move changes nothing
            continue
        assert session.sequence >= before.sequence
        if session.state is SessionState.CONFIRMED:
            assert session.confirmed in session.slots
        elif session.confirmed is not None:  # a cancelled session remembers the time it had
            assert session.state is SessionState.CANCELLED
        if before.state in (SessionState.DECLINED, SessionState.CANCELLED):
            raise AssertionError("a final session moved")


def test_crossing_changes_settle_the_same_way_on_both_sides() -> None:
    a, b, c = (local_to_utc(f"2027-03-{day}T10:00", "Europe/Berlin") for day in ("23", "30", "16"))
    zone, windows = "Europe/Berlin", TUESDAY_MORNINGS
    start = proposal([Slot(a, 60)], windows=windows, zone=zone)
    confirmed = reply(start, "mentor", 0, accept=Slot(a, 60))
    # Both move the confirmed session at once: each side has its own counter at sequence 1.
    at_mentee = counter(confirmed, [Slot(b, 60)], "mentee", 1, windows=windows, zone=zone, now=NOW)
    at_mentor = counter(confirmed, [Slot(c, 60)], "mentor", 1, windows=windows, zone=zone, now=NOW)
    with pytest.raises(StaleSequence):
        counter(at_mentee, [Slot(c, 60)], "mentor", 1, windows=windows, zone=zone, now=NOW)
    on_mentee = crossed(at_mentee, Method.COUNTER, "mentor", 1, [Slot(c, 60)], windows=windows, zone=zone, now=NOW)
    on_mentor = crossed(at_mentor, Method.COUNTER, "mentee", 1, [Slot(b, 60)], windows=windows, zone=zone, now=NOW)
    assert on_mentee.slots == on_mentor.slots == (Slot(c, 60),)  # the mentor's counter wins on both sides
    # A cancellation crossing a counter wins on both sides.
    cancelled = cancel(confirmed, 1, "mentee")
    kept = crossed(cancelled, Method.COUNTER, "mentor", 1, [Slot(c, 60)], windows=windows, zone=zone, now=NOW)
    assert kept.state is SessionState.CANCELLED
    assert (
        crossed(at_mentor, Method.CANCEL, "mentee", 1, windows=windows, zone=zone, now=NOW).state
        is SessionState.CANCELLED
    )

"""The mentorship request's state machine: the table, the guards, and properties over random runs."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import IllegalTransition, InvalidField
from protocol.lifecycle import (
    DAY,
    FINAL,
    MAX_OPEN_REQUESTS,
    OPEN,
    REQUEST_TTL,
    TRANSITIONS,
    Action,
    Actor,
    MentorshipRequest,
    State,
    apply,
    check_capacity,
    check_open_requests,
    new_request,
    responsiveness,
)

T0 = 1_800_000_000


def fresh() -> MentorshipRequest:
    return new_request("r1", "mentee-1", "mentor-1", 12, T0)


def test_a_mentor_views_accepts_and_either_side_completes() -> None:
    request = apply(fresh(), Action.VIEW, Actor.MENTOR, T0 + 10)
    request = apply(request, Action.ACCEPT, Actor.MENTOR, T0 + 20)
    assert request.holds_a_place and not request.is_open
    request = apply(request, Action.COMPLETE, Actor.MENTEE, T0 + 90 * DAY)
    assert request.state is State.COMPLETED
    assert [step.state for step in request.history] == [State.VIEWED, State.ACTIVE, State.COMPLETED]


@pytest.mark.parametrize(
    ("action", "actor", "expected"),
    [
        (Action.ACCEPT, Actor.MENTEE, "only the mentor can accept"),
        (Action.WITHDRAW, Actor.MENTOR, "only the mentee can withdraw"),
        (Action.END, Actor.MENTOR, "only the operator can end"),
        (Action.COMPLETE, Actor.MENTOR, "cannot complete a request that is pending"),
        (Action.EXPIRE, Actor.SYSTEM, "has not expired yet"),
    ],
)
def test_an_illegal_move_is_refused_with_a_clear_reason(action: Action, actor: Actor, expected: str) -> None:
    with pytest.raises(IllegalTransition, match=expected) as refused:
        apply(fresh(), action, actor, T0 + 1)
    assert refused.value.code == "illegal_transition"


def test_an_expired_request_can_only_expire_or_be_ended() -> None:
    late = T0 + REQUEST_TTL
    with pytest.raises(IllegalTransition, match="can no longer be accepted"):
        apply(fresh(), Action.ACCEPT, Actor.MENTOR, late)
    assert apply(fresh(), Action.EXPIRE, Actor.SYSTEM, late).state is State.EXPIRED
    assert apply(fresh(), Action.END, Actor.OPERATOR, late).state is State.ENDED


def test_the_reminder_is_due_halfway_and_only_while_open() -> None:
    request = fresh()
    assert not request.reminder_due(T0 + 6 * DAY)
    assert request.reminder_due(T0 + 7 * DAY)
    assert not request.reminder_due(T0 + REQUEST_TTL)
    assert not apply(request, Action.DECLINE, Actor.MENTOR, T0 + DAY, reason="fully booked").reminder_due(T0 + 8 * DAY)


def test_time_does_not_run_backwards() -> None:
    request = apply(fresh(), Action.VIEW, Actor.MENTOR, T0 + 100)
    with pytest.raises(IllegalTransition, match="before the previous"):
        apply(request, Action.ACCEPT, Actor.MENTOR, T0 + 50)


@pytest.mark.parametrize("weeks", [0, 53, -1])
def test_a_duration_outside_the_bounds_is_refused(weeks: int) -> None:
    with pytest.raises(InvalidField, match="duration_weeks"):
        new_request("r", "a", "b", weeks, T0)


def test_a_member_cannot_ask_themselves() -> None:
    with pytest.raises(InvalidField, match="themselves"):
        new_request("r", "same", "same", 4, T0)


def test_a_long_reason_is_refused() -> None:
    with pytest.raises(InvalidField, match="reason"):
        apply(fresh(), Action.DECLINE, Actor.MENTOR, T0 + 1, reason="x" * 501)


def test_open_request_cap_and_capacity_guards() -> None:
    check_open_requests(MAX_OPEN_REQUESTS - 1)
    with pytest.raises(IllegalTransition, match="open requests"):
        check_open_requests(MAX_OPEN_REQUESTS)
    check_capacity(2, 1)
    with pytest.raises(IllegalTransition, match="no open place: 2 of 2"):
        check_capacity(2, 2)


def test_the_table_covers_every_state_and_final_states_have_no_way_out() -> None:
    assert set(TRANSITIONS) == set(State)
    assert all(TRANSITIONS[state] == {} for state in FINAL)
    assert OPEN | FINAL | {State.ACTIVE} == set(State)


moves = st.lists(
    st.tuples(st.sampled_from(list(Action)), st.sampled_from(list(Actor)), st.integers(min_value=0, max_value=DAY)),
    max_size=30,
)


@settings(max_examples=400, deadline=None)
@given(moves)
def test_any_sequence_of_moves_keeps_the_invariants(sequence: list[tuple[Action, Actor, int]]) -> None:
    request, now = fresh(), T0
    for action, actor, gap in sequence:
        now += gap
        before = request
        try:
            request = apply(request, action, actor, now)
        except IllegalTransition:
            assert request == before  # a refused move changes nothing
            continue
        allowed, target = TRANSITIONS[before.state][action]
        assert actor in allowed and request.state is target
        assert before.state not in FINAL  # nothing leaves a final state
        assert request.history[:-1] == before.history and request.history[-1].at == now
    # The history replays to the same request, and every step was a legal one.
    replayed = fresh()
    for step in request.history:
        replayed = apply(replayed, step.action, step.actor, step.at, reason=step.reason)
    assert replayed == request
    # Only the mentor's acceptance makes a mentorship active, and only from an open request.
    states = [State.PENDING, *(step.state for step in request.history)]
    for previous, step in zip(states, request.history, strict=False):
        if step.state is State.ACTIVE:
            assert step.action is Action.ACCEPT and step.actor is Actor.MENTOR and previous in OPEN


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=3 * REQUEST_TTL))
def test_after_expiry_no_member_can_move_an_open_request(delay: int) -> None:
    at = T0 + delay
    for action, actor in (
        (Action.ACCEPT, Actor.MENTOR),
        (Action.DECLINE, Actor.MENTOR),
        (Action.WITHDRAW, Actor.MENTEE),
    ):
        if delay >= REQUEST_TTL:
            with pytest.raises(IllegalTransition):
                apply(fresh(), action, actor, at)
        else:
            assert apply(fresh(), action, actor, at).state is TRANSITIONS[State.PENDING][action][1]


def test_responsiveness_counts_decided_requests_and_the_median_time_to_answer() -> None:
    assert responsiveness([]) is None
    assert responsiveness([None, None]) == {"decided": 2, "answered": 0, "median_answer_minutes": None}
    assert responsiveness([600, None, 7200, 60]) == {"decided": 4, "answered": 3, "median_answer_minutes": 10}

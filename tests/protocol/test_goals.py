"""Shared goals converge: the same operations give the same goals in any order of arrival."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import InvalidField
from protocol.goals import GoalStatus, Kind, Op, fold, make_op, next_lamport, op_to_json

GOAL = "goal-0001"


def op(lamport: int, author: str, op_id: str, field: str, value: Any, kind: Kind = Kind.SET) -> Op:
    return make_op(
        {"lamport": lamport, "author": author, "id": op_id, "goal": GOAL, "kind": kind, "field": field, "value": value}
    )


def test_concurrent_edits_of_one_field_resolve_the_same_way_on_both_sides() -> None:
    created = op(1, "ada@a", "op-000001", "title", "Publish a paper")
    mentee_edit = op(2, "bo@b", "op-000002", "title", "Publish two papers")
    mentor_edit = op(2, "ada@a", "op-000003", "title", "Submit to a workshop")  # same Lamport time
    on_mentee = fold([created, mentee_edit, mentor_edit])
    on_mentor = fold([mentor_edit, created, mentee_edit])
    assert on_mentee == on_mentor
    assert on_mentee[GOAL].title == "Publish two papers"  # tie broken by author: "bo@b" > "ada@a"


def test_milestones_check_ins_and_history() -> None:
    ops = [
        op(1, "bo@b", "op-000001", "title", "Learn Rust"),
        op(1, "bo@b", "op-000002", "due", "2027-06-30"),
        op(2, "ada@a", "op-000003", "milestone/ms-00001/title", "Finish the book"),
        op(3, "bo@b", "op-000004", "milestone/ms-00001/done", True),
        op(4, "bo@b", "op-000005", "", {"note": "chapter 10 done", "progress": 60}, Kind.CHECK_IN),
        op(5, "ada@a", "op-000006", "status", "in_progress"),
    ]
    goal = fold(ops + ops[:2])[GOAL]  # a duplicate delivery changes nothing
    assert (goal.title, goal.due, goal.status, goal.progress) == (
        "Learn Rust",
        "2027-06-30",
        GoalStatus.IN_PROGRESS,
        60,
    )
    assert goal.milestones["ms-00001"].title == "Finish the book" and goal.milestones["ms-00001"].done
    assert [o.id for o in goal.history] == [o.id for o in ops]
    assert next_lamport(ops) == 6
    assert make_op(op_to_json(ops[4])) == ops[4]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "", "title"),
        ("due", "tomorrow", "due"),
        ("status", "finished", "status"),
        ("milestone/ms-00001/done", "yes", "done"),
        ("owner", "x", "field"),
        ("", {"note": "x", "progress": 101}, "progress"),
    ],
)
def test_bad_operations_are_refused_naming_the_field(field: str, value: Any, message: str) -> None:
    kind = Kind.CHECK_IN if field == "" else Kind.SET
    with pytest.raises(InvalidField, match=message):
        op(1, "bo@b", "op-000001", field, value, kind)


OPS = st.builds(
    lambda lamport, author, n, field, value: op(lamport, author, f"op-{n:06d}", field, value),
    st.integers(1, 6),
    st.sampled_from(["ada@a", "bo@b"]),
    st.integers(0, 999_999),
    st.sampled_from(["title", "status"]),
    st.sampled_from(["open", "done", "in_progress"]),
)


@settings(max_examples=300)
@given(ops=st.lists(OPS, max_size=15), data=st.data())
def test_any_arrival_order_gives_the_same_goals(ops: list[Op], data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(ops))
    duplicated = shuffled + data.draw(st.lists(st.sampled_from(ops), max_size=3)) if ops else shuffled
    assert fold(ops) == fold(duplicated)

"""Shared goals of a mentorship: milestones, due dates, status, check-ins, and their history.

Both members edit the same goals, possibly at once and offline. Every edit is an operation,
sent end to end to the other member; a goal's state is a fold of *the set* of its operations in
one total order — Lamport time, then author, then operation id — so two clients holding the same
operations hold the same goals, whatever order the operations arrived in (an operation-based
CRDT: last writer wins per field, check-ins accumulate). The history is the ordered operations.
Pure: ids, times and the author are parameters.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

from protocol.errors import InvalidField

MAX_TITLE = 200
MAX_NOTE = 2000
MAX_GOALS = 50
MAX_MILESTONES = 30
OP_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{7,63}")  # never read as a command-line option


class GoalStatus(StrEnum):
    OPEN = "open"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    DROPPED = "dropped"


class Kind(StrEnum):
    SET = "set"  # a field of the goal or of one of its milestones
    CHECK_IN = "check_in"  # a progress note, kept in the history


GOAL_FIELDS = frozenset({"title", "due", "status"})
MILESTONE_FIELDS = frozenset({"title", "due", "done"})


@dataclass(frozen=True, order=True)
class Op:
    """One edit. Ordered by (``lamport``, ``author``, ``id``): the order every client folds in."""

    lamport: int
    author: str
    id: str
    goal: str = dataclasses.field(compare=False)
    kind: Kind = dataclasses.field(compare=False)
    field: str = dataclasses.field(default="", compare=False)  # "title" | "due" | "status" | "milestone/<id>/<name>"
    value: Any = dataclasses.field(default=None, compare=False)  # SET: the value; CHECK_IN: {"note", "progress"}
    made_at: int = dataclasses.field(default=0, compare=False)  # the author's wall clock, shown; never orders


@dataclass
class Milestone:
    id: str
    title: str = ""
    due: str | None = None
    done: bool = False


@dataclass
class Goal:
    id: str
    title: str = ""
    due: str | None = None
    status: GoalStatus = GoalStatus.OPEN
    progress: int = 0
    milestones: dict[str, Milestone] = field(default_factory=dict)
    history: list[Op] = field(default_factory=list)


def make_op(raw: dict[str, Any]) -> Op:
    """An operation from its wire form, validated.

    Raises:
        InvalidField: naming what is wrong.
    """
    try:
        op = Op(
            lamport=_int(raw["lamport"], "lamport"),
            author=str(raw["author"]),
            id=str(raw["id"]),
            goal=str(raw["goal"]),
            kind=Kind(raw["kind"]),
            field=str(raw.get("field", "")),
            value=raw.get("value"),
            made_at=_int(raw.get("made_at", 0), "made_at"),
        )
    except KeyError as exc:
        raise InvalidField(str(exc.args[0]), "missing") from exc
    except ValueError as exc:
        raise InvalidField("kind", "must be set or check_in") from exc
    if not OP_ID.fullmatch(op.id) or not OP_ID.fullmatch(op.goal):
        raise InvalidField("id", "operation and goal ids are 8 to 64 characters of A-Z a-z 0-9 _ -")
    _check_value(op)
    return op


def op_to_json(op: Op) -> dict[str, Any]:
    return {
        "lamport": op.lamport,
        "author": op.author,
        "id": op.id,
        "goal": op.goal,
        "kind": str(op.kind),
        "field": op.field,
        "value": op.value,
        "made_at": op.made_at,
    }


def fold(ops: Iterable[Op]) -> dict[str, Goal]:
    """The goals that a set of operations describes (duplicates count once)."""
    goals: dict[str, Goal] = {}
    for op in _distinct(ops):
        goal = goals.setdefault(op.goal, Goal(op.goal))
        goal.history.append(op)
        if op.kind is Kind.CHECK_IN:
            goal.progress = int(op.value["progress"])
            continue
        parts = op.field.split("/")
        if len(parts) == 3:
            milestone = goal.milestones.setdefault(parts[1], Milestone(parts[1]))
            setattr(milestone, parts[2], op.value)
        elif op.field == "status":
            goal.status = GoalStatus(op.value)
        else:
            setattr(goal, op.field, op.value)
    return goals


def _distinct(ops: Iterable[Op]) -> list[Op]:
    """Each operation once, in fold order. Two different operations under one (time, author, id)
    are a broken or forging client; whichever arrived first, the same one is kept everywhere."""
    chosen: dict[Op, Op] = {}
    for op in ops:
        kept = chosen.get(op)
        if kept is None or _content(op) < _content(kept):
            chosen[op] = op
    return sorted(chosen.values())


def _content(op: Op) -> str:
    return json.dumps(op_to_json(op), sort_keys=True)


def next_lamport(ops: Iterable[Op]) -> int:
    """The Lamport time for a new operation: after every operation seen."""
    return max((op.lamport for op in ops), default=0) + 1


def _check_value(op: Op) -> None:
    if op.kind is Kind.CHECK_IN:
        value = op.value
        if not isinstance(value, dict) or set(value) != {"note", "progress"}:
            raise InvalidField("value", 'a check-in is {"note": text, "progress": 0 to 100}')
        _text(value["note"], "note", MAX_NOTE, empty=True)
        if _int(value["progress"], "progress") not in range(101):
            raise InvalidField("progress", "must be 0 to 100 (per cent)")
        return
    parts = op.field.split("/")
    name = parts[-1]
    if len(parts) == 3 and parts[0] == "milestone" and OP_ID.fullmatch(parts[1]) and name in MILESTONE_FIELDS:
        pass
    elif len(parts) != 1 or name not in GOAL_FIELDS:
        raise InvalidField("field", "one of title, due, status, milestone/<id>/title|due|done")
    if name == "title":
        _text(op.value, "title", MAX_TITLE, empty=False)
    elif name == "due":
        if op.value is not None:
            try:
                date.fromisoformat(str(op.value))
            except ValueError as exc:
                raise InvalidField("due", "must be a date such as 2027-03-31, or null") from exc
            if not isinstance(op.value, str):
                raise InvalidField("due", "must be a date such as 2027-03-31, or null")
    elif name == "status":
        if op.value not in set(GoalStatus):
            raise InvalidField("status", f"one of {', '.join(GoalStatus)}")
    elif not isinstance(op.value, bool):
        raise InvalidField("done", "must be true or false")


def _text(value: object, name: str, limit: int, *, empty: bool) -> None:
    if not isinstance(value, str) or len(value) > limit or (not empty and not value.strip()):
        raise InvalidField(name, f"must be text of {'0' if empty else '1'} to {limit} characters")


def _int(value: object, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidField(name, "must be a non-negative integer")
    return value

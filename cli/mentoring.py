"""``mentornet client request|requests|accept|...|session|goal|feedback``: mentorships from the
command line, on the member's own client (every event end to end)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from cli.client import client, client_errors, keystore_options, open_member
from cli.common import format_time, json_option
from cli.output import emit
from client.member import Address, ClientError
from client.mentoring import Mentoring
from protocol.errors import ProtocolError
from protocol.feedback import RATINGS
from protocol.goals import Goal, Kind
from protocol.lifecycle import MAX_DURATION_WEEKS, MIN_DURATION_WEEKS, Action
from protocol.scheduling import MAX_MINUTES, MIN_MINUTES, Session, Slot, local_to_utc, session_to_json


def _mentoring(keystore: Path, passphrase_file: Path | None) -> Mentoring:
    return Mentoring(open_member(keystore, passphrase_file))


@client.command("request")
@click.argument("mentor")
@click.option("--message", required=True, help="Why you ask this mentor, in your words.")
@click.option("--goal", "goals", multiple=True, help="A goal for the mentorship (repeatable).")
@click.option(
    "--weeks",
    type=click.IntRange(MIN_DURATION_WEEKS, MAX_DURATION_WEEKS),
    default=12,
    show_default=True,
    help="How long the mentorship should run.",
)
@keystore_options
@json_option
@client_errors
def request(
    mentor: str,
    message: str,
    goals: tuple[str, ...],
    weeks: int,
    keystore: Path,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Ask MENTOR (MEMBER_ID@NODE_URL, from 'discover') for mentoring."""
    mentoring = _mentoring(keystore, passphrase_file)
    request_id = asyncio.run(mentoring.request(Address.parse(mentor), message, list(goals), weeks))
    emit(
        as_json,
        {"request_id": request_id, "mentor": mentor},
        lambda: click.echo(f"Asked {mentor} (request {request_id}). They have 14 days to answer."),
    )


@client.command("requests")
@keystore_options
@json_option
@client_errors
def requests(keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Your mentorships and requests, newest first (reminders for the unanswered)."""
    listed = _mentoring(keystore, passphrase_file).requests()

    def human() -> None:
        if not listed:
            click.echo("No mentorship requests yet.")
        for item in listed:
            role = "you mentor" if item["role"] == "mentor" else "your mentor"
            reminder = "  (reminder: not answered yet)" if item["reminder"] else ""
            click.echo(
                f"{item['request_id']}  {item['state']:<9}  {role}: {item['with']}  {item['duration_weeks']} weeks, "
                f"answer by {format_time(item['expires_at'])}{reminder}"
            )
            if item["message"]:
                click.echo(f"    {item['message']}")

    emit(as_json, listed, human)


def _move_command(action: Action, name: str, help_text: str) -> None:
    @client.command(name, help=help_text)
    @click.argument("request_id")
    @click.option("--reason", default=None, help="Optional reason, sent to the other member.")
    @keystore_options
    @json_option
    @client_errors
    def command(
        request_id: str, reason: str | None, keystore: Path, passphrase_file: Path | None, as_json: bool
    ) -> None:
        moved = asyncio.run(_mentoring(keystore, passphrase_file).move(request_id, action, reason=reason))
        emit(
            as_json,
            {"request_id": request_id, "state": str(moved.state)},
            lambda: click.echo(f"Request {request_id} is now {moved.state}."),
        )


for _action, _name, _help in (
    (Action.VIEW, "view", "Mark a request you received as seen (the mentee is told)."),
    (Action.ACCEPT, "accept", "Accept a request: it takes one of your places (refused when none is open)."),
    (Action.DECLINE, "decline", "Decline a request, optionally with a reason."),
    # 'withdraw' alone withdraws a mentor's availability.
    (Action.WITHDRAW, "withdraw-request", "Withdraw a request you made."),
    (Action.COMPLETE, "complete", "Complete a running mentorship (its place is given back)."),
    (Action.CANCEL, "cancel", "Cancel a running mentorship."),
):
    _move_command(_action, _name, _help)


@client.group("session")
def session() -> None:
    """Schedule sessions inside the mentor's windows (propose, confirm, counter, cancel, .ics)."""


def _slots(starts: tuple[str, ...], minutes: int, zone: str) -> list[Slot]:
    try:
        return [Slot(local_to_utc(start, zone), minutes) for start in starts]
    except ProtocolError as exc:
        raise ClientError(str(exc)) from exc


def _slot_options(func: Any) -> Any:
    func = click.option(
        "--zone",
        default="UTC",
        show_default=True,
        help="The IANA time zone the --at times are in (e.g. Europe/Berlin).",
    )(func)
    func = click.option(
        "--minutes", type=click.IntRange(MIN_MINUTES, MAX_MINUTES), default=60, show_default=True, help="Length."
    )(func)
    return click.option(
        "--at", "starts", multiple=True, required=True, help="A start time such as 2027-03-23T10:00 (repeatable)."
    )(func)


def _show_session(as_json: bool, session: Session, zone: str = "UTC") -> None:
    def human() -> None:
        click.echo(f"Session {session.id}: {session.state} (sequence {session.sequence})")
        for number, slot in enumerate(session.slots, 1):
            mark = "  <- confirmed" if session.confirmed == slot else ""
            click.echo(f"  {number}. {slot.in_zone(zone):%a %Y-%m-%d %H:%M} {zone}, {slot.minutes} min{mark}")
        click.echo(f"  video call: {session.video_url}")

    emit(as_json, session_to_json(session), human)


@session.command("propose")
@click.argument("request_id")
@_slot_options
@click.option("--note", default="", help="An agenda or note for the session.")
@keystore_options
@json_option
@client_errors
def session_propose(
    request_id: str,
    starts: tuple[str, ...],
    minutes: int,
    zone: str,
    note: str,
    keystore: Path,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Propose up to five times for a session of mentorship REQUEST_ID."""
    mentoring = _mentoring(keystore, passphrase_file)
    proposed = asyncio.run(mentoring.propose_session(request_id, _slots(starts, minutes, zone), note))
    _show_session(as_json, proposed, zone)


@session.command("confirm")
@click.argument("session_id")
@click.option("--slot", "number", type=click.IntRange(1, 5), default=1, show_default=True, help="Which proposed time.")
@keystore_options
@json_option
@client_errors
def session_confirm(session_id: str, number: int, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Confirm one of the proposed times."""
    mentoring = _mentoring(keystore, passphrase_file)
    current = next((s for s in mentoring.sessions() if s.id == session_id), None)
    if current is None or number > len(current.slots):
        raise ClientError(f"no proposed time {number} in session {session_id}")
    _show_session(as_json, asyncio.run(mentoring.answer_session(session_id, current.slots[number - 1])))


@session.command("decline")
@click.argument("session_id")
@keystore_options
@json_option
@client_errors
def session_decline(session_id: str, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Decline every proposed time."""
    _show_session(as_json, asyncio.run(_mentoring(keystore, passphrase_file).answer_session(session_id, None)))


@session.command("counter")
@click.argument("session_id")
@_slot_options
@keystore_options
@json_option
@client_errors
def session_counter(
    session_id: str,
    starts: tuple[str, ...],
    minutes: int,
    zone: str,
    keystore: Path,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Propose other times instead (also to move a confirmed session)."""
    mentoring = _mentoring(keystore, passphrase_file)
    _show_session(as_json, asyncio.run(mentoring.counter_session(session_id, _slots(starts, minutes, zone))), zone)


@session.command("cancel")
@click.argument("session_id")
@keystore_options
@json_option
@client_errors
def session_cancel(session_id: str, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Call a session off."""
    _show_session(as_json, asyncio.run(_mentoring(keystore, passphrase_file).cancel_session(session_id)))


@session.command("list")
@click.argument("request_id", required=False)
@click.option("--zone", default="UTC", show_default=True, help="Show times in this IANA zone.")
@keystore_options
@json_option
@client_errors
def session_list(
    request_id: str | None, zone: str, keystore: Path, passphrase_file: Path | None, as_json: bool
) -> None:
    """Sessions of every mentorship, or of REQUEST_ID."""
    sessions = _mentoring(keystore, passphrase_file).sessions(request_id)
    if as_json:
        emit(True, [session_to_json(s) for s in sessions], lambda: None)
        return
    if not sessions:
        click.echo("No sessions yet.")
    for item in sessions:
        _show_session(False, item, zone)


@session.command("ics")
@click.argument("request_id")
@click.option("--session", "session_id", default=None, help="Only this session (default: every one).")
@click.option("--zone", default="UTC", show_default=True, help="Write times in this IANA zone.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None, help="File (default: stdout).")
@keystore_options
@client_errors
def session_ics(
    request_id: str,
    session_id: str | None,
    zone: str,
    output: Path | None,
    keystore: Path,
    passphrase_file: Path | None,
) -> None:
    """Export scheduled sessions as an iCalendar (.ics) file for any calendar application."""
    data = _mentoring(keystore, passphrase_file).ics(request_id, session_id, zone=zone)
    if output is None:
        click.echo(data.decode(), nl=False)
    else:
        output.write_bytes(data)
        click.echo(f"Wrote {output}", err=True)


@client.group("goal")
def goal() -> None:
    """Shared goals of a mentorship: milestones, due dates, status, check-ins."""


def _show_goals(as_json: bool, goals: dict[str, Goal]) -> None:
    data = [
        {
            "id": g.id,
            "title": g.title,
            "due": g.due,
            "status": str(g.status),
            "progress": g.progress,
            "milestones": [{"id": m.id, "title": m.title, "due": m.due, "done": m.done} for m in g.milestones.values()],
            "history": [
                {"author": op.author, "kind": str(op.kind), "field": op.field, "value": op.value, "made_at": op.made_at}
                for op in g.history
            ],
        }
        for g in goals.values()
    ]

    def human() -> None:
        if not goals:
            click.echo("No goals yet.")
        for g in goals.values():
            due = f", due {g.due}" if g.due else ""
            click.echo(f"{g.id}  {g.title}  [{g.status}, {g.progress} %{due}]")
            for m in g.milestones.values():
                click.echo(f"    [{'x' if m.done else ' '}] {m.title} ({m.id})")
            for op in g.history:
                if op.kind is Kind.CHECK_IN:
                    note = f"{op.value['progress']} % {op.value['note']}"
                    click.echo(f"    {format_time(op.made_at)} {op.author}: {note}")

    emit(as_json, data, human)


@goal.command("add")
@click.argument("request_id")
@click.argument("title")
@click.option("--due", default=None, help="Due date, e.g. 2027-06-30.")
@keystore_options
@json_option
@client_errors
def goal_add(
    request_id: str, title: str, due: str | None, keystore: Path, passphrase_file: Path | None, as_json: bool
) -> None:
    """Add a goal to mentorship REQUEST_ID."""
    mentoring = _mentoring(keystore, passphrase_file)
    goal_id = asyncio.run(mentoring.add_goal(request_id, title, due))
    emit(as_json, {"goal": goal_id}, lambda: click.echo(f"Added goal {goal_id}."))


@goal.command("set")
@click.argument("request_id")
@click.argument("goal_id")
@click.argument("field", type=click.Choice(["title", "due", "status"]))
@click.argument("value")
@keystore_options
@json_option
@client_errors
def goal_set(
    request_id: str, goal_id: str, field: str, value: str, keystore: Path, passphrase_file: Path | None, as_json: bool
) -> None:
    """Change a goal's title, due date or status (open, in_progress, done, dropped)."""
    mentoring = _mentoring(keystore, passphrase_file)
    asyncio.run(mentoring.set_goal(request_id, goal_id, field, value))
    _show_goals(as_json, {goal_id: mentoring.goals(request_id)[goal_id]})


@goal.command("milestone")
@click.argument("request_id")
@click.argument("goal_id")
@click.argument("title")
@click.option("--due", default=None, help="Due date, e.g. 2027-04-15.")
@click.option("--done", "done_id", default=None, help="Instead: mark milestone DONE_ID as done.")
@keystore_options
@json_option
@client_errors
def goal_milestone(
    request_id: str,
    goal_id: str,
    title: str,
    due: str | None,
    done_id: str | None,
    keystore: Path,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Add a milestone TITLE to a goal (or, with --done ID, tick one off; TITLE is then ignored)."""
    mentoring = _mentoring(keystore, passphrase_file)
    if done_id:
        asyncio.run(mentoring.set_goal(request_id, goal_id, f"milestone/{done_id}/done", True))
    else:
        asyncio.run(mentoring.add_milestone(request_id, goal_id, title, due))
    _show_goals(as_json, {goal_id: mentoring.goals(request_id)[goal_id]})


@goal.command("check-in")
@click.argument("request_id")
@click.argument("goal_id")
@click.option("--progress", type=click.IntRange(0, 100), required=True, help="Per cent done.")
@click.option("--note", default="", help="What happened since the last check-in.")
@keystore_options
@json_option
@client_errors
def goal_check_in(
    request_id: str, goal_id: str, progress: int, note: str, keystore: Path, passphrase_file: Path | None, as_json: bool
) -> None:
    """Record progress on a goal (kept in its history on both sides)."""
    mentoring = _mentoring(keystore, passphrase_file)
    asyncio.run(mentoring.check_in(request_id, goal_id, note, progress))
    _show_goals(as_json, {goal_id: mentoring.goals(request_id)[goal_id]})


@goal.command("list")
@click.argument("request_id")
@keystore_options
@json_option
@client_errors
def goal_list(request_id: str, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """The goals of mentorship REQUEST_ID, with milestones and check-ins."""
    _show_goals(as_json, _mentoring(keystore, passphrase_file).goals(request_id))


@client.command("feedback")
@click.argument("request_id")
@click.option(
    "--rating",
    "ratings",
    multiple=True,
    required=True,
    help=f"NAME=1..5, NAME one of {', '.join(RATINGS)} (repeatable).",
)
@click.option("--text", default="", help="Free text (up to 2,000 characters).")
@click.option("--session", "session_id", default=None, help="Feedback on this session (default: the mentorship).")
@keystore_options
@json_option
@client_errors
def feedback(
    request_id: str,
    ratings: tuple[str, ...],
    text: str,
    session_id: str | None,
    keystore: Path,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Send feedback to the other member, end to end (your institution never sees it)."""
    parsed: dict[str, int] = {}
    for rating in ratings:
        name, _, value = rating.partition("=")
        if not value.isdigit():
            raise ClientError(f"--rating {rating!r}: expected NAME=1..5, e.g. overall=5")
        parsed[name] = int(value)
    asyncio.run(_mentoring(keystore, passphrase_file).feedback(request_id, parsed, text, session_id))
    emit(as_json, {"request_id": request_id, "ratings": parsed}, lambda: click.echo("Feedback sent."))

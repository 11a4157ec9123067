"""A whole mentorship across three real nodes: request, the last place, scheduling with .ics,
shared goals, feedback; every event end to end, refused when its sender may not make it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from client.member import ClientError, MemberClient
from client.mentoring import GOAL, MOVE, Mentoring, Update
from node.mentorships import end_one
from protocol.lifecycle import Action
from protocol.scheduling import Slot, local_to_utc
from tests.client.test_member import PASSPHRASE, member_at
from tests.node.federation.cluster import RunningNode, eventually, holding, peered_cluster

CANARY = "CANARY-5d1e-mentoring-secret"
BERLIN = "Europe/Berlin"
AVAILABILITY = {
    "display_name": "Carlos",
    "topics": ["machine-learning"],
    "languages": ["en"],
    "timezone": BERLIN,
    "windows": [{"day": 2, "start_minute": 9 * 60, "end_minute": 12 * 60}],  # Tuesdays 09:00-12:00
    "capacity": 1,
}


async def updates(mentoring: Mentoring, count: int) -> list[Update]:
    got: list[Update] = []
    for _ in range(40):
        got += await mentoring.receive(wait=1)
        if len(got) >= count:
            return got
    raise AssertionError(f"expected {count} updates, got {[u.summary for u in got]}")


async def accepted_mentorship(a: RunningNode, b: RunningNode, tmp_path: Path) -> tuple[Mentoring, Mentoring, str]:
    """Mina at A asked Carlos at B, who accepted; both clients have heard."""
    mina = Mentoring(await member_at(a, "Mina", "mentee", tmp_path))
    carlos = Mentoring(await member_at(b, "Carlos", "mentor", tmp_path))
    await carlos.member.announce(dict(AVAILABILITY))
    request_id = await mina.request(carlos.member.address, "Please", [], 8)
    await updates(carlos, 1)
    await carlos.move(request_id, Action.ACCEPT)
    await updates(mina, 1)
    return mina, carlos, request_id


def next_tuesday_at(hour: int) -> int:
    today = datetime.now(ZoneInfo(BERLIN)).date()
    tuesday = today + timedelta(days=(1 - today.weekday()) % 7 or 7)
    return local_to_utc(f"{tuesday}T{hour:02d}:00", BERLIN)


async def open_places(node: RunningNode, token_holder: MemberClient) -> int:
    results = await node.search(token_holder.state["token"], "topic=machine-learning&include_full=true")
    return int(results[0]["capacity"]) if results else -1


async def test_a_mentorship_from_request_to_feedback_across_three_nodes(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with peered_cluster(tmp_path, ["A", "B", "C"]) as nodes:
        a, b, c = nodes
        mina = Mentoring(await member_at(a, "Mina", "mentee", tmp_path))
        carlos = Mentoring(await member_at(b, "Carlos", "mentor", tmp_path))
        chiara = Mentoring(await member_at(c, "Chiara", "mentee", tmp_path))
        await carlos.member.announce(dict(AVAILABILITY))
        await eventually(lambda: _places_are(c, chiara.member, 1), what="the announcement reaching C")

        # Two mentees ask; the mentor has one place.
        mina_request = await mina.request(carlos.member.address, f"Help with my thesis {CANARY}", ["thesis"], 12)
        chiara_request = await chiara.request(carlos.member.address, "Career advice", [], 8)
        received = await updates(carlos, 2)
        assert all(u.refused is None for u in received)
        assert {u.event["request"] for u in received} == {mina_request, chiara_request}

        await carlos.move(mina_request, Action.ACCEPT)
        with pytest.raises(ClientError, match="no open place: 1 of 1 taken"):
            await carlos.move(chiara_request, Action.ACCEPT)
        await carlos.move(chiara_request, Action.DECLINE, reason="no place left this term")
        # The mentor's node re-announced: no place open any more, seen at the other nodes.
        await eventually(lambda: _places_are(c, chiara.member, 0), what="the reduced capacity reaching C")

        [accepted] = await updates(mina, 1)
        assert accepted.summary.endswith("now active")
        [declined] = await updates(chiara, 1)
        assert "no place left this term" in declined.summary and declined.summary.endswith("now declined")
        states = {item["request_id"]: item["state"] for item in mina.requests()}
        assert states == {mina_request: "active"}
        async with mina.member.api() as api:  # the mentee's node followed, so the request no longer counts as open
            assert [m["state"] for m in await api.mentorships()] == ["active"]

        # Only the mentor accepts; only the mentee withdraws.
        with pytest.raises(ClientError, match="cannot accept a request that is active"):
            await mina.move(mina_request, Action.ACCEPT)

        # Scheduling: the mentee proposes inside Carlos's Tuesday windows (Berlin time).
        with pytest.raises(ClientError, match="outside the mentor's windows"):
            await mina.propose_session(mina_request, [Slot(next_tuesday_at(14), 60)])
        first, second = Slot(next_tuesday_at(9), 60), Slot(next_tuesday_at(10), 60)
        proposed = await mina.propose_session(mina_request, [first, second], note=f"agenda {CANARY}")
        [proposal] = await updates(carlos, 1)
        assert proposal.refused is None and "proposed" in proposal.summary
        await carlos.answer_session(proposed.id, second)
        [confirmation] = await updates(mina, 1)
        assert "confirmed" in confirmation.summary
        for side, zone in ((mina, "America/New_York"), (carlos, BERLIN)):
            calendar = Calendar.from_ical(side.ics(mina_request, zone=zone))
            [event] = calendar.walk("VEVENT")
            assert event.decoded("dtstart") == datetime.fromtimestamp(second.start, UTC)
            assert str(event["dtstart"].params["TZID"]) == zone
            assert str(event["uid"]) == f"{proposed.id}@mentornet"
            assert str(event["url"]).startswith("https://meet.jit.si/mentornet-")
            assert calendar.walk("VTIMEZONE"), "the zone's rules travel with the file"

        # Goals: both edit at once; both clients end up with the same goals.
        goal = await mina.add_goal(mina_request, f"Submit chapter 1 {CANARY}", "2027-06-30")
        await updates(carlos, 2)
        await carlos.add_milestone(mina_request, goal, "Outline reviewed")
        await mina.check_in(mina_request, goal, "outline drafted", 30)
        await mina.set_goal(mina_request, goal, "status", "in_progress")
        await updates(mina, 1)
        await updates(carlos, 2)
        assert mina.goals(mina_request) == carlos.goals(mina_request)
        shared = mina.goals(mina_request)[goal]
        assert (shared.status, shared.progress, len(shared.milestones)) == ("in_progress", 30, 1)
        assert [op.author for op in shared.history].count(str(carlos.member.address)) == 1

        # Feedback goes to the other member, end to end.
        await carlos.feedback(mina_request, {"overall": 5, "preparation": 4}, f"Well prepared {CANARY}")
        [feedback] = await updates(mina, 1)
        assert feedback.summary.endswith("overall 5/5, preparation 4/5")
        assert mina.records[mina_request]["feedback"]["received"][0]["text"].startswith("Well prepared")

        # A member who is not in the mentorship cannot move it or edit its goals.
        forged_move = {"type": MOVE, "request": mina_request, "action": "complete", "at": 0}
        forged_goal = {"type": GOAL, "request": mina_request, "op": {}}
        await chiara.member.send_events(carlos.member.address, [forged_move, forged_goal])
        refused = await updates(carlos, 2)
        assert [u.refused for u in refused] == ["it names no mentorship of yours with this member"] * 2
        assert carlos.records[mina_request]["request"]["state"] == "active"

        await carlos.move(mina_request, Action.COMPLETE)
        await eventually(lambda: _places_are(c, chiara.member, 1), what="the place given back")
        [completed] = await updates(mina, 1)
        assert completed.summary.endswith("now completed")

        # No node holds any of it in clear: databases, federation traffic, logs.
        assert holding(nodes, CANARY.encode()) == []
        assert CANARY not in caplog.text


async def _places_are(node: RunningNode, searcher: MemberClient, places: int) -> bool:
    return await open_places(node, searcher) == places


async def test_malformed_events_are_refused_and_the_rest_of_the_batch_still_applies(tmp_path: Path) -> None:
    async with peered_cluster(tmp_path, ["A", "B"]) as (a, b):
        mina = Mentoring(await member_at(a, "Mina", "mentee", tmp_path))
        carlos = Mentoring(await member_at(b, "Carlos", "mentor", tmp_path))
        await carlos.member.announce(dict(AVAILABILITY))
        junk = [
            {"type": "mentorship.request", "request": "a" * 24, "duration_weeks": float("inf"), "expires_at": 0},
            {"type": "mentorship.request", "request": "b" * 24, "duration_weeks": 8, "expires_at": "soon"},
            {"type": "session", "request": "c" * 24, "method": "REPLY"},
            {"type": "goal.op", "request": "d" * 24, "op": None},
        ]
        await mina.member.send_events(carlos.member.address, junk)
        request_id = await mina.request(carlos.member.address, "A real request", [], 8)
        got = await updates(carlos, 5)
        assert [u.refused is not None for u in got] == [True, True, True, True, False]
        assert got[-1].event["request"] == request_id and list(carlos.records) == [request_id]


async def test_a_withdrawal_crossing_the_acceptance_gives_the_place_back(tmp_path: Path) -> None:
    async with peered_cluster(tmp_path, ["A", "B", "C"]) as (a, b, c):
        mina = Mentoring(await member_at(a, "Mina", "mentee", tmp_path))
        carlos = Mentoring(await member_at(b, "Carlos", "mentor", tmp_path))
        chiara = Mentoring(await member_at(c, "Chiara", "mentee", tmp_path))
        await carlos.member.announce(dict(AVAILABILITY))  # one place
        request_id = await mina.request(carlos.member.address, "Please", [], 8)
        await updates(carlos, 1)
        await carlos.move(request_id, Action.ACCEPT)
        await mina.move(request_id, Action.WITHDRAW)  # before the acceptance reached her
        [crossed] = await updates(carlos, 1)
        assert crossed.summary.endswith("now cancelled")
        [late] = await updates(mina, 1)
        assert late.refused is not None  # the acceptance of a withdrawn request
        # Carlos's node gave the place back: a second mentee can be accepted.
        second = await chiara.request(carlos.member.address, "Me too", [], 8)
        await updates(carlos, 1)
        await carlos.move(second, Action.ACCEPT)


async def test_a_reminder_comes_once_when_half_the_time_to_answer_has_gone(tmp_path: Path) -> None:
    async with peered_cluster(tmp_path, ["A", "B"]) as (a, b):
        mina = Mentoring(await member_at(a, "Mina", "mentee", tmp_path))
        carlos = Mentoring(await member_at(b, "Carlos", "mentor", tmp_path))
        await carlos.member.announce(dict(AVAILABILITY))
        request_id = await mina.request(carlos.member.address, "Please", [], 8)
        await updates(carlos, 1)
        created = carlos.records[request_id]["request"]["created_at"]
        assert carlos.due_reminders(created + 6 * 86_400) == []
        [reminder] = carlos.due_reminders(created + 7 * 86_400)
        assert (
            reminder == f"Reminder: {mina.member.address} waits for your answer to request {request_id} (7 day(s) left)"
        )
        assert carlos.due_reminders(created + 8 * 86_400) == []  # once
        assert mina.due_reminders(created + 7 * 86_400)[0].endswith(
            f"has not answered request {request_id} yet (7 day(s) left)"
        )


async def test_events_made_while_the_node_is_down_are_kept_and_sent_later(tmp_path: Path) -> None:
    async with peered_cluster(tmp_path, ["A", "B"]) as (a, b):
        mina, carlos, request_id = await accepted_mentorship(a, b, tmp_path)

        await a.stop()  # Mina's node is down: her goal is saved, not lost
        with pytest.raises(ClientError, match="saved; it will be sent with your next 'receive'"):
            await mina.add_goal(request_id, "Write chapter 2")
        assert len(mina.member.state["unsent"]) == 1
        reopened = Mentoring(MemberClient.open(tmp_path / "Mina.keystore", PASSPHRASE))  # even after a restart
        await a.start()
        await reopened.receive(wait=0)  # sends what waited
        assert reopened.member.state["unsent"] == []
        [goal] = await updates(carlos, 1)
        assert goal.refused is None and "Write chapter 2" in goal.summary


async def test_an_operators_end_reaches_the_other_member_and_their_node(tmp_path: Path) -> None:
    async with peered_cluster(tmp_path, ["A", "B"]) as (a, b):
        mina, carlos, request_id = await accepted_mentorship(a, b, tmp_path)

        await end_one(a.node, mina.member.state["member"], request_id, "the mentee's institution ended it")
        assert await mina.receive(wait=0) == []  # her client follows her node, and tells Carlos
        assert mina.records[request_id]["request"]["state"] == "ended"
        [told] = await updates(carlos, 1)
        assert told.summary.endswith("(ended by the operator of their institution): now cancelled")
        async with carlos.member.api() as api:  # his node followed: the place is free again
            assert [m["state"] for m in await api.mentorships()] == ["cancelled"]

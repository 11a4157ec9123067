"""The institution's report: aggregate counts only, withheld for groups under five members."""

from __future__ import annotations

from node.announcements import publish_availability
from node.instance import Node
from node.mentorships import move, open_request, record_session
from node.report import institution_report
from protocol.lifecycle import Action, Actor
from tests.node.test_mentorships import AVAILABILITY, active_member, new_id


def figures(report: dict[str, object]) -> dict[str, object]:
    items = report["figures"]
    assert isinstance(items, list)
    return {item["name"]: item["value"] for item in items}


async def test_figures_from_fewer_than_five_members_are_withheld(node: Node) -> None:
    mentors = [(await active_member(node, f"Mentor{i}", "mentor"))[0] for i in range(5)]
    start = node.clock()
    for index, mentor in enumerate(mentors):
        await publish_availability(node, mentor, AVAILABILITY)
        request_id = new_id()
        node.clock = lambda: start
        await open_request(node, mentor, request_id, Actor.MENTOR, 8)
        node.clock = lambda index=index: start + (index + 1) * 3600  # answered after 1..5 hours
        if index < 4:
            await move(node, mentor, request_id, Action.ACCEPT, Actor.MENTOR)
            await record_session(node, mentor, request_id)
        else:
            await move(node, mentor, request_id, Action.DECLINE, Actor.MENTOR)

    report = await institution_report(node, days=90)
    shown = figures(report)
    assert shown["requests_received"] == 5 and shown["requests_answered"] == 5
    assert shown["answer_rate_percent"] == 100.0 and shown["median_answer_hours"] == 3.0
    # Only four mentors accepted, ran a mentorship or held a session: too few to show.
    assert shown["accepted"] is None and shown["running"] is None and shown["sessions_held"] is None
    assert shown["requests_made"] is None  # no mentee made any
    assert report["members"] == {"mentor": 5}


async def test_the_report_counts_only_the_chosen_period(node: Node) -> None:
    mentee, _ = await active_member(node, "Bo", "mentee")
    await open_request(node, mentee, new_id(), Actor.MENTEE, 8)
    start = node.clock()
    node.clock = lambda: start + 10 * 86_400
    assert figures(await institution_report(node, days=5))["requests_made"] is None
    report = await institution_report(node, days=30)
    assert {item["name"]: item["withheld"] for item in report["figures"]}["requests_made"] is True  # one mentee

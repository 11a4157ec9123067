"""Blocking and reporting across two real nodes: a blocked member's messages are dropped at the
recipient's node without unsealing them; a report reaches the reported member's home operator
with only the evidence the reporter chose."""

from __future__ import annotations

import aiohttp
import pytest

from client.api import ApiError
from client.member import Address, ClientError, MemberClient
from client.mentoring import Mentoring
from node.members import suspend_member
from node.messaging import receive
from node.safety import list_reports, resolve_report
from tests.client.test_member import receive_all
from tests.node.federation.cluster import RunningNode, eventually


async def test_a_blocked_member_is_dropped_at_the_recipients_node(
    two_nodes: list[RunningNode], pair: tuple[MemberClient, MemberClient]
) -> None:
    a, _ = two_nodes
    mina, carlos = pair
    await carlos.send(mina.address, "hello")
    assert await receive_all(mina, 1) == ["hello"]
    assert await mina.block(carlos.address) is True  # the handle is known from that message
    with pytest.raises(ClientError, match="you blocked"):
        await mina.send(carlos.address, "are you there?")

    await carlos.send(mina.address, "you cannot ignore me")
    await Mentoring(carlos).member.send_events(mina.address, [{"type": "mentorship.request", "request": "x"}])

    async def both_dropped() -> bool:  # both reach node A, which drops them
        return await _metric(a, "mentornet_messages_blocked_total") == 2

    await eventually(both_dropped, what="node A dropping the blocked member's two messages")
    assert await receive(a.node, mina.state["member"], "main", 10) == []
    assert await mina.receive(wait=0.2) == []

    await mina.unblock(carlos.address)
    await carlos.send(mina.address, "sorry")
    assert await receive_all(mina, 1) == ["sorry"]


async def test_a_report_reaches_the_operator_of_the_reported_members_node(
    two_nodes: list[RunningNode], pair: tuple[MemberClient, MemberClient]
) -> None:
    _, b = two_nodes
    mina, carlos = pair
    await carlos.send_many(mina.address, ["hi", "send me your home address or else"])
    await receive_all(mina, 2)
    threat = next(m for m in mina.conversations()[str(carlos.address)] if m["body"].startswith("send me"))
    report_id = await mina.report(carlos.address, "Threatening messages", [threat["id"]])
    anonymous_id = await mina.report(carlos.address, "Also this", [], anonymous=True)

    by_id = {report["id"]: report for report in await list_reports(b.node)}
    first, second = by_id[report_id], by_id[anonymous_id]
    assert (first["id"], first["member"], first["reporter"]) == (report_id, carlos.state["member"], str(mina.address))
    assert first["from_node"] == mina.state["node"]
    assert [e["body"] for e in first["evidence"]] == ["send me your home address or else"]  # only what was chosen
    assert (second["id"], second["reporter"]) == (anonymous_id, None)

    resolved = await resolve_report(b.node, report_id, "member warned")
    assert resolved["status"] == "resolved" and resolved["resolution"] == "member warned"
    assert [r["id"] for r in await list_reports(b.node)] == [anonymous_id]
    actions = [e.action for e in await b.node.audit_entries()]
    assert actions.count("report.receive") == 2 and "report.resolve" in actions

    with pytest.raises(ClientError, match="no message"):
        await mina.report(carlos.address, "x", ["not-a-message"])
    with pytest.raises(ApiError, match="no member nobody"):
        await mina.report(Address("nobody", carlos.address.node), "x", [])


async def test_a_suspended_member_is_refused_by_their_node(
    two_nodes: list[RunningNode], pair: tuple[MemberClient, MemberClient]
) -> None:
    _, b = two_nodes
    mina, carlos = pair
    await suspend_member(b.node, carlos.state["member"], "report 1 upheld")
    with pytest.raises(ApiError) as refused:
        await carlos.send(mina.address, "still here?")
    assert refused.value.status == 403 and refused.value.code == "suspended"


async def _metric(node: RunningNode, name: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(node.url + "/metrics") as response:
        text = await response.text()
    return sum(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name))

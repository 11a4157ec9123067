"""Group sessions across three nodes: announced through the federation, registered with the host
(capacity kept), messages end to end to every participant, nothing to a member who left."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from client.groups import Groups
from client.member import ClientError
from client.mentoring import Mentoring
from tests.client.test_member import member_at
from tests.client.test_mentoring import updates
from tests.node.federation.cluster import eventually, holding, peered_cluster

CANARY = "CANARY-61b2-group-secret"
AVAILABILITY = {"topics": ["robotics"], "languages": ["en"], "timezone": "UTC", "capacity": 1}


async def test_a_workshop_from_announcement_to_a_member_leaving(tmp_path: Path) -> None:
    async with peered_cluster(tmp_path, ["A", "B", "C"]) as (a, b, c):
        carlos = Mentoring(await member_at(b, "Carlos", "mentor", tmp_path))
        mina = Mentoring(await member_at(a, "Mina", "mentee", tmp_path))
        tom = Mentoring(await member_at(a, "Tom", "mentee", tmp_path))
        chiara = Mentoring(await member_at(c, "Chiara", "mentee", tmp_path))
        with pytest.raises(ClientError, match="announce your availability first"):
            await Groups(carlos.member).announce("ROS basics", "robotics", int(time.time()) + 86_400, 90, 2)
        await carlos.member.announce(dict(AVAILABILITY))
        group_id = await Groups(carlos.member).announce("ROS basics", "robotics", int(time.time()) + 86_400, 90, 2)

        async def listed_at_a() -> bool:
            async with mina.member.api() as api:
                return [g["group"] for g in await api.groups("Robotics")] == [group_id]

        await eventually(listed_at_a, what="the group session reaching node A")
        async with mina.member.api() as api:
            [listing] = await api.groups()
        assert (listing["title"], listing["capacity"], listing["host"]) == ("ROS basics", 2, str(carlos.member.address))

        for joiner in (mina, chiara):
            await Groups(joiner.member).join(carlos.member.address, listing)
            await updates(carlos, 1)
            await updates(joiner, 1)
        await Groups(tom.member).join(carlos.member.address, listing)
        [full] = await updates(carlos, 1)
        assert "which is full" in full.summary
        [declined] = await updates(tom, 1)
        assert declined.summary.endswith("it is full") and Groups(tom.member).show(group_id)["state"] == "declined"
        await updates(mina, 1)  # the roster grew: Chiara joined
        assert Groups(mina.member).show(group_id)["members"] == [str(mina.member.address), str(chiara.member.address)]

        assert await Groups(mina.member).send(group_id, f"Hello all! {CANARY}") == 2
        for other in (carlos, chiara):
            [hello] = await updates(other, 1)
            assert hello.summary == f"[ROS basics] {mina.member.address}: Hello all! {CANARY}"
        with pytest.raises(ClientError, match="not on the roster"):
            await Groups(tom.member).send(group_id, "let me in")

        await Groups(chiara.member).leave(group_id)
        [left] = await updates(carlos, 1)
        assert "left 'ROS basics' (1 of 2)" in left.summary
        await updates(mina, 1)  # the new roster, without Chiara
        assert await Groups(mina.member).send(group_id, "after Chiara left") == 1
        [after] = await updates(carlos, 1)
        assert after.summary.endswith("after Chiara left")
        assert await chiara.receive(wait=1) == []  # nothing was sent to her

        # A stale or forged roster is refused.
        forged = {"type": "group.roster", "group": group_id, "version": 99, "members": [str(tom.member.address)]}
        await tom.member.send_events(mina.member.address, [forged])
        [refused] = await updates(mina, 1)
        assert refused.refused == "only the group's host sends its roster"
        assert holding([a, b, c], CANARY.encode()) == []

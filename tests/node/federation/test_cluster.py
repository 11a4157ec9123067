"""Three institutions' nodes on 127.0.0.1 find each other's mentors, and stay in step."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import col

from node import signing_keys
from node.announcements import publish_availability, withdraw_availability
from node.app import TRANSPORT
from node.federation.inbound import FEDERATION
from node.federation.peers import list_peers, repin_peer
from node.signing_keys import rotate_signing_key
from node.storage.tables import NodeSigningKey
from tests.node.federation.cluster import (
    FAST,
    Clock,
    RunningNode,
    eventually,
    peer_all,
    peered_cluster,
    start_cluster,
    with_settings,
)

AVAILABILITY: dict[str, Any] = {
    "display_name": "Dr. Carla Mentor",
    "bio": "Robotics researcher",
    "topics": ["robotics", "control theory"],
    "languages": ["en", "it"],
    "timezone": "Europe/Rome",
    "capacity": 2,
    "windows": [{"day": 2, "start_minute": 17 * 60, "end_minute": 20 * 60}],
    "credentials": [{"title": "PhD Robotics", "verified": True}],
}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def cluster(tmp_path: Path, clock: Clock) -> AsyncIterator[list[RunningNode]]:
    async with peered_cluster(tmp_path, ["A", "B", "C"], clock) as nodes:
        yield nodes


async def _publish(node: RunningNode, mentor: str, **changes: Any) -> None:
    await publish_availability(node.node, mentor, {**AVAILABILITY, **changes})
    node.changed()


async def _found(node: RunningNode, token: str, query: str = "topic=Robotics") -> list[dict[str, Any]]:
    return await node.search(token, query)


async def test_an_announcement_made_at_c_is_found_at_a_and_b_with_reasons(cluster: list[RunningNode]) -> None:
    a, b, c = cluster
    mentor = await c.invite("Carla", "carla@c.example", "mentor")
    tokens = {node.name: await node.mentee_token() for node in (a, b)}

    await _publish(c, mentor)

    for node in (a, b):
        await eventually(
            lambda node=node: _has(node, tokens[node.name], mentor), what=f"{node.name} finding the mentor"
        )
    (result,) = await a.search(tokens["A"], "topic=robotics&language=it&timezone=Europe/London&window=tue:16:00-18:00")
    assert result["institution"] == "C University" and result["display_name"] == "Dr. Carla Mentor"
    assert result["why"]["shared_topics"] == ["robotics"] and result["why"]["common_languages"] == ["it"]
    assert result["why"]["overlap_hours_per_week"] == 2.0
    assert result["credentials"] == [{"title": "PhD Robotics", "verified": True}]


async def _has(node: RunningNode, token: str, mentor: str, **expected: Any) -> bool:
    found = [r for r in await _found(node, token) if r["mentor"] == mentor]
    return bool(found) and all(found[0][key] == value for key, value in expected.items())


async def _absent(node: RunningNode, token: str, mentor: str) -> bool:
    return not any(r["mentor"] == mentor for r in await _found(node, token))


async def test_an_update_replaces_the_announcement_everywhere(cluster: list[RunningNode]) -> None:
    a, b, c = cluster
    mentor = await c.invite("Carla", "carla@c.example", "mentor")
    tokens = {node.name: await node.mentee_token() for node in (a, b)}
    await _publish(c, mentor)
    for node in (a, b):
        await eventually(lambda node=node: _has(node, tokens[node.name], mentor), what="first version")

    await _publish(c, mentor, capacity=5, bio="Now also teaching")

    for node in (a, b):
        await eventually(
            lambda node=node: _has(node, tokens[node.name], mentor, capacity=5, bio="Now also teaching"),
            what=f"the update at {node.name}",
        )


async def test_a_withdrawal_removes_the_mentor_everywhere(cluster: list[RunningNode]) -> None:
    a, b, c = cluster
    mentor = await c.invite("Carla", "carla@c.example", "mentor")
    tokens = {node.name: await node.mentee_token() for node in (a, b, c)}
    await _publish(c, mentor)
    for node in (a, b):
        await eventually(lambda node=node: _has(node, tokens[node.name], mentor), what="the announcement")

    await withdraw_availability(c.node, mentor)
    c.changed()

    for node in (a, b, c):
        await eventually(lambda node=node: _absent(node, tokens[node.name], mentor), what=f"withdrawal at {node.name}")


async def test_an_expired_announcement_disappears_everywhere(cluster: list[RunningNode], clock: Clock) -> None:
    a, b, c = cluster
    mentor = await c.invite("Carla", "carla@c.example", "mentor")
    tokens = {node.name: await node.mentee_token() for node in (a, b, c)}
    await publish_availability(c.node, mentor, AVAILABILITY, lifetime_days=1)
    c.changed()
    for node in (a, b):
        await eventually(lambda node=node: _has(node, tokens[node.name], mentor), what="the announcement")

    clock.offset = 86_400 + 60

    for node in (a, b, c):
        assert await _absent(node, tokens[node.name], mentor)


async def test_a_node_that_was_down_catches_up_from_the_feed(tmp_path: Path, clock: Clock) -> None:
    # C retries pushes only after a long back-off, so A can only learn the news by pulling C's feed.
    settings = with_settings(FAST, backoff_initial_seconds=600.0, backoff_max_seconds=600.0)
    a, b, c = await start_cluster(tmp_path, ["A", "B", "C"], clock, settings)
    try:
        await peer_all([a, b, c])
        mentor = await c.invite("Carla", "carla@c.example", "mentor")
        token_b = await b.mentee_token()
        await a.stop()

        await _publish(c, mentor)
        await eventually(lambda: _has(b, token_b, mentor), what="B receiving the push")
        await eventually(lambda: _push_failed(c, a.url), what="C noticing that A is down")

        await a.start()
        token_a = await a.mentee_token()
        await eventually(lambda: _has(a, token_a, mentor), what="A catching up from the feed")
    finally:
        for running in (a, b, c):
            await running.stop()


async def _push_failed(node: RunningNode, peer_url: str) -> bool:
    statuses, _ = await list_peers(node.node)
    return any(s.peer.base_url == peer_url and s.peer.failures > 0 and s.backlog > 0 for s in statuses)


async def test_a_search_sends_nothing_to_any_other_node(tmp_path: Path, clock: Clock) -> None:
    # Pull only at start-up, so that after convergence nothing else sends while we search.
    nodes = await start_cluster(tmp_path, ["A", "B", "C"], clock, with_settings(FAST, pull_interval_seconds=3600.0))
    try:
        await peer_all(nodes)
        await _search_sends_nothing(*nodes)
    finally:
        for running in nodes:
            await running.stop()


async def _search_sends_nothing(a: RunningNode, _b: RunningNode, c: RunningNode) -> None:
    mentor = await c.invite("Carla", "carla@c.example", "mentor")
    token = await a.mentee_token()
    await _publish(c, mentor)
    await eventually(lambda: _has(a, token, mentor), what="the announcement at A")
    # The start-up pull from every peer must be over (peer loops start within a few seconds).
    await eventually(lambda: _pulled_from(a, [_b.url, c.url]), what="A's first pull from each peer")
    await eventually(lambda: _quiet(a), what="A's sync going quiet")

    sent_before = len(a.transport.sent)
    for query in ("topic=robotics", "language=en", "timezone=UTC&window=mon:00:00-24:00", "institution=" + c.url):
        await a.search(token, query)

    assert a.transport.sent[sent_before:] == []


async def _pulled_from(node: RunningNode, urls: list[str]) -> bool:
    pulled = {r.url.split("/federation/")[0] for r in node.transport.sent if r.method == "GET" and "since=" in r.url}
    return set(urls) <= pulled


async def _quiet(node: RunningNode) -> bool:
    before = len(node.transport.sent)
    await asyncio.sleep(0.3)
    return len(node.transport.sent) == before


async def test_a_peer_that_rotates_its_key_stays_trusted_through_the_endorsement_chain(
    cluster: list[RunningNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signing_keys, "KEY_SET_TTL_SECONDS", 0.0)
    a, _, c = cluster
    mentor = await c.invite("Carla", "carla@c.example", "mentor")
    token = await a.mentee_token()

    new_key_id, _ = await rotate_signing_key(c.node)
    await _publish(c, mentor)

    await eventually(lambda: _has(a, token, mentor), what="A accepting C's push signed by the new key")
    statuses, _ = await list_peers(a.node)
    (c_at_a,) = [s.peer for s in statuses if s.peer.base_url == c.url]
    assert c_at_a.state == "active" and new_key_id in c_at_a.keys


async def test_a_peer_whose_new_key_is_not_endorsed_must_be_pinned_again(
    cluster: list[RunningNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signing_keys, "KEY_SET_TTL_SECONDS", 0.0)
    a, _, c = cluster
    mentor = await c.invite("Carla", "carla@c.example", "mentor")
    new_key_id, _ = await rotate_signing_key(c.node)
    async with c.node.database.transaction() as session:  # as if C had lost its old key: no endorsement
        await session.execute(
            update(NodeSigningKey)
            .where(col(NodeSigningKey.key_id) == new_key_id)
            .values(endorsed_by=None, endorsement=None)
        )

    await _publish(c, mentor)

    async def needs_repin() -> bool:
        statuses, _ = await list_peers(a.node)
        return any(s.peer.base_url == c.url and s.peer.state == "needs-repin" for s in statuses)

    await eventually(needs_repin, what="A marking C as needs-repin")
    await repin_peer(a.node, a.app[TRANSPORT], c.url, await c.fingerprint())
    a.app[FEDERATION].directory.invalidate()
    token = await a.mentee_token()
    await eventually(lambda: _has(a, token, mentor), what="A accepting C after the operator re-pinned it")

"""Federation policy: open admission, blocking, removal, retired keys, and who may attest what."""

from __future__ import annotations

import dataclasses
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import crypto
from node.announcements import ingest, publish_availability
from node.client_api import INDEX
from node.discovery import make_query
from node.federation.inbound import FEDERATION
from node.federation.peers import add_peer, block_host, list_peers, remove_peer
from node.members import MemberProfile, invite_member, remove_member
from node.signing_keys import load_key_set
from node.storage.announcements import AnnouncementStore
from node.storage.peers import PeerStore
from protocol.encoding import b64encode
from tests.node.federation.cluster import (
    FAST,
    Clock,
    RunningNode,
    eventually,
    peered_cluster,
    start_cluster,
    with_settings,
)
from tests.node.federation.test_inbound import PATH, RemotePeer, _body, _post

AVAILABILITY: dict[str, Any] = {
    "topics": ["robotics"],
    "languages": ["en"],
    "timezone": "UTC",
    "capacity": 1,
    "credentials": [{"title": "PhD Robotics", "verified": True}],
}


@pytest.fixture
async def pair(tmp_path: Path) -> AsyncIterator[list[RunningNode]]:
    async with peered_cluster(tmp_path, ["A", "B"]) as nodes:
        yield nodes


async def _origins(node: RunningNode) -> set[str]:
    async with node.node.database.transaction() as session:
        return {item.origin for item in await AnnouncementStore(session).feed(0, 1000)}


async def _publish(node: RunningNode, mentor: str, **changes: Any) -> None:
    await publish_availability(node.node, mentor, {**AVAILABILITY, **changes})
    node.changed()


async def test_an_open_node_admits_a_peer_whose_signed_request_passes_every_check(tmp_path: Path) -> None:
    a, b = await start_cluster(tmp_path, ["A", "B"], Clock())
    await b.stop()
    b.config = dataclasses.replace(b.config, federation=with_settings(FAST, open=True))
    await b.start()
    try:
        await add_peer(a.node, a.transport, b.url, await b.fingerprint())  # A pins B; B never heard of A
        mentor = await a.invite("Ann", "ann@a.example", "mentor")
        await _publish(a, mentor)
        await eventually(lambda: _has_origin(b, a.url), what="B admitting A and taking its announcement")
        statuses, _ = await list_peers(b.node)
        assert [s.peer.base_url for s in statuses] == [a.url]
        assert (await b.node.audit_entries())[-1].action == "peer.admit-open"
    finally:
        await a.stop()
        await b.stop()


async def _has_origin(node: RunningNode, origin: str) -> bool:
    return origin in await _origins(node)


async def test_an_open_node_does_not_admit_a_node_whose_request_is_forged(tmp_path: Path) -> None:
    a, b = await start_cluster(tmp_path, ["A", "B"], Clock(), with_settings(FAST, open=True))
    try:
        forger = RemotePeer(crypto.SigningKey(secrets.token_bytes(32)), base_url=a.url)
        now = b.clock()
        body = _body()
        real_key_id = (await load_key_set(a.node)).signer.key_id
        status, answer = await _post(
            b, forger.signed(b.url + PATH, body, created=now, keyid=f"{a.url}#{real_key_id}"), body
        )
        assert (status, answer["error"]) == (401, "bad_signature")
        statuses, _ = await list_peers(b.node)
        assert statuses == []
    finally:
        await a.stop()
        await b.stop()


async def test_a_blocked_peer_is_not_believed_and_its_mentors_disappear(pair: list[RunningNode]) -> None:
    a, b = pair
    mentor = await a.invite("Ann", "ann@a.example", "mentor")
    await _publish(a, mentor)
    await eventually(lambda: _indexed(b, mentor), what="B finding A's mentor")

    await block_host(b.node, "127.0.0.1")  # every test node lives on 127.0.0.1
    b.app[FEDERATION].directory.invalidate()

    assert not await _indexed(b, mentor)
    results = await ingest(b.node, [json.loads(item) for item in await _raws(a)])
    assert {r.error for r in results} == {"unknown_origin"}


async def _indexed(node: RunningNode, mentor: str) -> bool:
    found = await node.app[INDEX].search(make_query(topics=["robotics"], now=node.clock()))
    return any(listing.announcement.mentor == mentor for _, listing in found)


async def _raws(node: RunningNode) -> list[str]:
    async with node.node.database.transaction() as session:
        return [item.raw for item in await AnnouncementStore(session).feed(0, 1000)]


async def _found(node: RunningNode, token: str, mentor: str) -> bool:
    return any(r["mentor"] == mentor for r in await node.search(token, "topic=robotics"))


async def test_removing_a_peer_drops_its_announcements(pair: list[RunningNode]) -> None:
    a, b = pair
    mentor = await a.invite("Ann", "ann@a.example", "mentor")
    await _publish(a, mentor)
    await eventually(lambda: _has_origin(b, a.url), what="B receiving A's announcement")

    await remove_peer(b.node, a.url)

    assert a.url not in await _origins(b)


async def test_removing_a_member_withdraws_their_availability_everywhere(pair: list[RunningNode]) -> None:
    a, b = pair
    token = await b.mentee_token()
    mentor = await a.invite("Ann", "ann@a.example", "mentor")
    await _publish(a, mentor)
    await eventually(lambda: _found(b, token, mentor), what="B finding A's mentor")

    await remove_member(a.node, mentor)
    a.changed()

    await eventually(lambda: _gone(b, token, mentor), what="the withdrawal reaching B")


async def _gone(node: RunningNode, token: str, mentor: str) -> bool:
    return not await _found(node, token, mentor)


async def test_a_mentor_cannot_mark_their_own_credentials_verified(pair: list[RunningNode]) -> None:
    a, _ = pair
    invitation = await invite_member(a.node, MemberProfile.validated(name="Mo", email="mo@a.example"), "mentor")
    status, registered = await a.client("POST", "/client/v1/register", body={"invite_code": invitation.code})
    assert status == 201

    status, answer = await a.client(
        "PUT", "/client/v1/me/availability", token=registered["access_token"], body={"availability": AVAILABILITY}
    )

    assert status == 200
    assert answer["announcement"]["availability"]["credentials"] == [{"title": "PhD Robotics", "verified": False}]
    audit = await a.node.audit_entries()
    assert (audit[-1].action, audit[-1].actor) == ("member.announce", f"member:{registered['member_id']}")


async def test_a_retired_key_can_no_longer_sign_requests(tmp_path: Path) -> None:
    (b,) = await start_cluster(tmp_path, ["B"], Clock())
    try:
        peer = RemotePeer(crypto.SigningKey(secrets.token_bytes(32)))
        async with b.node.database.transaction() as session:
            await PeerStore(session).add(
                base_url=peer.base_url,
                host="remote.example",
                name="Remote",
                pinned_fingerprint="sha256:" + "0" * 64,
                keys={peer.key.key_id: {"public_key": b64encode(peer.key.public_key), "expired_at": b.clock() - 10}},
                now=b.clock(),
            )
        b.app[FEDERATION].directory.invalidate()
        body = _body()
        status, answer = await _post(b, peer.signed(b.url + PATH, body, created=b.clock()), body)
        assert (status, answer["error"]) == (401, "bad_signature")
    finally:
        await b.stop()


async def test_a_retired_key_still_vouches_only_for_what_it_signed_before_retirement(tmp_path: Path) -> None:
    (b,) = await start_cluster(tmp_path, ["B"], Clock())
    try:
        old, new = RemotePeer(crypto.SigningKey(secrets.token_bytes(32))), crypto.SigningKey(secrets.token_bytes(32))
        retired_at = b.clock() - 100
        async with b.node.database.transaction() as session:
            await PeerStore(session).add(
                base_url=old.base_url,
                host="remote.example",
                name="Remote",
                pinned_fingerprint="sha256:" + "0" * 64,
                keys={
                    old.key.key_id: {"public_key": b64encode(old.key.public_key), "expired_at": retired_at},
                    new.key_id: {"public_key": b64encode(new.public_key), "expired_at": None},
                },
                now=b.clock(),
            )
        before = old.announcement("before", 1, retired_at - 50)
        after = old.announcement("after", 1, retired_at + 50)

        results = await ingest(b.node, [before, after])

        assert [(r.mentor, r.status) for r in results] == [("before", "accepted"), (None, "rejected")]
        assert results[1].message == "signed by a key that was retired before the announcement was issued"
    finally:
        await b.stop()

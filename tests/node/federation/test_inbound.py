"""Bad federation input is refused with a clear code and status, counted, and changes nothing."""

from __future__ import annotations

import io
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

import crypto
from node.federation.inbound import FEDERATION
from node.federation.peers import block_host
from node.storage.announcements import AnnouncementStore
from node.storage.peers import PeerStore
from protocol.announcement import build_announcement
from protocol.encoding import b64encode
from protocol.http_signatures import HttpRequest, content_digest, sign_request
from tests.node.federation.cluster import FAST, Clock, RunningNode, start_cluster, with_settings

PATH = "/federation/v1/announcements"
REMOTE = "https://remote.example"


@dataclass
class RemotePeer:
    """A peer that exists only as a signing key and a URL: it makes signed requests by hand."""

    key: crypto.SigningKey
    base_url: str = REMOTE

    @property
    def keyid(self) -> str:
        return f"{self.base_url}#{self.key.key_id}"

    def announcement(self, mentor: str, seq: int, now: int, **changes: Any) -> dict[str, Any]:
        availability = {"topics": ["chemistry"], "languages": ["en"], "timezone": "UTC", "capacity": 1, **changes}
        return build_announcement(
            origin=self.base_url, mentor=mentor, seq=seq, issued_at=now, availability=availability, signer=self.key
        )

    def signed(
        self,
        target: str,
        body: bytes,
        *,
        created: int,
        method: str = "POST",
        key: crypto.SigningKey | None = None,
        keyid: str | None = None,
    ) -> dict[str, str]:
        headers = {"content-type": "application/json", "content-digest": content_digest(body)}
        request = HttpRequest(method=method, target_uri=target, headers=headers)
        headers.update(
            sign_request(
                request, key or self.key, keyid=keyid or self.keyid, created=created, nonce=secrets.token_urlsafe(18)
            )
        )
        return headers


@pytest.fixture
async def target(tmp_path: Path) -> AsyncIterator[RunningNode]:
    settings = with_settings(FAST, requests_per_minute=30)
    (running,) = await start_cluster(tmp_path, ["B"], Clock(), settings)
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def remote(target: RunningNode) -> RemotePeer:
    peer = RemotePeer(crypto.SigningKey(secrets.token_bytes(32)))
    async with target.node.database.transaction() as session:
        await PeerStore(session).add(
            base_url=REMOTE,
            host="remote.example",
            name="Remote College",
            pinned_fingerprint=crypto.fingerprint(peer.key.public_key),
            keys={peer.key.key_id: {"public_key": b64encode(peer.key.public_key), "expired_at": None}},
            now=target.clock(),
        )
    target.app[FEDERATION].directory.invalidate()
    return peer


async def _post(node: RunningNode, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(node.url + PATH, headers=headers, data=io.BytesIO(body)) as response,
    ):
        return response.status, await response.json()


def _body(*announcements: dict[str, Any]) -> bytes:
    return json.dumps({"announcements": list(announcements)}).encode()


async def _stored(node: RunningNode) -> list[tuple[str, str, int]]:
    async with node.node.database.transaction() as session:
        return [(a.origin, a.mentor, a.seq) for a in await AnnouncementStore(session).feed(0, 1000)]


async def _rejections(node: RunningNode, reason: str) -> float:
    async with aiohttp.ClientSession() as session, session.get(node.url + "/metrics") as response:
        text = await response.text()
    for line in text.splitlines():
        if line.startswith(f'mentornet_federation_rejected_total{{reason="{reason}"}}'):
            return float(line.split()[-1])
    return 0.0


async def test_a_signed_batch_from_a_peer_is_accepted_per_item(target: RunningNode, remote: RemotePeer) -> None:
    now = target.clock()
    body = _body(remote.announcement("m1", 1, now), remote.announcement("m2", 1, now), {"not": "an announcement"})
    status, answer = await _post(target, remote.signed(target.url + PATH, body, created=now), body)
    assert status == 200
    assert [r["status"] for r in answer["results"]] == ["accepted", "accepted", "rejected"]
    assert await _stored(target) == [(REMOTE, "m1", 1), (REMOTE, "m2", 1)]


async def test_an_older_or_equal_seq_is_refused_as_stale(target: RunningNode, remote: RemotePeer) -> None:
    now = target.clock()
    newer = _body(remote.announcement("m1", 2, now, capacity=9))
    await _post(target, remote.signed(target.url + PATH, newer, created=now), newer)
    older = _body(remote.announcement("m1", 1, now), remote.announcement("m1", 2, now))
    status, answer = await _post(target, remote.signed(target.url + PATH, older, created=now), older)
    assert status == 200 and [r["status"] for r in answer["results"]] == ["stale", "stale"]
    assert await _stored(target) == [(REMOTE, "m1", 2)]


async def test_an_announcement_from_an_unknown_origin_is_refused_even_when_relayed(
    target: RunningNode, remote: RemotePeer
) -> None:
    stranger = RemotePeer(crypto.SigningKey(secrets.token_bytes(32)), base_url="https://stranger.example")
    now = target.clock()
    body = _body(stranger.announcement("s1", 1, now))
    status, answer = await _post(target, remote.signed(target.url + PATH, body, created=now), body)
    assert status == 200 and answer["results"][0]["error"] == "unknown_origin"
    assert await _stored(target) == []


async def test_an_announcement_forged_in_the_origins_name_is_refused(target: RunningNode, remote: RemotePeer) -> None:
    now = target.clock()
    forger = RemotePeer(crypto.SigningKey(secrets.token_bytes(32)))
    forged = forger.announcement("m1", 1, now)
    forged["signature"]["key_id"] = remote.key.key_id
    body = _body(forged)
    status, answer = await _post(target, remote.signed(target.url + PATH, body, created=now), body)
    assert status == 200 and answer["results"][0]["error"] == "bad_signature"
    assert await _stored(target) == []


async def test_an_altered_announcement_is_refused(target: RunningNode, remote: RemotePeer) -> None:
    now = target.clock()
    altered = remote.announcement("m1", 1, now)
    altered["availability"]["capacity"] = 99
    body = _body(altered)
    _, answer = await _post(target, remote.signed(target.url + PATH, body, created=now), body)
    assert answer["results"][0]["error"] == "bad_signature"


async def test_an_expired_announcement_is_refused(target: RunningNode, remote: RemotePeer) -> None:
    now = target.clock()
    old = remote.announcement("m1", 1, now - 20 * 86_400)
    body = _body(old)
    _, answer = await _post(target, remote.signed(target.url + PATH, body, created=now), body)
    assert answer["results"][0]["error"] == "stale"
    assert await _stored(target) == []


REFUSALS = [
    "forged_request",
    "altered_body",
    "replayed",
    "expired_request",
    "oversized",
    "malformed_json",
    "unknown_peer",
    "blocked",
    "wrong_target",
]


@pytest.mark.parametrize("case", REFUSALS)
async def test_bad_requests_are_refused_counted_and_change_nothing(
    case: str, target: RunningNode, remote: RemotePeer
) -> None:
    now = target.clock()
    good = _body(remote.announcement("m1", 1, now))
    headers = remote.signed(target.url + PATH, good, created=now)
    body = good
    expected_status, expected_code = {
        "forged_request": (401, "bad_signature"),
        "altered_body": (400, "bad_digest"),
        "replayed": (401, "replayed"),
        "expired_request": (401, "stale"),
        "oversized": (413, "too_large"),
        "malformed_json": (400, "malformed"),
        "unknown_peer": (403, "unknown_node"),
        "blocked": (403, "blocked"),
        "wrong_target": (401, "bad_signature"),
    }[case]
    if case == "forged_request":
        headers = remote.signed(target.url + PATH, good, created=now, key=crypto.SigningKey(bytes(32)))
    elif case == "altered_body":
        body = _body(remote.announcement("m1", 1, now, capacity=50))
    elif case == "replayed":
        assert (await _post(target, headers, body))[0] == 200
    elif case == "expired_request":
        headers = remote.signed(target.url + PATH, good, created=now - 120)
    elif case == "oversized":
        body = b'{"announcements": ["' + b"x" * (target.config.max_body_bytes + 10) + b'"]}'
        headers = remote.signed(target.url + PATH, body, created=now)
    elif case == "malformed_json":
        body = b'{"announcements": [tru'
        headers = remote.signed(target.url + PATH, body, created=now)
    elif case == "unknown_peer":
        headers = remote.signed(
            target.url + PATH, good, created=now, keyid="https://nobody.example#" + remote.key.key_id
        )
    elif case == "blocked":
        await block_host(target.node, "remote.example")
        target.app[FEDERATION].directory.invalidate()
    elif case == "wrong_target":
        headers = remote.signed("http://127.0.0.1:1" + PATH, good, created=now)
    stored_before = await _stored(target)
    counted_before = await _rejections(target, expected_code)

    status, answer = await _post(target, headers, body)

    assert (status, answer["error"]) == (expected_status, expected_code), answer
    assert answer["message"]
    assert await _stored(target) == stored_before
    assert await _rejections(target, expected_code) == counted_before + 1
    health = await target.client("GET", "/healthz")
    assert health == (200, {"status": "ok", "database": "ok"})


async def test_more_requests_than_the_rate_limit_are_refused(target: RunningNode, remote: RemotePeer) -> None:
    now = target.clock()
    statuses = []
    for _ in range(35):
        body = _body()
        statuses.append((await _post(target, remote.signed(target.url + PATH, body, created=now), body))[0])
    assert statuses[:30] == [200] * 30
    assert set(statuses[30:]) == {429}
    assert await _rejections(target, "rate_limited") == 5


async def test_announcements_are_checked_in_worker_processes_when_configured(tmp_path: Path) -> None:
    (node,) = await start_cluster(tmp_path, ["P"], Clock(), with_settings(FAST, verify_processes=1))
    try:
        peer = RemotePeer(crypto.SigningKey(secrets.token_bytes(32)))
        async with node.node.database.transaction() as session:
            await PeerStore(session).add(
                base_url=REMOTE,
                host="remote.example",
                name="Remote College",
                pinned_fingerprint="sha256:" + "0" * 64,
                keys={peer.key.key_id: {"public_key": b64encode(peer.key.public_key), "expired_at": None}},
                now=node.clock(),
            )
        node.app[FEDERATION].directory.invalidate()
        now = node.clock()
        forged = peer.announcement("m2", 1, now)
        forged["availability"]["capacity"] = 7
        body = _body(peer.announcement("m1", 1, now), forged)

        status, answer = await _post(node, peer.signed(node.url + PATH, body, created=now), body)

        assert status == 200
        assert [(r["status"], r.get("error")) for r in answer["results"]] == [
            ("accepted", None),
            ("rejected", "bad_signature"),
        ]
        assert node.app[FEDERATION].verify_pool is not None
    finally:
        await node.stop()

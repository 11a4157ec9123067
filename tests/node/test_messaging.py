"""The node's side of messaging: keys it checks and hands out once, mailboxes, idempotent delivery."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

import crypto
from crypto.pqxdh import DeviceSecrets, PreKeyKind, SignedPreKey
from node.app import build_app
from node.config import NodeConfig
from node.errors import Conflict, NotFound
from node.instance import Node
from node.keyring import UnlockSecret
from node.members import MemberProfile, invite_member, redeem_invite
from node.messaging import (
    DUPLICATE,
    MAX_CIPHERTEXT,
    Recipient,
    accept_delivery,
    acknowledge,
    add_prekeys,
    block_sender,
    key_bundles,
    outgoing,
    prekey_counts,
    receive,
    register_device,
    send,
    sender_handle,
    unblock_sender,
)
from node.openapi import OPENAPI
from protocol.devices import BundleWire, PreKeyWire, build_device_list
from protocol.encoding import b64encode
from protocol.errors import BadSignature, InvalidField, MalformedMessage

ClientFactory = Callable[[web.Application], Awaitable[TestClient]]  # type: ignore[type-arg]


def wire(key: SignedPreKey) -> dict[str, Any]:
    return dict(json.loads(PreKeyWire.of(key).model_dump_json()))


def upload(device: DeviceSecrets, member_id: str, *, signer: crypto.SigningKey | None = None) -> dict[str, Any]:
    return {
        "device": "main",
        "device_list": build_device_list(
            signer or device.signer, member_id, 1, {"main": device.identity_dh().public_key}
        ),
        "identity_dh": wire(device.identity_dh()),
        "signed_prekey": wire(device.public_prekey(PreKeyKind.X25519, device.signed_prekey_id)),
        "pq_prekey": wire(device.public_prekey(PreKeyKind.MLKEM768, device.pq_prekey_id)),
        "one_time_prekeys": [wire(key) for key in device.one_time_prekeys()],
    }


async def new_member(node: Node, name: str = "Ada") -> str:
    invitation = await invite_member(node, MemberProfile.validated(name=name, email=f"{name}@uni.example"), "mentor")
    return invitation.member_id


async def registered(node: Node, one_time: int = 2) -> tuple[str, DeviceSecrets]:
    member_id = await new_member(node)
    device = DeviceSecrets.generate(one_time=one_time)
    await register_device(node, member_id, upload(device, member_id))
    return member_id, device


async def test_each_one_time_prekey_is_handed_out_once(node: Node) -> None:
    member_id, _ = await registered(node, one_time=2)
    assert await prekey_counts(node, member_id, "main") == {"x25519": 2, "mlkem768": 2}
    handed = [await key_bundles(node, member_id) for _ in range(3)]
    one_time_ids = [b["bundles"][0].get("one_time_prekey", {}).get("id") for b in handed]
    assert one_time_ids[0] != one_time_ids[1] and None not in one_time_ids[:2]
    assert one_time_ids[2] is None  # used up: the bundle falls back to the signed keys
    assert "pq_one_time_prekey" not in handed[2]["bundles"][0]
    assert await prekey_counts(node, member_id, "main") == {}
    for bundle in handed:  # every bundle still verifies end to end
        BundleWire.model_validate_json(json.dumps(bundle["bundles"][0])).bundle()


async def test_the_device_list_alone_uses_up_no_prekey(node: Node) -> None:
    member_id, _ = await registered(node)
    listed = await key_bundles(node, member_id, bundles=False)
    assert listed["bundles"] == [] and listed["device_list"]["member"] == member_id
    assert await prekey_counts(node, member_id, "main") == {"x25519": 2, "mlkem768": 2}


async def test_a_device_list_not_signed_by_its_identity_key_is_refused(node: Node) -> None:
    member_id = await new_member(node)
    device = DeviceSecrets.generate(one_time=1)
    forged = upload(device, member_id)
    forged["device_list"]["version"] = 2  # altered after signing
    with pytest.raises(BadSignature):
        await register_device(node, member_id, forged)
    with pytest.raises(NotFound):
        await key_bundles(node, member_id)


async def test_the_identity_key_of_a_member_cannot_change(node: Node) -> None:
    member_id, _ = await registered(node)
    usurper = DeviceSecrets.generate(one_time=1)
    with pytest.raises(Conflict, match="cannot change"):
        await register_device(node, member_id, upload(usurper, member_id))


async def test_a_prekey_not_signed_by_the_identity_key_is_refused_and_nothing_is_stored(node: Node) -> None:
    member_id, device = await registered(node, one_time=1)
    stranger = DeviceSecrets.generate(one_time=1)
    with pytest.raises(BadSignature):
        await add_prekeys(node, member_id, "main", [wire(k) for k in stranger.one_time_prekeys()])
    assert await prekey_counts(node, member_id, "main") == {"x25519": 1, "mlkem768": 1}
    fresh = device.new_one_time_prekeys(2)
    assert await add_prekeys(node, member_id, "main", [wire(k) for k in fresh]) == {"x25519": 3, "mlkem768": 3}


async def test_a_device_list_for_another_member_is_refused(node: Node) -> None:
    member_id = await new_member(node)
    device = DeviceSecrets.generate()
    with pytest.raises(InvalidField, match="another member"):
        await register_device(node, member_id, upload(device, "someone-else"))


async def test_a_local_message_waits_until_acknowledged_and_is_never_stored_twice(node: Node) -> None:
    member_id, _ = await registered(node)
    message = outgoing(Recipient(node.config.base_url, member_id, "main"), "m1", b"sealed-1")
    assert await send(node, "sender", [message, message], []) == (
        [{"id": "m1", "status": "delivered"}, {"id": "m1", "status": DUPLICATE}],
        0,
    )
    waiting = await receive(node, member_id, "main", 10)
    assert [(m.message_id, m.ciphertext) for m in waiting] == [("m1", b"sealed-1")]
    assert await acknowledge(node, member_id, "main", ["m1"]) == 1
    assert await receive(node, member_id, "main", 10) == []
    assert (await send(node, "sender", [message], []))[0][0]["status"] == DUPLICATE  # remembered after deletion


async def test_each_message_of_a_send_is_answered_on_its_own(node: Node) -> None:
    member_id, _ = await registered(node)
    here = node.config.base_url
    results, _ = await send(
        node,
        "sender",
        [
            outgoing(Recipient(here, member_id, "tablet"), "m1", b"x"),
            outgoing(Recipient("https://elsewhere.example", member_id, "main"), "m2", b"x"),
            outgoing(Recipient("https://peer.example", "someone", "main"), "m3", b"x"),
            outgoing(Recipient(here, member_id, "main"), "m4", b"x"),
        ],
        ["https://peer.example"],
    )
    assert [(r["status"], r.get("error")) for r in results] == [
        ("rejected", "unknown_recipient"),
        ("rejected", "not_a_peer"),
        ("queued", None),
        ("delivered", None),
    ]


def test_a_malformed_message_id_or_size_is_refused() -> None:
    here = Recipient("https://uni.example", "m", "main")
    with pytest.raises(InvalidField, match="message id"):
        outgoing(here, "bad id!", b"x")
    with pytest.raises(InvalidField, match="sealed message"):
        outgoing(here, "ok", b"")
    with pytest.raises(InvalidField, match="sealed message"):
        outgoing(here, "ok", bytes(MAX_CIPHERTEXT + 1))


async def test_a_repeated_delivery_transaction_gets_the_same_answer_and_stores_once(node: Node) -> None:
    member_id, _ = await registered(node)
    items = [
        {"id": "a1", "member": member_id, "device": "main", "ciphertext": b64encode(b"one")},
        {"id": "a2", "member": "nobody", "device": "main", "ciphertext": b64encode(b"two")},
        {"id": "a3", "member": member_id, "device": "main"},
    ]
    first, touched, _ = await accept_delivery(node, "https://peer.example", "txn-1", items)
    assert [r["status"] for r in first] == ["delivered", "rejected", "rejected"]
    assert [r.get("error") for r in first] == [None, "unknown_recipient", "malformed"]
    assert touched == {(member_id, "main")}
    again, _, _ = await accept_delivery(node, "https://peer.example", "txn-1", items)
    assert again == first
    retried, _, _ = await accept_delivery(node, "https://peer.example", "txn-2", items[:1])
    assert retried[0]["status"] == DUPLICATE
    assert len(await receive(node, member_id, "main", 10)) == 1


async def test_a_blocked_senders_messages_are_dropped_and_the_sender_is_not_told(node: Node) -> None:
    member_id, _ = await registered(node)
    here = Recipient(node.config.base_url, member_id, "main")
    handle = sender_handle(node, "pest", here)
    assert handle != sender_handle(node, "friend", here)
    assert handle != sender_handle(node, "pest", Recipient(node.config.base_url, "someone-else", "main"))
    await send(node, "pest", [outgoing(here, "p1", b"unread")], [])
    assert await block_sender(node, member_id, node.config.base_url, handle) == 1  # the waiting one goes too

    results, blocked = await send(node, "pest", [outgoing(here, "p2", b"x")], [])
    assert results == [{"id": "p2", "status": "delivered"}] and blocked == 1
    remote = [{"id": "r1", "member": member_id, "device": "main", "ciphertext": b64encode(b"x"), "sender": "h1"}]
    await block_sender(node, member_id, "https://peer.example", "h1")
    answered, touched, dropped = await accept_delivery(node, "https://peer.example", "txn-9", remote)
    assert answered[0]["status"] == "delivered" and touched == set() and dropped == 1
    await send(node, "friend", [outgoing(here, "f1", b"welcome")], [])
    assert [m.message_id for m in await receive(node, member_id, "main", 10)] == ["f1"]

    assert await unblock_sender(node, member_id, node.config.base_url, handle)
    await send(node, "pest", [outgoing(here, "p3", b"again")], [])
    assert [(m.message_id, m.sender) for m in await receive(node, member_id, "main", 10)] == [
        ("f1", sender_handle(node, "friend", here)),
        ("p3", handle),
    ]
    with pytest.raises(MalformedMessage):
        await block_sender(node, member_id, node.config.base_url, "not a handle!")


def _app(config: NodeConfig) -> web.Application:
    assert config.key_file is not None
    return build_app(config, UnlockSecret.from_key_file(config.key_file))


async def test_client_messaging_endpoints_need_a_valid_token(node: Node, aiohttp_client: ClientFactory) -> None:
    await node.close()
    client = await aiohttp_client(_app(node.config))
    for method, path in (("GET", "/client/v1/messages?device=main"), ("POST", "/client/v1/messages")):
        response = await client.request(method, path, headers={"Authorization": "Bearer not-a-token"})
        assert response.status == 401
        assert (await response.json())["error"] == "unauthorized"


async def test_bad_query_values_are_client_errors(node: Node, aiohttp_client: ClientFactory) -> None:
    invitation = await invite_member(node, MemberProfile.validated(name="Bo", email="bo@uni.example"), "mentee")
    registration = await redeem_invite(node, invitation.code)
    await node.close()
    client = await aiohttp_client(_app(node.config))
    auth = {"Authorization": f"Bearer {registration.access_token}"}
    keys = await client.get("/client/v1/keys?node=notaurl&member=x", headers=auth)
    assert keys.status == 400 and (await keys.json())["error"] == "invalid_field"
    device = DeviceSecrets.generate()
    await client.put("/client/v1/me/devices/main", json=upload(device, registration.member_id), headers=auth)
    negative = await client.get("/client/v1/messages?device=main&limit=-1", headers=auth)
    assert negative.status == 200 and (await negative.json())["messages"] == []


async def test_client_requests_are_limited_per_token(node: Node, aiohttp_client: ClientFactory) -> None:
    tokens = []
    for name in ("Bo", "Cy"):
        invitation = await invite_member(
            node, MemberProfile.validated(name=name, email=f"{name}@uni.example"), "mentee"
        )
        tokens.append((await redeem_invite(node, invitation.code)).access_token)
    await node.close()
    client = await aiohttp_client(_app(dataclasses.replace(node.config, client_requests_per_minute=3)))
    statuses = [
        (await client.get("/client/v1/mentors", headers={"Authorization": f"Bearer {tokens[0]}"})).status
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    other = await client.get("/client/v1/mentors", headers={"Authorization": f"Bearer {tokens[1]}"})
    assert other.status == 200  # another token has its own allowance


async def test_the_openapi_document_describes_every_client_route(node: Node, aiohttp_client: ClientFactory) -> None:
    await node.close()
    app = _app(node.config)
    client = await aiohttp_client(app)
    response = await client.get("/client/v1/openapi.json")
    assert response.status == 200 and (await response.json())["openapi"].startswith("3.1")
    served = {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/client/v1") and route.method != "HEAD"
    }
    described = {(method, path) for path, item in OPENAPI["paths"].items() for method in item}
    assert served == described


async def test_register_then_exchange_over_http(node: Node, aiohttp_client: ClientFactory) -> None:
    invitation = await invite_member(node, MemberProfile.validated(name="Bo", email="bo@uni.example"), "mentee")
    registration = await redeem_invite(node, invitation.code)
    await node.close()
    client = await aiohttp_client(_app(node.config))
    auth = {"Authorization": f"Bearer {registration.access_token}"}
    device = DeviceSecrets.generate(one_time=1)
    put = await client.put("/client/v1/me/devices/main", json=upload(device, registration.member_id), headers=auth)
    assert put.status == 200, await put.text()
    message = {"to": {"node": node.config.base_url, "member": registration.member_id, "device": "main"}}
    sent = await client.post(
        "/client/v1/messages", json={"messages": [{**message, "id": "x1", "ciphertext": "c2VhbGVk"}]}, headers=auth
    )
    assert (await sent.json())["results"] == [{"id": "x1", "status": "delivered"}]
    got = await client.get("/client/v1/messages?device=main&wait=0.1", headers=auth)
    assert [m["id"] for m in (await got.json())["messages"]] == ["x1"]
    acked = await client.post("/client/v1/messages/ack", json={"device": "main", "ids": ["x1"]}, headers=auth)
    assert (await acked.json())["acknowledged"] == 1

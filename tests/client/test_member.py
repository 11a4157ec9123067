"""A mentee at node A and a mentor at node B talk through the reference client; no node can read it."""

from __future__ import annotations

import dataclasses
import logging
import time
from pathlib import Path

import pytest

from client.api import ApiError, NodeApi
from client.member import (
    DAY_SECONDS,
    ONE_TIME_PREKEYS,
    REFILL_BELOW,
    RETIRED_PREKEY_DAYS,
    Address,
    ClientError,
    IdentityChanged,
    MemberClient,
)
from crypto.pqxdh import PreKeyKind
from crypto.sealed import seal
from node.members import MemberProfile, invite_member
from node.messaging import key_bundles
from node.storage.messaging import OutboxStore
from protocol.encoding import b64decode, b64encode
from tests.node.federation.cluster import RunningNode, holding, peered_cluster

PASSPHRASE = "correct horse battery staple"


async def member_at(node: RunningNode, name: str, role: str, keystores: Path) -> MemberClient:
    """Invite a member at ``node`` and register their client with the invite code."""
    invitation = await invite_member(
        node.node, MemberProfile.validated(name=name, email=f"{name.lower()}@{node.name.lower()}.example"), role
    )
    return await MemberClient.register(node.url, invitation.code, keystores / f"{name}.keystore", PASSPHRASE)


async def receive_all(client: MemberClient, count: int) -> list[str]:
    bodies: list[str] = []
    for _ in range(50):
        bodies += [r.event["body"] for r in await client.receive(wait=1)]
        if len(bodies) >= count:
            break
    return bodies


async def test_a_mentee_and_a_mentor_at_two_nodes_exchange_messages_both_ways_in_order(
    pair: tuple[MemberClient, MemberClient],
) -> None:
    mentee, mentor = pair

    sent = [f"question {i}" for i in range(5)]
    await mentee.send_many(mentor.address, sent)
    assert await receive_all(mentor, 5) == sent

    replies = [f"answer {i}" for i in range(5)]
    await mentor.send_many(mentee.address, replies)
    assert await receive_all(mentee, 5) == replies

    await mentee.send(mentor.address, "thanks!")
    assert await receive_all(mentor, 1) == ["thanks!"]
    # Exactly once: nothing more arrives, and both sides keep the conversation in order.
    assert await mentor.receive(wait=0.2) == []
    history = mentor.conversations()[str(mentee.address)]
    assert [(m["direction"], m["body"]) for m in history] == [("in", s) for s in sent] + [
        ("out", r) for r in replies
    ] + [("in", "thanks!")]


async def test_single_messages_sent_one_after_another_all_arrive(pair: tuple[MemberClient, MemberClient]) -> None:
    # Each leaves the outbox empty before the next: a transaction id made of row numbers, which
    # SQLite hands out again, once made the receiver answer the second as a repeat of the first.
    mentee, mentor = pair
    for text in ("one", "two", "three"):
        await mentee.send(mentor.address, text)
        assert await receive_all(mentor, 1) == [text]


async def test_a_reopened_keystore_continues_the_conversation(
    pair: tuple[MemberClient, MemberClient], tmp_path: Path
) -> None:
    mentee, mentor = pair
    await mentee.send(mentor.address, "first")
    assert await receive_all(mentor, 1) == ["first"]
    mentor = MemberClient.open(tmp_path / "Carlos.keystore", PASSPHRASE)
    await mentor.send(mentee.address, "reply after a restart")
    assert await receive_all(mentee, 1) == ["reply after a restart"]


async def test_safety_numbers_match_and_a_changed_identity_blocks_sending(
    pair: tuple[MemberClient, MemberClient],
) -> None:
    mentee, mentor = pair
    await mentee.send(mentor.address, "hello")
    await receive_all(mentor, 1)
    assert mentee.safety_number(mentor.address) == mentor.safety_number(mentee.address)
    mentee.mark_verified(mentor.address)
    assert mentee.is_verified(mentor.address)

    # The contact's identity changes (a new device key, or a node swapping keys): blocked until verified again.
    mentee.state["contacts"][str(mentor.address)]["identity_key"] = "00" * 32
    with pytest.raises(IdentityChanged, match="verify"):
        await mentee.send(mentor.address, "are you still you?")


async def test_the_nodes_store_only_ciphertext(
    two_nodes: list[RunningNode], pair: tuple[MemberClient, MemberClient], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    a = two_nodes[0]
    mentee, mentor = pair
    canary = "CANARY-7f3a9c-the-thesis-draft-is-late"
    await mentee.send(mentor.address, canary)
    await receive_all(mentor, 1)
    await mentor.send(mentee.address, canary + "-reply")
    await receive_all(mentee, 1)
    assert holding(two_nodes, canary.encode()) == []  # database, WAL, logs' files, requests between nodes
    assert any(request.url.endswith("/federation/v1/messages") for request in a.transport.sent)
    assert canary not in caplog.text


async def test_a_member_of_a_node_that_is_not_a_peer_cannot_be_reached(
    two_nodes: list[RunningNode], tmp_path: Path
) -> None:
    mentee = await member_at(two_nodes[0], "Mina", "mentee", tmp_path)
    with pytest.raises(ApiError) as refused:
        await mentee.send(Address("someone", "http://127.0.0.1:9"), "hello?")
    assert refused.value.status == 409


async def test_an_unknown_member_at_a_peer_is_reported(two_nodes: list[RunningNode], tmp_path: Path) -> None:
    a, b = two_nodes
    mentee = await member_at(a, "Mina", "mentee", tmp_path)
    with pytest.raises(ApiError) as missing:
        await mentee.send(Address("no-such-member", b.url), "hello?")
    assert missing.value.status == 404


async def test_a_message_over_the_text_limit_is_refused_before_anything_is_sent(
    pair: tuple[MemberClient, MemberClient],
) -> None:
    mentee, mentor = pair
    with pytest.raises(ClientError, match="at most 64 KiB"):
        await mentee.send(mentor.address, "x" * (64 * 1024 + 1))
    await mentee.send(mentor.address, "short")  # the session was never touched
    assert await receive_all(mentor, 1) == ["short"]


def test_an_address_needs_a_member_and_a_node_url() -> None:
    assert str(Address.parse("abc@https://uni.example/")) == "abc@https://uni.example"
    for text in ("abc", "@https://x.example", "abc@uni.example"):
        with pytest.raises(ClientError):
            Address.parse(text)


async def test_three_nodes_carry_three_conversations_at_once(tmp_path: Path) -> None:
    async with peered_cluster(tmp_path, ["A", "B", "C"]) as (a, b, c):
        mentee = await member_at(a, "Mina", "mentee", tmp_path)
        carlos = await member_at(b, "Carlos", "mentor", tmp_path)
        chiara = await member_at(c, "Chiara", "mentor", tmp_path)
        await mentee.send_many(carlos.address, ["to Carlos 1", "to Carlos 2"])
        await mentee.send_many(chiara.address, ["to Chiara 1", "to Chiara 2"])
        await carlos.send(chiara.address, "colleague to colleague")
        assert await receive_all(carlos, 2) == ["to Carlos 1", "to Carlos 2"]
        assert sorted(await receive_all(chiara, 3)) == ["colleague to colleague", "to Chiara 1", "to Chiara 2"]
        await carlos.send(mentee.address, "from Carlos")
        await chiara.send(mentee.address, "from Chiara")
        got: list[tuple[Address, str]] = []
        while len(got) < 2:
            got += [(r.sender, r.event["body"]) for r in await mentee.receive(wait=2)]
        assert sorted(got, key=lambda item: item[1]) == [
            (carlos.address, "from Carlos"),
            (chiara.address, "from Chiara"),
        ]
        history = chiara.conversations()
        assert [(m["direction"], m["body"]) for m in history[str(mentee.address)]] == [
            ("in", "to Chiara 1"),
            ("in", "to Chiara 2"),
            ("out", "from Chiara"),
        ]
        assert [m["body"] for m in history[str(carlos.address)]] == ["colleague to colleague"]


async def test_the_client_refills_one_time_prekeys_when_they_run_low(
    two_nodes: list[RunningNode], tmp_path: Path
) -> None:
    b = two_nodes[1]
    mentor = await member_at(b, "Carlos", "mentor", tmp_path)
    for _ in range(ONE_TIME_PREKEYS - REFILL_BELOW + 1):  # bundles handed out to would-be contacts
        await key_bundles(b.node, mentor.address.member)
    async with mentor.api() as api:
        assert await api.prekey_counts("main") == {"x25519": REFILL_BELOW - 1, "mlkem768": REFILL_BELOW - 1}
    assert await mentor.refill_prekeys() == 2 * (ONE_TIME_PREKEYS - REFILL_BELOW + 1)
    async with mentor.api() as api:
        assert await api.prekey_counts("main") == {"x25519": ONE_TIME_PREKEYS, "mlkem768": ONE_TIME_PREKEYS}
    assert await mentor.refill_prekeys() == 0
    # The refilled keys work: a new contact's session starts from one of them.
    mentee = await member_at(two_nodes[0], "Mina", "mentee", tmp_path)
    await mentee.send(mentor.address, "hello with a fresh one-time key")
    assert await receive_all(mentor, 1) == ["hello with a fresh one-time key"]


async def test_a_peer_that_takes_smaller_requests_gets_smaller_batches(
    two_nodes: list[RunningNode], tmp_path: Path
) -> None:
    a, b = two_nodes
    await b.stop()
    b.config = dataclasses.replace(b.config, max_body_bytes=64 * 1024)  # B's operator lowered the limit
    await b.start()
    mentee = await member_at(a, "Mina", "mentee", tmp_path)
    mentor = await member_at(b, "Carlos", "mentor", tmp_path)
    bodies = [f"message {i}" for i in range(60)]  # about 330 KB in one batch: B answers 413 at first
    await mentee.send_many(mentor.address, [*bodies[:30], "x" * 60_000, *bodies[30:]])
    # The 60 kB message (a 128 KiB sealed box) can never fit in B's requests: it is dropped, and
    # the rest still arrive.
    assert await receive_all(mentor, 60) == bodies
    async with a.node.database.transaction() as session:
        assert await OutboxStore(session).counts() == {}


async def test_a_malformed_sealed_message_is_dropped_and_does_not_block_the_mailbox(
    two_nodes: list[RunningNode], pair: tuple[MemberClient, MemberClient]
) -> None:
    b = two_nodes[1]
    mentee, mentor = pair
    async with mentee.api() as api:
        listed = await api.keys(b.url, mentor.address.member, bundles=False)
        device_dh = b64decode(listed["device_list"]["devices"][0]["identity_dh"])
        to = {"node": b.url, "member": mentor.address.member, "device": "main"}
        handshake = b'{"from": {"node": "https://x.example", "member": "y", "device": "z"}, "ratchet": "AA", '
        junk = [
            b'{"from": {"node": 1}}',
            b"not json",
            b'{"from": {"node": "x", "member": "y", "device": "z"}}',
            b"[" * 5000,  # deeper than the JSON parser goes
            handshake + b'"initial": {"ephemeral_key": "x", "signed_prekey_id": Infinity}}',
        ]
        await api.send(
            [{"to": to, "id": f"junk-{i}", "ciphertext": b64encode(seal(device_dh, j))} for i, j in enumerate(junk)]
        )
    await mentee.send(mentor.address, "the real one")
    assert await receive_all(mentor, 1) == ["the real one"]
    assert len(mentor.state["dropped"]) == 5
    assert await mentor.receive(wait=0.2) == []  # nothing left behind


async def test_the_text_limit_counts_encoded_text_not_characters(pair: tuple[MemberClient, MemberClient]) -> None:
    mentee, mentor = pair
    with pytest.raises(ClientError, match="at most 64 KiB"):
        await mentee.send(mentor.address, "Ж" * 40_000)  # 80 kB in UTF-8
    await mentee.send(mentor.address, "Ж" * 30_000)  # 60 kB: fits the largest padding bucket
    assert await receive_all(mentor, 1) == ["Ж" * 30_000]


async def test_two_members_who_write_first_at_the_same_time_still_reach_each_other(
    pair: tuple[MemberClient, MemberClient],
) -> None:
    mentee, mentor = pair
    await mentee.send(mentor.address, "hello from Mina")  # two sessions start, one from each side
    await mentor.send(mentee.address, "hello from Carlos")
    assert await receive_all(mentor, 1) == ["hello from Mina"]
    assert await receive_all(mentee, 1) == ["hello from Carlos"]
    for round_ in range(3):
        await mentee.send(mentor.address, f"mina {round_}")
        await mentor.send(mentee.address, f"carlos {round_}")
        assert await receive_all(mentor, 1) == [f"mina {round_}"]
        assert await receive_all(mentee, 1) == [f"carlos {round_}"]
    assert "dropped" not in mentor.state and "dropped" not in mentee.state


async def test_a_replayed_handshake_does_not_restart_the_session(pair: tuple[MemberClient, MemberClient]) -> None:
    mentee, mentor = pair
    sealed = await mentee.seal_messages(mentor.address, ["first"])
    async with mentee.api() as api:
        await api.send(sealed.outgoing)
        assert await receive_all(mentor, 1) == ["first"]
        replay = [{**sealed.outgoing[0], "id": "replayed-by-a-node"}]  # same sealed bytes, new id
        await api.send(replay)
    assert await mentor.receive(wait=1) == []  # the ratchet refuses it: the message key is gone
    await mentor.send(mentee.address, "still one session")
    assert await receive_all(mentee, 1) == ["still one session"]


async def test_signed_prekeys_rotate_weekly_and_old_handshakes_still_open_within_the_grace_period(
    pair: tuple[MemberClient, MemberClient], tmp_path: Path
) -> None:
    mentee, mentor = pair
    now = int(time.time())
    # The rotation clock starts at registration and is in the keystore, so one-shot commands see it.
    reopened = MemberClient.open(tmp_path / "Carlos.keystore", PASSPHRASE)
    assert abs(reopened.state["signed_prekeys_at"] - now) < 60
    assert not await mentor.rotate_signed_prekeys_if_due(now)  # the clock starts now
    old_id = mentor.device.signed_prekey_id
    # A mentee fetched the bundle (and encrypted) before the rotation, and sends after it.
    sealed = await mentee.seal_messages(mentor.address, ["sent across a rotation"])
    assert await mentor.rotate_signed_prekeys_if_due(now + 8 * DAY_SECONDS)
    assert mentor.device.signed_prekey_id != old_id
    assert MemberClient.open(tmp_path / "Carlos.keystore", PASSPHRASE).state["signed_prekeys_uploaded"] is True
    async with mentee.api() as api:
        bundle = (await api.keys(mentor.address.node, mentor.address.member))["bundles"][0]
        assert bundle["signed_prekey"]["id"] == mentor.device.signed_prekey_id  # new sessions use the new key
        await api.send(sealed.outgoing)
    assert await receive_all(mentor, 1) == ["sent across a rotation"]
    mentor.device.forget_retired(now + 9 * DAY_SECONDS + RETIRED_PREKEY_DAYS * DAY_SECONDS)
    assert (PreKeyKind.X25519, old_id) not in mentor.device.prekeys


async def test_a_session_never_answered_for_weeks_starts_again_with_a_fresh_handshake(
    pair: tuple[MemberClient, MemberClient],
) -> None:
    mentee, mentor = pair
    await mentee.seal_messages(mentor.address, ["lost: never sent"])  # a session exists, unanswered
    (record,) = [r for k, r in mentee.state["sessions"].items() if k.startswith(str(mentor.address))]
    first = record["initial"]["ephemeral_key"]
    record["started_at"] -= 60 * DAY_SECONDS  # as if weeks had passed
    await mentee.send(mentor.address, "hello again")
    (fresh,) = [r for k, r in mentee.state["sessions"].items() if k.startswith(str(mentor.address))]
    assert fresh["initial"]["ephemeral_key"] != first
    assert await receive_all(mentor, 1) == ["hello again"]


async def test_messages_read_before_a_failed_acknowledge_are_kept(
    pair: tuple[MemberClient, MemberClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    mentee, mentor = pair
    await mentee.send(mentor.address, "read once")

    async def node_down(*_args: object) -> int:
        raise ApiError(503, "storage_error", "the node cannot serve this request right now")

    with monkeypatch.context() as patched:
        patched.setattr(NodeApi, "acknowledge", node_down)
        assert await receive_all(mentor, 1) == ["read once"]  # returned although the node kept them
    assert await mentor.receive(wait=0.5) == []  # delivered again, recognized, acknowledged now
    async with mentor.api() as api:
        assert await api.receive("main") == []

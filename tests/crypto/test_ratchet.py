"""The Double Ratchet as a session uses it: order, loss, duplicates, tampering, compromise."""

from __future__ import annotations

import os

import pytest

from crypto import _primitives
from crypto.errors import DecryptionFailed
from crypto.ratchet import MAX_SKIP_AT_ONCE, DuplicateMessage, Session, TooManySkipped, decode_message

SECRET = bytes(range(32))
AD = b"mentornet/v1/pqxdh-ad" + bytes(96)


async def pair() -> tuple[Session, Session]:
    """Alice starts (to Bob's signed pre-key); Bob accepts her first message."""
    bob_ratchet = os.urandom(32)
    alice, first = await Session.initiate(SECRET, AD, _primitives.x25519_public_from_private(bob_ratchet), b"hello")
    bob, plaintext = await Session.accept(SECRET, AD, bob_ratchet, first)
    assert plaintext == b"hello"
    return alice, bob


async def test_messages_flow_both_ways() -> None:
    alice, bob = await pair()
    for round_ in range(3):
        assert await bob.decrypt(await alice.encrypt(f"a{round_}".encode())) == f"a{round_}".encode()
        assert await alice.decrypt(await bob.encrypt(f"b{round_}".encode())) == f"b{round_}".encode()


async def test_out_of_order_messages_decrypt() -> None:
    alice, bob = await pair()
    messages = [await alice.encrypt(bytes([i])) for i in range(5)]
    for i in (3, 0, 4, 2, 1):
        assert await bob.decrypt(messages[i]) == bytes([i])


async def test_after_decryption_the_state_cannot_decrypt_the_same_message_again() -> None:
    alice, bob = await pair()
    message = await alice.encrypt(b"once")
    assert await bob.decrypt(message) == b"once"
    with pytest.raises(DuplicateMessage):
        await bob.decrypt(message)
    late = await alice.encrypt(b"skipped")
    newest = await alice.encrypt(b"newest")
    await bob.decrypt(newest)
    assert await bob.decrypt(late) == b"skipped"  # from a kept skipped key, which is then gone
    with pytest.raises(DuplicateMessage):
        await bob.decrypt(late)


@pytest.mark.parametrize("where", ["header", "ciphertext"])
async def test_a_tampered_message_is_refused_and_the_session_still_works(where: str) -> None:
    alice, bob = await pair()
    message = bytearray(await alice.encrypt(b"intact"))
    position = 10 if where == "header" else len(message) - 5
    message[position] ^= 1
    with pytest.raises(DecryptionFailed):
        await bob.decrypt(bytes(message))
    message[position] ^= 1
    assert await bob.decrypt(bytes(message)) == b"intact"
    assert await alice.decrypt(await bob.encrypt(b"still fine")) == b"still fine"


async def test_a_message_for_another_session_is_refused() -> None:
    alice, _ = await pair()
    _, carol = await pair()
    with pytest.raises(DecryptionFailed):
        await carol.decrypt(await alice.encrypt(b"not for carol"))


async def test_a_stolen_earlier_state_cannot_read_messages_after_a_dh_round_trip() -> None:
    alice, bob = await pair()
    await bob.decrypt(await alice.encrypt(b"before"))
    stolen = Session.from_json(bob.to_json())  # an attacker copies Bob's state and sees every message
    await alice.decrypt(await bob.encrypt(b"turn"))
    reply = await alice.encrypt(b"reply")  # still under keys the stolen state can reach
    assert await bob.decrypt(reply) == b"reply"
    assert await stolen.decrypt(reply) == b"reply"
    # Bob's next message carries a ratchet key made after the theft: the round trip heals.
    await alice.decrypt(await bob.encrypt(b"fresh key"))
    secret_message = await alice.encrypt(b"after the round trip")
    assert await bob.decrypt(secret_message) == b"after the round trip"
    with pytest.raises(DecryptionFailed):
        await stolen.decrypt(secret_message)


async def test_a_stolen_state_cannot_decrypt_messages_it_already_read() -> None:
    alice, bob = await pair()
    message = await alice.encrypt(b"forward secret")
    await bob.decrypt(message)
    stolen = Session.from_json(bob.to_json())
    with pytest.raises(DuplicateMessage):
        await stolen.decrypt(message)


async def test_a_header_skipping_too_many_messages_is_refused() -> None:
    alice, bob = await pair()
    for _ in range(MAX_SKIP_AT_ONCE + 1):
        await alice.encrypt(b"lost")
    with pytest.raises(TooManySkipped):
        await bob.decrypt(await alice.encrypt(b"far ahead"))


async def test_a_session_survives_serialization() -> None:
    alice, bob = await pair()
    alice = Session.from_json(alice.to_json())
    bob = Session.from_json(bob.to_json())
    assert await bob.decrypt(await alice.encrypt(b"restored")) == b"restored"


async def test_a_message_with_a_small_order_ratchet_key_is_refused_and_the_session_still_works() -> None:
    alice, bob = await pair()
    forged = bytes([1]) + bytes(32) + (0).to_bytes(4, "big") + (0).to_bytes(4, "big") + bytes(48)
    with pytest.raises(DecryptionFailed):
        await bob.decrypt(forged)
    assert await bob.decrypt(await alice.encrypt(b"fine")) == b"fine"


def test_malformed_wire_messages_are_refused() -> None:
    with pytest.raises(DecryptionFailed):
        decode_message(b"\x01" + bytes(10))
    with pytest.raises(DecryptionFailed):
        decode_message(b"\x02" + bytes(60))

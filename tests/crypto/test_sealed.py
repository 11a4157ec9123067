"""Sealed sender: only the recipient device opens it, and its size tells only a bucket."""

from __future__ import annotations

import pytest

from crypto import _primitives
from crypto.errors import DecryptionFailed, InvalidKey
from crypto.sealed import BUCKETS, SEAL_OVERHEAD, open_sealed, pad, padded_size, seal, unpad

RECIPIENT = bytes(range(32))
RECIPIENT_PUBLIC = _primitives.x25519_public_from_private(RECIPIENT)


@pytest.mark.parametrize("length", [0, 1, 1023, 1024, 4095, 9000, BUCKETS[-1] - 1])
def test_payloads_are_padded_to_a_bucket_and_restored(length: int) -> None:
    payload = bytes([7]) * length
    padded = pad(payload)
    assert len(padded) in BUCKETS and len(padded) == padded_size(length)
    assert unpad(padded) == payload


def test_payloads_ending_in_zeros_or_0x80_survive_padding() -> None:
    for payload in (b"abc\x00\x00", b"abc\x80", b"\x80\x00"):
        assert unpad(pad(payload)) == payload


def test_a_payload_over_the_largest_bucket_is_refused() -> None:
    with pytest.raises(InvalidKey, match="at most"):
        pad(bytes(BUCKETS[-1]))


def test_two_messages_in_one_bucket_are_the_same_size() -> None:
    assert len(seal(RECIPIENT_PUBLIC, b"hi")) == len(seal(RECIPIENT_PUBLIC, b"x" * 900)) == BUCKETS[0] + SEAL_OVERHEAD


def test_only_the_recipient_opens_it() -> None:
    sealed = seal(RECIPIENT_PUBLIC, b"from alice: hello")
    assert open_sealed(RECIPIENT, sealed) == b"from alice: hello"
    with pytest.raises(DecryptionFailed):
        open_sealed(bytes(range(1, 33)), sealed)


def test_bad_padding_is_refused() -> None:
    with pytest.raises(DecryptionFailed):
        unpad(bytes(BUCKETS[0]))
    with pytest.raises(DecryptionFailed):
        unpad(b"abc\x80")

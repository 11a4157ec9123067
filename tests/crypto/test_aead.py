"""Authenticated encryption of small values (crypto.aead)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto import DecryptionFailed, InvalidKey, open_, seal
from crypto.aead import OVERHEAD_BYTES

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
NONCE = bytes(range(100, 112))
AAD = b"members/42/email"
PLAINTEXT = b"ada@example.org"
SEALED = seal(KEY, PLAINTEXT, aad=AAD, nonce=NONCE)


def _flip_byte(data: bytes, index: int) -> bytes:
    flipped = bytearray(data)
    flipped[index] ^= 0x01
    return bytes(flipped)


def test_sealed_value_opens_with_the_same_key_and_aad() -> None:
    assert open_(KEY, SEALED, aad=AAD) == PLAINTEXT


def test_empty_plaintext_round_trips() -> None:
    assert open_(KEY, seal(KEY, b"", aad=AAD, nonce=NONCE), aad=AAD) == b""


def test_sealed_value_is_overhead_bytes_longer_than_the_plaintext() -> None:
    assert len(SEALED) - len(PLAINTEXT) == OVERHEAD_BYTES


def test_overhead_is_version_byte_nonce_and_tag() -> None:
    assert OVERHEAD_BYTES == 1 + 12 + 16


def test_sealed_value_is_version_1_nonce_and_aes_gcm_ciphertext_over_version_and_aad() -> None:
    # The documented format, checked with the library directly rather than through open_.
    assert SEALED[:1] == b"\x01"
    assert SEALED[1:13] == NONCE
    assert AESGCM(KEY).decrypt(NONCE, SEALED[13:], b"\x01" + AAD) == PLAINTEXT


def test_sealed_value_does_not_contain_the_plaintext() -> None:
    assert PLAINTEXT not in SEALED


def test_sealed_value_does_not_open_with_another_key() -> None:
    with pytest.raises(DecryptionFailed):
        open_(OTHER_KEY, SEALED, aad=AAD)


def test_sealed_value_does_not_open_with_other_aad() -> None:
    with pytest.raises(DecryptionFailed):
        open_(KEY, SEALED, aad=b"members/43/email")


def test_sealed_value_does_not_open_with_empty_aad() -> None:
    with pytest.raises(DecryptionFailed):
        open_(KEY, SEALED, aad=b"")


@pytest.mark.parametrize("index", range(len(SEALED)))
def test_sealed_value_with_any_byte_flipped_does_not_open(index: int) -> None:
    with pytest.raises(DecryptionFailed):
        open_(KEY, _flip_byte(SEALED, index), aad=AAD)


@pytest.mark.parametrize(
    "length",
    [0, 1, OVERHEAD_BYTES - 1, OVERHEAD_BYTES, len(SEALED) - 1],
    ids=["empty", "version-only", "below-overhead", "overhead-only", "one-byte-short"],
)
def test_truncated_sealed_value_does_not_open(length: int) -> None:
    with pytest.raises(DecryptionFailed):
        open_(KEY, SEALED[:length], aad=AAD)


@pytest.mark.parametrize("version", [b"\x00", b"\x02", b"\xff"])
def test_sealed_value_with_an_unknown_version_byte_does_not_open(version: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        open_(KEY, version + SEALED[1:], aad=AAD)


def test_sealed_value_with_extra_trailing_bytes_does_not_open() -> None:
    with pytest.raises(DecryptionFailed):
        open_(KEY, SEALED + b"\x00", aad=AAD)


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_seal_refuses_a_key_of_the_wrong_length(length: int) -> None:
    with pytest.raises(InvalidKey, match="key"):
        seal(bytes(length), PLAINTEXT, aad=AAD, nonce=NONCE)


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_open_refuses_a_key_of_the_wrong_length(length: int) -> None:
    with pytest.raises(InvalidKey, match="key"):
        open_(bytes(length), SEALED, aad=AAD)


@pytest.mark.parametrize("length", [0, 8, 11, 13, 16])
def test_seal_refuses_a_nonce_of_the_wrong_length(length: int) -> None:
    with pytest.raises(InvalidKey, match="nonce"):
        seal(KEY, PLAINTEXT, aad=AAD, nonce=bytes(length))

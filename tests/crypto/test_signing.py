"""Ed25519 signatures with a domain-separation context (crypto.signing)."""

from __future__ import annotations

import hashlib
import re

import nacl.signing
import pytest

from crypto import InvalidKey, InvalidSignature, SigningKey, fingerprint, key_id, sign, verify
from crypto.signing import signed_bytes

CONTEXT = "mentornet/v1/test-object"
OTHER_CONTEXT = "mentornet/v1/other-object"
MESSAGE = b'{"hello":"world"}'


@pytest.fixture
def key() -> SigningKey:
    return SigningKey(bytes(range(32)))


@pytest.fixture
def other_key() -> SigningKey:
    return SigningKey(bytes(range(32, 64)))


def test_signature_verifies_for_the_same_key_context_and_message(key: SigningKey) -> None:
    signature = sign(key, CONTEXT, MESSAGE)

    verify(key.public_key, CONTEXT, MESSAGE, signature)


def test_signature_is_64_bytes(key: SigningKey) -> None:
    assert len(sign(key, CONTEXT, MESSAGE)) == 64


def test_signature_for_one_context_does_not_verify_under_another(key: SigningKey) -> None:
    signature = sign(key, CONTEXT, MESSAGE)

    with pytest.raises(InvalidSignature):
        verify(key.public_key, OTHER_CONTEXT, MESSAGE, signature)


def test_signature_does_not_verify_for_another_message(key: SigningKey) -> None:
    signature = sign(key, CONTEXT, MESSAGE)

    with pytest.raises(InvalidSignature):
        verify(key.public_key, CONTEXT, MESSAGE + b" ", signature)


def test_signature_does_not_verify_under_another_key(key: SigningKey, other_key: SigningKey) -> None:
    signature = sign(key, CONTEXT, MESSAGE)

    with pytest.raises(InvalidSignature):
        verify(other_key.public_key, CONTEXT, MESSAGE, signature)


def test_truncated_signature_does_not_verify(key: SigningKey) -> None:
    signature = sign(key, CONTEXT, MESSAGE)

    with pytest.raises(InvalidSignature):
        verify(key.public_key, CONTEXT, MESSAGE, signature[:-1])


def test_signature_cannot_be_moved_across_the_context_message_boundary(key: SigningKey) -> None:
    # If a context could hold NUL, ("…/a", "b<NUL>c") and ("…/a<NUL>b", "c") would sign the same bytes.
    signature = sign(key, "mentornet/v1/a", b"b\x00c")

    with pytest.raises(InvalidKey, match="context"):
        verify(key.public_key, "mentornet/v1/a\x00b", b"c", signature)


@pytest.mark.parametrize("context", ["", "mentornet/v1/a\x00b", "mentornet/v1/café"], ids=["empty", "nul", "non-ascii"])
def test_signing_under_a_malformed_context_is_refused(key: SigningKey, context: str) -> None:
    with pytest.raises(InvalidKey, match="context"):
        sign(key, context, MESSAGE)


@pytest.mark.parametrize("context", ["", "mentornet/v1/a\x00b", "mentornet/v1/café"], ids=["empty", "nul", "non-ascii"])
def test_verifying_under_a_malformed_context_is_refused(key: SigningKey, context: str) -> None:
    signature = sign(key, CONTEXT, MESSAGE)

    with pytest.raises(InvalidKey, match="context"):
        verify(key.public_key, context, MESSAGE, signature)


def test_signed_bytes_are_context_nul_message() -> None:
    assert signed_bytes(CONTEXT, MESSAGE) == CONTEXT.encode("ascii") + b"\x00" + MESSAGE


def test_verify_with_a_public_key_of_the_wrong_length_is_an_invalid_key(key: SigningKey) -> None:
    signature = sign(key, CONTEXT, MESSAGE)

    with pytest.raises(InvalidKey):
        verify(key.public_key[:31], CONTEXT, MESSAGE, signature)


def test_signing_key_refuses_a_seed_of_the_wrong_length() -> None:
    with pytest.raises(InvalidKey):
        SigningKey(bytes(31))


def test_fingerprint_is_sha256_prefix_and_64_lowercase_hex(key: SigningKey) -> None:
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", fingerprint(key.public_key))


def test_fingerprint_is_the_sha256_of_the_raw_public_key(key: SigningKey) -> None:
    assert fingerprint(key.public_key) == "sha256:" + hashlib.sha256(key.public_key).hexdigest()


def test_key_id_is_16_lowercase_hex(key: SigningKey) -> None:
    assert re.fullmatch(r"[0-9a-f]{16}", key_id(key.public_key))


def test_key_id_is_the_prefix_of_the_fingerprint(key: SigningKey) -> None:
    assert fingerprint(key.public_key).removeprefix("sha256:").startswith(key_id(key.public_key))


def test_signing_key_exposes_the_key_id_of_its_public_half(key: SigningKey) -> None:
    assert key.key_id == key_id(key.public_key)


def test_different_keys_have_different_key_ids(key: SigningKey, other_key: SigningKey) -> None:
    assert key.key_id != other_key.key_id


@pytest.mark.parametrize("length", [0, 31, 33])
def test_fingerprint_of_a_public_key_of_the_wrong_length_is_an_invalid_key(length: int) -> None:
    with pytest.raises(InvalidKey):
        fingerprint(bytes(length))


@pytest.mark.parametrize("length", [0, 31, 33])
def test_key_id_of_a_public_key_of_the_wrong_length_is_an_invalid_key(length: int) -> None:
    with pytest.raises(InvalidKey):
        key_id(bytes(length))


def test_signing_key_repr_does_not_reveal_the_seed(key: SigningKey) -> None:
    text = repr(key)

    assert key.seed.hex() not in text
    assert repr(key.seed) not in text


def test_signing_key_public_key_matches_pynacl_derivation(key: SigningKey) -> None:
    assert bytes(nacl.signing.SigningKey(key.seed).verify_key) == key.public_key


def test_signature_verifies_with_pynacl_over_context_nul_message(key: SigningKey) -> None:
    signature = sign(key, CONTEXT, MESSAGE)

    verified = nacl.signing.VerifyKey(key.public_key).verify(signed_bytes(CONTEXT, MESSAGE), signature)

    assert verified == signed_bytes(CONTEXT, MESSAGE)

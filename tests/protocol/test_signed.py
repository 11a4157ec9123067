"""Signed JSON objects carrying their own signature member (protocol.signed)."""

from __future__ import annotations

import copy
import json
from typing import Any

import nacl.signing
import pytest

import crypto
from protocol.canonical import JsonValue
from protocol.encoding import b64decode, b64encode
from protocol.errors import BadSignature, MalformedMessage
from protocol.signed import sign_object, signing_key_id, verify_object

CONTEXT = "mentornet/v1/announcement"
OTHER_CONTEXT = "mentornet/v1/node-document"
SIGNER = crypto.SigningKey(bytes(range(32)))
STRANGER = crypto.SigningKey(bytes(range(32, 64)))
KEYS = {SIGNER.key_id: SIGNER.public_key}
BODY: dict[str, JsonValue] = {
    "type": "mentornet/v1/announcement",
    "title": "Mentors wanted",
    "tags": ["python", "rust"],
    "issued_at": 1_700_000_000,
}


@pytest.fixture
def signed() -> dict[str, Any]:
    """A freshly signed object, as a receiver would decode it from JSON."""
    result: dict[str, Any] = json.loads(json.dumps(sign_object(BODY, SIGNER, CONTEXT)))
    return result


def test_signed_object_verifies_and_names_its_signing_key(signed: dict[str, Any]) -> None:
    assert verify_object(signed, CONTEXT, KEYS) == SIGNER.key_id


def test_signed_object_keeps_every_body_member(signed: dict[str, Any]) -> None:
    assert {key: value for key, value in signed.items() if key != "signature"} == BODY


def test_signature_member_holds_key_id_and_64_byte_base64url_value(signed: dict[str, Any]) -> None:
    signature = signed["signature"]

    assert set(signature) == {"key_id", "value"}
    assert signature["key_id"] == SIGNER.key_id
    assert len(b64decode(signature["value"])) == 64


def test_signing_does_not_modify_the_body() -> None:
    body = copy.deepcopy(BODY)

    sign_object(body, SIGNER, CONTEXT)

    assert body == BODY


def test_member_order_of_the_received_object_does_not_matter(signed: dict[str, Any]) -> None:
    reordered = dict(reversed(list(signed.items())))

    assert verify_object(reordered, CONTEXT, KEYS) == SIGNER.key_id


def test_signing_key_id_reads_the_signature_member(signed: dict[str, Any]) -> None:
    assert signing_key_id(signed) == SIGNER.key_id


def test_changed_member_does_not_verify(signed: dict[str, Any]) -> None:
    signed["title"] = "Mentors not wanted"

    with pytest.raises(BadSignature):
        verify_object(signed, CONTEXT, KEYS)


def test_changed_nested_member_does_not_verify(signed: dict[str, Any]) -> None:
    signed["tags"].append("go")

    with pytest.raises(BadSignature):
        verify_object(signed, CONTEXT, KEYS)


def test_added_member_does_not_verify(signed: dict[str, Any]) -> None:
    signed["extra"] = "smuggled"

    with pytest.raises(BadSignature):
        verify_object(signed, CONTEXT, KEYS)


def test_added_null_member_does_not_verify(signed: dict[str, Any]) -> None:
    signed["extra"] = None

    with pytest.raises(BadSignature):
        verify_object(signed, CONTEXT, KEYS)


def test_removed_member_does_not_verify(signed: dict[str, Any]) -> None:
    del signed["title"]

    with pytest.raises(BadSignature):
        verify_object(signed, CONTEXT, KEYS)


def test_signature_by_an_unknown_key_id_is_refused(signed: dict[str, Any]) -> None:
    with pytest.raises(BadSignature, match="unknown key"):
        verify_object(signed, CONTEXT, {STRANGER.key_id: STRANGER.public_key})


def test_signature_by_another_key_claiming_a_known_key_id_does_not_verify() -> None:
    forged: dict[str, Any] = sign_object(BODY, STRANGER, CONTEXT)
    forged["signature"]["key_id"] = SIGNER.key_id

    with pytest.raises(BadSignature):
        verify_object(forged, CONTEXT, KEYS)


def test_object_without_a_signature_member_is_refused() -> None:
    with pytest.raises(BadSignature, match="no well-formed signature"):
        verify_object(dict(BODY), CONTEXT, KEYS)


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "not-an-object",
        ["key_id", "value"],
        {},
        {"value": "AA"},
        {"key_id": 7, "value": "AA"},
        {"key_id": SIGNER.key_id},
        {"key_id": SIGNER.key_id, "value": None},
        {"key_id": SIGNER.key_id, "value": 12},
        {"key_id": SIGNER.key_id, "value": "not base64!"},
        {"key_id": SIGNER.key_id, "value": b64encode(bytes(64)) + "=="},
        {"key_id": SIGNER.key_id, "value": b64encode(bytes(63))},
        {"key_id": SIGNER.key_id, "value": b64encode(bytes(65))},
        {"key_id": SIGNER.key_id, "value": ""},
    ],
    ids=[
        "null",
        "string",
        "list",
        "empty-object",
        "no-key-id",
        "key-id-not-text",
        "no-value",
        "value-null",
        "value-not-text",
        "value-not-base64",
        "value-padded",
        "value-63-bytes",
        "value-65-bytes",
        "value-empty",
    ],
)
def test_malformed_signature_member_is_refused(signature: object) -> None:
    raw: dict[str, object] = {**BODY, "signature": signature}

    with pytest.raises(BadSignature):
        verify_object(raw, CONTEXT, KEYS)


def test_received_object_that_cannot_be_canonicalized_is_refused_as_bad_signature(
    signed: dict[str, Any],
) -> None:
    signed["score"] = 1.5

    with pytest.raises(BadSignature):
        verify_object(signed, CONTEXT, KEYS)


def test_signing_an_object_that_already_has_a_signature_member_is_refused(signed: dict[str, Any]) -> None:
    with pytest.raises(MalformedMessage, match="already has a signature"):
        sign_object(signed, SIGNER, CONTEXT)


def test_signing_an_object_with_a_float_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="float"):
        sign_object({**BODY, "score": 1.5}, SIGNER, CONTEXT)


def test_signature_for_one_context_does_not_verify_under_another(signed: dict[str, Any]) -> None:
    with pytest.raises(BadSignature):
        verify_object(signed, OTHER_CONTEXT, KEYS)


def test_signature_covers_context_nul_canonical_json_of_the_body(signed: dict[str, Any]) -> None:
    # BODY is ASCII with integer values only, so sorted compact json.dumps equals its RFC 8785 form.
    canonical_body = json.dumps(BODY, sort_keys=True, separators=(",", ":")).encode()
    signature = b64decode(signed["signature"]["value"])

    nacl.signing.VerifyKey(SIGNER.public_key).verify(CONTEXT.encode() + b"\x00" + canonical_body, signature)


def test_an_object_whose_keys_sort_differently_in_utf16_still_verifies() -> None:
    # The verifier's fast encoding orders these keys differently from RFC 8785; it falls back.
    body: dict[str, JsonValue] = {**BODY, "\ufb33": 1, "\U0001f600": 2}
    raw = json.loads(json.dumps(sign_object(body, SIGNER, CONTEXT)))
    assert verify_object(raw, CONTEXT, KEYS) == SIGNER.key_id


def test_a_float_where_an_integer_was_signed_does_not_verify(signed: dict[str, Any]) -> None:
    forged = {**signed, "issued_at": float(signed["issued_at"])}
    with pytest.raises(BadSignature):
        verify_object(forged, CONTEXT, KEYS)

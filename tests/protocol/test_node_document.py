"""The signed node document (protocol.node_document)."""

from __future__ import annotations

import base64
import json
from typing import Any

import nacl.signing
import pytest

import crypto
from protocol.canonical import JsonValue, canonical_json
from protocol.errors import BadSignature, MalformedMessage
from protocol.node_document import (
    NODE_DOCUMENT_CONTEXT,
    NodeDocument,
    PublishedKey,
    build_node_document,
    verify_node_document,
)
from protocol.signed import sign_object

NOW = 1_700_000_000
DAY = 86_400
SIGNER = crypto.SigningKey(bytes(range(32)))
SECOND_CURRENT = crypto.SigningKey(bytes(range(32, 64)))
OLD = crypto.SigningKey(bytes(range(64, 96)))
OUTSIDER = crypto.SigningKey(bytes(range(96, 128)))
NAME = "Universität Beispiel"
BASE_URL = "https://mentoring.example.org"


def _build(
    *,
    signer_valid_until: int = NOW + 90 * DAY,
    signer: crypto.SigningKey = SIGNER,
    old: list[PublishedKey] | None = None,
) -> dict[str, Any]:
    """A node document as a receiver decodes it from JSON."""
    document = build_node_document(
        name=NAME,
        base_url=BASE_URL,
        current=[
            PublishedKey(SIGNER.public_key, valid_until=signer_valid_until),
            PublishedKey(SECOND_CURRENT.public_key, valid_until=NOW + 30 * DAY),
        ],
        old=[PublishedKey(OLD.public_key, valid_until=NOW - 30 * DAY, expired_at=NOW - 30 * DAY)]
        if old is None
        else old,
        signer=signer,
        issued_at=NOW - 60,
    )
    received: dict[str, Any] = json.loads(json.dumps(document))
    return received


def _resign(raw: dict[str, Any], key: crypto.SigningKey, context: str = NODE_DOCUMENT_CONTEXT) -> dict[str, Any]:
    body: dict[str, JsonValue] = {name: value for name, value in raw.items() if name != "signature"}
    received: dict[str, Any] = json.loads(json.dumps(sign_object(body, key, context)))
    return received


def _unpadded_b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def raw() -> dict[str, Any]:
    return _build()


# --- A valid document --------------------------------------------------------------------------


def test_built_document_verifies_into_a_node_document(raw: dict[str, Any]) -> None:
    document = verify_node_document(raw, now=NOW)

    assert isinstance(document, NodeDocument)
    assert (document.type, document.name, document.base_url) == (
        "mentornet/v1/node-document",
        NAME,
        BASE_URL,
    )


def test_verified_document_lists_protocol_version_v1(raw: dict[str, Any]) -> None:
    assert verify_node_document(raw, now=NOW).protocol_versions == ["v1"]


def test_verified_document_public_keys_include_current_and_old_keys(raw: dict[str, Any]) -> None:
    public_keys = verify_node_document(raw, now=NOW).public_keys()

    assert public_keys == {
        SIGNER.key_id: SIGNER.public_key,
        SECOND_CURRENT.key_id: SECOND_CURRENT.public_key,
        OLD.key_id: OLD.public_key,
    }


def test_document_is_signed_by_the_signer_key(raw: dict[str, Any]) -> None:
    assert raw["signature"]["key_id"] == SIGNER.key_id


def test_document_signature_verifies_with_pynacl_independently(raw: dict[str, Any]) -> None:
    body = {name: value for name, value in raw.items() if name != "signature"}
    message = b"mentornet/v1/node-document\x00" + canonical_json(body)
    signature = _unpadded_b64url_decode(raw["signature"]["value"])

    nacl.signing.VerifyKey(SIGNER.public_key).verify(message, signature)


def test_listed_key_ids_match_their_public_keys(raw: dict[str, Any]) -> None:
    for entry in [*raw["keys"], *raw["old_keys"]]:
        assert entry["id"] == crypto.key_id(_unpadded_b64url_decode(entry["public_key"]))


# --- Keys that may not sign --------------------------------------------------------------------


def test_document_signed_by_an_old_key_is_refused(raw: dict[str, Any]) -> None:
    resigned = _resign(raw, OLD)

    with pytest.raises(BadSignature):
        verify_node_document(resigned, now=NOW)


def test_document_signed_by_a_key_it_does_not_list_is_refused(raw: dict[str, Any]) -> None:
    resigned = _resign(raw, OUTSIDER)

    with pytest.raises(BadSignature):
        verify_node_document(resigned, now=NOW)


@pytest.mark.parametrize("valid_until", [NOW, NOW - 1], ids=["expires-now", "expired"])
def test_document_whose_signing_key_is_no_longer_valid_is_refused(valid_until: int) -> None:
    raw = _build(signer_valid_until=valid_until)

    with pytest.raises(BadSignature):
        verify_node_document(raw, now=NOW)


def test_document_signed_under_another_context_is_refused(raw: dict[str, Any]) -> None:
    resigned = _resign(raw, SIGNER, context="mentornet/v1/announcement")

    with pytest.raises(BadSignature):
        verify_node_document(resigned, now=NOW)


# --- Tampering ---------------------------------------------------------------------------------


def test_document_with_a_tampered_name_is_refused(raw: dict[str, Any]) -> None:
    raw["name"] = "Evil Node"

    with pytest.raises(BadSignature):
        verify_node_document(raw, now=NOW)


def test_document_with_a_removed_old_key_is_refused(raw: dict[str, Any]) -> None:
    raw["old_keys"] = []

    with pytest.raises(BadSignature):
        verify_node_document(raw, now=NOW)


def test_document_with_an_extended_key_validity_is_refused(raw: dict[str, Any]) -> None:
    raw["keys"][1]["valid_until"] += 365 * DAY

    with pytest.raises(BadSignature):
        verify_node_document(raw, now=NOW)


def test_document_without_a_signature_is_refused(raw: dict[str, Any]) -> None:
    del raw["signature"]

    with pytest.raises(BadSignature):
        verify_node_document(raw, now=NOW)


def test_document_whose_keys_member_is_not_a_list_is_refused(raw: dict[str, Any]) -> None:
    raw["keys"] = {"id": SIGNER.key_id}

    with pytest.raises(BadSignature):
        verify_node_document(raw, now=NOW)


# --- Malformed documents -----------------------------------------------------------------------


def test_key_id_that_does_not_match_its_public_key_is_malformed(raw: dict[str, Any]) -> None:
    raw["keys"][0]["id"] = OUTSIDER.key_id

    with pytest.raises(MalformedMessage, match="key id does not match"):
        verify_node_document(raw, now=NOW)


def test_correctly_signed_document_of_another_type_is_malformed(raw: dict[str, Any]) -> None:
    raw["type"] = "mentornet/v1/announcement"
    resigned = _resign(raw, SIGNER)

    with pytest.raises(MalformedMessage, match="type must be"):
        verify_node_document(resigned, now=NOW)


# --- Building ----------------------------------------------------------------------------------


def test_building_with_a_signer_that_is_not_a_current_key_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="current keys"):
        _build(signer=OLD)


def test_building_with_an_old_key_without_expired_at_is_refused() -> None:
    with pytest.raises(MalformedMessage, match="expired_at"):
        _build(old=[PublishedKey(OLD.public_key, valid_until=NOW - DAY)])


def test_unknown_members_added_within_v1_are_accepted_once_the_signature_verifies() -> None:
    signer = crypto.SigningKey(bytes(range(32)))
    current = [PublishedKey(public_key=signer.public_key, valid_until=2_000_000_000)]
    body = build_node_document(
        name="A", base_url="https://a.example", current=current, old=[], signer=signer, issued_at=1_800_000_000
    )
    extended = sign_object(
        {**{k: v for k, v in body.items() if k != "signature"}, "motto": "new in v1.1"}, signer, NODE_DOCUMENT_CONTEXT
    )
    assert verify_node_document(extended, now=1_800_000_000).name == "A"


def test_a_document_issued_far_in_the_future_is_refused() -> None:
    signer = crypto.SigningKey(bytes(range(32)))
    current = [PublishedKey(public_key=signer.public_key, valid_until=2_000_000_000)]
    body = build_node_document(
        name="A", base_url="https://a.example", current=current, old=[], signer=signer, issued_at=1_800_003_600
    )
    with pytest.raises(MalformedMessage, match="future"):
        verify_node_document(body, now=1_800_000_000)

"""Signed JSON objects: the signature travels inside the object it covers.

A signed object is a JSON object with a ``signature`` member::

    {..., "signature": {"key_id": "<16 hex>", "value": "<base64url Ed25519 signature>"}}

The signature covers the RFC 8785 canonical JSON of the object *without* its ``signature``
member, under a per-type context (see :mod:`crypto.signing`). Verification works on the raw
received mapping, before it is parsed into a model, so unknown members are covered too.
"""

from __future__ import annotations

from collections.abc import Mapping

import crypto
from protocol.canonical import JsonValue, canonical_json, sorted_json
from protocol.encoding import b64decode, b64encode
from protocol.errors import BadSignature, MalformedMessage

SIGNATURE_FIELD = "signature"


def sign_object(body: Mapping[str, JsonValue], key: crypto.SigningKey, context: str) -> dict[str, JsonValue]:
    """Return ``body`` with a ``signature`` member made by ``key`` under ``context``.

    Raises:
        MalformedMessage: if ``body`` already has a ``signature`` member or is not canonicalizable.
    """
    if SIGNATURE_FIELD in body:
        raise MalformedMessage("the object to sign already has a signature member")
    signature = crypto.sign(key, context, canonical_json(body))
    return {**body, SIGNATURE_FIELD: {"key_id": key.key_id, "value": b64encode(signature)}}


def signing_key_id(raw: Mapping[str, object]) -> str:
    """The ``key_id`` named by a signed object's signature member.

    Raises:
        BadSignature: if the signature member is missing or malformed.
    """
    signature = raw.get(SIGNATURE_FIELD)
    if not isinstance(signature, Mapping) or not isinstance(signature.get("key_id"), str):
        raise BadSignature("the object carries no well-formed signature member")
    return str(signature["key_id"])


def verify_object(raw: Mapping[str, object], context: str, keys: Mapping[str, bytes]) -> str:
    """Verify a signed object against the public keys it may be signed with.

    Args:
        raw: the object exactly as received (decoded JSON), signature included.
        context: the context its type is signed under.
        keys: the acceptable public keys by key id.

    Returns:
        The id of the key that made the signature.

    Raises:
        BadSignature: if the signature is missing, malformed, made by a key not in ``keys``,
            or does not verify.
    """
    key_id = signing_key_id(raw)
    signature = raw[SIGNATURE_FIELD]
    assert isinstance(signature, Mapping)
    value = signature.get("value")
    if not isinstance(value, str):
        raise BadSignature("the signature member has no value")
    public_key = keys.get(key_id)
    if public_key is None:
        raise BadSignature(f"signed by unknown key {key_id!r}")
    body: dict[str, JsonValue] = {k: v for k, v in raw.items() if k != SIGNATURE_FIELD}  # type: ignore[misc]
    try:
        signature_bytes = b64decode(value, field="signature.value")
    except MalformedMessage as exc:
        raise BadSignature("signature does not verify") from exc
    fast = sorted_json(body)  # equal to the canonical form for all but exotic keys; see sorted_json
    if fast is not None:
        try:
            crypto.verify(public_key, context, fast, signature_bytes)
            return key_id
        except crypto.CryptoError:
            pass
    try:
        crypto.verify(public_key, context, canonical_json(body), signature_bytes)
    except (crypto.CryptoError, MalformedMessage) as exc:
        raise BadSignature("signature does not verify") from exc
    return key_id

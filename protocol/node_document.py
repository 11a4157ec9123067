"""The signed node document served at ``/.well-known/mentornet``.

It names the node, its base URL, the protocol versions it speaks, its current signing keys
(each with a ``valid_until``) and its retired keys (each with ``expired_at``), so that what an
old key signed stays verifiable after a rotation. The document is signed by its newest
current key under the context ``mentornet/v1/node-document``.

On rotation the outgoing key endorses its successor (context ``mentornet/v1/key-endorsement``
over ``{"type", "key_id", "public_key"}``), and the entry of the new key carries that
endorsement as ``endorsed_by``. A peer that pinned the old key can so follow the chain to
the new one without the operators exchanging fingerprints again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import crypto
from protocol.canonical import JsonValue, canonical_json
from protocol.encoding import b64decode, b64encode
from protocol.errors import BadSignature, MalformedMessage
from protocol.models import SignedWireModel
from protocol.signed import sign_object, verify_object

NODE_DOCUMENT_CONTEXT = "mentornet/v1/node-document"
NODE_DOCUMENT_TYPE = "mentornet/v1/node-document"
PROTOCOL_VERSIONS: tuple[str, ...] = ("v1",)
ED25519 = "ed25519"
KEY_ENDORSEMENT_CONTEXT = "mentornet/v1/key-endorsement"
KEY_ENDORSEMENT_TYPE = "mentornet/v1/key-endorsement"


@dataclass(frozen=True)
class PublishedKey:
    """A node signing key as the document lists it (public half only)."""

    public_key: bytes
    valid_until: int
    expired_at: int | None = None
    endorsed_by: str | None = None
    endorsement: bytes | None = None

    @property
    def key_id(self) -> str:
        return crypto.key_id(self.public_key)

    def as_entry(self) -> dict[str, JsonValue]:
        entry: dict[str, JsonValue] = {
            "id": self.key_id,
            "algorithm": ED25519,
            "public_key": b64encode(self.public_key),
        }
        if self.expired_at is None:
            entry["valid_until"] = self.valid_until
        else:
            entry["expired_at"] = self.expired_at
        if self.endorsed_by is not None and self.endorsement is not None:
            entry["endorsed_by"] = {"key_id": self.endorsed_by, "value": b64encode(self.endorsement)}
        return entry


class SignatureEntry(SignedWireModel):
    key_id: str
    value: str


class CurrentKeyEntry(SignedWireModel):
    id: str
    algorithm: str
    public_key: str
    valid_until: int
    endorsed_by: SignatureEntry | None = None


class OldKeyEntry(SignedWireModel):
    id: str
    algorithm: str
    public_key: str
    expired_at: int
    endorsed_by: SignatureEntry | None = None


class NodeDocument(SignedWireModel):
    """A parsed node document (only ever built from a verified raw object)."""

    type: str
    name: str
    base_url: str
    protocol_versions: list[str]
    keys: list[CurrentKeyEntry]
    old_keys: list[OldKeyEntry]
    issued_at: int
    signature: SignatureEntry

    def public_keys(self) -> dict[str, bytes]:
        """Every key the document vouches for, current and old, by key id."""
        entries: list[CurrentKeyEntry | OldKeyEntry] = [*self.keys, *self.old_keys]
        return {entry.id: b64decode(entry.public_key, field="keys.public_key") for entry in entries}

    def keys_trusted_from(self, trusted: Mapping[str, bytes]) -> dict[str, bytes]:
        """The keys reachable from ``trusted`` through endorsements (old key vouching for new).

        Starting from keys an operator pinned (or earlier derived), each listed key endorsed by a
        trusted key becomes trusted too, repeatedly, so a chain of rotations is followed.
        """
        result = dict(trusted)
        entries: list[CurrentKeyEntry | OldKeyEntry] = [*self.keys, *self.old_keys]
        grew = True
        while grew:
            grew = False
            for entry in entries:
                if entry.id in result or entry.endorsed_by is None:
                    continue
                endorser = result.get(entry.endorsed_by.key_id)
                public_key = b64decode(entry.public_key, field="keys.public_key")
                if endorser is None or crypto.key_id(public_key) != entry.id:
                    continue
                try:
                    crypto.verify(
                        endorser,
                        KEY_ENDORSEMENT_CONTEXT,
                        endorsement_body(public_key),
                        b64decode(entry.endorsed_by.value, field="endorsed_by.value"),
                    )
                except crypto.CryptoError:
                    continue
                result[entry.id] = public_key
                grew = True
        return result


def endorsement_body(public_key: bytes) -> bytes:
    """What an old key signs to vouch for its successor."""
    return canonical_json(
        {"type": KEY_ENDORSEMENT_TYPE, "key_id": crypto.key_id(public_key), "public_key": b64encode(public_key)}
    )


def endorse_key(old: crypto.SigningKey, new_public_key: bytes) -> bytes:
    """An endorsement of ``new_public_key`` by ``old``, published with the new key (see module docs)."""
    return crypto.sign(old, KEY_ENDORSEMENT_CONTEXT, endorsement_body(new_public_key))


def build_node_document(
    *,
    name: str,
    base_url: str,
    current: Sequence[PublishedKey],
    old: Sequence[PublishedKey],
    signer: crypto.SigningKey,
    issued_at: int,
) -> dict[str, JsonValue]:
    """Build and sign a node document.

    Args:
        name: the institution's display name.
        base_url: the node's public base URL.
        current: the current keys; ``signer``'s public key must be among them.
        old: retired keys, each with ``expired_at`` set.
        signer: the newest current key, which signs the document.
        issued_at: Unix time in seconds.

    Raises:
        MalformedMessage: if the signer is not a current key or an old key lacks ``expired_at``.
    """
    if signer.public_key not in {key.public_key for key in current}:
        raise MalformedMessage("the node document must be signed by one of its current keys")
    old_entries: list[JsonValue] = []
    for key in old:
        if key.expired_at is None:
            raise MalformedMessage("an old key must carry expired_at")
        old_entries.append(key.as_entry())
    body: dict[str, JsonValue] = {
        "type": NODE_DOCUMENT_TYPE,
        "name": name,
        "base_url": base_url,
        "protocol_versions": list(PROTOCOL_VERSIONS),
        "keys": [key.as_entry() for key in current],
        "old_keys": old_entries,
        "issued_at": issued_at,
    }
    return sign_object(body, signer, NODE_DOCUMENT_CONTEXT)


MAX_FUTURE_SKEW_SECONDS = 300


def verify_node_document(
    raw: Mapping[str, object], *, now: int, max_future_skew: int = MAX_FUTURE_SKEW_SECONDS
) -> NodeDocument:
    """Verify a raw node document's self-signature, then parse it.

    The signing key must be one of the document's *current* Ed25519 keys and still valid at
    ``now``; whether that key is the one an operator pinned is the caller's decision.

    Raises:
        BadSignature: if the signature does not verify under a current, unexpired key.
        MalformedMessage: if the verified object does not have the node-document shape, lists a
            key of another algorithm or length, or was issued more than ``max_future_skew``
            seconds in the future.
    """
    current: dict[str, bytes] = {}
    for entry in _list_of_mappings(raw.get("keys"), "keys"):
        valid_until = entry.get("valid_until")
        if (
            isinstance(entry.get("id"), str)
            and isinstance(entry.get("public_key"), str)
            and isinstance(valid_until, int)
            and valid_until > now
        ):
            if entry.get("algorithm") != ED25519:
                raise MalformedMessage(f"keys: unsupported algorithm {entry.get('algorithm')!r}")
            public_key = b64decode(str(entry["public_key"]), field="keys.public_key")
            try:
                matches = crypto.key_id(public_key) == entry["id"]
            except crypto.CryptoError as exc:
                raise MalformedMessage(f"keys: {exc}") from exc
            if not matches:
                raise MalformedMessage("keys: a key id does not match its public key")
            current[str(entry["id"])] = public_key
    verify_object(raw, NODE_DOCUMENT_CONTEXT, current)
    try:
        document = NodeDocument.model_validate(raw)
    except ValueError as exc:
        raise MalformedMessage(f"not a node document: {exc}") from exc
    if document.type != NODE_DOCUMENT_TYPE:
        raise MalformedMessage(f"type must be {NODE_DOCUMENT_TYPE!r}")
    if document.issued_at > now + max_future_skew:
        raise MalformedMessage(f"issued_at is {document.issued_at - now} s in the future; check the clocks")
    return document


def _list_of_mappings(value: object, field: str) -> list[Mapping[str, object]]:
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise BadSignature(f"{field}: expected a list of key objects")
    return list(value)

"""PQXDH-style hybrid key agreement between two member devices (X25519 and ML-KEM-768).

This follows Signal's PQXDH (revision 3) with the changes written down in ``docs/protocol.md``
("Session set-up"):

- A device's identity is an Ed25519 key; its Diffie-Hellman identity is a separate X25519 key
  signed by it (instead of XEdDSA over one key), like every pre-key.
- Every pre-key, one-time ones included, is signed by the identity key under the context
  ``mentornet/v1/prekey`` over ``kind || 0x00 || key_id (4 bytes, big-endian) || public_key``.
- The transcript (both identities, every pre-key used, the KEM public key and ciphertext, the
  ephemeral key) is hashed into the HKDF ``info`` and into the associated data, so a session is
  bound to exactly the keys and the ciphertext it was made from.

Shared secret: ``HKDF-SHA256(salt = 32 zero bytes, ikm = 0xFF*32 || DH1 || DH2 || DH3 [|| DH4] || SS,
info = "mentornet/v1/pqxdh" || SHA-256(transcript))`` with DH1 = DH(IKdh_A, SPK_B), DH2 =
DH(EK_A, IKdh_B), DH3 = DH(EK_A, SPK_B), DH4 = DH(EK_A, OPK_B) and SS the ML-KEM-768 secret.
Associated data: ``"mentornet/v1/pqxdh-ad" || IK_A || IK_B || SHA-256(transcript)``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from crypto import _primitives
from crypto.errors import InvalidKey
from crypto.signing import SigningKey, sign, verify

PREKEY_CONTEXT = "mentornet/v1/prekey"
KDF_INFO = b"mentornet/v1/pqxdh"
AD_PREFIX = b"mentornet/v1/pqxdh-ad"
IDENTITY_DH_ID = 0
MAX_KEY_ID = 2**32 - 1


class PreKeyKind(StrEnum):
    X25519 = "x25519"
    MLKEM768 = "mlkem768"


_PUBLIC_BYTES = {PreKeyKind.X25519: _primitives.X25519_BYTES, PreKeyKind.MLKEM768: _primitives.MLKEM768_PUBLIC_BYTES}


@dataclass(frozen=True)
class SignedPreKey:
    """A public pre-key and the identity key's signature over it."""

    kind: PreKeyKind
    key_id: int
    public_key: bytes
    signature: bytes

    def signed_message(self) -> bytes:
        return prekey_message(self.kind, self.key_id, self.public_key)

    def verify(self, identity_key: bytes, kind: PreKeyKind) -> None:
        """Check the kind, the key's length and the signature.

        Raises:
            InvalidKey: on the wrong kind or length.
            InvalidSignature: if ``identity_key`` did not sign this pre-key.
        """
        if self.kind is not kind:
            raise InvalidKey(f"expected a {kind} pre-key, got {self.kind}")
        if len(self.public_key) != _PUBLIC_BYTES[kind]:
            raise InvalidKey(f"a {kind} public key is {_PUBLIC_BYTES[kind]} bytes, got {len(self.public_key)}")
        verify(identity_key, PREKEY_CONTEXT, self.signed_message(), self.signature)


def prekey_message(kind: PreKeyKind, key_id: int, public_key: bytes) -> bytes:
    """The bytes the identity key signs for one pre-key."""
    if not 0 <= key_id <= MAX_KEY_ID:
        raise InvalidKey("a pre-key id is a 32-bit unsigned integer")
    return kind.value.encode() + b"\0" + struct.pack(">I", key_id) + public_key


@dataclass(frozen=True)
class PreKeyBundle:
    """What an initiator fetches to start a session with a device (one-time keys handed out once)."""

    identity_key: bytes
    identity_dh: SignedPreKey
    signed_prekey: SignedPreKey
    pq_prekey: SignedPreKey
    one_time_prekey: SignedPreKey | None = None
    pq_one_time_prekey: SignedPreKey | None = None

    def verify(self) -> None:
        """Check that the identity key signed every key of the bundle.

        Raises:
            InvalidSignature, InvalidKey: on the first key that fails.
        """
        self.identity_dh.verify(self.identity_key, PreKeyKind.X25519)
        self.signed_prekey.verify(self.identity_key, PreKeyKind.X25519)
        self.pq_prekey.verify(self.identity_key, PreKeyKind.MLKEM768)
        if self.one_time_prekey is not None:
            self.one_time_prekey.verify(self.identity_key, PreKeyKind.X25519)
        if self.pq_one_time_prekey is not None:
            self.pq_one_time_prekey.verify(self.identity_key, PreKeyKind.MLKEM768)


@dataclass(frozen=True)
class InitialHeader:
    """What the initiator sends with its first message, so the responder can derive the same secret."""

    identity_key: bytes
    identity_dh: bytes
    ephemeral_key: bytes
    signed_prekey_id: int
    one_time_prekey_id: int | None
    pq_prekey_id: int
    pq_ciphertext: bytes


@dataclass(frozen=True)
class Agreement:
    """The outcome of the handshake: the 32-byte root secret, and the associated data every
    message of the session authenticates."""

    shared_secret: bytes = field(repr=False)
    associated_data: bytes


@dataclass
class DeviceSecrets:
    """A device's private keys: identity, DH identity, and pre-keys by (kind, id).

    One-time pre-keys are deleted when a handshake uses them. The signed pre-keys (X25519 and the
    ML-KEM "last resort" key) are replaced by :meth:`rotate_signed_prekeys`; the replaced ones are
    kept in ``retired`` (with the time) to answer handshakes already on their way, until
    :meth:`forget_retired` deletes them.
    """

    identity_seed: bytes = field(repr=False)
    identity_dh_private: bytes = field(repr=False)
    prekeys: dict[tuple[PreKeyKind, int], bytes] = field(repr=False)
    signed_prekey_id: int
    pq_prekey_id: int
    one_time_ids: set[tuple[PreKeyKind, int]]
    next_id: int
    retired: list[tuple[PreKeyKind, int, int]] = field(default_factory=list)

    @classmethod
    def generate(cls, one_time: int = 0) -> DeviceSecrets:
        """A new device with fresh keys and ``one_time`` one-time pre-keys of each kind."""
        secrets = cls(
            identity_seed=os.urandom(32),
            identity_dh_private=os.urandom(32),
            prekeys={},
            signed_prekey_id=0,
            pq_prekey_id=0,
            one_time_ids=set(),
            next_id=1,
        )
        secrets.signed_prekey_id = secrets._new_key(PreKeyKind.X25519)
        secrets.pq_prekey_id = secrets._new_key(PreKeyKind.MLKEM768)
        secrets.new_one_time_prekeys(one_time)
        return secrets

    def to_json(self) -> dict[str, Any]:
        """Every private key, hex-encoded (store it only encrypted)."""
        return {
            "identity_seed": self.identity_seed.hex(),
            "identity_dh_private": self.identity_dh_private.hex(),
            "prekeys": [[kind.value, key_id, private.hex()] for (kind, key_id), private in self.prekeys.items()],
            "signed_prekey_id": self.signed_prekey_id,
            "pq_prekey_id": self.pq_prekey_id,
            "one_time_ids": [[kind.value, key_id] for kind, key_id in sorted(self.one_time_ids)],
            "retired": [[kind.value, key_id, at] for kind, key_id, at in self.retired],
            "next_id": self.next_id,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DeviceSecrets:
        return cls(
            identity_seed=bytes.fromhex(data["identity_seed"]),
            identity_dh_private=bytes.fromhex(data["identity_dh_private"]),
            prekeys={(PreKeyKind(kind), key_id): bytes.fromhex(private) for kind, key_id, private in data["prekeys"]},
            signed_prekey_id=data["signed_prekey_id"],
            pq_prekey_id=data["pq_prekey_id"],
            one_time_ids={(PreKeyKind(kind), key_id) for kind, key_id in data["one_time_ids"]},
            next_id=data["next_id"],
            retired=[(PreKeyKind(kind), key_id, at) for kind, key_id, at in data.get("retired", [])],
        )

    @property
    def signer(self) -> SigningKey:
        return SigningKey(self.identity_seed)

    @property
    def identity_key(self) -> bytes:
        return self.signer.public_key

    def public_prekey(self, kind: PreKeyKind, key_id: int) -> SignedPreKey:
        """The signed public half of one of this device's pre-keys (id 0 of X25519: the DH identity)."""
        if kind is PreKeyKind.X25519 and key_id == IDENTITY_DH_ID:
            public = _primitives.x25519_public_from_private(self.identity_dh_private)
        else:
            public = _public(kind, self._private(kind, key_id))
        return SignedPreKey(
            kind, key_id, public, sign(self.signer, PREKEY_CONTEXT, prekey_message(kind, key_id, public))
        )

    def identity_dh(self) -> SignedPreKey:
        return self.public_prekey(PreKeyKind.X25519, IDENTITY_DH_ID)

    def one_time_prekeys(self) -> list[SignedPreKey]:
        """Every unused one-time pre-key, signed, in id order."""
        return [self.public_prekey(kind, key_id) for kind, key_id in sorted(self.one_time_ids, key=lambda k: k[1])]

    def new_one_time_prekeys(self, count: int) -> list[SignedPreKey]:
        """Add ``count`` one-time pre-keys of each kind; return their signed public halves."""
        made = []
        for _ in range(count):
            for kind in PreKeyKind:
                key_id = self._new_key(kind)
                self.one_time_ids.add((kind, key_id))
                made.append(self.public_prekey(kind, key_id))
        return made

    def rotate_signed_prekeys(self, now: int) -> None:
        """New signed pre-keys of both kinds; the old ones are retired at ``now``, not yet deleted."""
        self.retired += [(PreKeyKind.X25519, self.signed_prekey_id, now), (PreKeyKind.MLKEM768, self.pq_prekey_id, now)]
        self.signed_prekey_id = self._new_key(PreKeyKind.X25519)
        self.pq_prekey_id = self._new_key(PreKeyKind.MLKEM768)

    def forget_retired(self, before: int) -> int:
        """Delete the signed pre-keys retired before ``before``; return how many went."""
        old = [(kind, key_id) for kind, key_id, at in self.retired if at < before]
        for kind, key_id in old:
            self.forget(kind, key_id)
        self.retired = [entry for entry in self.retired if entry[2] >= before]
        return len(old)

    def forget(self, kind: PreKeyKind, key_id: int) -> None:
        self.prekeys.pop((kind, key_id), None)
        self.one_time_ids.discard((kind, key_id))

    def ratchet_private(self, key_id: int) -> bytes:
        """The private half of a signed X25519 pre-key, which also starts the responder's ratchet."""
        return self._private(PreKeyKind.X25519, key_id)

    def _new_key(self, kind: PreKeyKind) -> int:
        key_id = self.next_id
        self.next_id += 1
        size = _primitives.X25519_BYTES if kind is PreKeyKind.X25519 else _primitives.MLKEM768_SEED_BYTES
        self.prekeys[(kind, key_id)] = os.urandom(size)
        return key_id

    def _private(self, kind: PreKeyKind, key_id: int) -> bytes:
        private = self.prekeys.get((kind, key_id))
        if private is None:
            raise InvalidKey(f"no {kind} pre-key {key_id} on this device (a one-time key is used once)")
        return private

    def consume(self, header: InitialHeader) -> None:
        """Delete the one-time pre-keys a handshake used (after its first message authenticated)."""
        used = [(PreKeyKind.MLKEM768, header.pq_prekey_id)]
        if header.one_time_prekey_id is not None:
            used.append((PreKeyKind.X25519, header.one_time_prekey_id))
        for kind, key_id in used:
            if (kind, key_id) in self.one_time_ids:
                self.forget(kind, key_id)


def _public(kind: PreKeyKind, private: bytes) -> bytes:
    if kind is PreKeyKind.X25519:
        return _primitives.x25519_public_from_private(private)
    return _primitives.mlkem768_public_from_seed(private)


def initiate(own: DeviceSecrets, bundle: PreKeyBundle) -> tuple[Agreement, InitialHeader]:
    """Start a session with the device that published ``bundle``.

    Raises:
        InvalidSignature, InvalidKey: if the bundle does not verify.
    """
    bundle.verify()
    ephemeral = os.urandom(32)
    pq_key = bundle.pq_one_time_prekey or bundle.pq_prekey
    pq_secret, pq_ciphertext = _primitives.mlkem768_encapsulate(pq_key.public_key)
    header = InitialHeader(
        identity_key=own.identity_key,
        identity_dh=_primitives.x25519_public_from_private(own.identity_dh_private),
        ephemeral_key=_primitives.x25519_public_from_private(ephemeral),
        signed_prekey_id=bundle.signed_prekey.key_id,
        one_time_prekey_id=None if bundle.one_time_prekey is None else bundle.one_time_prekey.key_id,
        pq_prekey_id=pq_key.key_id,
        pq_ciphertext=pq_ciphertext,
    )
    secrets = [
        _primitives.x25519(own.identity_dh_private, bundle.signed_prekey.public_key),
        _primitives.x25519(ephemeral, bundle.identity_dh.public_key),
        _primitives.x25519(ephemeral, bundle.signed_prekey.public_key),
    ]
    if bundle.one_time_prekey is not None:
        secrets.append(_primitives.x25519(ephemeral, bundle.one_time_prekey.public_key))
    transcript = _transcript(
        header,
        responder_identity=bundle.identity_key,
        responder_dh=bundle.identity_dh.public_key,
        signed_prekey=bundle.signed_prekey.public_key,
        one_time_prekey=None if bundle.one_time_prekey is None else bundle.one_time_prekey.public_key,
        pq_prekey=pq_key.public_key,
    )
    return _agreement(secrets, pq_secret, transcript, own.identity_key, bundle.identity_key), header


def respond(own: DeviceSecrets, header: InitialHeader) -> Agreement:
    """Derive the initiator's secret from its header. Nothing is changed: once the first message
    authenticates under the agreement, the caller deletes the one-time pre-keys with
    :meth:`DeviceSecrets.consume` (so a forged header uses nothing up).

    Raises:
        InvalidKey: if a pre-key it names is unknown or already used, or a key is malformed.
    """
    for name, value, size in (
        ("identity key", header.identity_key, 32),
        ("DH identity", header.identity_dh, _primitives.X25519_BYTES),
        ("ephemeral key", header.ephemeral_key, _primitives.X25519_BYTES),
    ):
        if len(value) != size:
            raise InvalidKey(f"the initiator's {name} is {size} bytes, got {len(value)}")
    signed_private = own._private(PreKeyKind.X25519, header.signed_prekey_id)
    one_time_private = (
        None if header.one_time_prekey_id is None else own._private(PreKeyKind.X25519, header.one_time_prekey_id)
    )
    pq_seed = own._private(PreKeyKind.MLKEM768, header.pq_prekey_id)
    pq_secret = _primitives.mlkem768_decapsulate(pq_seed, header.pq_ciphertext)
    secrets = [
        _primitives.x25519(signed_private, header.identity_dh),
        _primitives.x25519(own.identity_dh_private, header.ephemeral_key),
        _primitives.x25519(signed_private, header.ephemeral_key),
    ]
    if one_time_private is not None:
        secrets.append(_primitives.x25519(one_time_private, header.ephemeral_key))
    transcript = _transcript(
        header,
        responder_identity=own.identity_key,
        responder_dh=_primitives.x25519_public_from_private(own.identity_dh_private),
        signed_prekey=_primitives.x25519_public_from_private(signed_private),
        one_time_prekey=None if one_time_private is None else _primitives.x25519_public_from_private(one_time_private),
        pq_prekey=_primitives.mlkem768_public_from_seed(pq_seed),
    )
    return _agreement(secrets, pq_secret, transcript, header.identity_key, own.identity_key)


def _transcript(
    header: InitialHeader,
    *,
    responder_identity: bytes,
    responder_dh: bytes,
    signed_prekey: bytes,
    one_time_prekey: bytes | None,
    pq_prekey: bytes,
) -> bytes:
    """Every public value of the handshake, each of fixed length or length-prefixed."""
    parts = [
        header.identity_key,
        header.identity_dh,
        responder_identity,
        responder_dh,
        struct.pack(">I", header.signed_prekey_id),
        signed_prekey,
        b"\0"
        if one_time_prekey is None
        else b"\1" + struct.pack(">I", header.one_time_prekey_id or 0) + one_time_prekey,
        struct.pack(">I", header.pq_prekey_id),
        pq_prekey,
        header.pq_ciphertext,
        header.ephemeral_key,
    ]
    return b"".join(struct.pack(">I", len(part)) + part for part in parts)


def _agreement(
    secrets: list[bytes], pq_secret: bytes, transcript: bytes, initiator: bytes, responder: bytes
) -> Agreement:
    digest = _primitives.sha256(transcript)
    shared = _primitives.hkdf_sha256(
        b"\xff" * 32 + b"".join(secrets) + pq_secret, salt=bytes(32), info=KDF_INFO + digest, length=32
    )
    return Agreement(shared, AD_PREFIX + initiator + responder + digest)

"""Member devices on the wire: signed pre-keys, key bundles, and the signed device list.

A member's identity is the Ed25519 identity key of the device that registered first. The member
publishes a *device list*, signed by that identity key under ``mentornet/v1/device-list``, naming
each device and its X25519 DH identity; a node stores it and serves it, but cannot forge or alter
it. Pre-keys carry the identity key's signature of their own (see :mod:`crypto.pqxdh`), so a
bundle assembled by a node verifies end to end. Binary values are unpadded base64url.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import Field, ValidationError

import crypto
from crypto.pqxdh import PreKeyBundle, PreKeyKind, SignedPreKey
from protocol.canonical import JsonValue
from protocol.encoding import b64decode, b64encode
from protocol.errors import BadSignature, MalformedMessage
from protocol.models import SignedWireModel, WireModel
from protocol.signed import sign_object, verify_object

DEVICE_LIST_CONTEXT = "mentornet/v1/device-list"
DEVICE_LIST_TYPE = "mentornet/device-list"
MAX_DEVICES = 10
MAX_PREKEY_UPLOAD = 200

DeviceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


class PreKeyWire(WireModel):
    kind: PreKeyKind
    id: int = Field(ge=0, le=2**32 - 1)
    public_key: str = Field(max_length=1600)
    signature: str = Field(max_length=100)

    @classmethod
    def of(cls, key: SignedPreKey) -> PreKeyWire:
        return cls(
            kind=key.kind, id=key.key_id, public_key=b64encode(key.public_key), signature=b64encode(key.signature)
        )

    def key(self) -> SignedPreKey:
        return SignedPreKey(
            self.kind,
            self.id,
            b64decode(self.public_key, field="public_key"),
            b64decode(self.signature, field="signature"),
        )


class BundleWire(WireModel):
    """A key bundle as a node hands it out (one-time pre-keys are absent once used up)."""

    member: str = Field(max_length=400)
    device: DeviceId
    identity_key: str = Field(max_length=64)
    identity_dh: PreKeyWire
    signed_prekey: PreKeyWire
    pq_prekey: PreKeyWire
    one_time_prekey: PreKeyWire | None = None
    pq_one_time_prekey: PreKeyWire | None = None

    def bundle(self) -> PreKeyBundle:
        """The verified bundle.

        Raises:
            BadSignature: if a pre-key is not signed by the identity key, or is malformed.
        """
        bundle = PreKeyBundle(
            identity_key=b64decode(self.identity_key, field="identity_key"),
            identity_dh=self.identity_dh.key(),
            signed_prekey=self.signed_prekey.key(),
            pq_prekey=self.pq_prekey.key(),
            one_time_prekey=None if self.one_time_prekey is None else self.one_time_prekey.key(),
            pq_one_time_prekey=None if self.pq_one_time_prekey is None else self.pq_one_time_prekey.key(),
        )
        try:
            bundle.verify()
        except crypto.CryptoError as exc:
            raise BadSignature(f"key bundle of {self.member}: {exc}") from exc
        return bundle


class DeviceEntry(SignedWireModel):
    id: DeviceId
    identity_dh: str = Field(max_length=64)


class DeviceList(SignedWireModel):
    type: str = Field(pattern=f"^{DEVICE_LIST_TYPE}$")
    member: str = Field(max_length=400)
    identity_key: str = Field(max_length=64)
    version: int = Field(ge=1, le=2**53 - 1)
    devices: list[DeviceEntry] = Field(min_length=1, max_length=MAX_DEVICES)


def build_device_list(
    signer: crypto.SigningKey, member: str, version: int, devices: Mapping[str, bytes]
) -> dict[str, JsonValue]:
    """A device list signed by the member's identity key: device id -> X25519 DH identity."""
    body: dict[str, JsonValue] = {
        "type": DEVICE_LIST_TYPE,
        "member": member,
        "identity_key": b64encode(signer.public_key),
        "version": version,
        "devices": [{"id": device, "identity_dh": b64encode(key)} for device, key in sorted(devices.items())],
    }
    _parse(body)
    return sign_object(body, signer, DEVICE_LIST_CONTEXT)


def verify_device_list(raw: Mapping[str, Any], identity_key: bytes | None = None) -> DeviceList:
    """Verify a device list against the identity key it names (and, when given, the identity key
    the reader already knows for this member).

    Raises:
        BadSignature: if it is not signed by its identity key, or names another identity than expected.
        MalformedMessage: if it is not a device list.
    """
    named = raw.get("identity_key")
    if not isinstance(named, str):
        raise MalformedMessage("a device list names its identity_key")
    key = b64decode(named, field="identity_key")
    if identity_key is not None and key != identity_key:
        raise BadSignature("the device list is signed by another identity key than the member's")
    verify_object(raw, DEVICE_LIST_CONTEXT, {crypto.key_id(key): key})
    return _parse(raw)


def _parse(raw: Mapping[str, Any]) -> DeviceList:
    try:
        return DeviceList.model_validate({k: v for k, v in raw.items() if k != "signature"})
    except ValidationError as exc:
        first = exc.errors()[0]
        raise MalformedMessage(f"device list: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from exc

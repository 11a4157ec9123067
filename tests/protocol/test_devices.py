"""Device lists and key bundles on the wire: only what the identity key signed is accepted."""

from __future__ import annotations

import json

import pytest

import crypto
from crypto.pqxdh import DeviceSecrets, PreKeyKind, initiate, respond
from protocol.devices import BundleWire, PreKeyWire, build_device_list, verify_device_list
from protocol.encoding import b64encode
from protocol.errors import BadSignature, MalformedMessage

MEMBER = "m-123@https://uni-a.example"


@pytest.fixture
def device() -> DeviceSecrets:
    return DeviceSecrets.generate(one_time=1)


def bundle_wire(device: DeviceSecrets) -> dict[str, object]:
    """The JSON a node serves for this device, through a real JSON round trip."""
    unused = device.one_time_prekeys()
    wire = BundleWire(
        member=MEMBER,
        device="phone",
        identity_key=b64encode(device.identity_key),
        identity_dh=PreKeyWire.of(device.identity_dh()),
        signed_prekey=PreKeyWire.of(device.public_prekey(PreKeyKind.X25519, device.signed_prekey_id)),
        pq_prekey=PreKeyWire.of(device.public_prekey(PreKeyKind.MLKEM768, device.pq_prekey_id)),
        one_time_prekey=PreKeyWire.of(next(k for k in unused if k.kind is PreKeyKind.X25519)),
        pq_one_time_prekey=PreKeyWire.of(next(k for k in unused if k.kind is PreKeyKind.MLKEM768)),
    )
    result: dict[str, object] = json.loads(wire.model_dump_json())
    return result


def test_a_bundle_from_json_verifies_and_starts_a_session(device: DeviceSecrets) -> None:
    bundle = BundleWire.model_validate_json(json.dumps(bundle_wire(device))).bundle()
    initiator = DeviceSecrets.generate()
    agreement, header = initiate(initiator, bundle)
    assert respond(device, header) == agreement


def test_a_bundle_with_a_swapped_prekey_is_refused(device: DeviceSecrets) -> None:
    raw = bundle_wire(device)
    other = DeviceSecrets.generate()
    raw["signed_prekey"] = json.loads(
        PreKeyWire.of(other.public_prekey(PreKeyKind.X25519, other.signed_prekey_id)).model_dump_json()
    )
    with pytest.raises(BadSignature, match="does not verify"):
        BundleWire.model_validate_json(json.dumps(raw)).bundle()


def test_a_device_list_signed_by_the_identity_key_verifies(device: DeviceSecrets) -> None:
    raw = build_device_list(device.signer, MEMBER, 1, {"phone": device.identity_dh().public_key})
    parsed = verify_device_list(json.loads(json.dumps(raw)), device.identity_key)
    assert [entry.id for entry in parsed.devices] == ["phone"]


def test_a_device_list_not_signed_by_the_identity_key_is_refused(device: DeviceSecrets) -> None:
    intruder = crypto.SigningKey(bytes(range(32)))
    forged = build_device_list(intruder, MEMBER, 2, {"laptop": bytes(32)})
    with pytest.raises(BadSignature, match="another identity key"):
        verify_device_list(forged, device.identity_key)
    # Claiming the member's identity key while signing with another key fails the signature.
    claimed = dict(forged)
    claimed["identity_key"] = b64encode(device.identity_key)
    with pytest.raises(BadSignature):
        verify_device_list(claimed, device.identity_key)


def test_an_altered_device_list_is_refused(device: DeviceSecrets) -> None:
    raw = build_device_list(device.signer, MEMBER, 1, {"phone": device.identity_dh().public_key})
    raw["devices"] = [{"id": "evil", "identity_dh": b64encode(bytes(32))}]
    with pytest.raises(BadSignature):
        verify_device_list(raw, device.identity_key)


def test_a_device_list_without_devices_is_malformed(device: DeviceSecrets) -> None:
    with pytest.raises(MalformedMessage, match="devices"):
        build_device_list(device.signer, MEMBER, 1, {})

"""The hybrid handshake: both sides derive one secret, bound to every key and the KEM ciphertext."""

from __future__ import annotations

import dataclasses

import pytest

from crypto import _primitives
from crypto.errors import InvalidKey, InvalidSignature
from crypto.pqxdh import (
    DeviceSecrets,
    InitialHeader,
    PreKeyBundle,
    PreKeyKind,
    SignedPreKey,
    initiate,
    respond,
)


def bundle_of(device: DeviceSecrets, *, one_time: bool = True) -> PreKeyBundle:
    """What the node would hand out: the first unused one-time keys of each kind."""
    unused = device.one_time_prekeys()
    x25519 = next((key for key in unused if key.kind is PreKeyKind.X25519), None) if one_time else None
    mlkem = next((key for key in unused if key.kind is PreKeyKind.MLKEM768), None) if one_time else None
    return PreKeyBundle(
        identity_key=device.identity_key,
        identity_dh=device.identity_dh(),
        signed_prekey=device.public_prekey(PreKeyKind.X25519, device.signed_prekey_id),
        pq_prekey=device.public_prekey(PreKeyKind.MLKEM768, device.pq_prekey_id),
        one_time_prekey=x25519,
        pq_one_time_prekey=mlkem,
    )


@pytest.fixture
def alice() -> DeviceSecrets:
    return DeviceSecrets.generate(one_time=2)


@pytest.fixture
def bob() -> DeviceSecrets:
    return DeviceSecrets.generate(one_time=2)


@pytest.mark.parametrize("one_time", [True, False], ids=["with one-time keys", "last-resort keys only"])
def test_both_sides_derive_the_same_secret_and_associated_data(
    alice: DeviceSecrets, bob: DeviceSecrets, one_time: bool
) -> None:
    ours, header = initiate(alice, bundle_of(bob, one_time=one_time))
    theirs = respond(bob, header)
    assert ours == theirs
    assert len(ours.shared_secret) == 32
    assert alice.identity_key in ours.associated_data and bob.identity_key in ours.associated_data


def test_each_handshake_gives_a_fresh_secret(alice: DeviceSecrets, bob: DeviceSecrets) -> None:
    first, _ = initiate(alice, bundle_of(bob, one_time=False))
    second, _ = initiate(alice, bundle_of(bob, one_time=False))
    assert first.shared_secret != second.shared_secret


def test_a_one_time_prekey_works_once(alice: DeviceSecrets, bob: DeviceSecrets) -> None:
    bundle = bundle_of(bob)
    _, header = initiate(alice, bundle)
    respond(bob, header)
    assert bundle.one_time_prekey in bob.one_time_prekeys()  # nothing is used up before it authenticates
    bob.consume(header)
    assert bundle.one_time_prekey not in bob.one_time_prekeys()
    assert bundle.pq_one_time_prekey not in bob.one_time_prekeys()
    _, again = initiate(alice, bundle)
    with pytest.raises(InvalidKey, match="used once"):
        respond(bob, again)


def test_the_last_resort_pq_key_serves_many_handshakes(alice: DeviceSecrets, bob: DeviceSecrets) -> None:
    bundle = bundle_of(bob, one_time=False)
    for _ in range(3):
        ours, header = initiate(alice, bundle)
        assert respond(bob, header) == ours
        bob.consume(header)  # the signed keys stay


def test_a_failed_handshake_uses_up_no_one_time_key(alice: DeviceSecrets, bob: DeviceSecrets) -> None:
    bundle = bundle_of(bob)
    _, header = initiate(alice, bundle)
    with pytest.raises(InvalidKey):
        respond(bob, dataclasses.replace(header, pq_ciphertext=header.pq_ciphertext[:-1]))
    assert bundle.one_time_prekey in bob.one_time_prekeys()
    respond(bob, header)
    assert bundle.one_time_prekey in bob.one_time_prekeys()


@pytest.mark.parametrize(
    "field",
    ["identity_dh", "signed_prekey", "pq_prekey", "one_time_prekey", "pq_one_time_prekey"],
)
def test_a_bundle_key_not_signed_by_the_identity_key_is_refused(
    alice: DeviceSecrets, bob: DeviceSecrets, field: str
) -> None:
    bundle = bundle_of(bob)
    genuine: SignedPreKey = getattr(bundle, field)
    stranger = DeviceSecrets.generate(one_time=1)
    forged = stranger.public_prekey(
        genuine.kind, stranger.signed_prekey_id if genuine.kind is PreKeyKind.X25519 else stranger.pq_prekey_id
    )
    forged = dataclasses.replace(forged, key_id=genuine.key_id)
    with pytest.raises(InvalidSignature):
        initiate(alice, dataclasses.replace(bundle, **{field: forged}))


def test_a_prekey_of_the_wrong_kind_is_refused(alice: DeviceSecrets, bob: DeviceSecrets) -> None:
    bundle = bundle_of(bob)
    with pytest.raises(InvalidKey, match="expected a mlkem768"):
        initiate(alice, dataclasses.replace(bundle, pq_prekey=bundle.signed_prekey))


@pytest.mark.parametrize("field", ["identity_dh", "ephemeral_key", "pq_ciphertext", "identity_key"])
def test_any_altered_header_value_changes_the_agreement(alice: DeviceSecrets, bob: DeviceSecrets, field: str) -> None:
    ours, header = initiate(alice, bundle_of(bob, one_time=False))
    value: bytes = getattr(header, field)
    altered = bytearray(value)
    altered[5] ^= 1
    if field in ("identity_dh", "ephemeral_key"):
        altered = bytearray(_primitives.x25519_public_from_private(bytes(range(32))))
    theirs = respond(bob, dataclasses.replace(header, **{field: bytes(altered)}))
    assert theirs != ours


def test_a_header_with_malformed_keys_is_refused(alice: DeviceSecrets, bob: DeviceSecrets) -> None:
    _, header = initiate(alice, bundle_of(bob))
    with pytest.raises(InvalidKey):
        respond(bob, dataclasses.replace(header, ephemeral_key=b"short"))
    with pytest.raises(InvalidKey):
        respond(bob, dataclasses.replace(header, signed_prekey_id=9999))


def test_new_one_time_prekeys_are_signed_and_unique(bob: DeviceSecrets) -> None:
    made = bob.new_one_time_prekeys(3)
    assert len(made) == 6 and len({(key.kind, key.key_id) for key in made}) == 6
    for key in made:
        key.verify(bob.identity_key, key.kind)


def test_header_is_plain_data(alice: DeviceSecrets, bob: DeviceSecrets) -> None:
    _, header = initiate(alice, bundle_of(bob))
    assert isinstance(header, InitialHeader)
    assert len(header.pq_ciphertext) == _primitives.MLKEM768_CIPHERTEXT_BYTES


def test_device_secrets_survive_serialization(bob: DeviceSecrets) -> None:
    restored = DeviceSecrets.from_json(bob.to_json())
    assert restored == bob
    ours, header = initiate(DeviceSecrets.generate(), bundle_of(bob))
    assert respond(restored, header) == ours
    restored.consume(header)

"""Signing-key rotation: a new key signs, old keys stay listed so what they signed still verifies."""

from __future__ import annotations

import dataclasses

import pytest

import crypto
from node.errors import StorageError
from node.instance import Node
from node.signing_keys import load_key_set, node_document, rotate_signing_key
from node.storage.keys import KeyStore
from protocol.errors import BadSignature
from protocol.node_document import NODE_DOCUMENT_CONTEXT, verify_node_document
from protocol.signed import verify_object

NOW = 1_800_000_000


async def test_the_node_document_is_signed_by_the_current_key(node: Node) -> None:
    keys = await load_key_set(node)
    document = verify_node_document(node_document(node, keys, NOW), now=NOW)
    assert document.name == "Test University"
    assert document.signature.key_id == keys.signer.key_id
    assert document.old_keys == []


async def test_after_rotation_the_old_key_is_listed_with_expired_at_and_its_signatures_still_verify(node: Node) -> None:
    old_document = node_document(node, await load_key_set(node), NOW)
    old_key_id = (await load_key_set(node)).signer.key_id

    new_key_id, retired = await rotate_signing_key(node)

    assert retired == [old_key_id] and new_key_id != old_key_id
    document = verify_node_document(node_document(node, await load_key_set(node), NOW), now=NOW)
    assert [key.id for key in document.keys] == [new_key_id]
    assert [key.id for key in document.old_keys] == [old_key_id]
    assert document.old_keys[0].expired_at > 0
    assert verify_object(old_document, NODE_DOCUMENT_CONTEXT, document.public_keys()) == old_key_id


async def test_an_old_key_can_no_longer_sign_a_node_document(node: Node) -> None:
    old_document = node_document(node, await load_key_set(node), NOW)
    await rotate_signing_key(node)
    current = node_document(node, await load_key_set(node), NOW)
    forged = {**old_document, "keys": current["keys"], "old_keys": current["old_keys"]}
    with pytest.raises(BadSignature):
        verify_node_document(forged, now=NOW)


async def test_a_public_key_slipped_into_the_database_is_never_vouched_for(node: Node) -> None:
    intruder = crypto.SigningKey(bytes(range(32)))
    async with node.database.transaction() as session:
        current = (await KeyStore(session).signing_keys())[-1]
        await KeyStore(session).add_signing_key(
            dataclasses.replace(current, key_id=intruder.key_id, public_key=intruder.public_key, created_at=NOW)
        )
    with pytest.raises(StorageError, match=f"signing key {intruder.key_id} does not (open|match)"):
        await load_key_set(node)


async def test_after_rotations_a_peer_that_pinned_the_first_key_can_follow_the_chain(node: Node) -> None:
    first = verify_node_document(node_document(node, await load_key_set(node), NOW), now=NOW)
    pinned = {first.signature.key_id: first.public_keys()[first.signature.key_id]}
    await rotate_signing_key(node)
    await rotate_signing_key(node)

    document = verify_node_document(node_document(node, await load_key_set(node), NOW), now=NOW)

    assert document.signature.key_id not in pinned
    assert document.signature.key_id in document.keys_trusted_from(pinned)
    assert document.keys_trusted_from({}) == {}

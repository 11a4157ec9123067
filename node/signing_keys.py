"""Node signing keys: the current key, rotation, and the signed node document."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import crypto
from node.instance import Node, open_signing_key, seal_signing_key
from node.storage.audit import AuditStore
from node.storage.keys import KeyStore, StoredSigningKey
from protocol.canonical import JsonValue
from protocol.node_document import PublishedKey, build_node_document


@dataclass(frozen=True)
class KeySet:
    """The node's signing keys: the private current key, and every public key with its dates."""

    signer: crypto.SigningKey
    current: tuple[PublishedKey, ...]
    old: tuple[PublishedKey, ...]


async def load_key_set(node: Node) -> KeySet:
    """Read the signing keys and open the newest current one."""
    async with node.database.transaction() as session:
        keys = KeyStore(session)
        stored = await keys.signing_keys()
        current = [key for key in stored if key.expired_at is None]
        if not current:
            raise LookupError("the node has no current signing key")
        newest = current[-1]
        salt = (await keys.kek(newest.kek_version)).salt
    return KeySet(
        signer=open_signing_key(node, newest, salt),
        current=tuple(_published(key) for key in current),
        old=tuple(_published(key) for key in stored if key.expired_at is not None),
    )


def node_document(node: Node, keys: KeySet, now: int) -> dict[str, JsonValue]:
    """The signed node document served at ``/.well-known/mentornet``."""
    return build_node_document(
        name=node.config.name,
        base_url=node.config.base_url,
        current=keys.current,
        old=keys.old,
        signer=keys.signer,
        issued_at=now,
    )


async def rotate_signing_key(node: Node) -> tuple[str, list[str]]:
    """Make a new signing key current; the previous ones become old keys with ``expired_at``.

    Returns:
        The new key id and the ids of the keys that were retired.
    """
    now = node.clock()
    key = crypto.SigningKey(secrets.token_bytes(32))
    async with node.database.transaction() as session:
        keys = KeyStore(session)
        kek = await keys.current_kek()
        await keys.add_signing_key(seal_signing_key(node, key, kek.version, kek.salt, now))
        retired = await keys.expire_signing_keys(key.key_id, now)
        await node.audit(AuditStore(session), "keys.rotate-signing", key.key_id, {"retired": list(retired)})
    return key.key_id, retired


def _published(key: StoredSigningKey) -> PublishedKey:
    return PublishedKey(public_key=key.public_key, valid_until=key.valid_until, expired_at=key.expired_at)

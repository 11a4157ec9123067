"""Node signing keys: the current key, rotation, and the signed node document."""

from __future__ import annotations

import dataclasses
import secrets
import time
from dataclasses import dataclass

import crypto
from node.errors import StorageError
from node.instance import Node, open_signing_key, seal_signing_key
from node.storage.audit import AuditStore
from node.storage.keys import KeyStore, StoredSigningKey
from protocol.canonical import JsonValue
from protocol.node_document import PublishedKey, build_node_document, endorse_key


@dataclass(frozen=True)
class KeySet:
    """The node's signing keys: the private current key, and every public key with its dates."""

    signer: crypto.SigningKey
    current: tuple[PublishedKey, ...]
    old: tuple[PublishedKey, ...]


async def load_key_set(node: Node) -> KeySet:
    """Read the signing keys, open every one, and keep the newest current one for signing.

    Every key is opened, not only the signer: the node vouches in its document for each public
    key it lists, so a public key must be backed by a seed sealed under our KEK.

    Raises:
        StorageError: if a stored public key is not backed by its sealed seed (tampering), or
            there is no current key.
    """
    async with node.database.transaction() as session:
        keys = KeyStore(session)
        stored = await keys.signing_keys()
        salts = {kek.version: kek.salt for kek in await keys.kek_versions()}
    opened: list[crypto.SigningKey] = []
    for key in stored:
        try:
            seed_key = open_signing_key(node, key, salts[key.kek_version])
        except (crypto.CryptoError, KeyError) as exc:
            raise StorageError(f"signing key {key.key_id} does not open: the database was altered") from exc
        if seed_key.public_key != key.public_key:
            raise StorageError(f"signing key {key.key_id} does not match its sealed seed: the database was altered")
        opened.append(seed_key)
    current = [index for index, key in enumerate(stored) if key.expired_at is None]
    if not current:
        raise StorageError("the node has no current signing key; rotate one in with 'mentornet keys rotate-signing'")
    return KeySet(
        signer=opened[current[-1]],
        current=tuple(_published(stored[index]) for index in current),
        old=tuple(_published(key) for key in stored if key.expired_at is not None),
    )


KEY_SET_TTL_SECONDS = 10.0


class KeySetCache:
    """The signing keys, re-read now and then so a rotation made by the CLI is picked up while serving."""

    def __init__(self, node: Node, keys: KeySet) -> None:
        self._node = node
        self._keys = keys
        self._loaded_at = time.monotonic()

    @classmethod
    async def load(cls, node: Node) -> KeySetCache:
        return cls(node, await load_key_set(node))

    async def current(self) -> KeySet:
        if time.monotonic() - self._loaded_at > KEY_SET_TTL_SECONDS:
            self._keys, self._loaded_at = await load_key_set(self._node), time.monotonic()
        return self._keys


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
    outgoing = (await load_key_set(node)).signer
    async with node.database.transaction() as session:
        keys = KeyStore(session)
        kek = await keys.current_kek()
        row = seal_signing_key(node, key, kek.version, kek.salt, now)
        endorsement = endorse_key(outgoing, key.public_key)
        await keys.add_signing_key(dataclasses.replace(row, endorsed_by=outgoing.key_id, endorsement=endorsement))
        retired = await keys.expire_signing_keys(key.key_id, now)
        await node.audit(AuditStore(session), "keys.rotate-signing", key.key_id, {"retired": list(retired)})
    return key.key_id, retired


def _published(key: StoredSigningKey) -> PublishedKey:
    return PublishedKey(
        public_key=key.public_key,
        valid_until=key.valid_until,
        expired_at=key.expired_at,
        endorsed_by=key.endorsed_by,
        endorsement=key.endorsement,
    )

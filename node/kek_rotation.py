"""KEK rotation: a new KEK version, then every data key and signing seed rewrapped in small batches.

Each batch is its own short transaction and each row is swapped only if it is still under the
old version, so the node keeps serving throughout: a reader finds every row under a version it
can derive (old or new). A version is retired once no row references it any more.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from crypto.kdf import SALT_BYTES
from node.instance import Node, signing_key_binding
from node.keyring import open_value, seal_value
from node.members import data_key_binding
from node.storage.audit import AuditStore
from node.storage.keys import KeyStore
from node.storage.members import MemberStore

Progress = Callable[[int, int], None]
BATCH = 200


@dataclass(frozen=True)
class KekRotation:
    new_version: int
    rewrapped_data_keys: int
    rewrapped_signing_keys: int
    retired_versions: tuple[int, ...]


async def rotate_kek(node: Node, progress: Progress | None = None) -> KekRotation:
    """Create KEK version n+1 and rewrap everything sealed under older versions.

    Args:
        node: the unlocked node.
        progress: called as ``progress(done, total)`` after each batch.
    """
    now = node.clock()
    async with node.database.transaction() as session:
        keys = KeyStore(session)
        versions = await keys.kek_versions()
        new = await keys.add_kek(versions[-1].version + 1, secrets.token_bytes(SALT_BYTES), now)
        pending = await keys.kek_reference_counts()
    total = sum(count for version, count in pending.items() if version != new.version)
    new_kek = node.keyring.kek(new.version, new.salt)
    done = data_keys = signing_keys = 0
    for old in versions:
        old_kek = node.keyring.kek(old.version, old.salt)
        async with node.database.transaction() as session:
            keys = KeyStore(session)
            for stored in await keys.signing_keys_sealed_under(old.version):
                seed = open_value(old_kek, stored.sealed_seed, **signing_key_binding(stored.key_id, old.version))
                resealed = seal_value(new_kek, seed, **signing_key_binding(stored.key_id, new.version))
                if await keys.reseal_signing_key(stored.key_id, old.version, new.version, resealed):
                    signing_keys += 1
                    done += 1
        while True:
            async with node.database.transaction() as session:
                members = MemberStore(session)
                batch = await members.sealed_under(old.version, BATCH)
                for member in batch:
                    assert member.sealed_data_key is not None
                    data_key = open_value(
                        old_kek,
                        member.sealed_data_key,
                        **data_key_binding(member.id, old.version, member.data_key_version),
                    )
                    resealed = seal_value(
                        new_kek, data_key, **data_key_binding(member.id, new.version, member.data_key_version)
                    )
                    if await members.reseal_data_key(member.id, old.version, new.version, resealed):
                        data_keys += 1
                        done += 1
            if progress is not None and batch:
                progress(done, total)
            if len(batch) < BATCH:
                break
    retired: list[int] = []
    async with node.database.transaction() as session:
        keys = KeyStore(session)
        still_used = await keys.kek_reference_counts()
        for old in versions:
            if old.retired_at is None and not still_used.get(old.version):
                await keys.retire_kek(old.version, node.clock())
                retired.append(old.version)
        await node.audit(
            AuditStore(session),
            "keys.rotate-kek",
            f"kek:{new.version}",
            {
                "rewrapped_data_keys": data_keys,
                "rewrapped_signing_keys": signing_keys,
                "retired_versions": list(retired),
            },
        )
    return KekRotation(new.version, data_keys, signing_keys, tuple(retired))

"""The audit log's authenticated hash chain.

Each entry's digest is ``HMAC-SHA256(audit_key, "mentornet/v1/audit" || 0x00 || previous digest ||
canonical JSON of the entry)``; the first entry chains from 32 zero bytes. Because the chain is
keyed with a key derived from the node's root secret, someone who can write the database but
does not know the passphrase cannot rebuild the chain after editing it. A separately stored,
keyed head (last sequence number, HMAC over it and the last digest) makes removal of the
newest entries detectable. Rolling the whole database back to an older copy is not detected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import crypto
from protocol.canonical import JsonValue, canonical_json
from protocol.errors import AuditChainBroken

AUDIT_DOMAIN = "mentornet/v1/audit"
AUDIT_HEAD_DOMAIN = "mentornet/v1/audit-head"
GENESIS_DIGEST = bytes(32)


@dataclass(frozen=True)
class AuditEntry:
    """One administrative action. ``details`` must never hold personal data."""

    seq: int
    at: int
    actor: str
    action: str
    target: str
    details: Mapping[str, JsonValue] = field(default_factory=dict)

    def as_json(self) -> dict[str, JsonValue]:
        return {
            "seq": self.seq,
            "at": self.at,
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "details": dict(self.details),
        }


def chain_digest(audit_key: bytes, previous: bytes, entry: AuditEntry) -> bytes:
    """The digest of ``entry`` chained onto ``previous``."""
    return crypto.keyed_digest(audit_key, AUDIT_DOMAIN, previous + canonical_json(entry.as_json()))


def head_digest(audit_key: bytes, seq: int, last_digest: bytes) -> bytes:
    """The stored head's digest: keyed, so the head cannot be re-pointed at an older entry
    without the audit key (copying an entry's digest into the head is not enough)."""
    return crypto.keyed_digest(audit_key, AUDIT_HEAD_DOMAIN, seq.to_bytes(8, "big") + last_digest)


def verify_chain(
    audit_key: bytes,
    entries: Iterable[tuple[AuditEntry, bytes]],
    head: tuple[int, bytes] | None,
) -> int:
    """Verify every entry's digest, the sequence numbering, and the stored head.

    Args:
        audit_key: the key the chain was written with.
        entries: ``(entry, stored digest)`` pairs in ascending ``seq`` order.
        head: the stored ``(last seq, head_digest(...))``, or ``None`` when nothing was ever logged.

    Returns:
        The number of entries verified.

    Raises:
        AuditChainBroken: at the first entry that was edited, removed, inserted or reordered,
            or when the newest entries were removed (the head no longer matches).
    """
    previous = GENESIS_DIGEST
    expected_seq = 1
    for entry, stored in entries:
        if entry.seq != expected_seq:
            raise AuditChainBroken(expected_seq, f"entry missing or out of order (found {entry.seq})")
        if not crypto.digests_equal(chain_digest(audit_key, previous, entry), stored):
            raise AuditChainBroken(entry.seq, "entry was altered")
        previous = stored
        expected_seq += 1
    count = expected_seq - 1
    if head is None:
        if count:
            raise AuditChainBroken(count, "entries exist but the chain head is missing")
        return 0
    head_seq, stored_head = head
    if head_seq != count or not crypto.digests_equal(stored_head, head_digest(audit_key, count, previous)):
        raise AuditChainBroken(count + 1, f"the head names entry {head_seq}: newer entries were removed")
    return count

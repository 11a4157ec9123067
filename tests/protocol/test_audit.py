"""The audit log's authenticated hash chain (protocol.audit)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from protocol.audit import AuditEntry, chain_digest, head_digest, verify_chain
from protocol.errors import AuditChainBroken

AUDIT_KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))

Chain = list[tuple[AuditEntry, bytes]]


def _entries(count: int = 5) -> list[AuditEntry]:
    return [
        AuditEntry(
            seq=seq,
            at=1_700_000_000 + seq,
            actor="operator",
            action="member.invite",
            target=f"member:{seq}",
            details={"count": seq},
        )
        for seq in range(1, count + 1)
    ]


def _chain(entries: list[AuditEntry], key: bytes = AUDIT_KEY) -> Chain:
    """Write ``entries`` as the node would: each digest chained onto the previous one."""
    chain: Chain = []
    previous = bytes(32)
    for entry in entries:
        previous = chain_digest(key, previous, entry)
        chain.append((entry, previous))
    return chain


def _head(chain: Chain, key: bytes = AUDIT_KEY) -> tuple[int, bytes]:
    entry, digest = chain[-1]
    return entry.seq, head_digest(key, entry.seq, digest)


@pytest.fixture
def chain() -> Chain:
    return _chain(_entries())


def test_intact_chain_of_five_entries_verifies(chain: Chain) -> None:
    assert verify_chain(AUDIT_KEY, chain, _head(chain)) == 5


def test_empty_log_without_a_head_verifies_with_zero_entries() -> None:
    assert verify_chain(AUDIT_KEY, [], None) == 0


def test_chain_digests_are_32_bytes_and_all_distinct(chain: Chain) -> None:
    digests = [digest for _, digest in chain]

    assert all(len(digest) == 32 for digest in digests)
    assert len(set(digests)) == len(digests)


@pytest.mark.parametrize("index", range(5))
def test_editing_any_entry_breaks_the_chain_at_that_entry(chain: Chain, index: int) -> None:
    entry, digest = chain[index]
    chain[index] = (dataclasses.replace(entry, target="member:999"), digest)

    with pytest.raises(AuditChainBroken, match="altered") as excinfo:
        verify_chain(AUDIT_KEY, chain, _head(chain))

    assert excinfo.value.seq == entry.seq


@pytest.mark.parametrize(
    ("field", "value"),
    [("at", 1), ("actor", "intruder"), ("action", "member.remove"), ("target", "member:0"), ("details", {"count": 0})],
)
def test_editing_any_field_breaks_the_chain(chain: Chain, field: str, value: Any) -> None:
    entry, digest = chain[2]
    chain[2] = (dataclasses.replace(entry, **{field: value}), digest)

    with pytest.raises(AuditChainBroken):
        verify_chain(AUDIT_KEY, chain, _head(chain))


def test_adding_a_detail_breaks_the_chain(chain: Chain) -> None:
    entry, digest = chain[2]
    chain[2] = (dataclasses.replace(entry, details={**entry.details, "note": "added"}), digest)

    with pytest.raises(AuditChainBroken, match="altered"):
        verify_chain(AUDIT_KEY, chain, _head(chain))


def test_swapping_two_entries_breaks_the_chain(chain: Chain) -> None:
    chain[1], chain[2] = chain[2], chain[1]

    with pytest.raises(AuditChainBroken) as excinfo:
        verify_chain(AUDIT_KEY, chain, _head(chain))

    assert excinfo.value.seq == 2


def test_swapping_two_entries_and_renumbering_them_breaks_the_chain(chain: Chain) -> None:
    (second, second_digest), (third, third_digest) = chain[1], chain[2]
    chain[1] = (dataclasses.replace(third, seq=2), third_digest)
    chain[2] = (dataclasses.replace(second, seq=3), second_digest)

    with pytest.raises(AuditChainBroken, match="altered"):
        verify_chain(AUDIT_KEY, chain, _head(chain))


def test_deleting_a_middle_entry_breaks_the_chain(chain: Chain) -> None:
    del chain[2]

    with pytest.raises(AuditChainBroken, match="missing or out of order") as excinfo:
        verify_chain(AUDIT_KEY, chain, (5, chain[-1][1]))

    assert excinfo.value.seq == 3


def test_deleting_a_middle_entry_and_renumbering_the_rest_breaks_the_chain(chain: Chain) -> None:
    del chain[2]
    chain[2:] = [(dataclasses.replace(entry, seq=entry.seq - 1), digest) for entry, digest in chain[2:]]

    with pytest.raises(AuditChainBroken, match="altered"):
        verify_chain(AUDIT_KEY, chain, _head(chain))


def test_deleting_the_last_entry_is_detected_by_the_head(chain: Chain) -> None:
    head = _head(chain)
    del chain[-1]

    with pytest.raises(AuditChainBroken, match="head") as excinfo:
        verify_chain(AUDIT_KEY, chain, head)

    assert excinfo.value.seq == 5


def test_deleting_every_entry_is_detected_by_the_head(chain: Chain) -> None:
    with pytest.raises(AuditChainBroken, match="head"):
        verify_chain(AUDIT_KEY, [], _head(chain))


def test_head_with_a_wrong_digest_breaks_the_chain(chain: Chain) -> None:
    with pytest.raises(AuditChainBroken, match="head"):
        verify_chain(AUDIT_KEY, chain, (5, chain[3][1]))


def test_chain_does_not_verify_under_another_audit_key(chain: Chain) -> None:
    with pytest.raises(AuditChainBroken, match="altered") as excinfo:
        verify_chain(OTHER_KEY, chain, _head(chain))

    assert excinfo.value.seq == 1


def test_chain_rewritten_without_the_audit_key_does_not_verify(chain: Chain) -> None:
    entries = [entry for entry, _ in chain]
    entries[2] = dataclasses.replace(entries[2], actor="intruder")
    forged = _chain(entries, key=OTHER_KEY)

    with pytest.raises(AuditChainBroken):
        verify_chain(AUDIT_KEY, forged, _head(forged))


def test_entries_without_a_head_break_the_chain(chain: Chain) -> None:
    with pytest.raises(AuditChainBroken, match="head is missing"):
        verify_chain(AUDIT_KEY, chain, None)


def test_a_head_copied_from_the_last_kept_entry_does_not_hide_removed_entries(chain: Chain) -> None:
    kept = chain[:3]
    entry, digest = kept[-1]
    with pytest.raises(AuditChainBroken, match="newer entries were removed"):
        verify_chain(AUDIT_KEY, kept, (entry.seq, digest))


def test_a_head_rebuilt_without_the_audit_key_does_not_verify(chain: Chain) -> None:
    with pytest.raises(AuditChainBroken, match="head"):
        verify_chain(AUDIT_KEY, chain[:3], _head(chain[:3], key=OTHER_KEY))


def test_chain_not_starting_at_sequence_one_breaks_the_chain(chain: Chain) -> None:
    del chain[0]

    with pytest.raises(AuditChainBroken, match="missing or out of order") as excinfo:
        verify_chain(AUDIT_KEY, chain, _head(chain))

    assert excinfo.value.seq == 1

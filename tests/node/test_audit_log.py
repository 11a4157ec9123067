"""The audit log records admin actions in a keyed hash chain; any edit or removal is detected."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, update
from sqlmodel import col

from node.instance import Node
from node.kek_rotation import rotate_kek
from node.members import MemberProfile, export_member, invite_member, remove_member
from node.signing_keys import rotate_signing_key
from node.storage.audit import AuditStore
from node.storage.tables import AuditHeadRow, AuditLogRow
from protocol.errors import AuditChainBroken


async def _actions(node: Node) -> list[str]:
    async with node.database.transaction() as session:
        return [entry.action async for entry, _ in AuditStore(session).entries()]


async def _some_admin_actions(node: Node) -> None:
    invitation = await invite_member(
        node, MemberProfile.validated(name="Ada Lovelace", email="ada.lovelace@example.org"), "mentor"
    )
    await export_member(node, invitation.member_id)
    await remove_member(node, invitation.member_id)
    await rotate_signing_key(node)
    await rotate_kek(node)


async def test_every_admin_action_is_recorded_in_order(node: Node) -> None:
    await _some_admin_actions(node)
    assert await _actions(node) == [
        "node.init",
        "member.invite",
        "member.export",
        "member.remove",
        "keys.rotate-signing",
        "keys.rotate-kek",
    ]
    assert await node.verify_audit_log() == 6


async def test_audit_entries_hold_no_personal_data(node: Node) -> None:
    await _some_admin_actions(node)
    async with node.database.transaction() as session:
        text = json.dumps([entry.as_json() async for entry, _digest in AuditStore(session).entries()])
    # Whole words: a short name could turn up by chance inside a hex digest.
    assert "lovelace" not in text.lower() and "example.org" not in text


async def test_an_edited_entry_is_detected(node: Node) -> None:
    await _some_admin_actions(node)
    async with node.database.transaction() as session:
        await session.execute(update(AuditLogRow).where(col(AuditLogRow.seq) == 3).values(actor="operator:mallory"))
    with pytest.raises(AuditChainBroken, match="entry 3"):
        await node.verify_audit_log()


async def test_a_deleted_middle_entry_is_detected(node: Node) -> None:
    await _some_admin_actions(node)
    async with node.database.transaction() as session:
        await session.execute(delete(AuditLogRow).where(col(AuditLogRow.seq) == 2))
    with pytest.raises(AuditChainBroken, match="entry 2"):
        await node.verify_audit_log()


async def test_removing_the_newest_entries_and_repointing_the_head_is_detected(node: Node) -> None:
    await _some_admin_actions(node)
    async with node.database.transaction() as session:
        await session.execute(delete(AuditLogRow).where(col(AuditLogRow.seq) >= 5))
        kept = await session.get(AuditLogRow, 4)
        assert kept is not None
        await session.execute(update(AuditHeadRow).values(seq=4, digest=kept.digest))
    with pytest.raises(AuditChainBroken, match="newer entries were removed"):
        await node.verify_audit_log()


async def test_emptying_the_whole_log_is_detected(node: Node) -> None:
    await _some_admin_actions(node)
    async with node.database.transaction() as session:
        await session.execute(delete(AuditLogRow))
        await session.execute(delete(AuditHeadRow))
    with pytest.raises(AuditChainBroken, match="empty"):
        await node.verify_audit_log()


async def test_removing_the_newest_entries_is_detected(node: Node) -> None:
    await _some_admin_actions(node)
    async with node.database.transaction() as session:
        await session.execute(delete(AuditLogRow).where(col(AuditLogRow.seq) >= 5))
    with pytest.raises(AuditChainBroken, match="newer entries were removed"):
        await node.verify_audit_log()

"""Member administration on both storage backends: everything personal is sealed, and stays so."""

from __future__ import annotations

import pytest

import crypto
from node.announcements import publish_availability
from node.errors import Conflict, NotFound, RequestRejected
from node.instance import Node
from node.keyring import open_value
from node.members import (
    MemberProfile,
    export_member,
    field_binding,
    find_member_by_email,
    get_member,
    hash_invite_code,
    invite_member,
    list_members,
    member_for_token,
    redeem_invite,
    reinstate_member,
    remove_member,
    suspend_member,
)
from node.mentorships import mentorships_of, open_request
from node.storage.announcements import AnnouncementStore
from node.storage.keys import KeyStore
from node.storage.members import PERSONAL_FIELDS, MemberStore
from node.storage.tables import MemberRow
from protocol.errors import InvalidField
from protocol.lifecycle import Actor

ADA = MemberProfile.validated(
    name="Ada Lovelace",
    email="Ada@Example.org",
    profile="Analytical engines",
    interests=("mathematics", "poetry"),
    languages=("en", "fr"),
    timezone="Europe/London",
)


async def test_an_invited_member_reads_back_decrypted(node: Node) -> None:
    invitation = await invite_member(node, ADA, "mentor")
    member = await get_member(node, invitation.member_id)
    assert member.profile == ADA
    assert (member.role, member.status) == ("mentor", "invited")


async def test_the_invite_code_is_stored_only_as_a_hash_and_expires_after_the_configured_days(node: Node) -> None:
    node.clock = lambda: 1_800_000_000
    invitation = await invite_member(node, ADA, "mentee")
    assert invitation.expires_at == 1_800_000_000 + 7 * 86_400
    async with node.database.transaction() as session:
        (invite,) = await MemberStore(session).invites_of(invitation.member_id)
    assert invite.expires_at == invitation.expires_at
    assert len(hash_invite_code(invitation.code)) == 32


async def test_members_are_found_by_email_case_insensitively_through_the_blind_index(node: Node) -> None:
    invitation = await invite_member(node, ADA, "both")
    found = await find_member_by_email(node, "ada@EXAMPLE.org")
    assert found is not None and found.id == invitation.member_id
    assert await find_member_by_email(node, "someone@example.org") is None


async def test_a_second_member_with_the_same_email_is_refused_and_nothing_is_stored(node: Node) -> None:
    await invite_member(node, ADA, "mentor")
    with pytest.raises(Conflict, match="email already exists"):
        await invite_member(node, ADA, "mentee")
    assert len(await list_members(node)) == 1


async def test_an_invalid_role_is_refused_before_anything_is_stored(node: Node) -> None:
    with pytest.raises(InvalidField, match="role"):
        await invite_member(node, ADA, "overlord")
    assert await list_members(node) == []


def test_invalid_fields_are_refused_with_the_field_named() -> None:
    with pytest.raises(InvalidField, match="timezone"):
        MemberProfile.validated(name="A", email="a@example.org", timezone="Mars/Olympus_Mons")
    with pytest.raises(InvalidField, match="email"):
        MemberProfile.validated(name="A", email="not-an-address")


async def test_personal_fields_are_stored_only_as_ciphertext(node: Node) -> None:
    invitation = await invite_member(node, ADA, "mentor")
    async with node.database.transaction() as session:
        stored = await MemberStore(session).get(invitation.member_id)
    assert stored is not None
    for field in PERSONAL_FIELDS:
        sealed = stored.sealed_fields[field]
        assert sealed is not None and b"Ada" not in sealed and b"example" not in sealed.lower()


async def test_a_sealed_field_moved_to_another_member_does_not_decrypt(node: Node) -> None:
    first = await invite_member(node, ADA, "mentor")
    other = MemberProfile.validated(name="Grace Hopper", email="grace@example.org")
    second = await invite_member(node, other, "mentor")
    async with node.database.transaction() as session:
        members = MemberStore(session)
        source = await members.get(first.member_id)
        assert source is not None
        row = await session.get(MemberRow, second.member_id)
        assert row is not None
        row.name = source.sealed_fields["name"]
    with pytest.raises(crypto.DecryptionFailed):
        await get_member(node, second.member_id)


async def test_export_holds_everything_the_node_keeps_on_the_member(node: Node) -> None:
    invitation = await invite_member(node, ADA, "mentor")
    exported = await export_member(node, invitation.member_id)
    assert exported["format"] == "mentornet/v1/member-export"
    member = exported["member"]
    assert isinstance(member, dict)
    assert member["profile"] == {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "profile": "Analytical engines",
        "interests": ["mathematics", "poetry"],
        "languages": ["en", "fr"],
        "timezone": "Europe/London",
    }
    assert exported["invites"] and isinstance(exported["invites"], list)


async def test_a_removed_member_can_never_be_decrypted_with_anything_the_node_holds(node: Node) -> None:
    invitation = await invite_member(node, ADA, "mentor")
    await remove_member(node, invitation.member_id)

    member = await get_member(node, invitation.member_id)
    assert member.status == "removed" and member.profile is None
    assert await find_member_by_email(node, ADA.email) is None
    async with node.database.transaction() as session:
        stored = await MemberStore(session).get(invitation.member_id)
        keks = await KeyStore(session).kek_versions()
        assert await MemberStore(session).invites_of(invitation.member_id) == []
    assert stored is not None and stored.sealed_data_key is None and stored.kek_version is None
    held_keys = [node.keyring.kek(k.version, k.salt) for k in keks]
    held_keys += [node.keyring.blind_index_key, node.keyring.audit_key]
    for field in PERSONAL_FIELDS:
        sealed = stored.sealed_fields[field]
        assert sealed is not None
        for key in held_keys:
            for version in (1, 2):
                with pytest.raises(crypto.DecryptionFailed):
                    crypto.open_(key, sealed, aad=b"")
                with pytest.raises(crypto.DecryptionFailed):
                    open_value(key, sealed, **field_binding(invitation.member_id, field, version))


async def test_removing_an_unknown_or_removed_member_is_a_clear_error(node: Node) -> None:
    with pytest.raises(NotFound, match="no member"):
        await remove_member(node, "00000000-0000-0000-0000-000000000000")
    invitation = await invite_member(node, ADA, "mentor")
    await remove_member(node, invitation.member_id)
    with pytest.raises(NotFound, match="already removed"):
        await remove_member(node, invitation.member_id)


async def test_after_removal_the_destroyed_data_key_is_gone_from_the_sqlite_files(sqlite_node: Node) -> None:
    node = sqlite_node
    invitation = await invite_member(node, ADA, "mentor")
    async with node.database.transaction() as session:
        stored = await MemberStore(session).get(invitation.member_id)
    assert stored is not None and stored.sealed_data_key is not None

    await remove_member(node, invitation.member_id)

    for path in node.config.data_dir.glob("node.db*"):
        assert stored.sealed_data_key not in path.read_bytes(), path.name


async def test_a_suspended_member_loses_access_availability_and_requests(node: Node) -> None:
    invitation = await invite_member(node, MemberProfile.validated(name="Ada", email="ada@uni.example"), "mentor")
    registration = await redeem_invite(node, invitation.code)
    mentor = registration.member_id
    availability = {"topics": ["chemistry"], "languages": ["en"], "timezone": "UTC", "capacity": 2}
    await publish_availability(node, mentor, availability)
    await open_request(node, mentor, "r" * 22, Actor.MENTOR, 8)

    assert await suspend_member(node, mentor, "harassment report 12") == 1
    with pytest.raises(RequestRejected, match="suspended"):
        await member_for_token(node, registration.access_token)
    async with node.database.transaction() as session:
        stored = await AnnouncementStore(session).get(node.config.base_url, mentor)
    assert stored is not None and stored.withdrawn
    assert [r.state for r in await mentorships_of(node, mentor)] == ["ended"]
    with pytest.raises(Conflict, match="suspended"):
        await publish_availability(node, mentor, availability)
    assert await suspend_member(node, mentor, "again") == 0  # finishes an interrupted run; nothing left
    assert [e.action for e in await node.audit_entries()].count("member.suspend") == 1
    actions = [(e.action, e.details) for e in await node.audit_entries()]
    assert ("member.suspend", {"reason": "harassment report 12"}) in actions

    await reinstate_member(node, mentor, "appeal upheld")
    assert await member_for_token(node, registration.access_token) == mentor

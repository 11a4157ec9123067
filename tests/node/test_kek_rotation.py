"""KEK rotation rewraps every data key under a new version while the node keeps reading."""

from __future__ import annotations

import asyncio

import pytest

from node import kek_rotation
from node.instance import Node
from node.kek_rotation import rotate_kek
from node.members import MemberProfile, get_member, invite_member, list_members
from node.signing_keys import load_key_set
from node.storage.keys import KeyStore


async def _invite(node: Node, count: int) -> list[str]:
    ids = []
    for index in range(count):
        profile = MemberProfile.validated(name=f"Member {index}", email=f"member{index}@example.org")
        ids.append((await invite_member(node, profile, "mentee")).member_id)
    return ids


async def test_rotation_rewraps_every_data_key_and_retires_the_old_version(node: Node) -> None:
    ids = await _invite(node, 5)
    reports: list[tuple[int, int]] = []

    result = await rotate_kek(node, lambda done, total: reports.append((done, total)))

    assert (result.new_version, result.rewrapped_data_keys, result.rewrapped_signing_keys) == (2, 5, 1)
    assert result.retired_versions == (1,)
    assert reports[-1] == (6, 6)
    async with node.database.transaction() as session:
        keys = KeyStore(session)
        assert await keys.kek_reference_counts() == {2: 6}
        assert [(k.version, k.retired_at is not None) for k in await keys.kek_versions()] == [(1, True), (2, False)]
    members = await list_members(node)
    assert {m.id for m in members} == set(ids)
    assert sorted(m.profile.name for m in members if m.profile) == [f"Member {i}" for i in range(5)]


async def test_the_signing_key_still_opens_after_rotation(node: Node) -> None:
    before = (await load_key_set(node)).signer
    await rotate_kek(node)
    assert (await load_key_set(node)).signer.key_id == before.key_id


async def test_members_stay_readable_while_a_rotation_runs(node: Node, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kek_rotation, "BATCH", 3)  # several batches, so reads interleave with rewrapping
    ids = await _invite(node, 12)

    async def read_all_repeatedly() -> int:
        reads = 0
        for _ in range(10):
            for member_id in ids:
                assert (await get_member(node, member_id)).profile is not None
                reads += 1
            await asyncio.sleep(0)
        return reads

    result, reads = await asyncio.gather(rotate_kek(node), read_all_repeatedly())
    assert result.rewrapped_data_keys == 12 and reads == 120


async def test_members_invited_after_a_rotation_use_the_new_version(node: Node) -> None:
    await rotate_kek(node)
    (member_id,) = await _invite(node, 1)
    async with node.database.transaction() as session:
        assert (await KeyStore(session).kek_reference_counts()) == {2: 2}
    assert (await get_member(node, member_id)).profile is not None

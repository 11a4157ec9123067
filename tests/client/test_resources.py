"""Sharing files and links: encrypted on the sender's client, ciphertext on the sender's node,
fetched across nodes in chunks, opened and checked on the recipient's client."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path

import aiohttp
import pytest

from client.member import ClientError, MemberClient
from client.mentoring import Mentoring
from client.resources import Resources
from node.errors import RequestRejected
from node.instance import Node
from node.members import MemberProfile, invite_member, redeem_invite
from node.resources import read_chunk, store_blob
from protocol.resources import MAX_BLOB_BYTES, MAX_FILE_BYTES
from tests.node.federation.cluster import RunningNode, holding

CANARY = b"CANARY-9c41-a-private-thesis-draft"


async def test_a_ten_mib_file_crosses_nodes_as_ciphertext_and_arrives_intact(
    two_nodes: list[RunningNode], pair: tuple[MemberClient, MemberClient], tmp_path: Path
) -> None:
    mina, carlos = pair
    original = tmp_path / "thesis-draft.pdf"
    original.write_bytes(CANARY + os.urandom(MAX_FILE_BYTES - len(CANARY)))
    resource_id = await Resources(mina).share_file(carlos.address, original, "My draft")

    [update] = await Mentoring(carlos).receive(wait=5)
    assert update.refused is None and "shared a file: My draft (thesis-draft.pdf, 10240 KiB)" in update.summary
    fetched = await Resources(carlos).fetch(resource_id, tmp_path / "received.pdf")
    assert fetched.read_bytes() == original.read_bytes()
    with pytest.raises(ClientError, match="exists"):
        await Resources(carlos).fetch(resource_id, fetched)

    assert holding(two_nodes, CANARY) == []  # the sender's node keeps only ciphertext


async def test_links_are_shared_and_altered_files_are_refused(
    pair: tuple[MemberClient, MemberClient], tmp_path: Path
) -> None:
    mina, carlos = pair
    note = tmp_path / "notes.txt"
    note.write_bytes(b"reading list")
    await Resources(mina).share_link(carlos.address, "https://arxiv.org/abs/1706.03762", "Read this first")
    file_id = await Resources(mina).share_file(carlos.address, note)
    summaries: list[str] = []
    while len(summaries) < 2:
        summaries += [u.summary for u in await Mentoring(carlos).receive(wait=5)]
    assert any("shared a link: Read this first <https://arxiv.org/abs/1706.03762>" in s for s in summaries)
    listed = Resources(carlos).listing()
    assert [item["kind"] for item in listed] == ["link", "file"] and all("key" not in item for item in listed)

    carlos.state["resources"][file_id]["sha256"] = "0" * 64  # as if the sender's node swapped the blob
    with pytest.raises(ClientError, match="not the one that was announced"):
        await Resources(carlos).fetch(file_id, tmp_path / "x.txt")
    carlos.state["resources"][file_id]["key"] = "A" * 43  # a wrong key: the ciphertext does not open
    with pytest.raises(ClientError, match="does not decrypt"):
        await Resources(carlos).fetch(file_id, tmp_path / "y.txt")


async def test_oversized_files_are_refused_before_and_at_the_node(
    two_nodes: list[RunningNode], pair: tuple[MemberClient, MemberClient], tmp_path: Path
) -> None:
    mina, carlos = pair
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(MAX_FILE_BYTES + 1))
    with pytest.raises(ClientError, match="at most 10 MiB"):
        await Resources(mina).share_file(carlos.address, big)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            two_nodes[0].url + "/client/v1/blobs",
            data=io.BytesIO(bytes(MAX_BLOB_BYTES + 1)),
            headers={"Authorization": f"Bearer {mina.state['token']}"},
        ) as response,
    ):
        assert response.status == 413 and (await response.json())["error"] == "too_large"


async def test_each_member_has_a_quota(node: Node) -> None:
    invitation = await invite_member(node, MemberProfile.validated(name="Bo", email="bo@uni.example"), "mentee")
    owner = (await redeem_invite(node, invitation.code)).member_id
    node.config = dataclasses.replace(node.config, blob_quota_mib=1)
    blob_id = await store_blob(node, owner, bytes(600 * 1024))
    with pytest.raises(RequestRejected, match="of the 1 MiB") as refused:
        await store_blob(node, owner, bytes(600 * 1024))
    assert refused.value.status == 507
    chunk = await read_chunk(node, blob_id, 0)
    assert (chunk["size"], chunk["offset"]) == (600 * 1024, 0)

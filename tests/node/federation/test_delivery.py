"""Delivery survives crashes: node A killed with SIGKILL while its outbox holds 1,000 messages, node B
down for a while; after restarts every message arrives exactly once, in order."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import crypto
from client.member import MemberClient
from node.app import TRANSPORT
from node.config import write_config
from node.federation.inbound import FEDERATION
from node.federation.peers import add_peer
from node.federation.transport import AiohttpTransport
from node.instance import init_node
from node.local import free_port, loopback_config
from node.members import MemberProfile, invite_member
from node.signing_keys import load_key_set
from tests.node.federation.cluster import FAST, ROOT, Clock, RunningNode, ServedNode, start_cluster

PASSPHRASE = "a long passphrase for the test"
COUNT = 1000


class Setup:
    def __init__(self, a: ServedNode, b: RunningNode, mentee: MemberClient, mentor: MemberClient) -> None:
        self.a, self.b, self.mentee, self.mentor = a, b, mentee, mentor


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    (b,) = await start_cluster(tmp_path, ["B"], Clock())
    port = free_port()
    config = loopback_config(tmp_path / "A", "A University", port, FAST)
    node_a = await init_node(config, None)
    transport = AiohttpTransport(connect_timeout=1, total_timeout=5)
    await add_peer(node_a, transport, b.url, await b.fingerprint())
    await transport.close()
    a_fingerprint = crypto.fingerprint((await load_key_set(node_a)).signer.public_key)
    mentee_invite = await invite_member(node_a, MemberProfile.validated(name="Mina", email="mina@a.example"), "mentee")
    await node_a.close()
    write_config(config)
    a = ServedNode(config)
    await a.start()
    try:
        await add_peer(b.node, b.app[TRANSPORT], config.base_url, a_fingerprint)
        b.app[FEDERATION].directory.invalidate()
        mentor_invite = await invite_member(
            b.node, MemberProfile.validated(name="Carlos", email="c@b.example"), "mentor"
        )
        mentee = await MemberClient.register(a.config.base_url, mentee_invite.code, tmp_path / "mina", PASSPHRASE)
        mentor = await MemberClient.register(b.url, mentor_invite.code, tmp_path / "carlos", PASSPHRASE)
        await mentee.send(mentor.address, "hello")
        assert [r.event["body"] for r in await mentor.receive(wait=5)] == ["hello"]
        yield Setup(a, b, mentee, mentor)
    finally:
        await a.stop()
        await b.stop()


async def outbox_of(served: ServedNode) -> dict[str, int]:
    """``mentornet peer list --json`` on the running node's data directory: messages waiting per peer."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "cli.main",
        "peer",
        "list",
        "--data-dir",
        str(served.config.data_dir),
        "--json",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "MENTORNET_HOME": ""},
    )
    out, _ = await process.communicate()
    return {peer["base_url"]: peer["outbox"] for peer in json.loads(out)["peers"]}


async def received_bodies(client: MemberClient, count: int, *, within: float = 60.0) -> list[str]:
    bodies: list[str] = []
    deadline = asyncio.get_running_loop().time() + within
    while len(bodies) < count and asyncio.get_running_loop().time() < deadline:
        bodies += [r.event["body"] for r in await client.receive(wait=1)]
    # One more look: anything beyond the expected count would be a duplicate delivery.
    bodies += [r.event["body"] for r in await client.receive(wait=0.5)]
    return bodies


@pytest.mark.timeout(300)
async def test_a_killed_sender_with_a_full_outbox_and_a_returning_receiver_lose_and_repeat_nothing(
    setup: Setup,
) -> None:
    await setup.b.stop()  # B is away: everything stays in A's outbox
    bodies = [f"message {i}" for i in range(COUNT)]
    await setup.mentee.send_many(setup.mentor.address, bodies)
    assert await outbox_of(setup.a) == {setup.b.url: COUNT}  # what the operator sees
    await setup.a.kill()
    await setup.a.start()
    await asyncio.sleep(1.0)  # A retries against the absent B and backs off
    await setup.b.start()
    assert await received_bodies(setup.mentor, COUNT) == bodies


@pytest.mark.timeout(300)
async def test_a_sender_killed_in_the_middle_of_delivering_resends_without_duplicates(setup: Setup) -> None:
    bodies = [f"message {i}" for i in range(COUNT)]
    await setup.mentee.send_many(setup.mentor.address, bodies)
    await setup.a.kill()  # batches are in flight or half-acknowledged now
    await setup.a.start()
    assert await received_bodies(setup.mentor, COUNT) == bodies

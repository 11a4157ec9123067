"""Benchmark: cross-node delivery of end-to-end encrypted messages.

Two nodes, each ``mentornet serve`` in its own process on 127.0.0.1 with its own SQLite database,
peered. A mentee at A and a mentor at B are registered through the reference client. Messages are
encrypted by the client beforehand (the client's cost is not the nodes'), then:

* **Throughput**: every message is sent to A (``POST /client/v1/messages``, 100 a request, the
  way the client sends a backlog); A queues them in its outbox and delivers them to B; a receiver
  long-polls B's client API for the mentor's device and acknowledges. The rate is messages per
  second from the first send to the last message received from B.
* **Latency at an offered load**: one message every 1/RATE seconds, each in its own request;
  latency is from the send to the moment the long-poll at B returns it (p50, p99).
* **Peak RSS** of each node process (``VmHWM`` from ``/proc``) at the end.

Run:  .venv/bin/python bench/bench_messaging.py [--messages 5000] [--rate 100] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import crypto
from client.api import NodeApi
from client.member import MemberClient, send_requests
from node.config import FederationSettings, write_config
from node.federation.peers import add_peer
from node.federation.transport import AiohttpTransport
from node.instance import init_node, open_node
from node.keyring import UnlockSecret
from node.local import free_port, loopback_config
from node.members import MemberProfile, invite_member
from node.signing_keys import load_key_set
from tests.node.federation.cluster import ServedNode


def served(name: str, work: Path) -> ServedNode:
    port = free_port()
    return ServedNode(
        loopback_config(
            work / name,
            f"{name} University",
            port,
            FederationSettings(requests_per_minute=1_000_000, verify_processes=0),
            client_requests_per_minute=1_000_000,  # one member sends the whole load
        )
    )


async def prepare(work: Path) -> tuple[ServedNode, ServedNode, MemberClient, MemberClient]:
    a, b = served("A", work), served("B", work)
    invites = {}
    fingerprints = {}
    for side, role in ((a, "mentee"), (b, "mentor")):
        node = await init_node(side.config, None)
        invites[side] = await invite_member(
            node, MemberProfile.validated(name=role, email=f"{role}@bench.example"), role
        )
        fingerprints[side] = crypto.fingerprint((await load_key_set(node)).signer.public_key)
        await node.close()
        write_config(side.config)
    await a.start()
    await b.start()
    transport = AiohttpTransport(connect_timeout=5, total_timeout=30)
    for left, right in ((a, b), (b, a)):
        assert left.config.key_file is not None
        await left.stop()  # peer while stopped: one process at a time owns the database
        node = await open_node(left.config, UnlockSecret.from_key_file(left.config.key_file))
        await add_peer(node, transport, right.config.base_url, fingerprints[right])
        await node.close()
        await left.start()
    await transport.close()
    mentee = await MemberClient.register(a.config.base_url, invites[a].code, work / "mentee.keystore", "bench pass")
    mentor = await MemberClient.register(b.config.base_url, invites[b].code, work / "mentor.keystore", "bench pass")
    await mentee.send(mentor.address, "hello")  # the session exists before anything is timed
    while not await mentor.receive(wait=5):
        pass
    return a, b, mentee, mentor


async def drain(api: NodeApi, device: str, expected: set[str], arrivals: dict[str, float]) -> None:
    """Long-poll B for the mentor's device until every expected id arrived; note arrival times."""
    while not expected <= arrivals.keys():
        messages = await api.receive(device, wait=5, limit=500)
        now = time.perf_counter()
        for message in messages:
            arrivals.setdefault(message["id"], now)
        if messages:
            await api.acknowledge(device, [m["id"] for m in messages])


async def throughput(mentee: MemberClient, mentor: MemberClient, count: int) -> dict[str, float]:
    print(f"encrypting {count} messages ...", file=sys.stderr)
    sealed = await mentee.seal_messages(mentor.address, [f"message {i}" for i in range(count)])
    ids = {item["id"] for item in sealed.outgoing}
    arrivals: dict[str, float] = {}
    async with mentee.api() as sender, mentor.api() as receiver:
        receiving = asyncio.create_task(drain(receiver, "main", ids, arrivals))
        started = time.perf_counter()
        for request in send_requests(sealed.outgoing):
            await sender.send(request)
        sent = time.perf_counter()
        await asyncio.wait_for(receiving, timeout=600)
    finished = max(arrivals[i] for i in ids)
    return {
        "messages": count,
        "send_seconds": round(sent - started, 3),
        "seconds": round(finished - started, 3),
        "messages_per_second": round(count / (finished - started), 1),
    }


async def latency(mentee: MemberClient, mentor: MemberClient, rate: float, seconds: float) -> dict[str, float]:
    count = int(rate * seconds)
    sealed = await mentee.seal_messages(mentor.address, [f"timed {i}" for i in range(count)])
    sent_at: dict[str, float] = {}
    arrivals: dict[str, float] = {}
    async with mentee.api() as sender, mentor.api() as receiver:
        receiving = asyncio.create_task(drain(receiver, "main", {m["id"] for m in sealed.outgoing}, arrivals))
        started = time.perf_counter()
        pending = []
        for index, message in enumerate(sealed.outgoing):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at[message["id"]] = time.perf_counter()
            pending.append(asyncio.create_task(sender.send([message])))
        await asyncio.gather(*pending)
        await asyncio.wait_for(receiving, timeout=120)
    latencies = sorted((arrivals[i] - sent_at[i]) * 1000 for i in sent_at)
    return {
        "offered_per_second": rate,
        "messages": count,
        "p50_ms": round(statistics.median(latencies), 1),
        "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1),
        "max_ms": round(latencies[-1], 1),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mentornet-bench-msg-") as scratch:
        a, b, mentee, mentor = await prepare(Path(scratch))
        try:
            result: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
            result["throughput"] = await throughput(mentee, mentor, args.messages)
            print(f"throughput: {result['throughput']}", file=sys.stderr)
            print(f"latency at {args.rate}/s for {args.seconds} s ...", file=sys.stderr)
            result["latency"] = await latency(mentee, mentor, args.rate, args.seconds)
            result["peak_rss_mib"] = {"A": round(a.peak_rss_mib(), 1), "B": round(b.peak_rss_mib(), 1)}
            return result
        finally:
            await a.stop()
            await b.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=5000, help="messages for the throughput run")
    parser.add_argument("--rate", type=float, default=100.0, help="offered messages per second for latency")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the latency run")
    print(json.dumps(asyncio.run(main(parser.parse_args())), indent=2))

"""Benchmarks for federation: verified-announcement ingest, and discovery latency.

Ingest: a node is served by its own process (``mentornet serve``) on 127.0.0.1 with SQLite; this
process plays a peer and POSTs pre-signed batches of announcements through the real federation
path (RFC 9421 request check, per-announcement Ed25519 verification, database upsert). The rate
is compared with raw Ed25519 verifications per second measured in the same run on this machine,
using the primitive the node verifies with (libsodium, through PyNaCl).

Discovery: the node's in-memory index over N cached announcements (loaded through the database
and the feed, as a running node does); latency percentiles of searches.

Run:  .venv/bin/python bench/bench_federation.py [--ingest 20000] [--discovery 10000,100000]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import crypto
from node.config import FederationSettings, NodeConfig, load_config, write_config
from node.discovery import MentorIndex, make_query
from node.instance import init_node, open_node
from node.keyring import UnlockSecret
from node.local import free_port, loopback_config
from node.storage.announcements import AnnouncementStore, StoredAnnouncement
from node.storage.peers import PeerStore
from protocol.announcement import build_announcement
from protocol.canonical import canonical_json
from protocol.discovery import LocalWindow
from protocol.encoding import b64encode
from protocol.http_signatures import HttpRequest, content_digest, sign_request
from tests.node.federation.cluster import ServedNode

REMOTE = "https://bench-peer.example"
PROFILE = os.environ.get("MENTORNET_BENCH_PROFILE", "")  # a path: profile the serving node with cProfile
TOPICS = [f"topic {i}" for i in range(200)]
LANGUAGES = [
    "en",
    "fr",
    "de",
    "es",
    "it",
    "pt",
    "nl",
    "pl",
    "sv",
    "fi",
    "ja",
    "zh",
    "ko",
    "ar",
    "hi",
    "tr",
    "el",
    "cs",
    "da",
    "no",
]
ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "Africa/Nairobi",
    "UTC",
]


def availability(rng: random.Random) -> dict[str, Any]:
    windows = []
    for _ in range(rng.randint(1, 4)):
        start = rng.randrange(0, 20 * 60, 30)
        windows.append(
            {"day": rng.randint(1, 7), "start_minute": start, "end_minute": start + rng.choice([60, 120, 180])}
        )
    return {
        "display_name": f"Mentor {rng.random():.6f}",
        "bio": "A mentor in the benchmark.",
        "topics": rng.sample(TOPICS, 3),
        "languages": rng.sample(LANGUAGES, 2),
        "timezone": rng.choice(ZONES),
        "windows": windows,
        "capacity": rng.randint(0, 5),
        "credentials": [{"title": "PhD", "verified": rng.random() < 0.5}],
    }


def announcements(key: crypto.SigningKey, count: int, now: int, seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [
        build_announcement(
            origin=REMOTE, mentor=f"mentor-{seed}-{i}", seq=1, issued_at=now, availability=availability(rng), signer=key
        )
        for i in range(count)
    ]


def raw_verify_rate(items: list[dict[str, Any]], key: crypto.SigningKey, seconds: float = 2.0) -> float:
    """Raw Ed25519 verifications per second over messages of the announcements' size, on one core,
    with the primitive the node verifies with (libsodium through PyNaCl, crypto._primitives)."""
    messages = [canonical_json({k: v for k, v in item.items() if k != "signature"}) for item in items[:500]]
    signatures = [crypto.sign_raw(key, message) for message in messages]
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for message, signature in zip(messages, signatures, strict=True):
            crypto.verify_raw(key.public_key, message, signature)
        done += len(messages)
    return done / (time.perf_counter() - started)


async def prepare_node(work: Path, key: crypto.SigningKey, port: int) -> NodeConfig:
    settings = FederationSettings(requests_per_minute=1_000_000, pull_interval_seconds=3600.0)
    config = loopback_config(work / "node", "Bench Node", port, settings)
    node = await init_node(config, None)
    async with node.database.transaction() as session:
        await PeerStore(session).add(
            base_url=REMOTE,
            host="bench-peer.example",
            name="Bench Peer",
            pinned_fingerprint=crypto.fingerprint(key.public_key),
            keys={key.key_id: {"public_key": b64encode(key.public_key), "expired_at": None}},
            now=node.clock(),
        )
    await node.close()
    write_config(config)
    return config


async def ingest(count: int, batch: int, in_flight: int) -> dict[str, float]:
    key = crypto.SigningKey(secrets.token_bytes(32))
    now = int(time.time())
    print(f"signing {count} announcements ...", file=sys.stderr)
    items = announcements(key, count, now, seed=1)
    raw_rate = raw_verify_rate(items, key)
    with tempfile.TemporaryDirectory(prefix="mentornet-bench-") as scratch:
        work = Path(scratch)
        port = free_port()
        config = await prepare_node(work, key, port)
        server = ServedNode(config, ("-m", "cProfile", "-o", PROFILE) if PROFILE else ())
        await server.start()
        try:
            url = f"{config.base_url}/federation/v1/announcements"
            async with aiohttp.ClientSession() as session:
                bodies = [json.dumps({"announcements": items[i : i + batch]}).encode() for i in range(0, count, batch)]
                queue: asyncio.Queue[bytes] = asyncio.Queue()
                for body in bodies:
                    queue.put_nowait(body)
                accepted = 0

                async def worker() -> None:
                    nonlocal accepted
                    while not queue.empty():
                        body = queue.get_nowait()
                        headers = {"content-type": "application/json", "content-digest": content_digest(body)}
                        request = HttpRequest("POST", url, headers)
                        headers.update(
                            sign_request(
                                request,
                                key,
                                keyid=f"{REMOTE}#{key.key_id}",
                                created=int(time.time()),
                                nonce=secrets.token_urlsafe(18),
                            )
                        )
                        async with session.post(url, data=io.BytesIO(body), headers=headers) as response:
                            answer = await response.json()
                            assert response.status == 200, answer
                            accepted += sum(1 for r in answer["results"] if r["status"] == "accepted")

                print(f"posting {len(bodies)} batches of {batch} ...", file=sys.stderr)
                started = time.perf_counter()
                await asyncio.gather(*(worker() for _ in range(in_flight)))
                elapsed = time.perf_counter() - started
        finally:
            await server.stop()  # SIGTERM: a graceful stop, which also writes the profile
        node = await open_node(load_config(config.data_dir), UnlockSecret.from_key_file(config.key_file))
        async with node.database.transaction() as session:
            stored = await AnnouncementStore(session).count()
        await node.close()
    assert accepted == count == stored, (accepted, count, stored)
    rate = count / elapsed
    return {
        "announcements": count,
        "seconds": elapsed,
        "ingest_per_second": rate,
        "raw_verify_per_second": raw_rate,
        "ratio": rate / raw_rate,
    }


async def discovery(count: int, queries: int) -> dict[str, float]:
    key = crypto.SigningKey(secrets.token_bytes(32))
    now = int(time.time())
    with tempfile.TemporaryDirectory(prefix="mentornet-bench-") as scratch:
        work = Path(scratch)
        config = await prepare_node(work, key, 9)
        node = await open_node(config, UnlockSecret.from_key_file(config.key_file))
        print(f"loading {count} announcements ...", file=sys.stderr)
        for start in range(0, count, 5000):
            items = announcements(key, min(5000, count - start), now, seed=start + 7)
            rows = [
                StoredAnnouncement(
                    REMOTE, i["mentor"], 1, now, i["expires_at"], False, json.dumps(i, separators=(",", ":")), 0
                )
                for i in items
            ]
            async with node.database.transaction() as session:
                await AnnouncementStore(session).upsert(rows, now)
        index = MentorIndex(node)
        started = time.perf_counter()
        await index.refresh()
        load_seconds = time.perf_counter() - started
        rng = random.Random(3)
        timings: dict[str, list[float]] = {"topic+language+window": [], "window only": []}
        for _ in range(queries):
            zone = rng.choice(ZONES)
            windows = [LocalWindow(rng.randint(1, 7), 17 * 60, 21 * 60)]
            for kind, query in (
                (
                    "topic+language+window",
                    make_query(
                        topics=rng.sample(TOPICS, 2),
                        languages=[rng.choice(LANGUAGES)],
                        timezone=zone,
                        windows=windows,
                        now=now,
                    ),
                ),
                ("window only", make_query(timezone=zone, windows=windows, now=now)),
            ):
                started = time.perf_counter()
                await index.search(query)
                timings[kind].append((time.perf_counter() - started) * 1000)
        await node.close()
    result: dict[str, float] = {"announcements": count, "index_load_seconds": load_seconds}
    for kind, values in timings.items():
        cuts = statistics.quantiles(values, n=100)
        result[f"{kind} p50 ms"] = cuts[49]
        result[f"{kind} p95 ms"] = cuts[94]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingest", type=int, default=20_000, help="announcements to ingest (0 to skip)")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=2, help="concurrent batches")
    parser.add_argument("--discovery", default="10000,100000", help="index sizes, comma-separated ('' to skip)")
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}
    if args.ingest:
        results["ingest"] = asyncio.run(ingest(args.ingest, args.batch, args.in_flight))
    if args.discovery:
        results["discovery"] = [asyncio.run(discovery(int(n), args.queries)) for n in args.discovery.split(",")]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

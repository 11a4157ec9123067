"""Real nodes on 127.0.0.1 for federation tests: each with its own port, data dir and database."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from node.config import FederationSettings, NodeConfig
from node.federation.inbound import FEDERATION
from node.federation.transport import AiohttpTransport, OutboundRequest, PeerResponse
from node.local import QUICK, LocalNode, peer_all
from node.members import MemberProfile, invite_member

ROOT = Path(__file__).resolve().parents[3]
FAST = QUICK


class Clock:
    """A clock shared by the nodes of a test, which the test can move forward."""

    def __init__(self) -> None:
        self.offset = 0

    def __call__(self) -> int:
        return int(time.time()) + self.offset


class RecordingTransport(AiohttpTransport):
    """The real transport, remembering every request it sends."""

    def __init__(self, settings: FederationSettings) -> None:
        super().__init__(connect_timeout=settings.connect_timeout_seconds, total_timeout=settings.total_timeout_seconds)
        self.sent: list[OutboundRequest] = []

    async def send(self, request: OutboundRequest) -> PeerResponse:
        self.sent.append(request)
        return await super().send(request)


@dataclass
class RunningNode(LocalNode):
    """A local node that records its outbound requests, with helpers for the tests."""

    transport: RecordingTransport = field(init=False)

    def make_transport(self) -> RecordingTransport:
        self.transport = RecordingTransport(self.config.federation)
        return self.transport

    def changed(self) -> None:
        self.app[FEDERATION].on_own_change()

    async def invite(self, name: str, email: str, role: str) -> str:
        return (await invite_member(self.node, MemberProfile.validated(name=name, email=email), role)).member_id

    async def client(self, method: str, path: str, *, token: str | None = None, body: Any = None) -> tuple[int, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                method, self.url + path, headers=headers, data=None if body is None else json.dumps(body)
            ) as response,
        ):
            return response.status, await response.json()

    async def mentee_token(self) -> str:
        member_id = await self.invite(f"Mentee of {self.name}", f"mentee@{self.name.lower()}.example", "mentee")
        invite = await invite_member(
            self.node,
            MemberProfile.validated(name="Second mentee", email=f"second-{member_id[:8]}@{self.name.lower()}.example"),
            "mentee",
        )
        status, body = await self.client("POST", "/client/v1/register", body={"invite_code": invite.code})
        assert status == 201, body
        return str(body["access_token"])

    async def search(self, token: str, query: str) -> list[dict[str, Any]]:
        status, body = await self.client("GET", f"/client/v1/mentors?{query}", token=token)
        assert status == 200, body
        return list(body["results"])


async def start_cluster(
    tmp_path: Path, names: list[str], clock: Clock, settings: FederationSettings = FAST
) -> list[RunningNode]:
    nodes = []
    for name in names:
        created = await LocalNode.create(tmp_path / name, f"{name} University", settings, clock)
        running = RunningNode(name, created.config, clock)
        await running.start()
        nodes.append(running)
    return nodes


@contextlib.asynccontextmanager
async def peered_cluster(
    tmp_path: Path, names: list[str], clock: Clock | None = None, settings: FederationSettings = FAST
) -> AsyncIterator[list[RunningNode]]:
    """Nodes started, each peered with every other; stopped on exit."""
    nodes = await start_cluster(tmp_path, names, clock or Clock(), settings)
    try:
        await peer_all(list(nodes))
        yield nodes
    finally:
        for running in nodes:
            await running.stop()


class ServedNode:
    """``mentornet serve`` in its own process (for tests that kill a node for real, and benchmarks)."""

    def __init__(self, config: NodeConfig, python_args: tuple[str, ...] = ()) -> None:
        self.config = config
        self.python_args = python_args  # e.g. ("-m", "cProfile", "-o", PATH) to profile the node
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            *self.python_args,
            "-m",
            "cli.main",
            "serve",
            "--data-dir",
            str(self.config.data_dir),
            cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            env={**os.environ, "MENTORNET_HOME": ""},
        )
        async with aiohttp.ClientSession() as session:
            for _ in range(400):
                try:
                    async with session.get(self.config.base_url + "/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError(f"{self.config.name} did not start")

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            await self.process.wait()

    def peak_rss_mib(self) -> float:
        """The process's peak resident memory (``VmHWM``), while it runs."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmHWM in /proc: not Linux?")


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {within} s")


def holding(nodes: list[RunningNode], marker: bytes) -> list[str]:
    """Where ``marker`` appears in clear: any file in the nodes' data directories (database, WAL,
    config, keys) or any request they sent each other. A privacy test expects none."""
    found = [
        f"{running.name}: request to {request.url}"
        for running in nodes
        for request in running.transport.sent
        if marker in request.body
    ]
    for running in nodes:
        found += [str(p) for p in running.config.data_dir.rglob("*") if p.is_file() and marker in p.read_bytes()]
    return found


def with_settings(settings: FederationSettings, **changes: Any) -> FederationSettings:
    return dataclasses.replace(settings, **changes)

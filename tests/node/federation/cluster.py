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
from aiohttp import web

import crypto
from node.app import NODE, TRANSPORT, build_app
from node.config import FederationSettings, NodeConfig, UnlockMethod
from node.federation.inbound import FEDERATION
from node.federation.peers import add_peer
from node.federation.transport import AiohttpTransport, OutboundRequest, PeerResponse
from node.instance import Node, init_node
from node.keyring import UnlockSecret
from node.members import MemberProfile, invite_member
from node.signing_keys import load_key_set
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[3]
FAST = FederationSettings(
    verify_processes=0,  # threads: a process pool per test node would only slow the suite
    push_interval_seconds=0.1,
    pull_interval_seconds=0.5,
    backoff_initial_seconds=0.2,
    backoff_max_seconds=1.0,
    connect_timeout_seconds=1.0,
    total_timeout_seconds=5.0,
)


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
class RunningNode:
    name: str
    config: NodeConfig
    clock: Clock
    transport: RecordingTransport = field(init=False)
    runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return self.config.base_url

    @property
    def app(self) -> web.Application:
        assert self.runner is not None
        return self.runner.app

    @property
    def node(self) -> Node:
        return self.app[NODE]

    async def start(self) -> None:
        self.transport = RecordingTransport(self.config.federation)
        assert self.config.key_file is not None
        app = build_app(
            self.config, UnlockSecret.from_key_file(self.config.key_file), clock=self.clock, transport=self.transport
        )
        self.runner = web.AppRunner(app, shutdown_timeout=2)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.config.port).start()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def fingerprint(self) -> str:
        return crypto.fingerprint((await load_key_set(self.node)).signer.public_key)

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


def loopback_config(data_dir: Path, name: str, port: int, settings: FederationSettings, **changes: Any) -> NodeConfig:
    """A key-file node on 127.0.0.1:``port`` with its data in ``data_dir`` (and ``changes``)."""
    return NodeConfig(
        data_dir=data_dir,
        name=name,
        base_url=f"http://127.0.0.1:{port}",
        unlock=UnlockMethod.KEY_FILE,
        key_file=data_dir / "node.key",
        port=port,
        federation=settings,
        **changes,
    )


async def start_cluster(
    tmp_path: Path, names: list[str], clock: Clock, settings: FederationSettings = FAST
) -> list[RunningNode]:
    nodes = []
    for name in names:
        port = free_port()
        data_dir = tmp_path / name
        config = loopback_config(data_dir, f"{name} University", port, settings)
        created = await init_node(config, None, clock=clock)
        await created.close()
        running = RunningNode(name, config, clock)
        await running.start()
        nodes.append(running)
    return nodes


async def peer_all(nodes: list[RunningNode]) -> None:
    for left in nodes:
        for right in nodes:
            if left is not right:
                await add_peer(left.node, left.app[TRANSPORT], right.url, await right.fingerprint())
        left.app[FEDERATION].directory.invalidate()  # as the CLI's change would be seen within 2 s


@contextlib.asynccontextmanager
async def peered_cluster(
    tmp_path: Path, names: list[str], clock: Clock | None = None, settings: FederationSettings = FAST
) -> AsyncIterator[list[RunningNode]]:
    """Nodes started, each peered with every other; stopped on exit."""
    nodes = await start_cluster(tmp_path, names, clock or Clock(), settings)
    try:
        await peer_all(nodes)
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


def with_settings(settings: FederationSettings, **changes: Any) -> FederationSettings:
    return dataclasses.replace(settings, **changes)

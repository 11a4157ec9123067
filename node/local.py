"""Several nodes in one process on 127.0.0.1, each with its own port, data directory and SQLite
database, peered with each other: for ``mentornet demo`` and the multi-node tests."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

import crypto
from node.app import NODE, TRANSPORT, build_app
from node.config import FederationSettings, NodeConfig, UnlockMethod
from node.federation.inbound import FEDERATION
from node.federation.peers import add_peer
from node.federation.transport import Transport
from node.instance import Clock, Node, init_node, system_clock
from node.keyring import UnlockSecret
from node.signing_keys import load_key_set

# Quick rounds for nodes on one machine: announcements and messages cross within a second.
QUICK = FederationSettings(
    verify_processes=0,  # threads: a process pool per node would only slow several nodes in one process
    push_interval_seconds=0.1,
    pull_interval_seconds=0.5,
    backoff_initial_seconds=0.2,
    backoff_max_seconds=1.0,
    connect_timeout_seconds=1.0,
    total_timeout_seconds=5.0,
)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


@dataclass
class LocalNode:
    """A node served from this process on its loopback port."""

    name: str
    config: NodeConfig
    clock: Clock = system_clock
    runner: web.AppRunner | None = None

    @classmethod
    async def create(
        cls, data_dir: Path, name: str, settings: FederationSettings = QUICK, clock: Clock = system_clock
    ) -> LocalNode:
        """Initialise a new node in ``data_dir`` on a free port (not started yet)."""
        config = loopback_config(data_dir, name, free_port(), settings)
        created = await init_node(config, None, clock=clock)
        await created.close()
        return cls(name, config, clock)

    @property
    def url(self) -> str:
        return self.config.base_url

    @property
    def app(self) -> web.Application:
        if self.runner is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.runner.app

    @property
    def node(self) -> Node:
        return self.app[NODE]

    def make_transport(self) -> Transport | None:
        """The transport for outbound requests (``None``: the default, real one)."""
        return None

    async def start(self) -> None:
        if self.config.key_file is None:
            raise ValueError("a local node unlocks with its key file")
        app = build_app(
            self.config,
            UnlockSecret.from_key_file(self.config.key_file),
            clock=self.clock,
            transport=self.make_transport(),
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


async def peer_all(nodes: list[LocalNode]) -> None:
    """Peer every running node with every other, each pinning the other's key fingerprint."""
    for left in nodes:
        for right in nodes:
            if left is not right:
                await add_peer(left.node, left.app[TRANSPORT], right.url, await right.fingerprint())
        left.app[FEDERATION].directory.invalidate()  # as the CLI's change would be seen within 2 s

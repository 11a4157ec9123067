"""Running the node: bind, serve until SIGTERM or SIGINT, then shut down gracefully.

The runner is driven here rather than by ``web.run_app`` so that shutdown is ours: on a signal
the listening socket closes, in-flight requests get ``shutdown_timeout_seconds`` to finish, and
only then is the database closed, without anything being cancelled half-way.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable

from aiohttp import web

from node.app import build_app
from node.config import NodeConfig
from node.keyring import UnlockSecret

log = logging.getLogger("mentornet.node")


def serve(config: NodeConfig, secret: UnlockSecret, *, on_ready: Callable[[str], None] | None = None) -> None:
    """Serve until SIGTERM or SIGINT; ``on_ready`` gets the listening URL once the socket is bound."""
    asyncio.run(_serve(config, secret, on_ready))


async def _serve(config: NodeConfig, secret: UnlockSecret, on_ready: Callable[[str], None] | None) -> None:
    runner = web.AppRunner(build_app(config, secret), access_log=None, shutdown_timeout=config.shutdown_timeout_seconds)
    await runner.setup()
    try:
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()
        if on_ready is not None:
            on_ready(f"http://{config.host}:{config.port}")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await stop.wait()
        log.info("shutting down", extra={"grace_seconds": config.shutdown_timeout_seconds})
    finally:
        await runner.cleanup()

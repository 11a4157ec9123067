"""The outbound transport reads whole responses, up to its cap, against a real server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from node.errors import PeerRefused, PeerUnreachable
from node.federation.transport import AiohttpTransport, OutboundRequest
from node.local import free_port

BIG = 300_000


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def streamed(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(BIG // 10_000):
            await response.write(b"x" * 10_000)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/big", streamed)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def test_a_large_streamed_response_is_read_whole(server: str) -> None:
    transport = AiohttpTransport(connect_timeout=2, total_timeout=10)
    try:
        response = await transport.send(OutboundRequest("GET", server + "/big"))
    finally:
        await transport.close()
    assert (response.status, len(response.body)) == (200, BIG)


async def test_a_response_over_the_cap_is_refused(server: str) -> None:
    transport = AiohttpTransport(connect_timeout=2, total_timeout=10, max_response_bytes=BIG - 1)
    try:
        with pytest.raises(PeerRefused, match="larger than"):
            await transport.send(OutboundRequest("GET", server + "/big"))
    finally:
        await transport.close()


async def test_a_node_that_does_not_answer_is_unreachable() -> None:
    transport = AiohttpTransport(connect_timeout=1, total_timeout=2)
    try:
        with pytest.raises(PeerUnreachable):
            await transport.send(OutboundRequest("GET", f"http://127.0.0.1:{free_port()}/"))
    finally:
        await transport.close()

"""The one way out: every outbound HTTP request goes through a :class:`Transport`.

Tests swap in a recording transport (to assert that a search sends nothing) or a failing one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import aiohttp

from node.errors import PeerRefused, PeerUnreachable

MAX_RESPONSE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class OutboundRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class PeerResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class Transport(Protocol):
    async def send(self, request: OutboundRequest) -> PeerResponse:
        """Send a request; raise :class:`PeerUnreachable` on a connection failure or time-out."""
        ...

    async def close(self) -> None: ...


class AiohttpTransport:
    """aiohttp with strict connect and total time-outs and a cap on response size."""

    def __init__(
        self, *, connect_timeout: float, total_timeout: float, max_response_bytes: int = MAX_RESPONSE_BYTES
    ) -> None:
        self._timeout = aiohttp.ClientTimeout(total=total_timeout, connect=connect_timeout)
        self._max = max_response_bytes
        self._session: aiohttp.ClientSession | None = None

    async def send(self, request: OutboundRequest) -> PeerResponse:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False)
        try:
            async with self._session.request(
                request.method, request.url, headers=request.headers, data=request.body or None, allow_redirects=False
            ) as response:
                chunks: list[bytes] = []
                size = 0
                async for chunk in response.content.iter_chunked(64 * 1024):
                    size += len(chunk)
                    if size > self._max:
                        raise PeerRefused(f"{request.url}: response larger than {self._max} bytes")
                    chunks.append(chunk)
                body = b"".join(chunks)
                headers = {name.lower(): value for name, value in response.headers.items()}
                return PeerResponse(response.status, headers, body)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise PeerUnreachable(f"{request.url}: {type(exc).__name__}: {exc}".rstrip(": ")) from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

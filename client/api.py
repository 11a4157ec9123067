"""The client API of the member's home node, over HTTP (see ``GET /client/v1/openapi.json``)."""

from __future__ import annotations

import io
import json
from typing import Any

import aiohttp


class ApiError(Exception):
    """The node refused a request (``status``, ``code``) or could not be reached (status 0)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})" if status else message)
        self.status = status
        self.code = code

    @property
    def passing(self) -> bool:
        """A failure that may pass: the node unreachable, slow, overloaded, or limiting the rate."""
        return self.status in (0, 408, 429) or self.status >= 500


class NodeApi:
    """One member's view of its home node. Use as an async context manager."""

    def __init__(self, base_url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=10)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> NodeApi:
        self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def register(self, invite_code: str) -> dict[str, Any]:
        return await self._call("POST", "/client/v1/register", {"invite_code": invite_code})

    async def put_device(self, device: str, upload: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PUT", f"/client/v1/me/devices/{device}", upload)

    async def add_prekeys(self, device: str, prekeys: list[dict[str, Any]]) -> dict[str, Any]:
        return await self._call("POST", f"/client/v1/me/devices/{device}/prekeys", {"one_time_prekeys": prekeys})

    async def prekey_counts(self, device: str) -> dict[str, int]:
        answer = await self._call("GET", f"/client/v1/me/devices/{device}/prekeys")
        return dict(answer["one_time_prekeys"])

    async def keys(self, node: str, member: str, *, bundles: bool = True) -> dict[str, Any]:
        params = {"node": node, "member": member, "bundles": "true" if bundles else "false"}
        return await self._call("GET", "/client/v1/keys", params=params)

    async def send(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return list((await self._call("POST", "/client/v1/messages", {"messages": messages}))["results"])

    async def receive(self, device: str, *, wait: float = 0, limit: int = 100) -> list[dict[str, Any]]:
        params = {"device": device, "wait": str(wait), "limit": str(limit)}
        return list((await self._call("GET", "/client/v1/messages", params=params))["messages"])

    async def acknowledge(self, device: str, ids: list[str]) -> int:
        return int(
            (await self._call("POST", "/client/v1/messages/ack", {"device": device, "ids": ids}))["acknowledged"]
        )

    async def put_availability(self, availability: dict[str, Any], lifetime_days: int | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {"availability": availability}
        if lifetime_days is not None:
            body["lifetime_days"] = lifetime_days
        return await self._call("PUT", "/client/v1/me/availability", body)

    async def delete_availability(self) -> dict[str, Any]:
        return await self._call("DELETE", "/client/v1/me/availability")

    async def mentors(self, params: list[tuple[str, str]]) -> dict[str, Any]:
        return await self._call("GET", "/client/v1/mentors", params=params)

    async def block(self, origin: str, sender: str) -> dict[str, Any]:
        return await self._call("POST", "/client/v1/blocks", {"origin": origin, "sender": sender})

    async def unblock(self, origin: str, sender: str) -> dict[str, Any]:
        return await self._call("DELETE", "/client/v1/blocks", {"origin": origin, "sender": sender})

    async def report(self, report: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/client/v1/reports", report)

    async def upload_blob(self, ciphertext: bytes) -> dict[str, Any]:
        return await self._call("POST", "/client/v1/blobs", raw=ciphertext)

    async def blob_chunk(self, node: str, blob_id: str, offset: int) -> dict[str, Any]:
        return await self._call("GET", f"/client/v1/blobs/{blob_id}", params={"node": node, "offset": str(offset)})

    async def groups(self, topic: str | None = None) -> list[dict[str, Any]]:
        params = {"topic": topic} if topic else {}
        return list((await self._call("GET", "/client/v1/groups", params=params))["groups"])

    async def mentorships(self) -> list[dict[str, Any]]:
        return list((await self._call("GET", "/client/v1/mentorships"))["mentorships"])

    async def open_request(
        self, request_id: str, role: str, duration_weeks: int, expires_at: int | None = None
    ) -> dict[str, Any]:
        body = {"request_id": request_id, "role": role, "duration_weeks": duration_weeks, "expires_at": expires_at}
        return await self._call("POST", "/client/v1/mentorships", body)

    async def move(self, request_id: str, action: str, by: str) -> dict[str, Any]:
        return await self._call("POST", f"/client/v1/mentorships/{request_id}/moves", {"action": action, "by": by})

    async def session_held(self, request_id: str) -> dict[str, Any]:
        return await self._call("POST", f"/client/v1/mentorships/{request_id}/sessions", {})

    async def _call(
        self, method: str, path: str, body: Any = None, *, params: Any = None, raw: bytes | None = None
    ) -> dict[str, Any]:
        if self._session is None:
            raise RuntimeError("use NodeApi as 'async with NodeApi(...) as api'")
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data: str | io.BytesIO | None = None if body is None else json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        if raw is not None:
            data = io.BytesIO(raw)  # streamed: a large bytes body would hold up the event loop
            headers["Content-Type"] = "application/octet-stream"
        try:
            async with self._session.request(
                method, self.base_url + path, headers=headers, data=data, params=params
            ) as response:
                text = await response.text()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiError(0, "unreachable", f"cannot reach {self.base_url}: {exc or type(exc).__name__}") from exc
        try:
            answer = json.loads(text)
        except ValueError:
            answer = None
        if status >= 400 or not isinstance(answer, dict):
            code = answer.get("error", "error") if isinstance(answer, dict) else "error"
            message = answer.get("message", text[:200]) if isinstance(answer, dict) else text[:200]
            raise ApiError(status, str(code), str(message))
        return answer

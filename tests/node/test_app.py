"""The node's HTTP surface, served for real on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import nacl.signing
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from node import app as node_app
from node import signing_keys
from node.app import build_app
from node.config import NodeConfig
from node.errors import UnlockFailed
from node.instance import Node
from node.keyring import UnlockSecret
from node.local import free_port
from node.signing_keys import rotate_signing_key
from protocol.canonical import canonical_json
from protocol.encoding import b64decode
from protocol.node_document import NODE_DOCUMENT_CONTEXT, verify_node_document

ClientFactory = Callable[[web.Application], Awaitable[TestClient[Any, Any]]]


def _app(config: NodeConfig) -> web.Application:
    assert config.key_file is not None
    return build_app(config, UnlockSecret.from_key_file(config.key_file))


async def test_healthz_reports_the_database_reachable(node: Node, aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(_app(node.config))
    response = await client.get("/healthz")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "database": "ok"}


async def test_the_node_document_verifies_with_an_independent_ed25519_implementation(
    node: Node, aiohttp_client: ClientFactory
) -> None:
    client = await aiohttp_client(_app(node.config))
    response = await client.get("/.well-known/mentornet")
    assert response.status == 200
    raw = await response.json()

    body = {key: value for key, value in raw.items() if key != "signature"}
    (signer,) = [key for key in raw["keys"] if key["id"] == raw["signature"]["key_id"]]
    verify_key = nacl.signing.VerifyKey(b64decode(signer["public_key"]))
    verify_key.verify(
        NODE_DOCUMENT_CONTEXT.encode() + b"\x00" + canonical_json(body), b64decode(raw["signature"]["value"])
    )

    document = verify_node_document(raw, now=raw["issued_at"])
    assert (document.name, document.base_url, document.protocol_versions) == (
        "Test University",
        "http://127.0.0.1:8080",
        ["v1"],
    )


async def test_a_signing_key_rotated_by_the_cli_is_served_without_a_restart(
    node: Node, aiohttp_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(signing_keys, "KEY_SET_TTL_SECONDS", 0.0)
    client = await aiohttp_client(_app(node.config))
    before = await (await client.get("/.well-known/mentornet")).json()

    new_key_id, _ = await rotate_signing_key(node)

    after = await (await client.get("/.well-known/mentornet")).json()
    assert after["signature"]["key_id"] == new_key_id
    assert [key["id"] for key in after["old_keys"]] == [before["signature"]["key_id"]]


async def test_metrics_count_requests_by_route_and_status(node: Node, aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(_app(node.config))
    await client.get("/healthz")
    await client.get("/no-such-thing")
    response = await client.get("/metrics")
    assert response.status == 200
    text = await response.text()
    assert 'mentornet_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in text
    assert 'mentornet_errors_total{code="not_found"} 1.0' in text
    assert "mentornet_db_query_seconds_bucket" in text


async def test_metrics_are_refused_to_addresses_outside_the_allowlist(
    node: Node, aiohttp_client: ClientFactory
) -> None:
    config = dataclasses.replace(node.config, metrics_allow=("10.1.2.0/24",))
    client = await aiohttp_client(_app(config))
    response = await client.get("/metrics")
    assert response.status == 403
    assert (await response.json())["error"] == "forbidden"


async def test_unknown_routes_and_methods_get_a_json_error(node: Node, aiohttp_client: ClientFactory) -> None:
    client = await aiohttp_client(_app(node.config))
    missing = await client.get("/nope")
    assert (missing.status, (await missing.json())["error"]) == (404, "not_found")
    wrong_method = await client.post("/healthz", data=b"x")
    assert (wrong_method.status, (await wrong_method.json())["error"]) == (405, "method_not_allowed")


async def test_a_wrong_key_file_stops_start_up_with_a_clear_error(node: Node, tmp_path: Path) -> None:
    other = tmp_path / "other.key"
    other.write_text("A" * 43 + "=\n")
    runner = web.AppRunner(build_app(node.config, UnlockSecret.from_key_file(other)))
    try:
        with pytest.raises(UnlockFailed, match="wrong key file"):
            await runner.setup()
    finally:
        await runner.cleanup()


async def test_shutdown_lets_an_in_flight_request_finish_before_closing_the_database(node: Node) -> None:
    app = _app(node.config)
    started = asyncio.Event()

    async def slow(_request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(0.5)
        await _request.app[node_app.NODE].database.ping()
        return web.json_response({"done": True})

    app.router.add_get("/slow", slow)
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    async with aiohttp.ClientSession() as session:
        request = asyncio.create_task(session.get(f"http://127.0.0.1:{port}/slow"))
        await started.wait()
        await runner.cleanup()
        response = await request
        assert response.status == 200 and await response.json() == {"done": True}

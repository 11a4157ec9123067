"""The node's HTTP application: ``build_app(config, secret) -> web.Application``.

Resources (database, unlocked keyring, signing keys) are opened in a cleanup context and closed
on shutdown, so a SIGTERM lets in-flight requests finish and then closes the database cleanly.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import multiprocessing
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor

from aiohttp import web

from node import client_api
from node.announcements import worker_ready
from node.config import NodeConfig
from node.discovery import MentorIndex
from node.errors import (
    Conflict,
    InvalidInvite,
    NodeError,
    NotFound,
    PeerError,
    RequestRejected,
    StorageError,
    Unauthorized,
)
from node.federation import inbound, messages, reports, resources
from node.federation.client import FederationClient
from node.federation.inbound import FEDERATION, FederationContext
from node.federation.sync import Synchronizer
from node.federation.transport import AiohttpTransport, Transport
from node.instance import Clock, Node, open_node, system_clock
from node.keyring import UnlockSecret
from node.metrics import CONTENT_TYPE, METRICS, Metrics
from node.signing_keys import KeySetCache, node_document
from protocol.errors import ErrorCode, ProtocolError

log = logging.getLogger("mentornet.node")

CONFIG = web.AppKey("config", NodeConfig)
NODE = web.AppKey("node", Node)
KEY_SET = web.AppKey("key_set", KeySetCache)
CLOCK: web.AppKey[Clock] = web.AppKey("clock")
TRANSPORT: web.AppKey[Transport] = web.AppKey("transport")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_app(
    config: NodeConfig, secret: UnlockSecret, *, clock: Clock = system_clock, transport: Transport | None = None
) -> web.Application:
    """Build the node application; the database is opened and the keys unlocked on start-up.

    Args:
        config: the node's configuration.
        secret: the passphrase or key file that unlocks it.
        clock: Unix time in seconds (tests pass a fixed one).
        transport: every outbound request goes through it (default: aiohttp with the
            configured time-outs).
    """
    app = web.Application(client_max_size=config.max_body_bytes, middlewares=[_observe, _errors, _blocked])
    app[CONFIG] = config
    app[METRICS] = Metrics()
    app[CLOCK] = clock
    app[TRANSPORT] = transport or AiohttpTransport(
        connect_timeout=config.federation.connect_timeout_seconds,
        total_timeout=config.federation.total_timeout_seconds,
    )
    app.cleanup_ctx.append(_node_context(secret))
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/.well-known/mentornet", _node_document)
    app.router.add_get("/metrics", _metrics)
    inbound.add_routes(app)
    messages.add_routes(app)
    reports.add_routes(app)
    resources.add_routes(app)
    client_api.add_routes(app, config.client_requests_per_minute)
    return app


def _node_context(secret: UnlockSecret) -> Callable[[web.Application], AsyncIterator[None]]:
    async def context(app: web.Application) -> AsyncIterator[None]:
        config = app[CONFIG]
        node = await open_node(config, secret, observe_query=app[METRICS].observe_query, clock=app[CLOCK])
        app[NODE] = node
        app[KEY_SET] = await KeySetCache.load(node)
        federation = FederationContext(node, app[KEY_SET], app[TRANSPORT], app[METRICS].federation_rejected)
        workers = config.federation.verify_processes
        if workers:
            # spawn, not fork: this process already runs threads (database driver, executor).
            federation.verify_pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            # Start the workers now (each imports the checking code once), not on the first batch.
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(federation.verify_pool, worker_ready) for _ in range(workers)))
        app[FEDERATION] = federation
        app[client_api.INDEX] = MentorIndex(node)
        warm_up = asyncio.create_task(app[client_api.INDEX].refresh(), name="discovery index warm-up")
        synchronizer = Synchronizer(federation, FederationClient(node, app[TRANSPORT]))
        federation.on_own_change = synchronizer.notify_changed
        federation.on_outbox = synchronizer.notify_outbox
        sync_task = asyncio.create_task(synchronizer.run(), name="federation sync")
        log.info(
            "node started",
            extra={
                "node": config.name,
                "base_url": config.base_url,
                "database": node.database.backend,
                "key_id": (await app[KEY_SET].current()).signer.key_id,
            },
        )
        try:
            yield
        finally:
            sync_task.cancel()
            warm_up.cancel()
            await asyncio.gather(sync_task, warm_up, return_exceptions=True)
            if federation.verify_pool is not None:
                federation.verify_pool.shutdown(wait=True, cancel_futures=True)
            await app[TRANSPORT].close()
            await node.close()
            log.info("node stopped", extra={"node": config.name, "database": "closed"})

    return context


async def _healthz(request: web.Request) -> web.Response:
    try:
        await request.app[NODE].database.ping()
    except StorageError:
        return web.json_response({"status": "unavailable", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


async def _node_document(request: web.Request) -> web.Response:
    app = request.app
    document = node_document(app[NODE], await app[KEY_SET].current(), app[CLOCK]())
    return web.json_response(document, headers={"Cache-Control": "max-age=60"})


async def _metrics(request: web.Request) -> web.Response:
    remote = request.remote or ""
    try:
        address = ipaddress.ip_address(remote)
        allowed = any(address in ipaddress.ip_network(net, strict=False) for net in request.app[CONFIG].metrics_allow)
    except ValueError:
        allowed = False
    if not allowed:
        return _error_response(request, 403, "forbidden", "metrics are not served to this address")
    return web.Response(body=request.app[METRICS].render(), headers={"Content-Type": CONTENT_TYPE})


@web.middleware
async def _observe(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        request.app[METRICS].requests.labels(route=route, method=request.method, status=str(status)).inc()
        log.info(
            "request",
            extra={
                "method": request.method,
                "route": route,
                "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
            },
        )


@web.middleware
async def _blocked(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Blocked hosts get 403 on everything (federation requests are also checked by their keyid)."""
    if FEDERATION in request.app and request.remote in await request.app[FEDERATION].directory.blocked():
        raise RequestRejected(403, "blocked", "this node does not accept requests from you")
    return await handler(request)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPRequestEntityTooLarge:
        limit = request.app[CONFIG].max_body_bytes
        return _error_response(request, 413, "too_large", f"request body over {limit} bytes")
    except web.HTTPNotFound:
        return _error_response(request, 404, "not_found", "no such endpoint")
    except web.HTTPMethodNotAllowed:
        return _error_response(request, 405, "method_not_allowed", f"{request.method} is not allowed here")
    except RequestRejected as exc:
        return _error_response(request, exc.status, exc.code, str(exc))
    except ProtocolError as exc:
        status = 401 if exc.code in (ErrorCode.BAD_SIGNATURE, ErrorCode.STALE) else 400
        return _error_response(request, status, str(exc.code), str(exc))
    except NotFound as exc:
        return _error_response(request, 404, exc.code, str(exc))
    except Unauthorized as exc:
        return _error_response(request, 401, exc.code, str(exc))
    except InvalidInvite as exc:
        return _error_response(request, 403, exc.code, str(exc))
    except Conflict as exc:
        return _error_response(request, 409, exc.code, str(exc))
    except PeerError as exc:
        log.warning("a peer failed us", extra={"code": exc.code, "error": str(exc)})
        return _error_response(request, 502, exc.code, "another node did not answer as it should; try later")
    except NodeError as exc:
        log.error("node error", extra={"code": exc.code, "route": request.path})
        return _error_response(request, 503, exc.code, "the node cannot serve this request right now")
    except web.HTTPException:
        raise
    except Exception:
        log.exception("unexpected error", extra={"route": request.path})
        return _error_response(request, 500, "internal", "internal error")


def _error_response(request: web.Request, status: int, code: str, message: str) -> web.Response:
    request.app[METRICS].errors.labels(code=code).inc()
    return web.json_response({"error": code, "message": message}, status=status)

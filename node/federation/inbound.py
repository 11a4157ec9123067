"""Inbound federation: authenticate node-to-node requests, then serve the announcement endpoints.

Every request under ``/federation/v1`` passes, in this order: signature headers present and
naming a keyid; host not blocked; a known (or, with ``federation.open``, admissible) peer;
its rate limit; the key known (a peer's new key is fetched once and must chain to a pinned
key); the body matching its Content-Digest; the RFC 9421 signature; ``created`` within the
clock-skew window; the nonce unseen. Each refusal has a code, a status and a counter.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncSession

import crypto
from node.announcements import ingest
from node.config import FederationSettings
from node.errors import NodeError, PeerError, RequestRejected
from node.federation.peers import (
    ACTIVE,
    PeerDirectory,
    current_keys,
    fetch_node_document,
    host_of,
    key_entries,
    normalize_base_url,
    refresh_peer,
)
from node.federation.transport import Transport
from node.instance import Node
from node.messaging import MailboxWaiters
from node.signing_keys import KeySetCache
from node.storage.announcements import AnnouncementStore
from node.storage.audit import AuditStore
from node.storage.peers import PeerStore, StoredPeer
from node.storage.replay import NonceStore
from protocol.announcement import MAX_BATCH
from protocol.errors import BadSignature, MalformedMessage, ProtocolError
from protocol.http_signatures import (
    HttpRequest,
    HttpResponse,
    check_content_digest,
    content_digest,
    sign_response,
    signature_keyid,
    verify_request,
)

log = logging.getLogger("mentornet.federation")

JSON = "application/json"
KEY_REFRESH_INTERVAL_SECONDS = 60.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RateLimiter:
    """A token bucket per peer: ``per_minute`` requests a minute, bursts up to the same number."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._rate = per_minute / 60.0
        self._capacity = float(per_minute)
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, peer: str) -> bool:
        now = time.monotonic()
        tokens, last = self._buckets.get(peer, (self._capacity, now))
        tokens = min(self._capacity, tokens + (now - last) * self._rate)
        if tokens < 1.0:
            self._buckets[peer] = (tokens, now)
            return False
        self._buckets[peer] = (tokens - 1.0, now)
        return True


@dataclass
class FederationContext:
    """What the federation handlers and the sync loops share inside one node process."""

    node: Node
    keys: KeySetCache
    transport: Transport
    rejected: Counter
    directory: PeerDirectory = field(init=False)
    limiter: RateLimiter = field(init=False)
    on_own_change: Callable[[], None] = lambda: None  # wakes the pushers after a local publish
    on_outbox: Callable[[str], None] = lambda _peer: None  # wakes one peer's loop: messages to deliver
    mailboxes: MailboxWaiters = field(default_factory=MailboxWaiters)  # wakes long-polling receivers
    verify_pool: Executor | None = None  # worker processes for announcement checks (None: threads)
    _refreshed_at: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.directory = PeerDirectory(self.node)
        self.limiter = RateLimiter(self.settings.requests_per_minute)

    @property
    def settings(self) -> FederationSettings:
        return self.node.config.federation

    @property
    def origin(self) -> str:
        return normalize_base_url(self.node.config.base_url)


FEDERATION = web.AppKey("federation", FederationContext)


def add_routes(app: web.Application) -> None:
    app.router.add_post("/federation/v1/announcements", counted(_receive_announcements))
    app.router.add_get("/federation/v1/announcements", counted(_announcement_feed))


def counted(handler: Handler) -> Handler:
    """Count and log every refusal of a federation request by its code (the error middleware answers)."""

    @functools.wraps(handler)
    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except (RequestRejected, ProtocolError) as exc:
            request.app[FEDERATION].rejected.labels(reason=str(exc.code)).inc()
            log.info("federation request refused", extra={"reason": str(exc.code), "route": request.path})
            raise
        except web.HTTPRequestEntityTooLarge:
            request.app[FEDERATION].rejected.labels(reason="too_large").inc()
            raise

    return wrapper


async def authenticate(request: web.Request) -> tuple[StoredPeer, bytes]:
    """Authenticate a federation request; return the peer and the body it signed.

    Raises:
        RequestRejected, ProtocolError: with the code of the first check that failed.
    """
    context = request.app[FEDERATION]
    body = await request.read()
    headers = {name.lower(): value for name, value in request.headers.items()}
    keyid = signature_keyid(headers)
    claimed, _, key_id = keyid.rpartition("#")
    try:
        base_url = normalize_base_url(claimed)
    except NodeError as exc:
        raise MalformedMessage(f"keyid {keyid!r} does not name a node") from exc
    if host_of(base_url) in await context.directory.blocked():
        raise RequestRejected(403, "blocked", "this node does not accept requests from you")
    known = (await context.directory.peers()).get(base_url)
    peer = known or await _candidate(context, base_url)
    if not context.limiter.allow(base_url):
        raise RequestRejected(
            429, "rate_limited", f"more than {context.settings.requests_per_minute} requests a minute; slow down"
        )
    now = context.node.clock()
    if known is not None and key_id not in current_keys(peer, now):
        peer = await _refresh_keys(context, peer)
    keys = current_keys(peer, now)
    if peer.state != ACTIVE or key_id not in keys:
        raise BadSignature(f"key {key_id!r} is not a current, trusted key of {base_url}")
    check_content_digest(headers.get("content-digest"), body)
    verified = verify_request(
        HttpRequest(request.method, context.origin + request.path_qs, headers),
        lambda _keyid: keys[key_id],
        now=now,
        max_skew=context.settings.max_clock_skew_seconds,
    )
    async with context.node.database.transaction() as session:
        assert verified.nonce is not None
        fresh = await NonceStore(session).remember(
            keyid, verified.nonce, now + 2 * context.settings.max_clock_skew_seconds
        )
        if fresh and known is None:
            await _admit(context, session, peer)
        if fresh:
            await PeerStore(session).update(
                base_url,
                last_contact_at=now,
                clock_offset=verified.created - now,
                failures=0,
                retry_at=None,
                last_error=None,
            )
    if not fresh:
        raise RequestRejected(401, "replayed", "this request was already received (nonce seen)")
    if known is None:
        context.directory.invalidate()
    return peer, body


async def _candidate(context: FederationContext, base_url: str) -> StoredPeer:
    """With ``federation.open``, an unknown node as it presents itself, not yet stored: it becomes
    a peer only once its request has passed every check. At most one fetch a minute per URL."""
    if not context.settings.open:
        raise RequestRejected(403, "unknown_node", "this node federates only with the peers its operator added")
    last = context._refreshed_at.get(base_url, -1e9)
    if time.monotonic() - last < KEY_REFRESH_INTERVAL_SECONDS:
        raise RequestRejected(403, "unknown_node", "your node document could not be verified; try again later")
    context._refreshed_at[base_url] = time.monotonic()
    try:
        document = await fetch_node_document(context.transport, base_url, now=context.node.clock())
    except PeerError as exc:
        log.info("open federation: node document refused", extra={"peer": base_url, "error": str(exc)})
        raise RequestRejected(403, "unknown_node", "your node document could not be verified") from exc
    signer = document.public_keys()[document.signature.key_id]
    return StoredPeer(
        id=0,
        base_url=base_url,
        host=host_of(base_url),
        name=document.name,
        pinned_fingerprint=crypto.fingerprint(signer),
        keys=key_entries(document),
        state=ACTIVE,
        added_at=context.node.clock(),
        last_contact_at=None,
        last_error=None,
        clock_offset=None,
        feed_cursor=0,
        push_cursor=0,
        failures=0,
        retry_at=None,
    )


async def _admit(context: FederationContext, session: AsyncSession, peer: StoredPeer) -> None:
    peers = PeerStore(session)
    if await peers.by_base_url(peer.base_url) is None:
        await peers.add(
            base_url=peer.base_url,
            host=peer.host,
            name=peer.name,
            pinned_fingerprint=peer.pinned_fingerprint,
            keys=peer.keys,
            now=context.node.clock(),
        )
        await context.node.audit(
            AuditStore(session), "peer.admit-open", peer.base_url, {"fingerprint": peer.pinned_fingerprint}
        )


async def _refresh_keys(context: FederationContext, peer: StoredPeer) -> StoredPeer:
    last = context._refreshed_at.get(peer.base_url, -1e9)
    if time.monotonic() - last < KEY_REFRESH_INTERVAL_SECONDS:
        return peer
    context._refreshed_at[peer.base_url] = time.monotonic()
    try:
        refreshed = await refresh_peer(context.node, context.transport, peer)
    except PeerError as exc:
        log.warning("cannot refresh peer keys", extra={"peer": peer.base_url, "error": str(exc)})
        return peer
    context.directory.invalidate()
    return refreshed


async def signed_json(request: web.Request, payload: Any, status: int = 200) -> web.Response:
    """A JSON response signed by this node (RFC 9421), bound to the request it answers."""
    context = request.app[FEDERATION]
    body = json.dumps(payload, separators=(",", ":")).encode()
    headers = {"content-type": JSON, "content-digest": content_digest(body)}
    signer = (await context.keys.current()).signer
    answered = HttpRequest(
        request.method,
        context.origin + request.path_qs,
        {name.lower(): value for name, value in request.headers.items()},
    )
    headers.update(
        sign_response(
            HttpResponse(status, headers),
            answered,
            signer,
            keyid=f"{context.origin}#{signer.key_id}",
            created=context.node.clock(),
        )
    )
    return web.Response(body=body, status=status, headers=headers)


def json_object(body: bytes, expected: str) -> dict[str, Any]:
    """A request body that must be one JSON object; ``expected`` shows its shape in the error.

    Raises:
        MalformedMessage: if it is not JSON, or not an object.
    """
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise MalformedMessage(f"the body is not JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MalformedMessage(f"expected {expected}")
    return payload


async def _receive_announcements(request: web.Request) -> web.Response:
    peer, body = await authenticate(request)
    context = request.app[FEDERATION]
    # The body is parsed and checked in a worker process, off the serving process.
    results = await ingest(context.node, body, await context.directory.usable(), executor=context.verify_pool)
    accepted = sum(1 for result in results if result.status == "accepted")
    log.info("announcements received", extra={"peer": peer.base_url, "items": len(results), "accepted": accepted})
    return await signed_json(request, {"results": [result.as_json() for result in results]})


async def _announcement_feed(request: web.Request) -> web.Response:
    await authenticate(request)
    context = request.app[FEDERATION]
    try:
        since = int(request.query.get("since", "0"))
        limit = int(request.query.get("limit", str(MAX_BATCH)))
    except ValueError as exc:
        raise MalformedMessage("since and limit must be integers") from exc
    if not 0 <= since < 2**63 or not 1 <= limit <= MAX_BATCH:
        raise MalformedMessage(f"since >= 0 and 1 <= limit <= {MAX_BATCH}")
    now = context.node.clock()
    async with context.node.database.transaction() as session:
        page = await AnnouncementStore(session).feed(since, limit)
    shown = set(await context.directory.usable()) | {context.origin}
    items = [json.loads(item.raw) for item in page if item.expires_at > now and item.origin in shown]
    next_cursor = page[-1].feed_seq if page else since
    return await signed_json(request, {"announcements": items, "next": next_cursor, "more": len(page) == limit})

"""Peering: pin a node by URL and key fingerprint, follow its key rotations, block hosts.

A peer's trusted keys start as every key listed in the node document that the pinned key
signed. A later document is accepted when its signer is reachable from the trusted keys
through endorsements (old key vouching for new); otherwise the peer is marked
``needs-repin`` and the operator must pin it again.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import crypto
from node.errors import Conflict, NodeError, NotFound, PeerRefused
from node.federation.transport import OutboundRequest, Transport
from node.instance import Node
from node.storage.announcements import AnnouncementStore
from node.storage.audit import AuditStore
from node.storage.messaging import OutboxStore
from node.storage.peers import PeerStore, StoredPeer
from protocol import addresses
from protocol.encoding import b64decode
from protocol.errors import ProtocolError
from protocol.node_document import NodeDocument, verify_node_document

log = logging.getLogger("mentornet.federation")

WELL_KNOWN = "/.well-known/mentornet"
ACTIVE = "active"
NEEDS_REPIN = "needs-repin"


class FingerprintMismatch(NodeError):
    code = "fingerprint_mismatch"


@dataclass(frozen=True)
class PeerStatus:
    peer: StoredPeer
    backlog: int
    outbox: int = 0

    def as_json(self) -> dict[str, object]:
        peer = self.peer
        return {
            "base_url": peer.base_url,
            "name": peer.name,
            "state": peer.state,
            "pinned_fingerprint": peer.pinned_fingerprint,
            "keys": sorted(peer.keys),
            "last_contact_at": peer.last_contact_at,
            "last_error": peer.last_error,
            "clock_offset_seconds": peer.clock_offset,
            "backlog": self.backlog,
            "outbox": self.outbox,
            "failures": peer.failures,
            "retry_at": peer.retry_at,
        }


def normalize_base_url(url: str) -> str:
    """``scheme://host[:port][/path]`` lower-cased, without a trailing slash, query or fragment.

    Raises:
        NodeError: if it is not an http(s) URL.
    """
    try:
        return addresses.normalize_base_url(url)
    except addresses.NotABaseUrl as exc:
        raise NodeError(exc.problem) from exc


def host_of(base_url: str) -> str:
    return (urlsplit(base_url).hostname or "").lower()


def normalize_fingerprint(fingerprint: str) -> str:
    text = fingerprint.strip().lower().removeprefix("sha256:").replace(":", "")
    if len(text) != 64 or any(ch not in "0123456789abcdef" for ch in text):
        raise NodeError("a fingerprint is 'sha256:' and 64 hex digits, as 'mentornet status' prints it")
    return "sha256:" + text


async def fetch_node_document(transport: Transport, base_url: str, *, now: int) -> NodeDocument:
    """Fetch and verify a node's self-signed document; it must name the URL it was fetched from.

    Raises:
        PeerUnreachable: if the node does not answer.
        PeerRefused: if the answer is not a valid node document for ``base_url``.
    """
    response = await transport.send(OutboundRequest("GET", base_url + WELL_KNOWN, {"accept": "application/json"}))
    if response.status != 200:
        raise PeerRefused(f"{base_url}{WELL_KNOWN} answered HTTP {response.status}")
    try:
        raw = json.loads(response.body)
        if not isinstance(raw, dict):
            raise PeerRefused(f"{base_url}{WELL_KNOWN}: not a JSON object")
        document = verify_node_document(raw, now=now)
    except (ValueError, RecursionError, ProtocolError) as exc:
        raise PeerRefused(f"{base_url}{WELL_KNOWN}: not a valid node document: {exc}") from exc
    try:
        presented = normalize_base_url(document.base_url)
    except NodeError as exc:
        raise PeerRefused(f"{base_url} presents an invalid base URL; refusing") from exc
    if presented != base_url:
        raise PeerRefused(f"{base_url} presents itself as {document.base_url}; refusing")
    return document


async def add_peer(node: Node, transport: Transport, url: str, fingerprint: str) -> StoredPeer:
    """Pin a new peer after checking that its document is signed by the key with ``fingerprint``.

    Raises:
        Conflict: if it is already a peer, or is this node.
        FingerprintMismatch: if the document is signed by another key.
    """
    base_url = normalize_base_url(url)
    if base_url == normalize_base_url(node.config.base_url):
        raise Conflict("that is this node's own URL")
    async with node.database.transaction() as session:
        if await PeerStore(session).by_base_url(base_url) is not None:
            raise Conflict(f"{base_url} is already a peer; 'mentornet peer repin' pins a new key")
    pinned, document = await _pinned_document(transport, base_url, fingerprint, now=node.clock())
    async with node.database.transaction() as session:
        peer = await PeerStore(session).add(
            base_url=base_url,
            host=host_of(base_url),
            name=document.name,
            pinned_fingerprint=pinned,
            keys=key_entries(document),
            now=node.clock(),
        )
        await node.audit(AuditStore(session), "peer.add", base_url, {"fingerprint": pinned})
    return peer


async def repin_peer(node: Node, transport: Transport, url: str, fingerprint: str) -> StoredPeer:
    """Pin a peer's new key after an out-of-band exchange (for a peer in ``needs-repin``)."""
    base_url = normalize_base_url(url)
    pinned, document = await _pinned_document(transport, base_url, fingerprint, now=node.clock())
    async with node.database.transaction() as session:
        peers = PeerStore(session)
        existing = await peers.by_base_url(base_url)
        if existing is None:
            raise NotFound(f"{base_url} is not a peer; add it with 'mentornet peer add'")
        keys = {**existing.keys, **key_entries(document)}
        await peers.update(
            base_url, pinned_fingerprint=pinned, keys=keys, state=ACTIVE, name=document.name, last_error=None
        )
        await node.audit(AuditStore(session), "peer.repin", base_url, {"fingerprint": pinned})
        updated = await peers.by_base_url(base_url)
    assert updated is not None
    return updated


async def refresh_peer(node: Node, transport: Transport, peer: StoredPeer) -> StoredPeer:
    """Fetch a peer's current document and take its new keys if they chain to trusted ones."""
    document = await fetch_node_document(transport, peer.base_url, now=node.clock())
    trusted = document.keys_trusted_from(decoded_keys(peer))
    async with node.database.transaction() as session:
        peers = PeerStore(session)
        if document.signature.key_id in trusted:
            await peers.update(peer.base_url, keys={**peer.keys, **key_entries(document)}, state=ACTIVE)
        else:
            log.warning("peer key not chained to a pinned key", extra={"peer": peer.base_url})
            await peers.update(
                peer.base_url,
                state=NEEDS_REPIN,
                last_error=f"new key {document.signature.key_id} is not endorsed by a pinned key",
            )
        updated = await peers.by_base_url(peer.base_url)
    assert updated is not None
    return updated


async def remove_peer(node: Node, url: str) -> None:
    base_url = normalize_base_url(url)
    async with node.database.transaction() as session:
        if not await PeerStore(session).remove(base_url):
            raise NotFound(f"{base_url} is not a peer")
        dropped = await AnnouncementStore(session).delete_origin(base_url)
        await node.audit(AuditStore(session), "peer.remove", base_url, {"announcements_dropped": dropped})


async def block_host(node: Node, host: str) -> str:
    """Block a host name (or address): its requests get 403 on everything."""
    host = host.strip().lower()
    if not host or "/" in host:
        raise NodeError("give a host name such as evil.example (not a URL)")
    async with node.database.transaction() as session:
        await PeerStore(session).block(host, node.clock())
        await node.audit(AuditStore(session), "peer.block", host)
    return host


async def unblock_host(node: Node, host: str) -> None:
    host = host.strip().lower()
    async with node.database.transaction() as session:
        if not await PeerStore(session).unblock(host):
            raise NotFound(f"{host} is not blocked")
        await node.audit(AuditStore(session), "peer.unblock", host)


async def list_peers(node: Node) -> tuple[list[PeerStatus], set[str]]:
    """Every peer with its backlog (own announcement changes not yet pushed) and its outbox
    (sealed messages not yet delivered), and blocked hosts."""
    own = normalize_base_url(node.config.base_url)
    async with node.database.transaction() as session:
        peers = await PeerStore(session).all()
        blocked = await PeerStore(session).blocked_hosts()
        store = AnnouncementStore(session)
        outbox = await OutboxStore(session).counts()
        statuses = [
            PeerStatus(peer, await store.pending(own, peer.push_cursor, node.clock()), outbox.get(peer.base_url, 0))
            for peer in peers
        ]
    return statuses, blocked


def usable(peers: dict[str, StoredPeer], blocked: set[str]) -> dict[str, StoredPeer]:
    """The peers we federate with now: active, and not on a blocked host."""
    return {url: peer for url, peer in peers.items() if peer.state == ACTIVE and peer.host not in blocked}


def key_entries(document: NodeDocument) -> dict[str, dict[str, Any]]:
    """A document's keys as stored for a peer: public key, and ``expired_at`` for retired ones."""
    entries: dict[str, dict[str, Any]] = {}
    listed: list[tuple[str, str, int | None]] = [(key.id, key.public_key, None) for key in document.keys]
    listed += [(key.id, key.public_key, key.expired_at) for key in document.old_keys]
    for key_id, encoded, expired_at in listed:
        try:
            if crypto.key_id(b64decode(encoded, field="public_key")) != key_id:
                continue
        except (ProtocolError, crypto.CryptoError):
            continue  # a malformed entry is ignored, never stored: it must not spoil later checks
        entries[key_id] = {"public_key": encoded, "expired_at": expired_at}
    return entries


def decoded_keys(peer: StoredPeer) -> dict[str, bytes]:
    """Every key of the peer we trust, current and retired: what its announcements may be signed with."""
    return {key_id: b64decode(entry["public_key"], field="peer key") for key_id, entry in peer.keys.items()}


def retirements(peer: StoredPeer) -> dict[str, int]:
    """When each retired key of the peer was retired: it signs nothing issued later."""
    return {key_id: entry["expired_at"] for key_id, entry in peer.keys.items() if entry.get("expired_at") is not None}


def current_keys(peer: StoredPeer, now: int) -> dict[str, bytes]:
    """The peer's keys not retired at ``now``: only these may sign its requests and responses."""
    return {
        key_id: b64decode(entry["public_key"], field="peer key")
        for key_id, entry in peer.keys.items()
        if entry.get("expired_at") is None or entry["expired_at"] > now
    }


async def _pinned_document(
    transport: Transport, base_url: str, fingerprint: str, *, now: int
) -> tuple[str, NodeDocument]:
    expected = normalize_fingerprint(fingerprint)
    document = await fetch_node_document(transport, base_url, now=now)
    signer = document.public_keys()[document.signature.key_id]
    presented = crypto.fingerprint(signer)
    if presented != expected:
        raise FingerprintMismatch(f"{base_url} presents key {presented}, not the pinned {expected}; refusing")
    return expected, document


class PeerDirectory:
    """The peers and blocked hosts, cached briefly so a change made by the CLI takes effect soon."""

    def __init__(self, node: Node, ttl_seconds: float = 2.0) -> None:
        self._node = node
        self._ttl = ttl_seconds
        self._loaded_at = -1e9
        self._peers: dict[str, StoredPeer] = {}
        self._blocked: set[str] = set()

    async def peers(self) -> dict[str, StoredPeer]:
        await self._fresh()
        return self._peers

    async def blocked(self) -> set[str]:
        await self._fresh()
        return self._blocked

    async def usable(self) -> dict[str, StoredPeer]:
        """Active peers on hosts that are not blocked: the ones we sync with and take news from."""
        await self._fresh()
        return usable(self._peers, self._blocked)

    def invalidate(self) -> None:
        self._loaded_at = -1e9

    async def _fresh(self) -> None:
        if time.monotonic() - self._loaded_at < self._ttl:
            return
        async with self._node.database.transaction() as session:
            store = PeerStore(session)
            self._peers = {peer.base_url: peer for peer in await store.all()}
            self._blocked = await store.blocked_hosts()
        self._loaded_at = time.monotonic()

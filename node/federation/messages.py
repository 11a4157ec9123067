"""Messages between nodes: key bundles for remote members, and delivery of sealed messages.

``GET /federation/v1/members/{member}/keys`` serves a local member's device list and bundles to a
peer whose member wants to start a session (each one-time pre-key is handed out once).
``POST /federation/v1/messages`` takes a batch from a peer's outbox::

    {"txn": "<id>", "messages": [{"id": "...", "member": "...", "device": "...", "ciphertext": "<b64url>"}]}

and answers per item (``delivered``, ``duplicate`` or ``rejected`` with a code). The sending side,
:func:`deliver_outbox`, runs in each peer's sync loop: one batch in flight per peer, and the
transaction id is a digest of the message ids it carries, so a retry after a crash or a lost
answer is recognized, and no other batch can share it.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any
from urllib.parse import quote

from aiohttp import web

from node.errors import PeerError, PeerRefused
from node.federation.client import FederationClient
from node.federation.inbound import FEDERATION, authenticate, counted, json_object, signed_json
from node.messaging import MAX_BATCH_BYTES, MAX_MESSAGE_BATCH, REJECTED, accept_delivery, key_bundles
from node.metrics import METRICS
from node.signing_keys import KeySet
from node.storage.messaging import OutboxStore, StoredMessage
from node.storage.peers import StoredPeer
from protocol.encoding import b64encode

log = logging.getLogger("mentornet.messaging")

MESSAGES_PATH = "/federation/v1/messages"


def add_routes(app: web.Application) -> None:
    app.router.add_post(MESSAGES_PATH, counted(_receive_messages))
    app.router.add_get("/federation/v1/members/{member}/keys", counted(_member_keys))


async def _receive_messages(request: web.Request) -> web.Response:
    peer, body = await authenticate(request)
    context = request.app[FEDERATION]
    payload = json_object(body, '{"txn": ..., "messages": [...]}')
    results, touched, blocked = await accept_delivery(
        context.node, peer.base_url, payload.get("txn"), payload.get("messages")
    )
    if blocked:
        request.app[METRICS].messages_blocked.inc(blocked)
    for member_id, device_id in touched:
        context.mailboxes.notify(member_id, device_id)
    return await signed_json(request, {"results": results})


async def _member_keys(request: web.Request) -> web.Response:
    await authenticate(request)
    context = request.app[FEDERATION]
    bundles = request.query.get("bundles", "true") != "false"
    return await signed_json(request, await key_bundles(context.node, request.match_info["member"], bundles=bundles))


async def fetch_remote_keys(
    client: FederationClient, peer: StoredPeer, member_id: str, keys: KeySet, *, bundles: bool = True
) -> Any:
    """A remote member's device list and (unless ``bundles`` is false) bundles, from the member's home node."""
    query = "" if bundles else "?bundles=false"
    return await client.get(peer, f"/federation/v1/members/{quote(member_id, safe='')}/keys{query}", keys)


def transaction_id(message_ids: list[str]) -> str:
    """The same for a retry of the same batch, different for any other batch: a digest of the
    (unique) message ids it carries, never of row numbers, which a database may hand out again."""
    return hashlib.sha256("\n".join(message_ids).encode()).hexdigest()[:32]


async def deliver_outbox(client: FederationClient, peer: StoredPeer, keys: KeySet) -> int:
    """Send the peer's queued messages, one batch at a time; return how many left the outbox.

    An item the peer stored or already had leaves the outbox; so does one it refused for good
    (unknown recipient, malformed), which is logged. Nothing leaves it unless the peer answered.
    A peer that takes smaller requests (``413``: its ``server.max_body_bytes`` is lower) gets
    smaller batches, down to one message; a single message it still refuses as too large can
    never be delivered there, and is dropped with a log entry rather than blocking the rest.

    Raises:
        PeerError: if the peer cannot be reached or answers wrongly (the loop backs off).
    """
    node = client.node
    sent = 0
    max_items, max_bytes = MAX_MESSAGE_BATCH, MAX_BATCH_BYTES
    while True:
        async with node.database.transaction() as session:
            batch = await OutboxStore(session).batch(peer.base_url, max_items, max_bytes)
        if not batch:
            return sent
        try:
            await _deliver_batch(client, peer, keys, batch)
        except PeerRefused as exc:
            if exc.status != 413:
                raise
            if len(batch) > 1:
                max_items, max_bytes = max(1, len(batch) // 2), max_bytes // 2
                continue
            log.error(
                "peer refuses a message as too large; dropped",
                extra={"peer": peer.base_url, "bytes": len(batch[0].ciphertext)},
            )
        async with node.database.transaction() as session:
            await OutboxStore(session).remove([item.id for item in batch])
        sent += len(batch)


async def _deliver_batch(client: FederationClient, peer: StoredPeer, keys: KeySet, batch: list[StoredMessage]) -> None:
    answer = await client.post(
        peer,
        MESSAGES_PATH,
        {
            "txn": transaction_id([item.message_id for item in batch]),
            "messages": [
                {
                    "id": item.message_id,
                    "member": item.member_id,
                    "device": item.device_id,
                    "ciphertext": b64encode(item.ciphertext),
                    "sender": item.sender,
                }
                for item in batch
            ],
        },
        keys,
    )
    results = answer.get("results") if isinstance(answer, dict) else None
    if not isinstance(results, list) or len(results) != len(batch):
        raise PeerError(f"{peer.base_url} answered a delivery with {len(results or [])} results for {len(batch)}")
    refused = [result for result in results if not isinstance(result, dict) or result.get("status") == REJECTED]
    if refused:
        log.warning("peer refused messages", extra={"peer": peer.base_url, "refused": refused[:5]})

"""The member-facing client API, version 1 (JSON over HTTP, bearer tokens).

``POST /client/v1/register`` redeems an invite for an access token; the other endpoints need
``Authorization: Bearer <token>``. Searches run on this node's own index only.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node import mentorships
from node.announcements import publish_availability, withdraw_availability
from node.discovery import MentorIndex, make_query, result_json
from node.errors import Conflict, NotFound, PeerRefused, RequestRejected, Unauthorized
from node.federation.client import FederationClient
from node.federation.inbound import FEDERATION, RateLimiter, json_object
from node.federation.messages import fetch_remote_keys
from node.federation.reports import file_report
from node.federation.resources import fetch_chunk
from node.members import hash_token, member_for_token, redeem_invite
from node.messaging import (
    DELIVERED,
    MAX_MESSAGE_BATCH,
    QUEUED,
    acknowledge,
    add_prekeys,
    block_sender,
    blocks_of,
    key_bundles,
    outgoing,
    parse_recipient,
    prekey_counts,
    receive,
    register_device,
    send,
    unblock_sender,
)
from node.metrics import METRICS
from node.openapi import OPENAPI
from node.resources import delete_blob, store_blob
from protocol import addresses
from protocol.discovery import parse_window
from protocol.encoding import b64decode, b64encode
from protocol.errors import MalformedMessage
from protocol.lifecycle import Action, Actor
from protocol.member import validate_timezone
from protocol.resources import MAX_BLOB_BYTES
from protocol.safety import make_report

INDEX = web.AppKey("mentor_index", MentorIndex)
CLIENT_LIMITER = web.AppKey("client_limiter", RateLimiter)
MAX_WAIT_SECONDS = 30.0


def add_routes(app: web.Application, requests_per_minute: int) -> None:
    app[CLIENT_LIMITER] = RateLimiter(requests_per_minute)
    app.router.add_get("/client/v1/openapi.json", _openapi)
    app.router.add_post("/client/v1/register", _register)
    app.router.add_put("/client/v1/me/availability", _put_availability)
    app.router.add_delete("/client/v1/me/availability", _delete_availability)
    app.router.add_get("/client/v1/mentors", _mentors)
    app.router.add_get("/client/v1/groups", _groups)
    app.router.add_put("/client/v1/me/devices/{device}", _put_device)
    app.router.add_post("/client/v1/me/devices/{device}/prekeys", _post_prekeys)
    app.router.add_get("/client/v1/me/devices/{device}/prekeys", _get_prekeys)
    app.router.add_get("/client/v1/keys", _keys)
    app.router.add_post("/client/v1/messages", _send)
    app.router.add_get("/client/v1/messages", _receive)
    app.router.add_post("/client/v1/messages/ack", _acknowledge)
    app.router.add_get("/client/v1/blocks", _blocks)
    app.router.add_post("/client/v1/blocks", _block)
    app.router.add_delete("/client/v1/blocks", _unblock)
    app.router.add_post("/client/v1/reports", _report)
    app.router.add_post("/client/v1/blobs", _upload_blob)
    app.router.add_get("/client/v1/blobs/{blob}", _blob_chunk)
    app.router.add_delete("/client/v1/blobs/{blob}", _delete_blob)
    app.router.add_get("/client/v1/mentorships", _mentorships)
    app.router.add_post("/client/v1/mentorships", _open_request)
    app.router.add_post("/client/v1/mentorships/{request_id}/moves", _move)
    app.router.add_post("/client/v1/mentorships/{request_id}/sessions", _session_held)


async def _openapi(request: web.Request) -> web.Response:
    return web.json_response(OPENAPI)


async def _register(request: web.Request) -> web.Response:
    body = await _json_body(request)
    code = body.get("invite_code")
    if not isinstance(code, str) or not code:
        raise MalformedMessage('expected {"invite_code": "..."}')
    registration = await redeem_invite(request.app[FEDERATION].node, code)
    return web.json_response(
        {"member_id": registration.member_id, "access_token": registration.access_token, "token_type": "Bearer"},
        status=201,
    )


async def _put_availability(request: web.Request) -> web.Response:
    member_id = await _member(request)
    body = await _json_body(request)
    availability = body.get("availability")
    lifetime = body.get("lifetime_days")
    if not isinstance(availability, dict) or (lifetime is not None and not isinstance(lifetime, int)):
        raise MalformedMessage('expected {"availability": {...}, "lifetime_days": optional integer}')
    context = request.app[FEDERATION]
    announcement = await publish_availability(
        context.node, member_id, availability, lifetime_days=lifetime, by_member=True
    )
    context.on_own_change()
    return web.json_response({"announcement": announcement})


async def _delete_availability(request: web.Request) -> web.Response:
    member_id = await _member(request)
    context = request.app[FEDERATION]
    announcement = await withdraw_availability(context.node, member_id, by_member=True)
    context.on_own_change()
    return web.json_response({"announcement": announcement})


async def _mentors(request: web.Request) -> web.Response:
    await _member(request)
    query = request.query
    timezone = query.get("timezone")
    windows = [parse_window(text) for text in query.getall("window", [])]
    if windows and not timezone:
        raise MalformedMessage("windows need the timezone they are in (timezone=Europe/Berlin)")
    try:
        limit = int(query.get("limit", "20"))
    except ValueError as exc:
        raise MalformedMessage("limit must be an integer") from exc
    index = request.app[INDEX]
    mentee_query = make_query(
        topics=query.getall("topic", []),
        languages=query.getall("language", []),
        timezone=validate_timezone(timezone) if timezone else None,
        windows=windows,
        institution=query.get("institution"),
        open_only=query.get("include_full", "false") != "true",
        limit=limit,
        now=request.app[FEDERATION].node.clock(),
    )
    found = await index.search(mentee_query)
    results = [result_json(match, listing, index.institution(listing.announcement.origin)) for match, listing in found]
    return web.json_response({"results": results, "count": len(results)})


async def _groups(request: web.Request) -> web.Response:
    """Upcoming group sessions across the federation, from this node's index."""
    await _member(request)
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError as exc:
        raise MalformedMessage("limit must be an integer") from exc
    found = await request.app[INDEX].group_sessions(request.query.get("topic"), limit)
    return web.json_response({"groups": found, "count": len(found)})


async def _put_device(request: web.Request) -> web.Response:
    member_id = await _member(request)
    body = await _json_body(request)
    counts = await register_device(
        request.app[FEDERATION].node, member_id, {**body, "device": request.match_info["device"]}
    )
    return web.json_response({"device": request.match_info["device"], "one_time_prekeys": counts})


async def _post_prekeys(request: web.Request) -> web.Response:
    member_id = await _member(request)
    body = await _json_body(request)
    device = request.match_info["device"]
    counts = await add_prekeys(request.app[FEDERATION].node, member_id, device, body.get("one_time_prekeys"))
    return web.json_response({"device": device, "one_time_prekeys": counts})


async def _get_prekeys(request: web.Request) -> web.Response:
    member_id = await _member(request)
    device = request.match_info["device"]
    counts = await prekey_counts(request.app[FEDERATION].node, member_id, device)
    return web.json_response({"device": device, "one_time_prekeys": counts})


async def _keys(request: web.Request) -> web.Response:
    """A member's device list and key bundles: from this node, or from the member's home node."""
    await _member(request)
    context = request.app[FEDERATION]
    node_url, member = request.query.get("node", context.origin), request.query.get("member")
    if not member:
        raise MalformedMessage("name the member: /client/v1/keys?node=URL&member=ID")
    bundles = request.query.get("bundles", "true") != "false"
    home = addresses.normalize_base_url(node_url)  # 400 invalid_field if it is not a URL
    if home == context.origin:
        return web.json_response(await key_bundles(context.node, member, bundles=bundles))
    peer = (await context.directory.usable()).get(home)
    if peer is None:
        raise Conflict(f"{home} is not a peer of this node")
    try:
        answer = await fetch_remote_keys(
            FederationClient(context.node, context.transport),
            peer,
            member,
            await context.keys.current(),
            bundles=bundles,
        )
    except PeerRefused as exc:
        if exc.status == 404:
            raise NotFound(f"no member {member} with a registered device at {home}") from exc
        raise
    return web.json_response(answer)


async def _send(request: web.Request) -> web.Response:
    """Send up to 100 sealed messages; each is answered on its own (delivered, duplicate, queued,
    or rejected with a code), so one bad recipient does not spoil the others."""
    member_id = await _member(request)
    body = await _json_body(request)
    items = body.get("messages")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_MESSAGE_BATCH:
        raise MalformedMessage(f'expected {{"messages": [1 to {MAX_MESSAGE_BATCH} messages]}}')
    messages = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("ciphertext"), str):
            raise MalformedMessage('each message is {"to": {...}, "id": ID, "ciphertext": base64url}')
        ciphertext = b64decode(item["ciphertext"], field="ciphertext")
        messages.append(outgoing(parse_recipient(item.get("to")), item.get("id"), ciphertext))
    context = request.app[FEDERATION]
    results, blocked = await send(context.node, member_id, messages, list(await context.directory.usable()))
    if blocked:
        request.app[METRICS].messages_blocked.inc(blocked)
    for message, result in zip(messages, results, strict=True):
        if result["status"] == QUEUED:
            context.on_outbox(message.recipient.node)
        elif result["status"] == DELIVERED:
            context.mailboxes.notify(message.recipient.member, message.recipient.device)
    return web.json_response({"results": results})


async def _receive(request: web.Request) -> web.Response:
    """Sealed messages for one of the member's devices, oldest first; with ``wait``, a long poll."""
    member_id = await _member(request)
    query = request.query
    device = query.get("device", "")
    try:
        wait = min(float(query.get("wait", "0")), MAX_WAIT_SECONDS)
        limit = max(1, min(int(query.get("limit", "100")), 500))
    except ValueError as exc:
        raise MalformedMessage("wait and limit must be numbers") from exc
    context = request.app[FEDERATION]
    messages = await receive(context.node, member_id, device, limit)
    if not messages and wait > 0:
        await context.mailboxes.wait(member_id, device, wait)
        messages = await receive(context.node, member_id, device, limit)
    return web.json_response(
        {
            "messages": [
                {
                    "id": m.message_id,
                    "ciphertext": b64encode(m.ciphertext),
                    "received_at": m.at,
                    "sender": m.sender,
                    "origin": m.origin,
                }
                for m in messages
            ]
        }
    )


async def _acknowledge(request: web.Request) -> web.Response:
    member_id = await _member(request)
    body = await _json_body(request)
    ids = body.get("ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > 500:
        raise MalformedMessage('expected {"device": ID, "ids": [up to 500 message ids]}')
    device = body.get("device")
    if not isinstance(device, str):
        raise MalformedMessage("name the device whose messages are acknowledged")
    deleted = await acknowledge(request.app[FEDERATION].node, member_id, device, ids)
    return web.json_response({"acknowledged": deleted})


async def _blocks(request: web.Request) -> web.Response:
    member_id = await _member(request)
    return web.json_response({"blocks": await blocks_of(request.app[FEDERATION].node, member_id)})


async def _block(request: web.Request) -> web.Response:
    """Block a sender by the handle and origin their messages came with."""
    member_id = await _member(request)
    body = await _json_body(request)
    dropped = await block_sender(request.app[FEDERATION].node, member_id, body.get("origin"), body.get("sender"))
    return web.json_response({"blocked": True, "dropped": dropped}, status=201)


async def _unblock(request: web.Request) -> web.Response:
    member_id = await _member(request)
    body = await _json_body(request)
    removed = await unblock_sender(request.app[FEDERATION].node, member_id, body.get("origin"), body.get("sender"))
    return web.json_response({"unblocked": removed})


async def _report(request: web.Request) -> web.Response:
    """Report a member to their home node's operator, with the evidence the member chose to reveal."""
    member_id = await _member(request)
    body = await _json_body(request)
    context = request.app[FEDERATION]
    home = addresses.normalize_base_url(str(body.get("node", "")))
    report = make_report({k: body.get(k) for k in ("member", "reason", "evidence", "reporter")})
    if report.reporter is not None and report.reporter != f"{member_id}@{context.origin}":
        raise MalformedMessage("reporter must be your own address, or null to report anonymously")
    report_id = await file_report(context, home, report)
    return web.json_response({"report_id": report_id, "node": home}, status=201)


async def _upload_blob(request: web.Request) -> web.Response:
    """Keep an encrypted file (the raw body, up to 10 MiB and the sealed format's overhead)."""
    member_id = await _member(request)
    declared = request.content_length
    if declared is not None and declared > MAX_BLOB_BYTES:
        raise RequestRejected(413, "too_large", f"a shared file is at most {MAX_BLOB_BYTES} bytes of ciphertext")
    body = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > MAX_BLOB_BYTES:
            raise RequestRejected(413, "too_large", f"a shared file is at most {MAX_BLOB_BYTES} bytes of ciphertext")
    blob_id = await store_blob(request.app[FEDERATION].node, member_id, bytes(body))
    return web.json_response({"id": blob_id, "size": len(body)}, status=201)


async def _blob_chunk(request: web.Request) -> web.Response:
    """A chunk of a shared file's ciphertext, kept here or at the peer named by ``node``."""
    await _member(request)
    context = request.app[FEDERATION]
    home = addresses.normalize_base_url(request.query.get("node", context.origin))
    try:
        offset = int(request.query.get("offset", "0"))
    except ValueError as exc:
        raise MalformedMessage("offset must be an integer") from exc
    return web.json_response(await fetch_chunk(context, home, request.match_info["blob"], offset))


async def _delete_blob(request: web.Request) -> web.Response:
    member_id = await _member(request)
    deleted = await delete_blob(request.app[FEDERATION].node, member_id, request.match_info["blob"])
    if not deleted:
        raise NotFound("you have no shared file with that id")
    return web.json_response({"deleted": True})


async def _mentorships(request: web.Request) -> web.Response:
    member_id = await _member(request)
    records = await mentorships.mentorships_of(request.app[FEDERATION].node, member_id)
    return web.json_response({"mentorships": [mentorships.record_json(record) for record in records]})


async def _open_request(request: web.Request) -> web.Response:
    """Record a request the member makes (role ``mentee``) or received (role ``mentor``)."""
    member_id = await _member(request)
    body = await _json_body(request)
    request_id, role, weeks, expires_at = (body.get(k) for k in ("request_id", "role", "duration_weeks", "expires_at"))
    if (
        not isinstance(request_id, str)
        or role not in (Actor.MENTEE, Actor.MENTOR)
        or not isinstance(weeks, int)
        or isinstance(weeks, bool)
        or not (expires_at is None or _integer(expires_at))
    ):
        raise MalformedMessage(
            'expected {"request_id": ID, "role": "mentee" | "mentor", "duration_weeks": N, "expires_at": optional}'
        )
    record = await mentorships.open_request(
        request.app[FEDERATION].node, member_id, request_id, Actor(role), weeks, expires_at
    )
    return web.json_response(mentorships.record_json(record), status=201)


async def _move(request: web.Request) -> web.Response:
    member_id = await _member(request)
    body = await _json_body(request)
    action, by = body.get("action"), body.get("by")
    if not isinstance(action, str) or action not in set(Action) or by not in (Actor.MENTEE, Actor.MENTOR):
        raise MalformedMessage('expected {"action": "view" | "accept" | ..., "by": "mentee" | "mentor"}')
    context = request.app[FEDERATION]
    record = await mentorships.move(
        context.node, member_id, request.match_info["request_id"], Action(action), Actor(by)
    )
    context.on_own_change()  # the mentor's open places may have been re-announced
    return web.json_response(mentorships.record_json(record))


async def _session_held(request: web.Request) -> web.Response:
    member_id = await _member(request)
    record = await mentorships.record_session(request.app[FEDERATION].node, member_id, request.match_info["request_id"])
    return web.json_response(mentorships.record_json(record))


def _integer(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


async def _member(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send Authorization: Bearer <access token>")
    member_id = await member_for_token(request.app[FEDERATION].node, token.strip())
    if member_id is None:
        raise Unauthorized("the access token is not valid")
    if not request.app[CLIENT_LIMITER].allow(hash_token(token.strip()).hex()):  # per token, never kept in clear
        limit = request.app[CLIENT_LIMITER].per_minute
        raise RequestRejected(429, "rate_limited", f"more than {limit} requests a minute; slow down")
    return member_id


async def _json_body(request: web.Request) -> dict[str, Any]:
    return json_object(await request.read(), "a JSON object")

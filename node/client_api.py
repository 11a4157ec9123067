"""The member-facing client API, version 1 (JSON over HTTP, bearer tokens).

``POST /client/v1/register`` redeems an invite for an access token; the other endpoints need
``Authorization: Bearer <token>``. Searches run on this node's own index only.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from node.announcements import publish_availability, withdraw_availability
from node.discovery import MentorIndex, make_query, result_json
from node.errors import RequestRejected, Unauthorized
from node.federation.inbound import FEDERATION, RateLimiter
from node.members import member_for_token, redeem_invite
from protocol.discovery import parse_window
from protocol.errors import MalformedMessage
from protocol.member import validate_timezone

INDEX = web.AppKey("mentor_index", MentorIndex)
CLIENT_LIMITER = web.AppKey("client_limiter", RateLimiter)
CLIENT_REQUESTS_PER_MINUTE = 600


def add_routes(app: web.Application) -> None:
    app[CLIENT_LIMITER] = RateLimiter(CLIENT_REQUESTS_PER_MINUTE)
    app.router.add_post("/client/v1/register", _register)
    app.router.add_put("/client/v1/me/availability", _put_availability)
    app.router.add_delete("/client/v1/me/availability", _delete_availability)
    app.router.add_get("/client/v1/mentors", _mentors)


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


async def _member(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send Authorization: Bearer <access token>")
    member_id = await member_for_token(request.app[FEDERATION].node, token.strip())
    if member_id is None:
        raise Unauthorized("the access token is not valid")
    if not request.app[CLIENT_LIMITER].allow(member_id):
        raise RequestRejected(429, "rate_limited", f"more than {CLIENT_REQUESTS_PER_MINUTE} requests a minute")
    return member_id


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.read())
    except (ValueError, RecursionError) as exc:
        raise MalformedMessage(f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise MalformedMessage("the body must be a JSON object")
    return body

"""``GET /federation/v1/blobs/{id}?offset=N``: a peer's member fetches a shared file's ciphertext
from the sender's home node, one chunk per signed request."""

from __future__ import annotations

from aiohttp import web

from node.errors import Conflict, NotFound, PeerRefused
from node.federation.client import FederationClient
from node.federation.inbound import FEDERATION, FederationContext, authenticate, counted, signed_json
from node.resources import read_chunk
from protocol.errors import MalformedMessage
from protocol.resources import BLOB_ID

BLOBS_PATH = "/federation/v1/blobs/"


def add_routes(app: web.Application) -> None:
    app.router.add_get(BLOBS_PATH + "{blob}", counted(_chunk))


async def _chunk(request: web.Request) -> web.Response:
    await authenticate(request)
    chunk = await read_chunk(request.app[FEDERATION].node, request.match_info["blob"], _offset(request))
    return await signed_json(request, chunk)


async def fetch_chunk(context: FederationContext, home: str, blob_id: str, offset: int) -> dict[str, object]:
    """A chunk of a blob kept here or at the peer ``home``.

    Raises:
        NotFound: no such blob there. Conflict: ``home`` is not a peer. PeerError: it failed.
    """
    if home == context.origin or not BLOB_ID.fullmatch(blob_id):
        return await read_chunk(context.node, blob_id, offset)  # (which refuses a malformed id)
    peer = (await context.directory.usable()).get(home)
    if peer is None:
        raise Conflict(f"{home} is not a peer of this node")
    try:
        answer = await FederationClient(context.node, context.transport).get(
            peer, f"{BLOBS_PATH}{blob_id}?offset={offset}", await context.keys.current()
        )
    except PeerRefused as exc:
        if exc.status == 404:
            raise NotFound(f"no shared file {blob_id} at {home} (it may have expired or been deleted)") from exc
        raise
    if (
        not isinstance(answer, dict)
        or not isinstance(answer.get("data"), str)
        or not isinstance(answer.get("size"), int)
    ):
        raise PeerRefused(f"{home} answered a blob request with something else")
    return answer


def _offset(request: web.Request) -> int:
    try:
        return int(request.query.get("offset", "0"))
    except ValueError as exc:
        raise MalformedMessage("offset must be an integer") from exc

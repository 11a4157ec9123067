"""Outbound federation requests: signed with RFC 9421, responses verified against the peer's keys.

A peer's failure is reported as :class:`PeerError`, never passed on as if it were ours.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

from node.errors import PeerRefused
from node.federation.peers import current_keys, normalize_base_url
from node.federation.transport import OutboundRequest, PeerResponse, Transport
from node.instance import Node
from node.signing_keys import KeySet
from node.storage.peers import StoredPeer
from protocol.errors import BadSignature, ProtocolError
from protocol.http_signatures import (
    HttpRequest,
    HttpResponse,
    check_content_digest,
    content_digest,
    sign_request,
    verify_response,
)

JSON = "application/json"


class FederationClient:
    def __init__(self, node: Node, transport: Transport) -> None:
        self.node = node
        self._transport = transport
        self.origin = normalize_base_url(node.config.base_url)

    async def post(self, peer: StoredPeer, path: str, payload: Any, keys: KeySet) -> Any:
        """POST signed JSON to a peer; return its verified JSON answer."""
        body = json.dumps(payload, separators=(",", ":")).encode()
        return await self._exchange(peer, "POST", path, body, keys)

    async def get(self, peer: StoredPeer, path: str, keys: KeySet) -> Any:
        """GET from a peer with a signed request; return its verified JSON answer."""
        return await self._exchange(peer, "GET", path, b"", keys)

    async def _exchange(self, peer: StoredPeer, method: str, path: str, body: bytes, keys: KeySet) -> Any:
        url = peer.base_url + path
        headers = {"content-type": JSON, "accept": JSON, "content-digest": content_digest(body)}
        request = HttpRequest(method=method, target_uri=url, headers=headers)
        signer = keys.signer
        headers.update(
            sign_request(
                request,
                signer,
                keyid=f"{self.origin}#{signer.key_id}",
                created=self.node.clock(),
                nonce=secrets.token_urlsafe(18),
            )
        )
        response = await self._transport.send(OutboundRequest(method, url, headers, body))
        return self._verified_json(peer, request, response)

    def _verified_json(self, peer: StoredPeer, request: HttpRequest, response: PeerResponse) -> Any:
        if response.status >= 400:
            raise PeerRefused(
                f"{peer.base_url} refused {request.method} {request.target_uri}: HTTP {response.status} "
                f"{_error_code(response.body)}".rstrip(),
                status=response.status,
            )
        keys = current_keys(peer, self.node.clock())

        def resolve(keyid: str) -> bytes:
            base_url, _, key_id = keyid.rpartition("#")
            if base_url != peer.base_url or key_id not in keys:
                raise BadSignature(f"response signed by an unknown key {keyid!r}")
            return keys[key_id]

        try:
            check_content_digest(response.headers.get("content-digest"), response.body)
            verify_response(
                HttpResponse(response.status, response.headers),
                request,
                resolve,
                now=self.node.clock(),
                max_skew=self.node.config.federation.max_clock_skew_seconds,
            )
            return json.loads(response.body)
        except (ProtocolError, ValueError, RecursionError) as exc:
            raise PeerRefused(f"{peer.base_url}: the response does not verify: {exc}") from exc


def _error_code(body: bytes) -> str:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return ""
    return f"({parsed.get('error')}: {parsed.get('message')})" if isinstance(parsed, dict) else ""

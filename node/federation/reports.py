"""Reports between nodes: ``POST /federation/v1/reports`` carries a member's report about a
member of the receiving node to that node's operator (signed by the reporter's node)."""

from __future__ import annotations

from aiohttp import web

from node.errors import Conflict, NotFound, PeerRefused
from node.federation.client import FederationClient
from node.federation.inbound import FEDERATION, FederationContext, authenticate, counted, json_object, signed_json
from node.safety import receive_report
from protocol.errors import MalformedMessage
from protocol.safety import Report, make_report, report_json

REPORTS_PATH = "/federation/v1/reports"


def add_routes(app: web.Application) -> None:
    app.router.add_post(REPORTS_PATH, counted(_receive))


async def _receive(request: web.Request) -> web.Response:
    peer, body = await authenticate(request)
    report = make_report(json_object(body, '{"member", "reason", "evidence", "reporter"}'))
    if report.reporter is not None and not report.reporter.endswith("@" + peer.base_url):
        raise MalformedMessage("a node reports for its own members only: the reporter's address must be at it")
    report_id = await receive_report(request.app[FEDERATION].node, peer.base_url, report)
    return await signed_json(request, {"report_id": report_id}, status=201)


async def file_report(context: FederationContext, home: str, report: Report) -> str:
    """Deliver a report to the reported member's home node (ours, or a peer); return its id there.

    Raises:
        NotFound: the member is not at that node. Conflict: the node is not a peer.
        PeerError: the peer did not take it (the member can try again).
    """
    if home == context.origin:
        return await receive_report(context.node, context.origin, report)
    peer = (await context.directory.usable()).get(home)
    if peer is None:
        raise Conflict(f"{home} is not a peer of this node; a report cannot reach it")
    try:
        answer = await FederationClient(context.node, context.transport).post(
            peer, REPORTS_PATH, report_json(report), await context.keys.current()
        )
    except PeerRefused as exc:
        if exc.status == 404:
            raise NotFound(f"no member {report.member} at {home}") from exc
        raise
    report_id = answer.get("report_id") if isinstance(answer, dict) else None
    if not isinstance(report_id, str):
        raise PeerRefused(f"{home} answered the report without an id")
    return report_id

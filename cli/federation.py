"""``mentornet peer ...`` and ``mentornet discover``: peering and searching the federation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.common import (
    MentorSearch,
    data_dir_option,
    format_time,
    guarded,
    json_option,
    passphrase_option,
    search_options,
    with_node,
    with_transport,
)
from cli.output import emit, print_mentors
from node.discovery import MentorIndex, make_query, result_json
from node.errors import NodeError
from node.federation.peers import add_peer, block_host, list_peers, remove_peer, repin_peer, unblock_host
from node.instance import Node
from protocol.discovery import parse_window
from protocol.member import validate_timezone


@click.group()
def peer() -> None:
    """Peer with other institutions' nodes: add, list, re-pin, remove, block."""


@peer.command("add")
@click.argument("url")
@click.option("--fingerprint", required=True, help="The peer's key fingerprint, exchanged out of band.")
@data_dir_option
@passphrase_option
@json_option
@guarded
def peer_add(url: str, fingerprint: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Fetch a node's signed document, check its fingerprint, and pin it as a peer."""
    added = with_transport(
        data_dir, passphrase_file, lambda node, transport: add_peer(node, transport, url, fingerprint)
    )
    emit(
        as_json,
        {"base_url": added.base_url, "name": added.name, "fingerprint": added.pinned_fingerprint},
        lambda: click.echo(f"Peered with {added.name} at {added.base_url} ({added.pinned_fingerprint})."),
    )


@peer.command("repin")
@click.argument("url")
@click.option("--fingerprint", required=True, help="The peer's new key fingerprint, exchanged out of band.")
@data_dir_option
@passphrase_option
@json_option
@guarded
def peer_repin(url: str, fingerprint: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Pin a peer's new key (when 'peer list' shows it as needs-repin)."""
    updated = with_transport(
        data_dir, passphrase_file, lambda node, transport: repin_peer(node, transport, url, fingerprint)
    )
    emit(
        as_json,
        {"base_url": updated.base_url, "fingerprint": updated.pinned_fingerprint},
        lambda: click.echo(f"Re-pinned {updated.base_url} to {updated.pinned_fingerprint}."),
    )


@peer.command("list")
@data_dir_option
@passphrase_option
@json_option
@guarded
def peer_list(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Peers with their state, last contact, backlog and clock offset; blocked hosts."""
    statuses, blocked = with_node(data_dir, passphrase_file, list_peers)

    def human() -> None:
        if not statuses:
            click.echo("No peers yet. Add one with 'mentornet peer add URL --fingerprint FP'.")
        for status in statuses:
            peer_row = status.peer
            contact = format_time(peer_row.last_contact_at) if peer_row.last_contact_at else "never"
            offset = f"{peer_row.clock_offset:+d} s" if peer_row.clock_offset is not None else "unknown"
            click.echo(
                f"{peer_row.base_url}  {peer_row.name}  [{peer_row.state}]  last contact {contact}  "
                f"backlog {status.backlog}  outbox {status.outbox}  clock offset {offset}"
            )
            if peer_row.last_error:
                click.echo(f"    last error: {peer_row.last_error}")
        if blocked:
            click.echo("Blocked hosts: " + ", ".join(sorted(blocked)))

    emit(as_json, {"peers": [status.as_json() for status in statuses], "blocked": sorted(blocked)}, human)


@peer.command("remove")
@click.argument("url")
@data_dir_option
@passphrase_option
@json_option
@guarded
def peer_remove(url: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Stop federating with a peer."""
    with_node(data_dir, passphrase_file, lambda node: remove_peer(node, url))
    emit(as_json, {"removed": url}, lambda: click.echo(f"Removed peer {url}."))


@peer.command("block")
@click.argument("host")
@data_dir_option
@passphrase_option
@json_option
@guarded
def peer_block(host: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Block a host: its requests get 403 on everything."""
    blocked = with_node(data_dir, passphrase_file, lambda node: block_host(node, host))
    emit(as_json, {"blocked": blocked}, lambda: click.echo(f"Blocked {blocked}."))


@peer.command("unblock")
@click.argument("host")
@data_dir_option
@passphrase_option
@json_option
@guarded
def peer_unblock(host: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Lift a block."""
    with_node(data_dir, passphrase_file, lambda node: unblock_host(node, host))
    emit(as_json, {"unblocked": host}, lambda: click.echo(f"Unblocked {host}."))


@click.command()
@data_dir_option
@search_options
@passphrase_option
@json_option
@guarded
def discover(data_dir: Path, search: MentorSearch, passphrase_file: Path | None, as_json: bool) -> None:
    """Search mentors across the federation in this node's own index (nothing is sent anywhere)."""
    parsed = [parse_window(text) for text in search.windows]
    if parsed and not search.timezone:
        raise NodeError("--window needs --timezone (the time zone the windows are in)")

    async def run(node: Node) -> list[dict[str, Any]]:
        index = MentorIndex(node)
        query = make_query(
            topics=search.topics,
            languages=search.languages,
            timezone=validate_timezone(search.timezone) if search.timezone else None,
            windows=parsed,
            institution=search.institution,
            open_only=not search.include_full,
            limit=search.limit,
            now=node.clock(),
        )
        found = await index.search(query)
        return [result_json(m, listing, index.institution(listing.announcement.origin)) for m, listing in found]

    results = with_node(data_dir, passphrase_file, run)

    emit(as_json, results, lambda: print_mentors(results))

"""``mentornet client share|resources|fetch``: links and files (up to 10 MiB) shared end to end."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from cli.client import client, client_errors, keystore_options, open_member
from cli.common import format_time, json_option
from cli.output import emit
from client.member import Address, ClientError
from client.resources import Resources


@client.command("share")
@click.argument("address")
@click.option("--file", "path", type=click.Path(path_type=Path, dir_okay=False, exists=True), help="A file, ≤ 10 MiB.")
@click.option("--link", "url", default=None, help="A link (https://…).")
@click.option("--title", default=None, help="What it is (default: the file's name).")
@click.option("--request", "request_id", default=None, help="The mentorship it belongs to.")
@keystore_options
@json_option
@client_errors
def share(
    address: str,
    path: Path | None,
    url: str | None,
    title: str | None,
    request_id: str | None,
    keystore: Path,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Share a file (encrypted here; your node keeps only ciphertext) or a link with ADDRESS."""
    if (path is None) == (url is None):
        raise ClientError("give exactly one of --file or --link")
    resources = Resources(open_member(keystore, passphrase_file))
    to = Address.parse(address)
    if path is not None:
        resource_id = asyncio.run(resources.share_file(to, path, title, request_id))
    else:
        assert url is not None
        resource_id = asyncio.run(resources.share_link(to, url, title or url, request_id))
    emit(
        as_json, {"resource": resource_id, "to": address}, lambda: click.echo(f"Shared with {address} ({resource_id}).")
    )


@client.command("resources")
@keystore_options
@json_option
@client_errors
def resources_list(keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Links and files you shared or received (file keys are never printed)."""
    listed = Resources(open_member(keystore, passphrase_file)).listing()

    def human() -> None:
        if not listed:
            click.echo("No shared resources yet.")
        for item in listed:
            who = f"from {item['from']}" if "from" in item else f"to {item['to']}"
            what = item.get("url") or f"{item.get('name')} ({int(item.get('size') or 0) / 1024:.0f} KiB)"
            click.echo(f"{item['resource']}  {format_time(item['received_at'])}  {item['title']}: {what}  {who}")

    emit(as_json, listed, human)


@client.command("fetch")
@click.argument("resource_id")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), default=None, help="Default: its name.")
@keystore_options
@json_option
@client_errors
def fetch(resource_id: str, output: Path | None, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Download a shared file, decrypt it here and check it; never overwrites a file."""
    resources = Resources(open_member(keystore, passphrase_file))
    item = resources.items.get(resource_id, {})
    destination = output or Path(str(item.get("name") or resource_id))
    written = asyncio.run(resources.fetch(resource_id, destination))
    emit(as_json, {"resource": resource_id, "path": str(written)}, lambda: click.echo(f"Saved {written} (checked)."))

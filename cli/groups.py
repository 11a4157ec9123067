"""``mentornet client group ...``: group sessions and workshops across institutions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from cli.client import client, client_errors, keystore_options, open_member
from cli.common import format_time, json_option
from cli.output import emit
from client.groups import Groups
from client.member import Address, ClientError
from protocol.errors import ProtocolError
from protocol.scheduling import local_to_utc


@client.group("group")
def group() -> None:
    """Group sessions: announce (mentors), find, join, leave, send, show, list."""


@group.command("announce")
@click.option("--title", required=True)
@click.option("--topic", required=True)
@click.option("--at", "start", required=True, help="Start, e.g. 2027-03-23T18:00.")
@click.option("--zone", default="UTC", show_default=True, help="The IANA zone --at is in.")
@click.option("--minutes", type=click.IntRange(15, 480), default=60, show_default=True)
@click.option("--capacity", type=click.IntRange(2, 100), required=True, help="Participants at most.")
@keystore_options
@json_option
@client_errors
def group_announce(
    title: str,
    topic: str,
    start: str,
    zone: str,
    minutes: int,
    capacity: int,
    keystore: Path,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Announce a group session you host (it rides on your published availability)."""
    try:
        starts_at = local_to_utc(start, zone)
    except ProtocolError as exc:
        raise ClientError(str(exc)) from exc
    groups = Groups(open_member(keystore, passphrase_file))
    group_id = asyncio.run(groups.announce(title, topic, starts_at, minutes, capacity))
    emit(as_json, {"group": group_id}, lambda: click.echo(f"Announced group session {group_id}."))


@group.command("find")
@click.option("--topic", default=None)
@keystore_options
@json_option
@client_errors
def group_find(topic: str | None, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Upcoming group sessions across the federation."""
    member = open_member(keystore, passphrase_file)

    async def run() -> list[dict[str, Any]]:
        async with member.api() as api:
            return await api.groups(topic)

    found = asyncio.run(run())

    def human() -> None:
        if not found:
            click.echo("No upcoming group sessions.")
        for item in found:
            click.echo(
                f"{item['group']}  {format_time(item['starts_at'])}  {item['title']} ({item['topic']}, "
                f"{item['minutes']} min, up to {item['capacity']})  host {item['host_name'] or item['host']}, "
                f"{item['institution']}"
            )

    emit(as_json, found, human)


@group.command("join")
@click.argument("group_id")
@keystore_options
@json_option
@client_errors
def group_join(group_id: str, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Ask the host of GROUP_ID (from 'group find') to register you."""
    member = open_member(keystore, passphrase_file)

    async def run() -> dict[str, Any]:
        async with member.api() as api:
            listing = next((g for g in await api.groups() if g["group"] == group_id), None)
        if listing is None:
            raise ClientError(f"no upcoming group session {group_id}; see 'mentornet client group find'")
        await Groups(member).join(Address.parse(listing["host"]), listing)
        return listing

    listing = asyncio.run(run())
    emit(as_json, listing, lambda: click.echo(f"Asked {listing['host']} to register you; 'receive' shows the answer."))


@group.command("leave")
@click.argument("group_id")
@keystore_options
@json_option
@client_errors
def group_leave(group_id: str, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Leave a group session: nothing is sent to you from then on."""
    asyncio.run(Groups(open_member(keystore, passphrase_file)).leave(group_id))
    emit(as_json, {"left": group_id}, lambda: click.echo(f"Left {group_id}."))


@group.command("send")
@click.argument("group_id")
@click.argument("text")
@keystore_options
@json_option
@client_errors
def group_send(group_id: str, text: str, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Send TEXT to everyone on the roster, end to end to each."""
    count = asyncio.run(Groups(open_member(keystore, passphrase_file)).send(group_id, text))
    emit(as_json, {"group": group_id, "recipients": count}, lambda: click.echo(f"Sent to {count} participant(s)."))


@group.command("show")
@click.argument("group_id")
@keystore_options
@json_option
@client_errors
def group_show(group_id: str, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """A group session's roster and messages."""
    record = Groups(open_member(keystore, passphrase_file)).show(group_id)

    def human() -> None:
        click.echo(f"{record['title']} ({record['topic']}), {format_time(record['starts_at'])}, host {record['host']}")
        click.echo(f"  you: {record['role']}{'' if record['role'] == 'host' else ', ' + record.get('state', '')}")
        for who in record["members"]:
            click.echo(f"  - {who}")
        for message in record["messages"]:
            click.echo(f"  [{format_time(message['at'])}] {message['from']}: {message['body']}")

    emit(as_json, record, human)


@group.command("list")
@keystore_options
@json_option
@client_errors
def group_list(keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Group sessions you host or joined."""
    listed = Groups(open_member(keystore, passphrase_file)).listing()

    def human() -> None:
        if not listed:
            click.echo("No group sessions.")
        for item in listed:
            state = item["role"] if item["role"] == "host" else item.get("state", "")
            click.echo(
                f"{item['id']}  {format_time(item['starts_at'])}  {item['title']}  ({state}, {len(item['members'])} in)"
            )

    emit(as_json, listed, human)

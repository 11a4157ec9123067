"""``mentornet client ...``: the reference member client on the command line.

The member's keys live in an encrypted keystore (``--keystore``, default
``$MENTORNET_KEYSTORE`` or ``~/.mentornet/keystore``), unlocked with the member's own passphrase
(``--passphrase-file`` / ``$MENTORNET_CLIENT_PASSPHRASE_FILE``, else a prompt).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from cli.common import (
    MentorSearch,
    availability_options,
    format_time,
    guarded,
    json_option,
    passphrase_file_option,
    read_passphrase,
    search_options,
)
from cli.output import emit, fail, print_mentors
from client.api import ApiError
from client.keystore import KeystoreError, lock
from client.member import Address, ClientError, MemberClient
from client.mentoring import Mentoring

DEFAULT_KEYSTORE = Path("~/.mentornet/keystore")


def keystore_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = passphrase_file_option("MENTORNET_CLIENT_PASSPHRASE_FILE", "keystore")(func)
    return click.option(
        "--keystore",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="MENTORNET_KEYSTORE",
        default=str(DEFAULT_KEYSTORE),
        show_default="$MENTORNET_KEYSTORE, else ~/.mentornet/keystore",
        help="The member's encrypted keystore.",
    )(func)


def client_errors(func: Callable[..., None]) -> Callable[..., None]:
    """The member client's own errors as one readable line (the rest as :func:`guarded` does)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            func(*args, **kwargs)
        except ApiError as exc:
            fail(bool(kwargs.get("as_json")), exc.code, str(exc))
        except (ClientError, KeystoreError) as exc:
            fail(bool(kwargs.get("as_json")), exc.code, str(exc))

    return guarded(wrapper)


def open_member(keystore: Path, passphrase_file: Path | None) -> MemberClient:
    path = keystore.expanduser()
    lock(path)  # held until the command's process ends
    return MemberClient.open(path, read_passphrase(passphrase_file, prompt="Keystore passphrase"))


@click.group()
def client() -> None:
    """The member client: register a device, message other members end to end, publish, search."""


@client.command("register")
@click.option("--node", "node_url", required=True, help="Your institution's node, e.g. https://mentornet.uni.example")
@click.option("--invite", "invite_code", required=True, help="The invite code your institution gave you.")
@keystore_options
@json_option
@client_errors
def register(node_url: str, invite_code: str, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Create this device's keys, redeem the invite, and upload the public keys to the node."""
    lock(keystore.expanduser())
    passphrase = read_passphrase(passphrase_file, confirm=True, prompt="New keystore passphrase")
    member = asyncio.run(MemberClient.register(node_url, invite_code, keystore.expanduser(), passphrase))
    emit(
        as_json,
        {"address": str(member.address), "keystore": str(keystore.expanduser())},
        lambda: click.echo(
            f"Registered. Your address is {member.address}\nKeys are in {keystore.expanduser()} "
            "(encrypted with your passphrase; losing either loses your messages)."
        ),
    )


@client.command("whoami")
@keystore_options
@json_option
@client_errors
def whoami(keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Show this device's address and node."""
    member = open_member(keystore, passphrase_file)
    emit(as_json, {"address": str(member.address), "node": member.state["node"]}, lambda: click.echo(member.address))


@client.command("send")
@click.argument("address")
@click.argument("text")
@keystore_options
@json_option
@client_errors
def send(address: str, text: str, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Send TEXT to ADDRESS (MEMBER_ID@NODE_URL), end to end encrypted."""
    member = open_member(keystore, passphrase_file)
    message_id = asyncio.run(member.send(Address.parse(address), text))
    emit(as_json, {"id": message_id, "to": address}, lambda: click.echo(f"Sent to {address} (id {message_id})."))


@client.command("receive")
@click.option("--wait", type=click.FloatRange(0, 30), default=0, show_default=True, help="Seconds to wait for news.")
@keystore_options
@json_option
@client_errors
def receive(wait: float, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Fetch, decrypt and acknowledge new messages, and apply mentorship events (requests,
    answers, sessions, goals, feedback) that their senders may make."""
    mentoring = Mentoring(open_member(keystore, passphrase_file))
    updates = asyncio.run(mentoring.receive(wait=wait))
    reminders = mentoring.due_reminders()
    data: list[dict[str, Any]] = [
        {"from": str(u.sender), "summary": u.summary, "refused": u.refused, "event": u.event} for u in updates
    ]
    data += [{"reminder": line} for line in reminders]

    def human() -> None:
        if not updates and not reminders:
            click.echo("No new messages.")
        for update in updates:
            click.echo(f"[{format_time(int(update.event.get('sent_at', 0)))}] {update.summary}")
        for line in reminders:
            click.echo(line)

    emit(as_json, data, human)


@client.command("conversations")
@click.argument("address", required=False)
@keystore_options
@json_option
@client_errors
def conversations(address: str | None, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """List conversations, or show the one with ADDRESS (kept only in the keystore)."""
    member = open_member(keystore, passphrase_file)
    every = member.conversations()
    if address is not None:
        history = every.get(str(Address.parse(address)), [])

        def show() -> None:
            for item in history:
                arrow = "you" if item["direction"] == "out" else address
                click.echo(f"[{format_time(int(item.get('sent_at', 0)))}] {arrow}: {item.get('body', item['type'])}")

        emit(as_json, history, show)
        return
    summary = [
        {"with": who, "messages": len(items), "verified": member.is_verified(Address.parse(who))}
        for who, items in sorted(every.items())
    ]

    def listing() -> None:
        if not summary:
            click.echo("No conversations yet.")
        for item in summary:
            mark = "verified" if item["verified"] else "not verified"
            click.echo(f"{item['with']}  {item['messages']} message(s), {mark}")

    emit(as_json, summary, listing)


@client.command("verify")
@click.argument("address")
@click.option("--confirm", is_flag=True, help="Record that the numbers matched when you compared them.")
@keystore_options
@json_option
@client_errors
def verify(address: str, confirm: bool, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Show the safety number to compare with ADDRESS; --confirm once it matched."""
    member = open_member(keystore, passphrase_file)
    contact = Address.parse(address)
    number = member.safety_number(contact)
    if confirm:
        member.mark_verified(contact)
    data = {"address": address, "safety_number": number, "verified": member.is_verified(contact)}

    def human() -> None:
        click.echo(f"Safety number with {address}:\n  {number}")
        if confirm:
            click.echo("Marked as verified: a change of their key will now block sending until you verify again.")
        else:
            click.echo("Compare it with theirs (in person or on a call), then run this again with --confirm.")

    emit(as_json, data, human)


@client.command("announce")
@availability_options
@keystore_options
@json_option
@client_errors
def announce(
    availability: dict[str, Any], lifetime_days: int | None, keystore: Path, passphrase_file: Path | None, as_json: bool
) -> None:
    """Publish your availability as a mentor (credentials count as verified only if your institution did)."""
    member = open_member(keystore, passphrase_file)

    answer = asyncio.run(member.announce(dict(availability), lifetime_days))
    emit(
        as_json,
        answer,
        lambda: click.echo(f"Announced (seq {answer['seq']}, expires {format_time(int(answer['expires_at']))})."),
    )


@client.command("withdraw")
@keystore_options
@json_option
@client_errors
def withdraw(keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Withdraw your availability everywhere."""
    member = open_member(keystore, passphrase_file)

    answer = asyncio.run(member.withdraw())
    emit(as_json, answer, lambda: click.echo(f"Withdrawn (seq {answer['seq']})."))


@client.command("discover")
@search_options
@keystore_options
@json_option
@client_errors
def discover(search: MentorSearch, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Search mentors across the federation (your node answers from its own index)."""
    member = open_member(keystore, passphrase_file)

    async def run() -> dict[str, Any]:
        async with member.api() as api:
            return await api.mentors(search.query_params())

    results = list(asyncio.run(run())["results"])
    emit(as_json, results, lambda: print_mentors(results))

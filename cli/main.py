"""The ``mentornet`` command: parse arguments, load the config, call into :mod:`node`."""

from __future__ import annotations

import asyncio
import datetime
import functools
import json
import os
import socket
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from cli.output import emit, fail, progress_printer
from crypto import CryptoError
from node.announcements import publish_availability, withdraw_availability
from node.backup import create_backup, restore_backup
from node.config import DEFAULT_PORT, KEY_FILE, NodeConfig, UnlockMethod, load_config
from node.discovery import MentorIndex, make_query, result_json
from node.errors import NodeError, NodeNotInitialised
from node.federation.peers import add_peer, block_host, list_peers, remove_peer, repin_peer, unblock_host
from node.federation.transport import AiohttpTransport
from node.instance import Node, NodeStatus, describe, init_node, open_node, read_secret_for
from node.kek_rotation import rotate_kek
from node.keyring import UnlockSecret
from node.logs import configure_logging
from node.members import (
    MemberProfile,
    export_member,
    get_member,
    invite_member,
    list_members,
    remove_member,
)
from node.server import serve as run_server
from node.signing_keys import rotate_signing_key
from node.storage.database import Database
from protocol.canonical import JsonValue
from protocol.discovery import parse_window
from protocol.errors import ProtocolError
from protocol.member import validate_timezone

T = TypeVar("T")
DEFAULT_DATA_DIR = "./mentornet-data"
DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
PORT = click.IntRange(1, 65535)


def _data_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        envvar="MENTORNET_HOME",
        default=DEFAULT_DATA_DIR,
        show_default="$MENTORNET_HOME, else ./mentornet-data",
        help="The node's data directory.",
    )(func)


def _json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(func)


def _passphrase_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--passphrase-file",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="MENTORNET_PASSPHRASE_FILE",
        help="Read the node passphrase from this file (default: $MENTORNET_PASSPHRASE_FILE, else a prompt).",
    )(func)


def _guarded(func: Callable[..., None]) -> Callable[..., None]:
    """Turn every expected error into one readable line; nothing escapes as a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        as_json = bool(kwargs.get("as_json"))
        try:
            func(*args, **kwargs)
        except (NodeError, ProtocolError) as exc:
            fail(as_json, str(getattr(exc, "code", "error")), str(exc))
        except CryptoError as exc:
            fail(as_json, "crypto_error", f"stored data does not decrypt ({exc}); is the database damaged?")
        except KeyboardInterrupt:
            fail(as_json, "interrupted", "interrupted", 130)
        except OSError as exc:
            fail(as_json, "os_error", f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
        except Exception as exc:  # a bug of ours: still one line, naming what happened
            fail(as_json, "internal", f"internal error ({type(exc).__name__}: {exc}); please report it")

    return wrapper


def _read_passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> str:
    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text(encoding="utf-8").rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise NodeError(f"{passphrase_file}: cannot read the passphrase file: {exc}") from exc
        if not text:
            raise NodeError(f"{passphrase_file}: the passphrase file is empty")
        if passphrase_file.stat().st_mode & 0o077:
            click.echo(f"warning: {passphrase_file} is accessible to other users; chmod 600 it", err=True)
        return text
    if not sys.stdin.isatty():
        raise NodeError("no passphrase: pass --passphrase-file or set MENTORNET_PASSPHRASE_FILE")
    return str(click.prompt("Node passphrase", hide_input=True, confirmation_prompt=confirm))


def _with_node(data_dir: Path, passphrase_file: Path | None, action: Callable[[Node], Awaitable[T]]) -> T:
    config = load_config(data_dir)
    secret = read_secret_for(config, lambda: _read_passphrase(passphrase_file))

    async def run() -> T:
        node = await open_node(config, secret)
        try:
            return await action(node)
        finally:
            await node.close()

    return asyncio.run(run())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mentornet")
def cli() -> None:
    """Mentornet: a privacy-first, federated mentoring network. Operate your institution's node."""


@cli.command()
@_data_dir_option
@click.option("--name", required=True, help="Your institution's display name.")
@click.option(
    "--url", "base_url", required=True, help="The node's public base URL, e.g. https://mentornet.example.org."
)
@_passphrase_option
@click.option(
    "--key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Unlock with a new random key file created here (mode 0600) instead of a passphrase.",
)
@click.option("--database-url", help="postgresql+asyncpg://... for PostgreSQL (default: SQLite in the data dir).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=PORT, help="Port to listen on.")
@_json_option
@_guarded
def init(
    data_dir: Path,
    name: str,
    base_url: str,
    passphrase_file: Path | None,
    key_file: Path | None,
    database_url: str | None,
    host: str,
    port: int,
    as_json: bool,
) -> None:
    """Create a node: config, database, key hierarchy and signing key."""
    data_dir = data_dir.resolve()
    given_on_command_line = click.get_current_context().get_parameter_source("passphrase_file")
    if key_file and passphrase_file and given_on_command_line is ParameterSource.COMMANDLINE:
        raise NodeError("choose one way to unlock: --key-file or --passphrase-file, not both")
    method = UnlockMethod.KEY_FILE if key_file else UnlockMethod.PASSPHRASE
    config = NodeConfig(
        data_dir=data_dir,
        name=name,
        base_url=base_url.rstrip("/"),
        unlock=method,
        key_file=key_file.resolve() if key_file else None,
        database_url=database_url,
        host=host,
        port=port,
    )
    secret = None
    if method is UnlockMethod.PASSPHRASE:
        secret = UnlockSecret.from_passphrase(_read_passphrase(passphrase_file, confirm=True))
    _create_node(config, secret, as_json)


def _create_node(config: NodeConfig, secret: UnlockSecret | None, as_json: bool) -> None:
    async def run() -> NodeStatus:
        node = await init_node(config, secret)
        await node.close()
        return await describe(config)

    status = asyncio.run(run())
    key_file = str(config.key_file) if config.key_file else None
    result = {**status.as_json(), "config": str(config.config_path), "key_file": key_file}

    def human() -> None:
        click.echo(f"Created node '{config.name}' in {config.data_dir}")
        click.echo(f"  config:      {config.config_path}")
        click.echo(f"  database:    {status.database}")
        if config.key_file:
            click.echo(f"  key file:    {config.key_file}  (secret: keep it safe and back it up apart from the data)")
        click.echo(f"  fingerprint: {status.fingerprint}  (give it to peers out of band)")

    emit(as_json, result, human)


@cli.command()
@_data_dir_option
@click.option("--host", help="Address to listen on (default: from the config).")
@click.option("--port", type=PORT, help="Port to listen on (default: from the config).")
@_passphrase_option
@_json_option
@_guarded
def serve(data_dir: Path, host: str | None, port: int | None, passphrase_file: Path | None, as_json: bool) -> None:
    """Run the node until SIGTERM or Ctrl-C. Creates a node with safe defaults if none exists."""
    data_dir = data_dir.resolve()
    try:
        config = load_config(data_dir)
    except NodeNotInitialised:
        click.echo(f"No node in {data_dir}: creating one with safe defaults (key-file unlock, SQLite).", err=True)
        _create_node(
            NodeConfig(
                data_dir=data_dir,
                name=f"Mentornet node on {socket.gethostname()}",
                base_url=DEFAULT_URL if port is None else f"http://127.0.0.1:{port}",
                unlock=UnlockMethod.KEY_FILE,
                key_file=data_dir / KEY_FILE,
                port=port or DEFAULT_PORT,
            ),
            None,
            as_json,
        )
        config = load_config(data_dir)
    config = replace(config, host=host or config.host, port=port or config.port)
    secret = read_secret_for(config, lambda: _read_passphrase(passphrase_file))
    configure_logging()
    run_server(
        config,
        secret,
        on_ready=lambda url: click.echo(
            f"Mentornet node '{config.name}' serving on {url} (data: {config.data_dir}); Ctrl-C stops it.", err=True
        ),
    )


@cli.command()
@_data_dir_option
@_json_option
@_guarded
def status(data_dir: Path, as_json: bool) -> None:
    """Show the node's name, URL, key fingerprint, member counts and database."""
    config = load_config(data_dir)
    info = asyncio.run(describe(config))

    def human() -> None:
        roles = ", ".join(f"{role}: {count}" for role, count in sorted(info.members_by_role.items()))
        click.echo(f"Node:        {info.name}  ({info.base_url})")
        click.echo(f"Key:         {info.key_id}  {info.fingerprint}  ({info.old_keys} old)")
        click.echo(f"Members:     {sum(info.members_by_role.values())}" + (f"  ({roles})" if roles else ""))
        click.echo(f"Database:    {info.backend} at {info.database}, schema {info.schema_revision}")
        click.echo(f"KEK:         version(s) {', '.join(map(str, info.kek_versions))}; unlock by {info.unlock}")

    emit(as_json, info.as_json(), human)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@_data_dir_option
@_json_option
@_guarded
def db_upgrade(data_dir: Path, as_json: bool) -> None:
    """Create or upgrade the schema to this version's newest revision."""
    config = load_config(data_dir)

    async def run() -> tuple[str | None, str]:
        database = Database(config.effective_database_url)
        try:
            before = await database.current_revision()
            return before, await database.upgrade()
        finally:
            await database.close()

    before, after = asyncio.run(run())
    emit(
        as_json,
        {"from": before, "to": after},
        lambda: click.echo(f"Schema at revision {after}" + ("" if before == after else f" (was {before})")),
    )


@cli.group()
def member() -> None:
    """Invite, inspect, export and remove members."""


@member.command("invite")
@_data_dir_option
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["mentor", "mentee", "both"]))
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone, e.g. Europe/Berlin.")
@click.option("--language", "languages", multiple=True, help="BCP 47 tag; repeat for several.")
@click.option("--interest", "interests", multiple=True, help="Repeat for several.")
@click.option("--profile", default="", help="Short profile text.")
@_passphrase_option
@_json_option
@_guarded
def member_invite(
    data_dir: Path,
    email: str,
    name: str,
    role: str,
    timezone: str,
    languages: tuple[str, ...],
    interests: tuple[str, ...],
    profile: str,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Invite a member; prints a one-time invite code."""
    checked = MemberProfile.validated(
        name=name, email=email, profile=profile, interests=interests, languages=languages, timezone=timezone
    )
    invitation = _with_node(data_dir, passphrase_file, lambda node: invite_member(node, checked, role))
    emit(
        as_json,
        {"member_id": invitation.member_id, "invite_code": invitation.code, "expires_at": invitation.expires_at},
        lambda: click.echo(
            f"Invited member {invitation.member_id}\n"
            f"Invite code (shown once, give it to the member): {invitation.code}\n"
            f"Expires at: {_time(invitation.expires_at)}"
        ),
    )


@member.command("list")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def member_list(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """List members."""
    members = _with_node(data_dir, passphrase_file, list_members)

    def human() -> None:
        if not members:
            click.echo("No members yet. Invite one with 'mentornet member invite'.")
        for item in members:
            who = f"{item.profile.name} <{item.profile.email}>" if item.profile else "(erased)"
            click.echo(f"{item.id}  {item.role:<6}  {item.status:<8}  {who}")

    emit(as_json, [item.as_json() for item in members], human)


@member.command("show")
@click.argument("member_id")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def member_show(member_id: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Show one member."""
    found = _with_node(data_dir, passphrase_file, lambda node: get_member(node, member_id))

    def human() -> None:
        click.echo(f"Member {found.id}: {found.role}, {found.status}, since {_time(found.created_at)}")
        if found.profile is None:
            click.echo("  (personal data erased)")
            return
        for label, value in (
            ("name", found.profile.name),
            ("email", found.profile.email),
            ("timezone", found.profile.timezone),
            ("languages", ", ".join(found.profile.languages)),
            ("interests", ", ".join(found.profile.interests)),
            ("profile", found.profile.profile),
        ):
            click.echo(f"  {label + ':':<11}{value}")

    emit(as_json, found.as_json(), human)


@member.command("export")
@click.argument("member_id")
@_data_dir_option
@click.option(
    "--to",
    "destination",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the export to this file (mode 0600) instead of standard output.",
)
@_passphrase_option
@_guarded
def member_export(member_id: str, data_dir: Path, destination: Path | None, passphrase_file: Path | None) -> None:
    """Everything the node holds on a member, decrypted, as JSON (GDPR access and portability)."""
    exported = _with_node(data_dir, passphrase_file, lambda node: export_member(node, member_id))
    text = json.dumps(exported, indent=2, ensure_ascii=False) + "\n"
    if destination is None:
        click.echo(text, nl=False)
        return
    with destination.open("x", encoding="utf-8") as handle:
        destination.chmod(0o600)
        handle.write(text)
    click.echo(f"Exported member {member_id} to {destination}", err=True)


@member.command("remove")
@click.argument("member_id")
@_data_dir_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_passphrase_option
@_json_option
@_guarded
def member_remove(member_id: str, data_dir: Path, yes: bool, passphrase_file: Path | None, as_json: bool) -> None:
    """Erase a member for good (crypto-shredding: the data key is destroyed)."""
    if not yes:
        if not sys.stdin.isatty():
            raise NodeError("removing a member cannot be undone: confirm with --yes")
        click.confirm(f"Erase member {member_id} for good? This cannot be undone", abort=True)
    _with_node(data_dir, passphrase_file, lambda node: remove_member(node, member_id))
    emit(
        as_json,
        {"removed": member_id},
        lambda: click.echo(f"Removed member {member_id}: its data key is destroyed; its data can never be read again."),
    )


@cli.group()
def keys() -> None:
    """Rotate the node's signing key or key-encryption key."""


@keys.command("rotate-signing")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def keys_rotate_signing(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Make a new signing key current; old keys stay listed (with expired_at) so their signatures verify."""
    new_id, retired = _with_node(data_dir, passphrase_file, rotate_signing_key)
    emit(
        as_json,
        {"key_id": new_id, "retired": retired},
        lambda: click.echo(
            f"New signing key {new_id}; retired {', '.join(retired) or 'none'}. "
            "A running node serves it within 10 seconds."
        ),
    )


@keys.command("rotate-kek")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def keys_rotate_kek(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Create a new KEK version and rewrap every data key under it; the node may keep serving."""
    result = _with_node(
        data_dir, passphrase_file, lambda node: rotate_kek(node, progress_printer("Rewrapping keys", as_json))
    )
    emit(
        as_json,
        {
            "kek_version": result.new_version,
            "rewrapped_data_keys": result.rewrapped_data_keys,
            "rewrapped_signing_keys": result.rewrapped_signing_keys,
            "retired_versions": list(result.retired_versions),
        },
        lambda: click.echo(
            f"KEK version {result.new_version} is current: rewrapped {result.rewrapped_data_keys} "
            f"data key(s) and {result.rewrapped_signing_keys} signing key(s); retired version(s) "
            f"{', '.join(map(str, result.retired_versions)) or 'none'}."
        ),
    )


@cli.group()
def audit() -> None:
    """The hash-chained audit log of admin actions."""


@audit.command("verify")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def audit_verify(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Check that no audit entry was edited, removed or reordered."""
    count = _with_node(data_dir, passphrase_file, lambda node: node.verify_audit_log())
    emit(as_json, {"ok": True, "entries": count}, lambda: click.echo(f"Audit log intact: {count} entries verified."))


@member.command("announce")
@click.argument("member_id")
@_data_dir_option
@click.option("--topic", "topics", multiple=True, required=True, help="A topic the mentor offers; repeat.")
@click.option("--language", "languages", multiple=True, required=True, help="BCP 47 tag; repeat.")
@click.option("--timezone", required=True, help="The mentor's IANA time zone, e.g. Europe/Berlin.")
@click.option("--window", "windows", multiple=True, help="Weekly local window like mon:18:00-20:00; repeat.")
@click.option("--capacity", type=click.IntRange(0, 1000), required=True, help="Open places.")
@click.option("--display-name", default="", help="The name to publish (default: none).")
@click.option("--bio", default="", help="A short bio to publish.")
@click.option("--credential", "credentials", multiple=True, help="A self-declared qualification; repeat.")
@click.option(
    "--verified-credential", "verified", multiple=True, help="A qualification the institution has checked; repeat."
)
@click.option("--lifetime-days", type=click.IntRange(1, 30), help="Days until it expires (default 14).")
@_passphrase_option
@_json_option
@_guarded
def member_announce(
    member_id: str,
    data_dir: Path,
    topics: tuple[str, ...],
    languages: tuple[str, ...],
    timezone: str,
    windows: tuple[str, ...],
    capacity: int,
    display_name: str,
    bio: str,
    credentials: tuple[str, ...],
    verified: tuple[str, ...],
    lifetime_days: int | None,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Publish a mentor's availability to the federation, on the mentor's behalf."""
    parsed = [parse_window(text) for text in windows]
    availability: dict[str, JsonValue] = {
        "display_name": display_name,
        "bio": bio,
        "topics": list(topics),
        "languages": list(languages),
        "timezone": timezone,
        "capacity": capacity,
        "windows": [{"day": w.day, "start_minute": w.start_minute, "end_minute": w.end_minute} for w in parsed],
        "credentials": [{"title": t, "verified": False} for t in credentials]
        + [{"title": t, "verified": True} for t in verified],
    }
    raw = _with_node(
        data_dir,
        passphrase_file,
        lambda node: publish_availability(node, member_id, availability, lifetime_days=lifetime_days),
    )
    emit(
        as_json,
        raw,
        lambda: click.echo(
            f"Announced member {member_id} (seq {raw['seq']}, expires {_time(int(str(raw['expires_at'])))}); "
            "a running node pushes it to its peers within seconds."
        ),
    )


@member.command("withdraw")
@click.argument("member_id")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def member_withdraw(member_id: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Withdraw a mentor's availability everywhere (a tombstone with a higher seq)."""
    raw = _with_node(data_dir, passphrase_file, lambda node: withdraw_availability(node, member_id))
    emit(as_json, raw, lambda: click.echo(f"Withdrew member {member_id}'s availability (seq {raw['seq']})."))


@cli.command()
@_data_dir_option
@click.option("--topic", "topics", multiple=True, help="Wanted topic; repeat (any matches).")
@click.option("--language", "languages", multiple=True, help="Wanted language; repeat (any matches).")
@click.option("--timezone", help="The mentee's IANA time zone (needed with --window).")
@click.option("--window", "windows", multiple=True, help="The mentee's weekly window like mon:18:00-20:00.")
@click.option("--institution", help="Only mentors of this node (base URL).")
@click.option("--include-full", is_flag=True, help="Also mentors without open places.")
@click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True)
@_passphrase_option
@_json_option
@_guarded
def discover(
    data_dir: Path,
    topics: tuple[str, ...],
    languages: tuple[str, ...],
    timezone: str | None,
    windows: tuple[str, ...],
    institution: str | None,
    include_full: bool,
    limit: int,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Search mentors across the federation in this node's own index (nothing is sent anywhere)."""
    parsed = [parse_window(text) for text in windows]
    if parsed and not timezone:
        raise NodeError("--window needs --timezone (the time zone the windows are in)")

    async def search(node: Node) -> list[dict[str, Any]]:
        index = MentorIndex(node)
        query = make_query(
            topics=topics,
            languages=languages,
            timezone=validate_timezone(timezone) if timezone else None,
            windows=parsed,
            institution=institution,
            open_only=not include_full,
            limit=limit,
            now=node.clock(),
        )
        found = await index.search(query)
        return [result_json(m, listing, index.institution(listing.announcement.origin)) for m, listing in found]

    results = _with_node(data_dir, passphrase_file, search)

    def human() -> None:
        if not results:
            click.echo("No mentor matches. Try fewer filters, or check 'mentornet peer list'.")
        for rank_number, item in enumerate(results, 1):
            name = item["display_name"] or item["mentor"]
            click.echo(f"{rank_number:>2}. {name}  ({item['institution']})  score {item['score']}")
            for reason in item["why"]["reasons"]:
                click.echo(f"      - {reason}")

    emit(as_json, results, human)


@cli.group()
def peer() -> None:
    """Peer with other institutions' nodes: add, list, re-pin, remove, block."""


def _with_transport(
    data_dir: Path, passphrase_file: Path | None, action: Callable[[Node, AiohttpTransport], Awaitable[T]]
) -> T:
    config = load_config(data_dir)
    transport = AiohttpTransport(
        connect_timeout=config.federation.connect_timeout_seconds, total_timeout=config.federation.total_timeout_seconds
    )

    async def run(node: Node) -> T:
        try:
            return await action(node, transport)
        finally:
            await transport.close()

    return _with_node(data_dir, passphrase_file, run)


@peer.command("add")
@click.argument("url")
@click.option("--fingerprint", required=True, help="The peer's key fingerprint, exchanged out of band.")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def peer_add(url: str, fingerprint: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Fetch a node's signed document, check its fingerprint, and pin it as a peer."""
    added = _with_transport(
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
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def peer_repin(url: str, fingerprint: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Pin a peer's new key (when 'peer list' shows it as needs-repin)."""
    updated = _with_transport(
        data_dir, passphrase_file, lambda node, transport: repin_peer(node, transport, url, fingerprint)
    )
    emit(
        as_json,
        {"base_url": updated.base_url, "fingerprint": updated.pinned_fingerprint},
        lambda: click.echo(f"Re-pinned {updated.base_url} to {updated.pinned_fingerprint}."),
    )


@peer.command("list")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def peer_list(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Peers with their state, last contact, backlog and clock offset; blocked hosts."""
    statuses, blocked = _with_node(data_dir, passphrase_file, list_peers)

    def human() -> None:
        if not statuses:
            click.echo("No peers yet. Add one with 'mentornet peer add URL --fingerprint FP'.")
        for status in statuses:
            peer_row = status.peer
            contact = _time(peer_row.last_contact_at) if peer_row.last_contact_at else "never"
            offset = f"{peer_row.clock_offset:+d} s" if peer_row.clock_offset is not None else "unknown"
            click.echo(
                f"{peer_row.base_url}  {peer_row.name}  [{peer_row.state}]  last contact {contact}  "
                f"backlog {status.backlog}  clock offset {offset}"
            )
            if peer_row.last_error:
                click.echo(f"    last error: {peer_row.last_error}")
        if blocked:
            click.echo("Blocked hosts: " + ", ".join(sorted(blocked)))

    emit(as_json, {"peers": [status.as_json() for status in statuses], "blocked": sorted(blocked)}, human)


@peer.command("remove")
@click.argument("url")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def peer_remove(url: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Stop federating with a peer."""
    _with_node(data_dir, passphrase_file, lambda node: remove_peer(node, url))
    emit(as_json, {"removed": url}, lambda: click.echo(f"Removed peer {url}."))


@peer.command("block")
@click.argument("host")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def peer_block(host: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Block a host: its requests get 403 on everything."""
    blocked = _with_node(data_dir, passphrase_file, lambda node: block_host(node, host))
    emit(as_json, {"blocked": blocked}, lambda: click.echo(f"Blocked {blocked}."))


@peer.command("unblock")
@click.argument("host")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def peer_unblock(host: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Lift a block."""
    _with_node(data_dir, passphrase_file, lambda node: unblock_host(node, host))
    emit(as_json, {"unblocked": host}, lambda: click.echo(f"Unblocked {host}."))


@audit.command("list")
@_data_dir_option
@_passphrase_option
@_json_option
@_guarded
def audit_list(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Show every admin action, oldest first."""
    entries = _with_node(data_dir, passphrase_file, lambda node: node.audit_entries())

    def human() -> None:
        for entry in entries:
            details = " ".join(f"{key}={value}" for key, value in sorted(entry.details.items()))
            click.echo(
                f"{entry.seq:>5}  {_time(entry.at)}  {entry.actor:<20}  {entry.action:<20}  {entry.target}  {details}"
            )

    emit(as_json, [entry.as_json() for entry in entries], human)


@cli.command()
@_data_dir_option
@click.option(
    "--to",
    "destination",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The backup file to create.",
)
@_json_option
@_guarded
def backup(data_dir: Path, destination: Path, as_json: bool) -> None:
    """Make a consistent backup of a SQLite node, also while it runs (key files are never included)."""
    config = load_config(data_dir)
    info = create_backup(config, destination.resolve(), progress=progress_printer("Copying database pages", as_json))
    emit(
        as_json,
        {
            "path": str(info.path),
            "created_at": info.created_at,
            "database_bytes": info.database_bytes,
            "sha256": info.sha256,
        },
        lambda: click.echo(
            f"Backup written to {info.path} ({info.database_bytes} database bytes). "
            "It holds no key file: keep the passphrase or key file safe separately."
        ),
    )


@cli.command()
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The backup file.",
)
@_data_dir_option
@click.option(
    "--key-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The node's key file, for a node that unlocks with one.",
)
@_passphrase_option
@_json_option
@_guarded
def restore(source: Path, data_dir: Path, key_file: Path | None, passphrase_file: Path | None, as_json: bool) -> None:
    """Restore a backup into a new data directory and check that it unlocks."""
    config, members = asyncio.run(
        restore_backup(source, data_dir, key_file=key_file, passphrase=lambda: _read_passphrase(passphrase_file))
    )
    emit(
        as_json,
        {"data_dir": str(config.data_dir), "members": members},
        lambda: click.echo(
            f"Restored node '{config.name}' into {config.data_dir}: it unlocks, {members} member record(s) readable."
        ),
    )


def _time(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli(prog_name="mentornet")


if __name__ == "__main__":
    main()

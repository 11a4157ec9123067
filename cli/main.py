"""The ``mentornet`` command: parse arguments, load the config, call into :mod:`node`."""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import replace
from pathlib import Path

import click
from click.core import ParameterSource

from cli import groups, mentoring, resources  # noqa: F401  (register their commands on 'client')
from cli.client import client
from cli.common import (
    data_dir_option,
    guarded,
    json_option,
    passphrase_option,
    read_passphrase,
)
from cli.demo import demo
from cli.federation import discover, peer
from cli.keys import audit, keys
from cli.members import member
from cli.output import emit, progress_printer
from cli.report import report
from cli.safety import reports
from node.backup import create_backup, restore_backup
from node.config import DEFAULT_PORT, KEY_FILE, NodeConfig, UnlockMethod, load_config
from node.errors import NodeError, NodeNotInitialised
from node.instance import NodeStatus, describe, init_node, read_secret_for
from node.keyring import UnlockSecret
from node.logs import configure_logging
from node.server import serve as run_server
from node.storage.database import Database

DEFAULT_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
PORT = click.IntRange(1, 65535)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mentornet")
def cli() -> None:
    """Mentornet: a privacy-first, federated mentoring network. Operate your institution's node."""


@cli.command()
@data_dir_option
@click.option("--name", required=True, help="Your institution's display name.")
@click.option(
    "--url", "base_url", required=True, help="The node's public base URL, e.g. https://mentornet.example.org."
)
@passphrase_option
@click.option(
    "--key-file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Unlock with a new random key file created here (mode 0600) instead of a passphrase.",
)
@click.option("--database-url", help="postgresql+asyncpg://... for PostgreSQL (default: SQLite in the data dir).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=PORT, help="Port to listen on.")
@json_option
@guarded
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
        secret = UnlockSecret.from_passphrase(read_passphrase(passphrase_file, confirm=True))
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
@data_dir_option
@click.option("--host", help="Address to listen on (default: from the config).")
@click.option("--port", type=PORT, help="Port to listen on (default: from the config).")
@passphrase_option
@json_option
@guarded
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
    secret = read_secret_for(config, lambda: read_passphrase(passphrase_file))
    configure_logging()
    run_server(
        config,
        secret,
        on_ready=lambda url: click.echo(
            f"Mentornet node '{config.name}' serving on {url} (data: {config.data_dir}); Ctrl-C stops it.", err=True
        ),
    )


@cli.command()
@data_dir_option
@json_option
@guarded
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
@data_dir_option
@json_option
@guarded
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


@cli.command()
@data_dir_option
@click.option(
    "--to",
    "destination",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="The backup file to create.",
)
@json_option
@guarded
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
@data_dir_option
@click.option(
    "--key-file",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    help="The node's key file, for a node that unlocks with one.",
)
@passphrase_option
@json_option
@guarded
def restore(source: Path, data_dir: Path, key_file: Path | None, passphrase_file: Path | None, as_json: bool) -> None:
    """Restore a backup into a new data directory and check that it unlocks."""
    config, members = asyncio.run(
        restore_backup(source, data_dir, key_file=key_file, passphrase=lambda: read_passphrase(passphrase_file))
    )
    emit(
        as_json,
        {"data_dir": str(config.data_dir), "members": members},
        lambda: click.echo(
            f"Restored node '{config.name}' into {config.data_dir}: it unlocks, {members} member record(s) readable."
        ),
    )


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    cli(prog_name="mentornet")


for command in (member, keys, audit, peer, discover, client, demo, report, reports):
    cli.add_command(command)


if __name__ == "__main__":
    main()

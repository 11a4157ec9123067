"""What every command shares: options, passphrase handling, opening the node, one-line errors."""

from __future__ import annotations

import asyncio
import datetime
import functools
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.output import fail
from crypto import CryptoError
from node.config import load_config
from node.errors import NodeError
from node.federation.transport import AiohttpTransport
from node.instance import Node, open_node, read_secret_for
from protocol.errors import ProtocolError

T = TypeVar("T")
DEFAULT_DATA_DIR = "./mentornet-data"


def data_dir_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        envvar="MENTORNET_HOME",
        default=DEFAULT_DATA_DIR,
        show_default="$MENTORNET_HOME, else ./mentornet-data",
        help="The node's data directory.",
    )(func)


def json_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(func)


def passphrase_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--passphrase-file",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar="MENTORNET_PASSPHRASE_FILE",
        help="Read the node passphrase from this file (default: $MENTORNET_PASSPHRASE_FILE, else a prompt).",
    )(func)


def guarded(func: Callable[..., None]) -> Callable[..., None]:
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


def read_passphrase(passphrase_file: Path | None, *, confirm: bool = False) -> str:
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


def with_node(data_dir: Path, passphrase_file: Path | None, action: Callable[[Node], Awaitable[T]]) -> T:
    config = load_config(data_dir)
    secret = read_secret_for(config, lambda: read_passphrase(passphrase_file))

    async def run() -> T:
        node = await open_node(config, secret)
        try:
            return await action(node)
        finally:
            await node.close()

    return asyncio.run(run())


def with_transport(
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

    return with_node(data_dir, passphrase_file, run)


def format_time(timestamp: int) -> str:
    return datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")

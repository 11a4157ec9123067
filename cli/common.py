"""What every command shares: options, passphrase handling, opening the node, one-line errors."""

from __future__ import annotations

import asyncio
import datetime
import functools
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from cli.output import fail
from crypto import CryptoError
from node.config import load_config
from node.errors import NodeError
from node.federation.transport import AiohttpTransport
from node.instance import Node, open_node, read_secret_for
from protocol.canonical import JsonValue
from protocol.discovery import parse_window
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


def passphrase_file_option(envvar: str, whose: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--passphrase-file`` for the ``whose`` passphrase, defaulting to ``$envvar``, else a prompt."""
    return click.option(
        "--passphrase-file",
        type=click.Path(path_type=Path, dir_okay=False),
        envvar=envvar,
        help=f"Read the {whose} passphrase from this file (default: ${envvar}, else a prompt).",
    )


def passphrase_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return passphrase_file_option("MENTORNET_PASSPHRASE_FILE", "node")(func)


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


def read_passphrase(passphrase_file: Path | None, *, confirm: bool = False, prompt: str = "Node passphrase") -> str:
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
        raise NodeError("no passphrase and no terminal to ask on: pass --passphrase-file (or set its variable)")
    return str(click.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


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


def availability_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options that describe a mentor's published availability (operator and client alike).

    The command receives them as one ``availability`` object (windows parsed, credentials
    marked; ``--verified-credential``, where the command offers it, marks them verified) and
    ``lifetime_days``.
    """

    @functools.wraps(func)
    def collected(
        *args: Any,
        topics: tuple[str, ...],
        languages: tuple[str, ...],
        timezone: str,
        windows: tuple[str, ...],
        capacity: int,
        display_name: str,
        bio: str,
        credentials: tuple[str, ...],
        **kwargs: Any,
    ) -> Any:
        verified: tuple[str, ...] = kwargs.pop("verified", ())
        availability: dict[str, JsonValue] = {
            "display_name": display_name,
            "bio": bio,
            "topics": list(topics),
            "languages": list(languages),
            "timezone": timezone,
            "capacity": capacity,
            "windows": [
                {"day": w.day, "start_minute": w.start_minute, "end_minute": w.end_minute}
                for w in (parse_window(text) for text in windows)
            ],
            "credentials": [{"title": t, "verified": False} for t in credentials]
            + [{"title": t, "verified": True} for t in verified],
        }
        return func(*args, availability=availability, **kwargs)

    options = [
        click.option("--topic", "topics", multiple=True, required=True, help="A topic the mentor offers; repeat."),
        click.option("--language", "languages", multiple=True, required=True, help="BCP 47 tag; repeat."),
        click.option("--timezone", required=True, help="The mentor's IANA time zone, e.g. Europe/Berlin."),
        click.option("--window", "windows", multiple=True, help="Weekly local window like mon:18:00-20:00; repeat."),
        click.option("--capacity", type=click.IntRange(0, 1000), required=True, help="Open places."),
        click.option("--display-name", default="", help="The name to publish (default: none)."),
        click.option("--bio", default="", help="A short bio to publish."),
        click.option("--credential", "credentials", multiple=True, help="A self-declared qualification; repeat."),
        click.option("--lifetime-days", type=click.IntRange(1, 30), help="Days until it expires (default 14)."),
    ]
    command: Callable[..., Any] = guarded(collected)  # a bad --window is one line too
    for option in reversed(options):
        command = option(command)
    return command


@dataclass(frozen=True)
class MentorSearch:
    """A mentor search as the options give it (windows still as typed)."""

    topics: tuple[str, ...]
    languages: tuple[str, ...]
    timezone: str | None
    windows: tuple[str, ...]
    institution: str | None
    include_full: bool
    limit: int

    def query_params(self) -> list[tuple[str, str]]:
        """The same search as ``GET /client/v1/mentors`` parameters."""
        params = [("topic", t) for t in self.topics] + [("language", lang) for lang in self.languages]
        params += [("window", w) for w in self.windows] + [("limit", str(self.limit))]
        if self.timezone:
            params.append(("timezone", self.timezone))
        if self.institution:
            params.append(("institution", self.institution))
        if self.include_full:
            params.append(("include_full", "true"))
        return params


def search_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The options of a mentor search (``discover`` on the node, ``client discover`` for a member);
    the command receives them as one ``search`` (:class:`MentorSearch`)."""

    @functools.wraps(func)
    def collected(
        *args: Any,
        topics: tuple[str, ...],
        languages: tuple[str, ...],
        timezone: str | None,
        windows: tuple[str, ...],
        institution: str | None,
        include_full: bool,
        limit: int,
        **kwargs: Any,
    ) -> Any:
        search = MentorSearch(topics, languages, timezone, windows, institution, include_full, limit)
        return func(*args, search=search, **kwargs)

    options = [
        click.option("--topic", "topics", multiple=True, help="Wanted topic; repeat (any matches)."),
        click.option("--language", "languages", multiple=True, help="Wanted language; repeat (any matches)."),
        click.option("--timezone", help="The mentee's IANA time zone (needed with --window)."),
        click.option("--window", "windows", multiple=True, help="The mentee's weekly window like mon:18:00-20:00."),
        click.option("--institution", help="Only mentors of this node (base URL)."),
        click.option("--include-full", is_flag=True, help="Also mentors without open places."),
        click.option("--limit", type=click.IntRange(1, 200), default=20, show_default=True),
    ]
    command: Callable[..., Any] = collected
    for option in reversed(options):
        command = option(command)
    return command

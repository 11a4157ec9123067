"""Printing for people and, with ``--json``, for programs; one-line errors, never a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click


def emit(as_json: bool, data: Any, human: Callable[[], None]) -> None:
    """Print ``data`` as JSON, or call ``human`` to print it for a person."""
    if as_json:
        click.echo(json.dumps(data, indent=2, sort_keys=True))
    else:
        human()


def fail(as_json: bool, code: str, message: str, exit_code: int = 1) -> NoReturn:
    """Report an error as one line (a JSON object with ``--json``) and exit non-zero."""
    if as_json:
        click.echo(json.dumps({"error": code, "message": message}))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(exit_code)


def progress_printer(label: str, as_json: bool) -> Callable[[int, int], None]:
    """A progress callback that rewrites one line on stderr (silent with ``--json``)."""

    def report(done: int, total: int) -> None:
        if as_json or total <= 0:
            return
        click.echo(f"\r{label}: {done}/{total} ({100 * done // total}%)", err=True, nl=done >= total)

    return report


def print_mentors(results: list[dict[str, Any]]) -> None:
    """Ranked search results for a person, each with the reasons it matched."""
    if not results:
        click.echo("No mentor matches. Try fewer filters, or check 'mentornet peer list'.")
    for rank_number, item in enumerate(results, 1):
        name = item["display_name"] or item["mentor"]
        click.echo(f"{rank_number:>2}. {name}  ({item['institution']})  score {item['score']}")
        for reason in item["why"]["reasons"]:
            click.echo(f"      - {reason}")

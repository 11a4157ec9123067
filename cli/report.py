"""``mentornet report``: the institution's aggregate mentoring figures (no content, groups of 5+)."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import data_dir_option, guarded, json_option, passphrase_option, with_node
from cli.output import emit
from node.report import institution_report


@click.command("report")
@click.option("--days", type=click.IntRange(1, 3650), default=90, show_default=True, help="Requests made since.")
@data_dir_option
@passphrase_option
@json_option
@guarded
def report(days: int, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Aggregate counts: requests, answers, response times, mentorships, sessions. A figure that
    fewer than 5 members contribute to is withheld; no content ever reaches the node."""
    figures = with_node(data_dir, passphrase_file, lambda node: institution_report(node, days=days))

    def human() -> None:
        click.echo(f"{figures['institution']}: mentoring in the last {days} days")
        click.echo(f"(a figure from fewer than {figures['min_group']} members is withheld)")
        members = figures["members"]
        assert isinstance(members, dict)
        for role, count in members.items():
            click.echo(f"  {'active ' + role + 's':<36} {'withheld' if count is None else count}")
        items = figures["figures"]
        assert isinstance(items, list)
        for item in items:
            value = "withheld" if item["withheld"] else item["value"]
            click.echo(f"  {item['label']:<36} {value}")

    emit(as_json, figures, human)

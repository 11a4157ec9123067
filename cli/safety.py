"""Safety on the command line: members block and report (``mentornet client block|unblock|
blocked|report``); operators read and resolve reports (``mentornet reports``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from cli.client import client, client_errors, keystore_options, open_member
from cli.common import data_dir_option, format_time, guarded, json_option, passphrase_option, with_node
from cli.output import emit
from client.member import Address
from node.safety import get_report, list_reports, resolve_report


@client.command("block")
@click.argument("address")
@keystore_options
@json_option
@client_errors
def block(address: str, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Block ADDRESS: their messages and requests are dropped (at your node once one has arrived)."""
    at_node = asyncio.run(open_member(keystore, passphrase_file).block(Address.parse(address)))
    where = "here and at your node" if at_node else "here; your node drops them from their next message on"
    emit(as_json, {"blocked": address, "at_node": at_node}, lambda: click.echo(f"Blocked {address}: dropped {where}."))


@client.command("unblock")
@click.argument("address")
@keystore_options
@json_option
@client_errors
def unblock(address: str, keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Unblock ADDRESS."""
    asyncio.run(open_member(keystore, passphrase_file).unblock(Address.parse(address)))
    emit(as_json, {"unblocked": address}, lambda: click.echo(f"Unblocked {address}."))


@client.command("blocked")
@keystore_options
@json_option
@client_errors
def blocked(keystore: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """The members you blocked."""
    listed = open_member(keystore, passphrase_file).blocked()

    def human() -> None:
        if not listed:
            click.echo("You have blocked no one.")
        for who, at_node in listed.items():
            click.echo(f"{who}  {'(dropped at your node)' if at_node else '(dropped by this client)'}")

    emit(as_json, [{"address": who, "at_node": at_node} for who, at_node in listed.items()], human)


@client.command("report")
@click.argument("address")
@click.option("--reason", required=True, help="What happened, for the operator of their institution.")
@click.option(
    "--evidence",
    "evidence",
    multiple=True,
    help="The id of a message of your conversation to reveal as evidence (repeatable; see 'conversations --json').",
)
@click.option("--anonymous", is_flag=True, help="Do not tell the operator who you are (your node is still known).")
@keystore_options
@json_option
@client_errors
def report(
    address: str,
    reason: str,
    evidence: tuple[str, ...],
    anonymous: bool,
    keystore: Path,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Report ADDRESS to the operator of their home node, revealing only the messages you choose."""
    member = open_member(keystore, passphrase_file)
    report_id = asyncio.run(member.report(Address.parse(address), reason, list(evidence), anonymous=anonymous))
    emit(
        as_json,
        {"report_id": report_id, "reported": address},
        lambda: click.echo(
            f"Reported {address} to their institution (report {report_id}); consider blocking them too."
        ),
    )


@click.group("reports", invoke_without_command=True)
@click.option("--all", "include_resolved", is_flag=True, help="List resolved reports too.")
@data_dir_option
@passphrase_option
@json_option
@click.pass_context
@guarded
def reports(
    context: click.Context, include_resolved: bool, data_dir: Path, passphrase_file: Path | None, as_json: bool
) -> None:
    """Reports about this node's members, oldest first; 'show ID' and 'resolve ID' act on one."""
    if context.invoked_subcommand is not None:
        return
    found = with_node(data_dir, passphrase_file, lambda n: list_reports(n, include_resolved=include_resolved))

    def human() -> None:
        if not found:
            click.echo("No open reports." if not include_resolved else "No reports.")
        for item in found:
            who = item.get("reporter") or "anonymous"
            click.echo(
                f"{item['id']}  {item['status']:<8} {format_time(item['created_at'])}  member {item['member']}  "
                f"from {who} via {item['from_node']}"
            )
            click.echo(f"    {item['reason'][:200]}")

    emit(as_json, found, human)


@reports.command("show")
@click.argument("report_id")
@data_dir_option
@passphrase_option
@json_option
@guarded
def reports_show(report_id: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """One report, with its evidence."""
    found = with_node(data_dir, passphrase_file, lambda node: get_report(node, report_id))
    emit(as_json, found, lambda: _print_report(found))


@reports.command("resolve")
@click.argument("report_id")
@click.option("--note", required=True, help="What was done (kept with the report; the audit log records that it was).")
@data_dir_option
@passphrase_option
@json_option
@guarded
def reports_resolve(report_id: str, note: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Close a report (suspend the member first with 'mentornet member suspend' if needed)."""
    found = with_node(data_dir, passphrase_file, lambda node: resolve_report(node, report_id, note))
    emit(as_json, found, lambda: click.echo(f"Report {report_id} resolved."))


def _print_report(item: dict[str, Any]) -> None:
    click.echo(f"Report {item['id']} ({item['status']}), received {format_time(item['created_at'])}")
    click.echo(f"  about member:  {item['member']}")
    click.echo(f"  from:          {item.get('reporter') or 'anonymous'} via {item['from_node']}")
    click.echo(f"  reason:        {item['reason']}")
    for evidence in item.get("evidence", []):
        sent_at = evidence.get("sent_at")
        sent = format_time(sent_at) if isinstance(sent_at, int) and 0 <= sent_at < 2**40 else "?"
        click.echo(
            f"  evidence [{sent}] {evidence.get('direction', '?')}: {evidence.get('body', evidence.get('type'))}"
        )
    if item.get("resolution"):
        click.echo(f"  resolution:    {item['resolution']} ({format_time(item['resolved_at'])})")

"""``mentornet member ...``: invite, inspect, export and erase members; publish their availability."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from cli.common import (
    availability_options,
    data_dir_option,
    format_time,
    guarded,
    json_option,
    passphrase_option,
    with_node,
)
from cli.output import emit
from node.announcements import publish_availability, withdraw_availability
from node.errors import NodeError
from node.members import (
    MemberProfile,
    export_member,
    get_member,
    invite_member,
    list_members,
    reinstate_member,
    remove_member,
    suspend_member,
)
from node.mentorships import end_one, mentorships_of, record_json
from protocol.canonical import JsonValue


@click.group()
def member() -> None:
    """Invite, inspect, export and remove members."""


@member.command("invite")
@data_dir_option
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["mentor", "mentee", "both"]))
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone, e.g. Europe/Berlin.")
@click.option("--language", "languages", multiple=True, help="BCP 47 tag; repeat for several.")
@click.option("--interest", "interests", multiple=True, help="Repeat for several.")
@click.option("--profile", default="", help="Short profile text.")
@passphrase_option
@json_option
@guarded
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
    invitation = with_node(data_dir, passphrase_file, lambda node: invite_member(node, checked, role))
    emit(
        as_json,
        {"member_id": invitation.member_id, "invite_code": invitation.code, "expires_at": invitation.expires_at},
        lambda: click.echo(
            f"Invited member {invitation.member_id}\n"
            f"Invite code (shown once, give it to the member): {invitation.code}\n"
            f"Expires at: {format_time(invitation.expires_at)}"
        ),
    )


@member.command("list")
@data_dir_option
@passphrase_option
@json_option
@guarded
def member_list(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """List members."""
    members = with_node(data_dir, passphrase_file, list_members)

    def human() -> None:
        if not members:
            click.echo("No members yet. Invite one with 'mentornet member invite'.")
        for item in members:
            who = f"{item.profile.name} <{item.profile.email}>" if item.profile else "(erased)"
            click.echo(f"{item.id}  {item.role:<6}  {item.status:<8}  {who}")

    emit(as_json, [item.as_json() for item in members], human)


@member.command("show")
@click.argument("member_id")
@data_dir_option
@passphrase_option
@json_option
@guarded
def member_show(member_id: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Show one member."""
    found = with_node(data_dir, passphrase_file, lambda node: get_member(node, member_id))

    def human() -> None:
        click.echo(f"Member {found.id}: {found.role}, {found.status}, since {format_time(found.created_at)}")
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
@data_dir_option
@click.option(
    "--to",
    "destination",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the export to this file (mode 0600) instead of standard output.",
)
@passphrase_option
@guarded
def member_export(member_id: str, data_dir: Path, destination: Path | None, passphrase_file: Path | None) -> None:
    """Everything the node holds on a member, decrypted, as JSON (GDPR access and portability)."""
    exported = with_node(data_dir, passphrase_file, lambda node: export_member(node, member_id))
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
@data_dir_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@passphrase_option
@json_option
@guarded
def member_remove(member_id: str, data_dir: Path, yes: bool, passphrase_file: Path | None, as_json: bool) -> None:
    """Erase a member for good (crypto-shredding: the data key is destroyed)."""
    if not yes:
        if not sys.stdin.isatty():
            raise NodeError("removing a member cannot be undone: confirm with --yes")
        click.confirm(f"Erase member {member_id} for good? This cannot be undone", abort=True)
    with_node(data_dir, passphrase_file, lambda node: remove_member(node, member_id))
    emit(
        as_json,
        {"removed": member_id},
        lambda: click.echo(f"Removed member {member_id}: its data key is destroyed; its data can never be read again."),
    )


@member.command("announce")
@click.argument("member_id")
@data_dir_option
@availability_options
@click.option(
    "--verified-credential", "verified", multiple=True, help="A qualification the institution has checked; repeat."
)
@passphrase_option
@json_option
@guarded
def member_announce(
    member_id: str,
    data_dir: Path,
    availability: dict[str, JsonValue],
    lifetime_days: int | None,
    passphrase_file: Path | None,
    as_json: bool,
) -> None:
    """Publish a mentor's availability to the federation, on the mentor's behalf."""
    raw = with_node(
        data_dir,
        passphrase_file,
        lambda node: publish_availability(node, member_id, availability, lifetime_days=lifetime_days),
    )
    emit(
        as_json,
        raw,
        lambda: click.echo(
            f"Announced member {member_id} (seq {raw['seq']}, expires {format_time(int(str(raw['expires_at'])))}); "
            "a running node pushes it to its peers within seconds."
        ),
    )


@member.command("withdraw")
@click.argument("member_id")
@data_dir_option
@passphrase_option
@json_option
@guarded
def member_withdraw(member_id: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Withdraw a mentor's availability everywhere (a tombstone with a higher seq)."""
    raw = with_node(data_dir, passphrase_file, lambda node: withdraw_availability(node, member_id))
    emit(as_json, raw, lambda: click.echo(f"Withdrew member {member_id}'s availability (seq {raw['seq']})."))


@member.command("suspend")
@click.argument("member_id")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@data_dir_option
@passphrase_option
@json_option
@guarded
def member_suspend(member_id: str, reason: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Suspend a member: no client access, availability withdrawn, open requests and mentorships ended."""
    ended = with_node(data_dir, passphrase_file, lambda node: suspend_member(node, member_id, reason))
    emit(
        as_json,
        {"suspended": member_id, "requests_ended": ended},
        lambda: click.echo(
            f"Suspended member {member_id}: availability withdrawn, {ended} open request(s) or mentorship(s) ended."
        ),
    )


@member.command("reinstate")
@click.argument("member_id")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@data_dir_option
@passphrase_option
@json_option
@guarded
def member_reinstate(member_id: str, reason: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Lift a member's suspension."""
    with_node(data_dir, passphrase_file, lambda node: reinstate_member(node, member_id, reason))
    emit(as_json, {"reinstated": member_id}, lambda: click.echo(f"Reinstated member {member_id}."))


@member.command("mentorships")
@click.argument("member_id")
@data_dir_option
@passphrase_option
@json_option
@guarded
def member_mentorships(member_id: str, data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """A member's requests and mentorships as this node knows them: ids, states and times only."""
    records = with_node(data_dir, passphrase_file, lambda node: mentorships_of(node, member_id))

    def human() -> None:
        if not records:
            click.echo("No mentorship requests recorded for this member.")
        for r in records:
            since = format_time(r.created_at)
            click.echo(f"{r.request_id}  {r.role:<6}  {r.state:<9}  since {since}  sessions {r.sessions_held}")

    emit(as_json, [record_json(record) for record in records], human)


@member.command("end-mentorship")
@click.argument("member_id")
@click.argument("request_id")
@click.option("--reason", required=True, help="Why (kept in the audit log).")
@data_dir_option
@passphrase_option
@json_option
@guarded
def member_end_mentorship(
    member_id: str, request_id: str, reason: str, data_dir: Path, passphrase_file: Path | None, as_json: bool
) -> None:
    """End one open request or running mentorship of a member; their client tells the other member."""
    ended = with_node(data_dir, passphrase_file, lambda node: end_one(node, member_id, request_id, reason))
    emit(as_json, record_json(ended), lambda: click.echo(f"Ended {request_id} of member {member_id}."))

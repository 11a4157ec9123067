"""``mentornet keys ...`` and ``mentornet audit ...``: key rotation and the audit log."""

from __future__ import annotations

from pathlib import Path

import click

from cli.common import data_dir_option, format_time, guarded, json_option, passphrase_option, with_node
from cli.output import emit, progress_printer
from node.kek_rotation import rotate_kek
from node.signing_keys import rotate_signing_key


@click.group()
def keys() -> None:
    """Rotate the node's signing key or key-encryption key."""


@keys.command("rotate-signing")
@data_dir_option
@passphrase_option
@json_option
@guarded
def keys_rotate_signing(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Make a new signing key current; old keys stay listed (with expired_at) so their signatures verify."""
    new_id, retired = with_node(data_dir, passphrase_file, rotate_signing_key)
    emit(
        as_json,
        {"key_id": new_id, "retired": retired},
        lambda: click.echo(
            f"New signing key {new_id}; retired {', '.join(retired) or 'none'}. "
            "A running node serves it within 10 seconds."
        ),
    )


@keys.command("rotate-kek")
@data_dir_option
@passphrase_option
@json_option
@guarded
def keys_rotate_kek(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Create a new KEK version and rewrap every data key under it; the node may keep serving."""
    result = with_node(
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


@click.group()
def audit() -> None:
    """The hash-chained audit log of admin actions."""


@audit.command("verify")
@data_dir_option
@passphrase_option
@json_option
@guarded
def audit_verify(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Check that no audit entry was edited, removed or reordered."""
    count = with_node(data_dir, passphrase_file, lambda node: node.verify_audit_log())
    emit(as_json, {"ok": True, "entries": count}, lambda: click.echo(f"Audit log intact: {count} entries verified."))


@audit.command("list")
@data_dir_option
@passphrase_option
@json_option
@guarded
def audit_list(data_dir: Path, passphrase_file: Path | None, as_json: bool) -> None:
    """Show every admin action, oldest first."""
    entries = with_node(data_dir, passphrase_file, lambda node: node.audit_entries())

    def human() -> None:
        for entry in entries:
            details = " ".join(f"{key}={value}" for key, value in sorted(entry.details.items()))
            click.echo(
                f"{entry.seq:>5}  {format_time(entry.at)}  {entry.actor:<20}  {entry.action:<20}  "
                f"{entry.target}  {details}"
            )

    emit(as_json, [entry.as_json() for entry in entries], human)

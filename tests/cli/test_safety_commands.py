"""``mentornet reports``, ``mentornet report`` and ``mentornet member suspend|reinstate`` as an
operator uses them (CliRunner on a real data directory)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from click.testing import CliRunner, Result

from cli.main import cli
from node.config import load_config
from node.instance import open_node
from node.keyring import UnlockSecret
from node.members import redeem_invite
from node.mentorships import open_request
from node.safety import receive_report
from protocol.lifecycle import Actor
from protocol.safety import make_report
from tests.cli.conftest import PASSPHRASE


def run(runner: CliRunner, data_dir: Path, passphrase_file: Path, *args: str) -> Result:
    return runner.invoke(cli, [*args, "--data-dir", str(data_dir), "--passphrase-file", str(passphrase_file)])


def output(result: Result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def _redeem_and_report(data_dir: Path, code: str) -> tuple[str, str]:
    node = await open_node(load_config(data_dir), UnlockSecret.from_passphrase(PASSPHRASE))
    try:
        member_id = (await redeem_invite(node, code)).member_id
        await open_request(node, member_id, "f" * 24, Actor.MENTOR, 6)
        evidence = [{"id": "m1", "direction": "in", "type": "message", "body": "give me your address", "sent_at": "x"}]
        report = make_report({"member": member_id, "reason": "Threats", "evidence": evidence, "reporter": None})
        return member_id, await receive_report(node, "https://mentornet.peer.example", report)
    finally:
        await node.close()


def test_an_operator_reads_resolves_reports_and_suspends(
    data_dir: Path, runner: CliRunner, passphrase_file: Path
) -> None:
    invited = output(
        run(
            runner,
            data_dir,
            passphrase_file,
            "member",
            "invite",
            "--email",
            "c@x.example",
            "--name",
            "C",
            "--role",
            "mentor",
            "--json",
        )
    )
    assert isinstance(invited, dict)
    member_id, report_id = asyncio.run(_redeem_and_report(data_dir, str(invited["invite_code"])))

    listed = output(run(runner, data_dir, passphrase_file, "reports", "--json"))
    assert isinstance(listed, list) and [(r["id"], r["member"], r["reporter"]) for r in listed] == [
        (report_id, member_id, None)
    ]
    shown = run(runner, data_dir, passphrase_file, "reports", "show", report_id)
    assert shown.exit_code == 0 and "give me your address" in shown.output and "anonymous" in shown.output

    records = output(run(runner, data_dir, passphrase_file, "member", "mentorships", member_id, "--json"))
    assert isinstance(records, list) and [(r["request_id"], r["state"]) for r in records] == [("f" * 24, "pending")]
    ended = output(
        run(
            runner,
            data_dir,
            passphrase_file,
            "member",
            "end-mentorship",
            member_id,
            "f" * 24,
            "--reason",
            "r",
            "--json",
        )
    )
    assert isinstance(ended, dict) and ended["state"] == "ended"

    suspended = output(
        run(runner, data_dir, passphrase_file, "member", "suspend", member_id, "--reason", "threats", "--json")
    )
    assert suspended == {"suspended": member_id, "requests_ended": 0}
    resolved = output(
        run(runner, data_dir, passphrase_file, "reports", "resolve", report_id, "--note", "suspended", "--json")
    )
    assert isinstance(resolved, dict) and resolved["status"] == "resolved"
    again = run(runner, data_dir, passphrase_file, "reports", "resolve", report_id, "--note", "twice")
    assert again.exit_code == 1 and "already resolved" in again.output
    assert output(run(runner, data_dir, passphrase_file, "reports", "--json")) == []
    assert len(output(run(runner, data_dir, passphrase_file, "reports", "--all", "--json"))) == 1  # type: ignore[arg-type]
    reinstated = output(
        run(runner, data_dir, passphrase_file, "member", "reinstate", member_id, "--reason", "appeal", "--json")
    )
    assert reinstated == {"reinstated": member_id}


def test_the_institutions_report_withholds_small_groups(
    data_dir: Path, runner: CliRunner, passphrase_file: Path
) -> None:
    figures = output(run(runner, data_dir, passphrase_file, "report", "--days", "30", "--json"))
    assert isinstance(figures, dict) and figures["min_group"] == 5
    assert all(item["withheld"] for item in figures["figures"])
    text = run(runner, data_dir, passphrase_file, "report")
    assert text.exit_code == 0 and "requests answered" in text.output and "withheld" in text.output

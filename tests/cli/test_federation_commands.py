"""Peering, announcing and discovering from the CLI, against a node served by a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import cli
from node.local import free_port
from tests.cli.test_serve import _wait_for


def _run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _json(result: Result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def served_peer(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """Node B, served by `mentornet serve` in its own process: its URL, fingerprint and data dir."""
    data_dir = tmp_path / "b"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    init = _run(
        "init",
        "--data-dir",
        str(data_dir),
        "--name",
        "B College",
        "--url",
        url,
        "--port",
        str(port),
        "--key-file",
        str(tmp_path / "b.key"),
        "--json",
    )
    fingerprint = str(_json(init)["fingerprint"])  # type: ignore[index]
    process = subprocess.Popen(
        [sys.executable, "-m", "cli.main", "serve", "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parents[2],
        env={**os.environ, "MENTORNET_HOME": ""},
    )
    try:
        _wait_for(f"{url}/healthz", process)
        yield url, fingerprint, data_dir
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)


@pytest.fixture
def local(tmp_path: Path) -> Path:
    data_dir = tmp_path / "a"
    _json(
        _run(
            "init",
            "--data-dir",
            str(data_dir),
            "--name",
            "A University",
            "--url",
            "http://127.0.0.1:9",
            "--key-file",
            str(tmp_path / "a.key"),
            "--json",
        )
    )
    return data_dir


def _invite(data_dir: Path, email: str, name: str, role: str) -> str:
    invited = _json(
        _run(
            "member", "invite", "--data-dir", str(data_dir), "--email", email, "--name", name, "--role", role, "--json"
        )
    )
    assert isinstance(invited, dict)
    return str(invited["member_id"])


def test_peer_add_pins_a_node_whose_fingerprint_matches(served_peer: tuple[str, str, Path], local: Path) -> None:
    url, fingerprint, _ = served_peer
    added = _json(_run("peer", "add", url, "--fingerprint", fingerprint, "--data-dir", str(local), "--json"))
    assert added == {"base_url": url, "name": "B College", "fingerprint": fingerprint}
    listed = _json(_run("peer", "list", "--data-dir", str(local), "--json"))
    assert isinstance(listed, dict)
    assert [(p["base_url"], p["state"], p["backlog"], p["outbox"]) for p in listed["peers"]] == [(url, "active", 0, 0)]
    audit = _json(_run("audit", "list", "--data-dir", str(local), "--json"))
    assert isinstance(audit, list) and audit[-1]["action"] == "peer.add"


def test_peer_add_refuses_a_fingerprint_mismatch(served_peer: tuple[str, str, Path], local: Path) -> None:
    url, _, _ = served_peer
    result = _run("peer", "add", url, "--fingerprint", "sha256:" + "0" * 64, "--data-dir", str(local))
    assert result.exit_code == 1 and "not the pinned" in result.stderr
    assert "No peers yet" in _run("peer", "list", "--data-dir", str(local)).stdout


def test_peer_add_of_a_node_that_does_not_answer_is_a_clear_error(local: Path) -> None:
    result = _run(
        "peer",
        "add",
        f"http://127.0.0.1:{free_port()}",
        "--fingerprint",
        "sha256:" + "0" * 64,
        "--data-dir",
        str(local),
    )
    assert result.exit_code == 1 and result.stderr.startswith("error: http://127.0.0.1:")
    assert "Traceback" not in result.output


def test_block_and_unblock_a_host(local: Path) -> None:
    assert _json(_run("peer", "block", "Evil.Example", "--data-dir", str(local), "--json")) == {
        "blocked": "evil.example"
    }
    assert "Blocked hosts: evil.example" in _run("peer", "list", "--data-dir", str(local)).stdout
    assert _run("peer", "unblock", "evil.example", "--data-dir", str(local)).exit_code == 0
    assert _run("peer", "unblock", "evil.example", "--data-dir", str(local)).exit_code == 1


def test_announce_then_discover_locally_with_reasons(local: Path) -> None:
    member_id = _invite(local, "m@a.example", "Mia", "mentor")
    announced = _json(
        _run(
            "member",
            "announce",
            member_id,
            "--data-dir",
            str(local),
            "--topic",
            "Data Science",
            "--language",
            "en",
            "--timezone",
            "America/New_York",
            "--window",
            "wed:09:00-12:00",
            "--capacity",
            "3",
            "--display-name",
            "Mia M.",
            "--verified-credential",
            "MSc Statistics",
            "--json",
        )
    )
    assert isinstance(announced, dict) and announced["seq"] == 1

    found = _json(
        _run(
            "discover",
            "--data-dir",
            str(local),
            "--topic",
            "data science",
            "--timezone",
            "Europe/Paris",
            "--window",
            "wed:15:00-17:00",
            "--json",
        )
    )
    assert isinstance(found, list) and len(found) == 1
    assert found[0]["why"]["shared_topics"] == ["data science"]
    assert found[0]["why"]["overlap_hours_per_week"] == 2.0
    human = _run("discover", "--data-dir", str(local), "--topic", "data science").stdout
    assert "Mia M." in human and "A University" in human and "verified by the home institution" in human

    _json(_run("member", "withdraw", member_id, "--data-dir", str(local), "--json"))
    assert _json(_run("discover", "--data-dir", str(local), "--topic", "data science", "--json")) == []


def test_announcing_for_a_mentee_is_refused(local: Path) -> None:
    member_id = _invite(local, "e@a.example", "Eve", "mentee")
    result = _run(
        "member",
        "announce",
        member_id,
        "--data-dir",
        str(local),
        "--topic",
        "x",
        "--language",
        "en",
        "--timezone",
        "UTC",
        "--capacity",
        "1",
    )
    assert result.exit_code == 1 and "not a mentor" in result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["discover", "--timezone", "UTC"],
        [
            "member",
            "announce",
            "some-member",
            "--topic",
            "t",
            "--language",
            "en",
            "--timezone",
            "UTC",
            "--capacity",
            "1",
        ],
    ],
    ids=["discover", "member announce"],
)
def test_a_bad_window_is_a_one_line_error(local: Path, command: list[str]) -> None:
    result = _run(*command, "--data-dir", str(local), "--window", "someday:25:00-26:00")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: window: 'someday:25:00-26:00' is not like mon:18:00-20:30"

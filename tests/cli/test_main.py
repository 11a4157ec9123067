"""The operator CLI through click's CliRunner: readable output, ``--json`` for programs, one-line errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result

from cli.main import cli
from node.storage.database import head_revision


def _run(runner: CliRunner, *args: str) -> Result:
    return runner.invoke(cli, list(args))


def _json(result: Result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_init_prints_where_everything_went_and_the_fingerprint(data_dir: Path, runner: CliRunner) -> None:
    status = _json(_run(runner, "status", "--data-dir", str(data_dir), "--json"))
    assert isinstance(status, dict)
    assert status["name"] == "CLI University" and status["fingerprint"].startswith("sha256:")
    assert status["database"] == {
        "backend": "sqlite",
        "where": str(data_dir / "node.db"),
        "schema_revision": head_revision(),
    }
    assert status["members"] == {"total": 0, "by_role": {}, "by_status": {}}


def test_init_refuses_to_overwrite_an_existing_node(data_dir: Path, runner: CliRunner, passphrase_file: Path) -> None:
    before = (data_dir / "node.db").read_bytes()
    result = _run(
        runner,
        "init",
        "--data-dir",
        str(data_dir),
        "--name",
        "X",
        "--url",
        "https://x.example",
        "--passphrase-file",
        str(passphrase_file),
    )
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("error:") and "already exists" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert (data_dir / "node.db").read_bytes() == before


def test_init_with_a_key_file_creates_it_private(tmp_path: Path, runner: CliRunner) -> None:
    key_file = tmp_path / "secret" / "node.key"
    key_file.parent.mkdir()
    result = _run(runner, *_key_file_init(tmp_path, key_file))
    assert result.exit_code == 0, result.output
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert str(key_file) in result.stdout


def test_the_member_lifecycle_from_invite_to_erasure(data_dir: Path, runner: CliRunner, passphrase_file: Path) -> None:
    common = ["--data-dir", str(data_dir), "--passphrase-file", str(passphrase_file)]
    invited = _json(
        _run(
            runner,
            "member",
            "invite",
            *common,
            "--email",
            "Mentor@Example.org",
            "--name",
            "Maria Mentor",
            "--role",
            "mentor",
            "--timezone",
            "Europe/Madrid",
            "--language",
            "es",
            "--language",
            "en",
            "--interest",
            "robotics",
            "--json",
        )
    )
    assert isinstance(invited, dict) and len(invited["invite_code"]) >= 20
    member_id = invited["member_id"]

    listed = _json(_run(runner, "member", "list", *common, "--json"))
    assert isinstance(listed, list) and listed[0]["profile"]["email"] == "mentor@example.org"
    shown = _run(runner, "member", "show", member_id, *common)
    assert "Maria Mentor" in shown.stdout and "Europe/Madrid" in shown.stdout

    exported = json.loads(_run(runner, "member", "export", member_id, *common).stdout)
    assert exported["member"]["profile"]["languages"] == ["es", "en"]

    refused = _run(runner, "member", "remove", member_id, *common)
    assert refused.exit_code == 1 and "--yes" in refused.stderr
    assert _json(_run(runner, "member", "remove", member_id, *common, "--yes", "--json")) == {"removed": member_id}
    erased = _json(_run(runner, "member", "show", member_id, *common, "--json"))
    assert isinstance(erased, dict) and erased["status"] == "removed" and erased["profile"] is None

    verified = _json(_run(runner, "audit", "verify", *common, "--json"))
    assert verified == {"ok": True, "entries": 4}
    logged = _json(_run(runner, "audit", "list", *common, "--json"))
    assert isinstance(logged, list)
    assert [(e["action"], e["target"]) for e in logged] == [
        ("node.init", "CLI University"),
        ("member.invite", member_id),
        ("member.export", member_id),
        ("member.remove", member_id),
    ]
    assert "member.remove" in _run(runner, "audit", "list", *common).stdout


def test_an_export_to_a_file_is_private(
    data_dir: Path, runner: CliRunner, passphrase_file: Path, tmp_path: Path
) -> None:
    common = ["--data-dir", str(data_dir), "--passphrase-file", str(passphrase_file)]
    invited = _json(
        _run(
            runner, "member", "invite", *common, "--email", "a@example.org", "--name", "A", "--role", "mentee", "--json"
        )
    )
    assert isinstance(invited, dict)
    target = tmp_path / "export.json"
    result = _run(runner, "member", "export", invited["member_id"], *common, "--to", str(target))
    assert result.exit_code == 0, result.output
    assert target.stat().st_mode & 0o777 == 0o600
    assert json.loads(target.read_text())["member"]["profile"]["name"] == "A"


def test_invalid_member_fields_are_one_line_errors_naming_the_field(
    data_dir: Path, runner: CliRunner, passphrase_file: Path
) -> None:
    result = _run(
        runner,
        "member",
        "invite",
        "--data-dir",
        str(data_dir),
        "--passphrase-file",
        str(passphrase_file),
        "--email",
        "a@example.org",
        "--name",
        "A",
        "--role",
        "mentor",
        "--timezone",
        "Atlantis/Capital",
    )
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [
        "error: timezone: 'Atlantis/Capital' is not an IANA time zone (e.g. Europe/Berlin)"
    ]


def test_a_wrong_passphrase_is_one_line_and_touches_nothing(data_dir: Path, runner: CliRunner, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not it")
    wrong.chmod(0o600)
    before = (data_dir / "node.db").read_bytes()
    result = _run(runner, "member", "list", "--data-dir", str(data_dir), "--passphrase-file", str(wrong))
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: wrong passphrase: it does not unlock this node"
    assert (data_dir / "node.db").read_bytes() == before


def test_errors_are_a_json_object_with_json(data_dir: Path, runner: CliRunner, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not it")
    wrong.chmod(0o600)
    result = _run(runner, "member", "list", "--data-dir", str(data_dir), "--passphrase-file", str(wrong), "--json")
    assert result.exit_code == 1
    assert json.loads(result.stdout) == {
        "error": "unlock_failed",
        "message": "wrong passphrase: it does not unlock this node",
    }


def test_without_a_passphrase_source_a_non_interactive_run_says_how_to_give_one(
    data_dir: Path, runner: CliRunner
) -> None:
    result = runner.invoke(cli, ["member", "list", "--data-dir", str(data_dir)], env={"MENTORNET_PASSPHRASE_FILE": ""})
    assert result.exit_code == 1 and "--passphrase-file" in result.stderr


def test_the_passphrase_file_can_come_from_the_environment(
    data_dir: Path, runner: CliRunner, passphrase_file: Path
) -> None:
    result = runner.invoke(
        cli, ["member", "list", "--data-dir", str(data_dir)], env={"MENTORNET_PASSPHRASE_FILE": str(passphrase_file)}
    )
    assert result.exit_code == 0 and "No members yet" in result.stdout


def test_the_data_dir_can_come_from_the_environment(data_dir: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["status"], env={"MENTORNET_HOME": str(data_dir)})
    assert result.exit_code == 0 and "CLI University" in result.stdout


def test_a_corrupted_database_is_named_in_the_error(data_dir: Path, runner: CliRunner) -> None:
    (data_dir / "node.db").write_bytes(b"this is not a database" * 100)
    result = _run(runner, "status", "--data-dir", str(data_dir))
    assert result.exit_code == 1
    assert str(data_dir / "node.db") in result.stderr and "Traceback" not in result.output


def test_a_corrupted_config_is_named_in_the_error(data_dir: Path, runner: CliRunner) -> None:
    (data_dir / "mentornet.toml").write_text("[[[")
    result = _run(runner, "status", "--data-dir", str(data_dir))
    assert result.exit_code == 1 and str(data_dir / "mentornet.toml") in result.stderr


def test_a_missing_node_points_to_init(tmp_path: Path, runner: CliRunner) -> None:
    result = _run(runner, "status", "--data-dir", str(tmp_path / "nothing"))
    assert result.exit_code == 1 and "mentornet init" in result.stderr


def test_key_rotations_report_what_they_did(data_dir: Path, runner: CliRunner, passphrase_file: Path) -> None:
    common = ["--data-dir", str(data_dir), "--passphrase-file", str(passphrase_file)]
    _run(runner, "member", "invite", *common, "--email", "a@example.org", "--name", "A", "--role", "mentee")
    signing = _json(_run(runner, "keys", "rotate-signing", *common, "--json"))
    kek = _json(_run(runner, "keys", "rotate-kek", *common, "--json"))
    assert isinstance(signing, dict) and len(signing["retired"]) == 1
    assert kek == {"kek_version": 2, "rewrapped_data_keys": 1, "rewrapped_signing_keys": 2, "retired_versions": [1]}
    status = _json(_run(runner, "status", "--data-dir", str(data_dir), "--json"))
    assert isinstance(status, dict) and status["key_id"] == signing["key_id"] and status["kek_versions"] == [2]


def test_a_tampered_audit_log_fails_verification(data_dir: Path, runner: CliRunner, passphrase_file: Path) -> None:
    common = ["--data-dir", str(data_dir), "--passphrase-file", str(passphrase_file)]
    _run(runner, "member", "invite", *common, "--email", "a@example.org", "--name", "A", "--role", "mentee")
    with sqlite3.connect(data_dir / "node.db") as connection:
        connection.execute("UPDATE audit_log SET action = 'nothing.happened' WHERE seq = 2")
    connection.close()
    result = _run(runner, "audit", "verify", *common)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: audit log broken at entry 2: entry was altered"


def test_backup_and_restore_through_the_cli(
    data_dir: Path, runner: CliRunner, passphrase_file: Path, tmp_path: Path
) -> None:
    common = ["--passphrase-file", str(passphrase_file)]
    _run(
        runner,
        "member",
        "invite",
        "--data-dir",
        str(data_dir),
        *common,
        "--email",
        "a@example.org",
        "--name",
        "A",
        "--role",
        "mentee",
    )
    backup = _json(_run(runner, "backup", "--data-dir", str(data_dir), "--to", str(tmp_path / "b.tgz"), "--json"))
    assert isinstance(backup, dict) and backup["path"] == str(tmp_path / "b.tgz")
    restored = _json(
        _run(runner, "restore", "--from", str(tmp_path / "b.tgz"), "--data-dir", str(tmp_path / "r"), *common, "--json")
    )
    assert restored == {"data_dir": str(tmp_path / "r"), "members": 1}


def test_db_upgrade_reports_the_revision(data_dir: Path, runner: CliRunner) -> None:
    assert _json(_run(runner, "db", "upgrade", "--data-dir", str(data_dir), "--json")) == {
        "from": head_revision(),
        "to": head_revision(),
    }


def _key_file_init(tmp_path: Path, key_file: Path | None = None) -> list[str]:
    """``init`` arguments for a key-file node in ``tmp_path/n`` (key file default ``tmp_path/k.key``)."""
    key = key_file or tmp_path / "k.key"
    return [
        "init",
        "--data-dir",
        str(tmp_path / "n"),
        "--name",
        "K",
        "--url",
        "https://k.example",
        "--key-file",
        str(key),
    ]


def test_init_refuses_two_ways_to_unlock(tmp_path: Path, runner: CliRunner, passphrase_file: Path) -> None:
    result = _run(runner, *_key_file_init(tmp_path), "--passphrase-file", str(passphrase_file))
    assert result.exit_code == 1 and "not both" in result.stderr
    assert not (tmp_path / "n").exists() and not (tmp_path / "k.key").exists()


def test_a_passphrase_file_readable_by_others_draws_a_warning(
    data_dir: Path, runner: CliRunner, passphrase_file: Path
) -> None:
    passphrase_file.chmod(0o644)
    result = _run(runner, "member", "list", "--data-dir", str(data_dir), "--passphrase-file", str(passphrase_file))
    assert result.exit_code == 0 and "accessible to other users" in result.stderr


def test_an_out_of_range_port_is_a_usage_error(tmp_path: Path, runner: CliRunner) -> None:
    result = _run(runner, "serve", "--data-dir", str(tmp_path / "n"), "--port", "70000")
    assert result.exit_code == 2 and "70000" in result.stderr and not (tmp_path / "n").exists()


def test_an_unsupported_database_url_is_refused_before_anything_is_created(tmp_path: Path, runner: CliRunner) -> None:
    result = _run(
        runner,
        *_key_file_init(tmp_path),
        "--database-url",
        "mysql://root@127.0.0.1/x",
    )
    assert result.exit_code == 1 and "postgresql+asyncpg://" in result.stderr
    assert not (tmp_path / "n").exists() and not (tmp_path / "k.key").exists()

"""An initialised node's data directory and a CliRunner, for the operator CLI's tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import cli

PASSPHRASE = "a long and careful passphrase"


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def data_dir(tmp_path: Path, runner: CliRunner, passphrase_file: Path) -> Path:
    directory = tmp_path / "node"
    result = runner.invoke(
        cli,
        [
            "init",
            "--data-dir",
            str(directory),
            "--name",
            "CLI University",
            "--url",
            "https://mentornet.cli.example",
            "--passphrase-file",
            str(passphrase_file),
        ],
    )
    assert result.exit_code == 0, result.output
    return directory

"""The member's keystore: nothing readable without the passphrase, nothing half-written."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from client.keystore import Keystore, KeystoreError, lock

STATE = {"device_secrets": {"identity_seed": "ab" * 32}, "token": "secret-token-value"}


def test_a_keystore_opens_with_its_passphrase_and_holds_nothing_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "keystore"
    Keystore.create(path, "a good passphrase", STATE)
    raw = path.read_bytes()
    assert b"secret-token-value" not in raw and b"abab" not in raw
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Keystore.open(path, "a good passphrase").state == STATE


def test_a_wrong_passphrase_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "keystore"
    Keystore.create(path, "a good passphrase", STATE)
    with pytest.raises(KeystoreError, match="wrong passphrase"):
        Keystore.open(path, "another passphrase")


def test_an_altered_keystore_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keystore"
    Keystore.create(path, "a good passphrase", STATE)
    document = json.loads(path.read_text())
    document["box"] = document["box"][:-4] + ("AAAA" if not document["box"].endswith("AAAA") else "BBBB")
    path.write_text(json.dumps(document))
    with pytest.raises(KeystoreError):
        Keystore.open(path, "a good passphrase")


def test_saving_replaces_the_file_whole(tmp_path: Path) -> None:
    path = tmp_path / "keystore"
    store = Keystore.create(path, "a good passphrase", dict(STATE))
    store.state["contacts"] = {"x@https://uni.example": {"identity_key": "00"}}
    store.save()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keystore"]  # no temporary file left
    assert Keystore.open(path, "a good passphrase").state["contacts"] == {
        "x@https://uni.example": {"identity_key": "00"}
    }


@pytest.mark.parametrize("content", ["", "not json", '{"format": "something-else"}'])
def test_a_file_that_is_not_a_keystore_is_named(tmp_path: Path, content: str) -> None:
    path = tmp_path / "keystore"
    path.write_text(content)
    with pytest.raises(KeystoreError, match=str(path)):
        Keystore.open(path, "a good passphrase")


def test_missing_and_existing_paths_are_refused(tmp_path: Path) -> None:
    with pytest.raises(KeystoreError, match="client register"):
        Keystore.open(tmp_path / "nothing-here", "a good passphrase")
    Keystore.create(tmp_path / "keystore", "a good passphrase", STATE)
    with pytest.raises(KeystoreError, match="already exists"):
        Keystore.create(tmp_path / "keystore", "a good passphrase", STATE)
    with pytest.raises(KeystoreError, match="empty"):
        Keystore.create(tmp_path / "other", "", STATE)


def test_a_second_process_cannot_take_the_keystore_lock(tmp_path: Path) -> None:
    path = tmp_path / "keystore"
    lock(path)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from client.keystore import lock; from pathlib import Path; lock(Path({str(path)!r}))",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert probe.returncode != 0 and "in use by another mentornet client command" in probe.stderr

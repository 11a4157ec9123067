"""Unlocking: the right secret opens the key hierarchy, a wrong one is refused with one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from crypto.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB
from node.config import UnlockMethod
from node.errors import UnlockFailed
from node.keyring import Keyring, UnlockSecret, create_key_file


def test_a_passphrase_unlocks_and_derives_the_same_keys_again() -> None:
    keyring, record = Keyring.create(UnlockSecret.from_passphrase("pass phrase"))
    again = Keyring.unlock(UnlockSecret.from_passphrase("pass phrase"), record)
    assert again.blind_index_key == keyring.blind_index_key and again.audit_key == keyring.audit_key
    assert again.kek(1, b"s" * 16) == keyring.kek(1, b"s" * 16)


def test_argon2id_parameters_are_stored_at_or_above_the_floor() -> None:
    _, record = Keyring.create(UnlockSecret.from_passphrase("pass phrase"))
    assert record.argon_params is not None and record.argon_salt is not None
    assert record.argon_params.memory_kib >= MIN_MEMORY_KIB and record.argon_params.iterations >= MIN_ITERATIONS


def test_a_wrong_passphrase_is_refused() -> None:
    _, record = Keyring.create(UnlockSecret.from_passphrase("right"))
    with pytest.raises(UnlockFailed, match="wrong passphrase"):
        Keyring.unlock(UnlockSecret.from_passphrase("wrong"), record)


def test_a_key_file_is_created_private_and_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    create_key_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(FileExistsError):
        create_key_file(path)


def test_a_wrong_key_file_is_refused(tmp_path: Path) -> None:
    create_key_file(tmp_path / "a.key")
    create_key_file(tmp_path / "b.key")
    _, record = Keyring.create(UnlockSecret.from_key_file(tmp_path / "a.key"))
    with pytest.raises(UnlockFailed, match="wrong key file"):
        Keyring.unlock(UnlockSecret.from_key_file(tmp_path / "b.key"), record)


@pytest.mark.parametrize("content", ["", "not base64!", "c2hvcnQ=\n"])
def test_a_malformed_key_file_is_refused_with_its_path(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.key"
    path.write_text(content)
    with pytest.raises(UnlockFailed, match=str(path)):
        UnlockSecret.from_key_file(path)


def test_a_passphrase_does_not_unlock_a_key_file_node(tmp_path: Path) -> None:
    create_key_file(tmp_path / "node.key")
    _, record = Keyring.create(UnlockSecret.from_key_file(tmp_path / "node.key"))
    assert record.method is UnlockMethod.KEY_FILE
    with pytest.raises(UnlockFailed, match="key-file"):
        Keyring.unlock(UnlockSecret.from_passphrase("anything"), record)


def test_blind_indexes_differ_per_kind_and_are_deterministic() -> None:
    keyring, _ = Keyring.create(UnlockSecret.from_passphrase("pass phrase"))
    assert keyring.blind_index("email", "a@example.org") == keyring.blind_index("email", "a@example.org")
    assert keyring.blind_index("email", "a@example.org") != keyring.blind_index("phone", "a@example.org")

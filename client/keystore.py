"""The member's keystore: one file, encrypted under the member's own passphrase.

Format (JSON)::

    {"format": "mentornet-keystore", "version": 1,
     "kdf": {"algorithm": "argon2id", "salt": "<b64url, 16 bytes>", "memory_kib": 65536, "iterations": 3, "lanes": 4},
     "box": "<b64url: crypto.aead.seal(key, state JSON, aad='mentornet/v1/client-keystore')>"}

The key is ``HKDF(Argon2id(passphrase, salt), "mentornet/v1/client-keystore")``. The state holds
the device's private keys, the sessions, the contacts and the conversations; nothing of it is
ever written in clear. Saving writes a temporary file (mode 0600), syncs it, and renames it over
the old one, so a crash leaves either the old or the new keystore, never half of one.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import crypto
from protocol.encoding import b64decode, b64encode

FORMAT = "mentornet-keystore"
VERSION = 1
AAD = b"mentornet/v1/client-keystore"


class KeystoreError(Exception):
    """The keystore is missing, unreadable, or the passphrase is wrong."""

    code = "keystore_error"


@dataclass
class Keystore:
    path: Path
    state: dict[str, Any]
    _key: bytes = field(repr=False)
    _kdf: dict[str, Any] = field(repr=False)

    @classmethod
    def create(
        cls, path: Path, passphrase: str, state: dict[str, Any], params: crypto.Argon2Params | None = None
    ) -> Keystore:
        """A new keystore at ``path`` (refused if one exists there)."""
        cls.ensure_absent(path)
        params = params or crypto.Argon2Params()
        salt = os.urandom(16)
        kdf = {
            "algorithm": "argon2id",
            "salt": b64encode(salt),
            "memory_kib": params.memory_kib,
            "iterations": params.iterations,
            "lanes": params.lanes,
        }
        store = cls(path, state, _derive(passphrase, salt, params), kdf)
        store.save()
        return store

    @staticmethod
    def ensure_absent(path: Path) -> None:
        """Raises :class:`KeystoreError` if a keystore (or anything) is already at ``path``."""
        if path.exists():
            raise KeystoreError(f"{path} already exists; choose another --keystore or remove it first")

    @classmethod
    def open(cls, path: Path, passphrase: str) -> Keystore:
        """Raises :class:`KeystoreError` if the file is missing or damaged, or the passphrase is wrong."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise KeystoreError(f"no keystore at {path}; run 'mentornet client register' first") from exc
        except (OSError, ValueError) as exc:
            raise KeystoreError(f"{path} is not a readable keystore: {exc}") from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT or document.get("version") != VERSION:
            raise KeystoreError(f"{path} is not a version-{VERSION} Mentornet keystore")
        try:
            kdf = document["kdf"]
            params = crypto.Argon2Params(kdf["memory_kib"], kdf["iterations"], kdf["lanes"])
            key = _derive(passphrase, b64decode(kdf["salt"], field="salt"), params)
            state = json.loads(crypto.open_(key, b64decode(document["box"], field="box"), aad=AAD))
        except crypto.DecryptionFailed as exc:
            raise KeystoreError("wrong passphrase, or the keystore was altered") from exc
        except (KeyError, TypeError, ValueError, crypto.CryptoError) as exc:
            raise KeystoreError(f"{path} is damaged: {exc}") from exc
        return cls(path, state, key, kdf)

    def save(self) -> None:
        box = crypto.seal(self._key, json.dumps(self.state).encode(), aad=AAD, nonce=os.urandom(12))
        document = {"format": FORMAT, "version": VERSION, "kdf": self._kdf, "box": b64encode(box)}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:  # mkstemp: mode 0600
                json.dump(document, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)  # the rename itself survives a power loss
            finally:
                os.close(directory)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def lock(path: Path) -> int:
    """Take the keystore's lock for the rest of this process (a file ``<keystore>.lock`` with
    ``flock``): two clients on one keystore would each save over the other's ratchet state, and
    could then use a message key twice. Returns the descriptor that holds the lock.

    Raises:
        KeystoreError: if another process holds it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        os.close(descriptor)
        raise KeystoreError(f"{path} is in use by another mentornet client command; try again when it ends") from exc
    return descriptor


def _derive(passphrase: str, salt: bytes, params: crypto.Argon2Params) -> bytes:
    if not passphrase:
        raise KeystoreError("the passphrase is empty")
    return crypto.derive_subkey(crypto.passphrase_root_key(passphrase.encode(), salt, params), "client-keystore")

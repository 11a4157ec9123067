"""The node's key hierarchy, held in memory once the node is unlocked.

::

    passphrase --Argon2id(salt, >=64 MiB, t>=3)--> root key      (or: root key = the key file's 32 bytes)
    root key --HKDF("mentornet/v1/unlock-check")--> check key  -> check value stored in unlock_params
    root key --HKDF("mentornet/v1/blind-index")-->  blind-index key (keyed e-mail look-ups)
    root key --HKDF("mentornet/v1/audit")-->        audit-chain key
    root key --HKDF("mentornet/v1/reports")-->      abuse-report key (reports about our members)
    root key --HKDF(salt_v, "mentornet/v1/kek")-->  KEK version v
    KEK v   --AES-256-GCM--> each member's random data key, each node signing key's seed

The root key never touches the disk; only salts, Argon2id parameters and the check value do.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import crypto
from crypto.aead import KEY_BYTES, NONCE_BYTES
from crypto.kdf import ROOT_KEY_BYTES, SALT_BYTES
from node.config import UnlockMethod
from node.errors import UnlockFailed
from protocol.canonical import JsonValue, canonical_json

_CHECK_DOMAIN = "mentornet/v1/unlock-check"


@dataclass(frozen=True)
class UnlockSecret:
    """What the operator supplies to unlock: a passphrase, or the bytes of a key file."""

    method: UnlockMethod
    secret: bytes = field(repr=False)

    @classmethod
    def from_key_file(cls, path: Path) -> UnlockSecret:
        """Read a key file written by :func:`create_key_file`.

        Raises:
            UnlockFailed: if the file is missing, unreadable, or not a Mentornet key file.
        """
        try:
            text = path.read_text(encoding="ascii").strip()
            key = base64.b64decode(text, validate=True)
        except (OSError, UnicodeDecodeError, binascii.Error) as exc:
            raise UnlockFailed(f"{path}: cannot read the key file: {exc}") from exc
        if len(key) != ROOT_KEY_BYTES:
            raise UnlockFailed(f"{path}: not a Mentornet key file (expected 32 base64-encoded bytes)")
        return cls(UnlockMethod.KEY_FILE, key)

    @classmethod
    def from_passphrase(cls, passphrase: str) -> UnlockSecret:
        if not passphrase:
            raise UnlockFailed("the passphrase is empty")
        return cls(UnlockMethod.PASSPHRASE, passphrase.encode("utf-8"))


def create_key_file(path: Path) -> None:
    """Create a new random key file readable only by its owner (mode 0600); never overwrite one."""
    key = secrets.token_bytes(ROOT_KEY_BYTES)
    with path.open("x", encoding="ascii") as handle:
        path.chmod(0o600)
        handle.write(base64.b64encode(key).decode("ascii") + "\n")


@dataclass(frozen=True)
class UnlockRecord:
    """What is stored to unlock again: the method, KDF parameters and salts, and the check value."""

    method: UnlockMethod
    hkdf_salt: bytes
    check_value: bytes
    argon_salt: bytes | None = None
    argon_params: crypto.Argon2Params | None = None


class Keyring:
    """The unlocked root key and the keys derived from it."""

    def __init__(self, root_key: bytes, hkdf_salt: bytes) -> None:
        self._root = root_key
        self._hkdf_salt = hkdf_salt
        self.blind_index_key = crypto.derive_subkey(root_key, "blind-index", salt=hkdf_salt)
        self.audit_key = crypto.derive_subkey(root_key, "audit", salt=hkdf_salt)
        self.reports_key = crypto.derive_subkey(root_key, "reports", salt=hkdf_salt)
        self._keks: dict[tuple[int, bytes], bytes] = {}

    @classmethod
    def create(cls, secret: UnlockSecret) -> tuple[Keyring, UnlockRecord]:
        """Set up a new key hierarchy for ``secret``; return it and the record to store."""
        hkdf_salt = secrets.token_bytes(SALT_BYTES)
        argon_salt: bytes | None = None
        params: crypto.Argon2Params | None = None
        if secret.method is UnlockMethod.PASSPHRASE:
            argon_salt, params = secrets.token_bytes(SALT_BYTES), crypto.Argon2Params()
        root = _root_key(secret, argon_salt, params)
        record = UnlockRecord(secret.method, hkdf_salt, _check_value(root, hkdf_salt), argon_salt, params)
        return cls(root, hkdf_salt), record

    @classmethod
    def unlock(cls, secret: UnlockSecret, record: UnlockRecord) -> Keyring:
        """Derive the root key again and check it against the stored check value.

        Raises:
            UnlockFailed: if the secret is of the wrong kind or wrong.
        """
        if secret.method is not record.method:
            raise UnlockFailed(f"this node is unlocked with a {record.method}, not a {secret.method}")
        root = _root_key(secret, record.argon_salt, record.argon_params)
        if not crypto.digests_equal(_check_value(root, record.hkdf_salt), record.check_value):
            what = "passphrase" if secret.method is UnlockMethod.PASSPHRASE else "key file"
            raise UnlockFailed(f"wrong {what}: it does not unlock this node")
        return cls(root, record.hkdf_salt)

    def kek(self, version: int, salt: bytes) -> bytes:
        """The key-encryption key of ``version`` (derived once, then cached)."""
        cached = self._keks.get((version, salt))
        if cached is None:
            cached = crypto.derive_subkey(self._root, "kek", salt=salt)
            self._keks[(version, salt)] = cached
        return cached

    def blind_index(self, kind: str, value: str) -> bytes:
        """The keyed blind index of a normalized value (e.g. an e-mail address)."""
        return crypto.keyed_digest(self.blind_index_key, f"mentornet/v1/blind-index/{kind}", value.encode())


def new_nonce() -> bytes:
    """A fresh random AEAD nonce."""
    return secrets.token_bytes(NONCE_BYTES)


def new_data_key() -> bytes:
    """A fresh random 256-bit data key."""
    return secrets.token_bytes(KEY_BYTES)


def associated_data(**binding: JsonValue) -> bytes:
    """Canonical JSON of what a sealed value is bound to (table, row, field, key version ...)."""
    return canonical_json(binding)


def seal_value(key: bytes, plaintext: bytes, **binding: JsonValue) -> bytes:
    """Seal ``plaintext`` under ``key`` with a fresh nonce, bound to ``binding``."""
    return crypto.seal(key, plaintext, aad=associated_data(**binding), nonce=new_nonce())


def open_value(key: bytes, sealed: bytes, **binding: JsonValue) -> bytes:
    """Open a value sealed by :func:`seal_value` with the same binding (raises DecryptionFailed)."""
    return crypto.open_(key, sealed, aad=associated_data(**binding))


def _root_key(secret: UnlockSecret, argon_salt: bytes | None, params: crypto.Argon2Params | None) -> bytes:
    if secret.method is UnlockMethod.KEY_FILE:
        return secret.secret
    if argon_salt is None or params is None:
        raise UnlockFailed("the stored unlock record has no Argon2id parameters")
    return crypto.passphrase_root_key(secret.secret, argon_salt, params)


def _check_value(root: bytes, hkdf_salt: bytes) -> bytes:
    check_key = crypto.derive_subkey(root, "unlock-check", salt=hkdf_salt)
    return crypto.keyed_digest(check_key, _CHECK_DOMAIN, b"")

"""Key derivation: Argon2id for passphrases, HKDF for purpose-bound subkeys, HMAC for blind indexes."""

from __future__ import annotations

from dataclasses import dataclass

from crypto import _primitives
from crypto.errors import InvalidKey

ROOT_KEY_BYTES = 32
SALT_BYTES = 16

# RFC 9106 section 4, second recommended option, is 64 MiB with t=3; we never go below it.
MIN_MEMORY_KIB = 64 * 1024
MIN_ITERATIONS = 3


@dataclass(frozen=True)
class Argon2Params:
    """Argon2id cost parameters, stored with the node so the root key can be derived again."""

    memory_kib: int = MIN_MEMORY_KIB
    iterations: int = MIN_ITERATIONS
    lanes: int = 4

    def __post_init__(self) -> None:
        if self.memory_kib < MIN_MEMORY_KIB or self.iterations < MIN_ITERATIONS or self.lanes < 1:
            raise InvalidKey(
                f"Argon2id parameters below the floor (memory >= {MIN_MEMORY_KIB} KiB, "
                f"iterations >= {MIN_ITERATIONS}, lanes >= 1)"
            )


def passphrase_root_key(passphrase: bytes, salt: bytes, params: Argon2Params) -> bytes:
    """Derive a 32-byte root key from a passphrase with Argon2id.

    Raises:
        InvalidKey: if the passphrase is empty or the salt shorter than 16 bytes.
    """
    if not passphrase:
        raise InvalidKey("the passphrase is empty")
    if len(salt) < SALT_BYTES:
        raise InvalidKey(f"an Argon2id salt is at least {SALT_BYTES} bytes")
    return _primitives.argon2id(
        passphrase,
        salt=salt,
        memory_kib=params.memory_kib,
        iterations=params.iterations,
        lanes=params.lanes,
        length=ROOT_KEY_BYTES,
    )


def derive_subkey(root_key: bytes, purpose: str, *, salt: bytes | None = None) -> bytes:
    """Derive an independent 32-byte key for one purpose with HKDF-SHA256.

    The HKDF ``info`` is ``mentornet/v1/<purpose>``; keys for different purposes (KEK,
    blind index, audit chain) are independent even though they share a root.

    Raises:
        InvalidKey: if the root key is not 32 bytes.
    """
    if len(root_key) != ROOT_KEY_BYTES:
        raise InvalidKey(f"a root key is {ROOT_KEY_BYTES} bytes, got {len(root_key)}")
    info = f"mentornet/v1/{purpose}".encode()
    return _primitives.hkdf_sha256(root_key, salt=salt, info=info, length=ROOT_KEY_BYTES)


def keyed_digest(key: bytes, domain: str, value: bytes) -> bytes:
    """HMAC-SHA256 of ``domain || 0x00 || value``: blind indexes and authenticated hash chains.

    The same value under another domain (another field, another purpose) gives an unrelated digest.

    Raises:
        InvalidKey: if the domain contains a NUL byte (it would make the encoding ambiguous).
    """
    if "\x00" in domain:
        raise InvalidKey("a digest domain must not contain NUL")
    return _primitives.hmac_sha256(key, domain.encode() + b"\x00" + value)


def digests_equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of two digests."""
    return _primitives.constant_time_equal(a, b)

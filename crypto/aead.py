"""Authenticated encryption of small values (personal fields, wrapped keys).

Sealed format (version 1)::

    0x01 || nonce (12 bytes) || AES-256-GCM ciphertext || tag (16 bytes)

The version byte is authenticated with the caller's associated data, so a sealed value
cannot be reinterpreted under another format. The caller supplies the nonce (96 random bits
from the OS); with one key per member and few fields each, random nonces stay far below
the GCM collision bound.
"""

from __future__ import annotations

from crypto import _primitives
from crypto.errors import DecryptionFailed

NONCE_BYTES = _primitives.GCM_NONCE_BYTES
KEY_BYTES = _primitives.AES256_KEY_BYTES
_VERSION_1 = b"\x01"
OVERHEAD_BYTES = 1 + NONCE_BYTES + 16


def seal(key: bytes, plaintext: bytes, *, aad: bytes, nonce: bytes) -> bytes:
    """Encrypt and authenticate ``plaintext``, binding ``aad``.

    Args:
        key: a 32-byte key.
        plaintext: the bytes to protect.
        aad: associated data that must be presented again to open (e.g. table, row, field).
        nonce: 12 fresh random bytes; never reuse one with the same key.

    Returns:
        The sealed bytes, :data:`OVERHEAD_BYTES` longer than the plaintext.

    Raises:
        InvalidKey: if the key or nonce has the wrong length.
    """
    return _VERSION_1 + nonce + _primitives.aes256gcm_encrypt(key, nonce, plaintext, _VERSION_1 + aad)


def open_(key: bytes, sealed: bytes, *, aad: bytes) -> bytes:
    """Open bytes made by :func:`seal`.

    Raises:
        DecryptionFailed: on an unknown format, a wrong key or associated data, or tampering.
    """
    if len(sealed) < OVERHEAD_BYTES or sealed[:1] != _VERSION_1:
        raise DecryptionFailed("cannot decrypt: wrong key, wrong associated data, or tampered data")
    nonce = sealed[1 : 1 + NONCE_BYTES]
    return _primitives.aes256gcm_decrypt(key, nonce, sealed[1 + NONCE_BYTES :], _VERSION_1 + aad)

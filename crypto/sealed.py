"""Sealed sender: a message's outer layer, readable only by the recipient device, of a padded size.

The sender's identity and the ratchet message travel inside a libsodium sealed box
(``crypto_box_seal``: an ephemeral X25519 key, XSalsa20-Poly1305) addressed to the recipient
device's X25519 identity key, so the nodes that carry it learn the recipient's mailbox and a
size bucket, not who wrote. Before sealing, the payload is padded (ISO/IEC 7816-4: a 0x80 byte,
then zeros) to the smallest of :data:`BUCKETS` that holds it.
"""

from __future__ import annotations

from crypto import _primitives
from crypto.errors import DecryptionFailed, InvalidKey

BUCKETS = (1024, 4096, 16384, 65536, 131072)
SEAL_OVERHEAD = 48


def padded_size(length: int) -> int:
    """The bucket a payload of ``length`` bytes is padded to.

    Raises:
        InvalidKey: if it is longer than the largest bucket allows.
    """
    for bucket in BUCKETS:
        if length + 1 <= bucket:
            return bucket
    raise InvalidKey(f"a sealed payload holds at most {BUCKETS[-1] - 1} bytes, got {length}")


def pad(payload: bytes) -> bytes:
    return payload + b"\x80" + bytes(padded_size(len(payload)) - len(payload) - 1)


def unpad(padded: bytes) -> bytes:
    """Raises :class:`DecryptionFailed` if the padding is not well formed."""
    stripped = padded.rstrip(b"\0")
    if len(padded) not in BUCKETS or not stripped.endswith(b"\x80"):
        raise DecryptionFailed("the sealed payload is not padded correctly")
    return stripped[:-1]


def seal(recipient_public_key: bytes, payload: bytes) -> bytes:
    """Pad and seal ``payload`` to a device's X25519 key: ``bucket + 48`` bytes."""
    return _primitives.sealed_box(recipient_public_key, pad(payload))


def open_sealed(private_key: bytes, sealed: bytes) -> bytes:
    """Raises :class:`DecryptionFailed` if the box is not for this key, was altered, or is badly padded."""
    return unpad(_primitives.sealed_box_open(private_key, sealed))

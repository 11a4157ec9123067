"""Safety numbers: what two members compare (in person, on a call) to know their sessions are
not intercepted. The construction of Signal's numeric fingerprint (version 0): for each side,
``h = version (2 bytes) || identity_key || stable_id``, then 5,200 times ``h = SHA-512(h ||
identity_key)``; the first 30 bytes of ``h`` become six 5-digit groups (each 5-byte chunk,
big-endian, modulo 100,000). The two sides' 30 digits are shown in sorted order, so both
members see the same 60 digits.
"""

from __future__ import annotations

import hashlib

ITERATIONS = 5200
VERSION = b"\x00\x00"


def _side(identity_key: bytes, stable_id: str) -> str:
    digest = VERSION + identity_key + stable_id.encode()
    for _ in range(ITERATIONS):
        digest = hashlib.sha512(digest + identity_key).digest()
    return "".join(f"{int.from_bytes(digest[i : i + 5], 'big') % 100000:05d}" for i in range(0, 30, 5))


def safety_number(own_key: bytes, own_id: str, their_key: bytes, their_id: str) -> str:
    """Sixty digits in twelve groups of five, the same on both sides."""
    digits = "".join(sorted([_side(own_key, own_id), _side(their_key, their_id)]))
    return " ".join(digits[i : i + 5] for i in range(0, 60, 5))

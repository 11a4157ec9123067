"""Binary-to-text encoding used on the wire: unpadded base64url (RFC 4648 section 5)."""

from __future__ import annotations

import base64
import binascii

from protocol.errors import MalformedMessage


def b64encode(data: bytes) -> str:
    """Unpadded base64url text of ``data``."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str, *, field: str = "value") -> bytes:
    """Decode unpadded base64url, rejecting padding, other alphabets and non-canonical encodings.

    Raises:
        MalformedMessage: naming ``field`` when the text is not canonical unpadded base64url.
    """
    if not isinstance(text, str) or "=" in text:
        raise MalformedMessage(f"{field}: expected unpadded base64url text")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedMessage(f"{field}: not base64url") from exc
    if b64encode(data) != text:
        raise MalformedMessage(f"{field}: not canonical base64url")
    return data

"""Ed25519 signatures with a domain-separation context.

Every Mentornet signature covers ``context || 0x00 || message``. The context names the kind of
object (``mentornet/v1/node-document``, ``mentornet/v1/announcement`` ...), so a signature made for
one kind of object can never be replayed as another. Pure Ed25519 (RFC 8032) is used underneath;
the prefix is the domain separation because the vetted libraries do not offer Ed25519ctx.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crypto import _primitives
from crypto.errors import InvalidKey

_CONTEXT_SEPARATOR = b"\x00"


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key, held as its 32-byte seed (never shown in ``repr``)."""

    seed: bytes = field(repr=False)
    public_key: bytes = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "public_key", _primitives.ed25519_public_from_seed(self.seed))

    @property
    def key_id(self) -> str:
        """The short identifier of this key's public half (see :func:`key_id`)."""
        return key_id(self.public_key)


def signed_bytes(context: str, message: bytes) -> bytes:
    """The exact bytes an Ed25519 signature covers for ``context`` and ``message``.

    Raises:
        InvalidKey: if the context is empty, not ASCII, or contains a NUL byte.
    """
    if not context or not context.isascii() or "\x00" in context:
        raise InvalidKey("a signature context is a non-empty ASCII string without NUL")
    return context.encode("ascii") + _CONTEXT_SEPARATOR + message


def sign(key: SigningKey, context: str, message: bytes) -> bytes:
    """Sign ``message`` under ``context``.

    Args:
        key: the signer's private key.
        context: the domain-separation context, e.g. ``mentornet/v1/node-document``.
        message: the bytes to sign (for objects, their RFC 8785 canonical JSON).

    Returns:
        The 64-byte Ed25519 signature.
    """
    return _primitives.ed25519_sign(key.seed, signed_bytes(context, message))


def verify(public_key: bytes, context: str, message: bytes, signature: bytes) -> None:
    """Verify a signature made by :func:`sign`.

    Raises:
        InvalidSignature: if the signature does not verify for this key, context and message.
        InvalidKey: if the public key is not 32 bytes.
    """
    _primitives.ed25519_verify(public_key, signature, signed_bytes(context, message))


def sign_raw(key: SigningKey, message: bytes) -> bytes:
    """Sign ``message`` exactly as given, without a context prefix.

    Only for formats that define their own domain-separated signed bytes, such as the RFC 9421
    signature base (which names every covered component and carries a ``tag``). Everything else
    uses :func:`sign`.
    """
    return _primitives.ed25519_sign(key.seed, message)


def verify_raw(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Verify a signature made by :func:`sign_raw`.

    Raises:
        InvalidSignature: if it does not verify.
        InvalidKey: if the public key is not 32 bytes.
    """
    _primitives.ed25519_verify(public_key, signature, message)


def fingerprint(public_key: bytes) -> str:
    """The fingerprint operators compare out of band: ``sha256:`` and the hex SHA-256 of the raw key."""
    _check_public_key(public_key)
    return "sha256:" + _primitives.sha256(public_key).hex()


def key_id(public_key: bytes) -> str:
    """A short, stable key identifier: the first 16 hex digits of the key's SHA-256."""
    _check_public_key(public_key)
    return _primitives.sha256(public_key).hex()[:16]


def _check_public_key(public_key: bytes) -> None:
    if len(public_key) != _primitives.ED25519_PUBLIC_BYTES:
        raise InvalidKey(f"an Ed25519 public key is 32 bytes, got {len(public_key)}")

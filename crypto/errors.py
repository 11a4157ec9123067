"""Exceptions raised by :mod:`crypto`.

Every failure of one kind raises one exception, so callers cannot branch on which
internal check failed::

    CryptoError (ValueError)
      ├─ InvalidSignature   a signature does not verify (wrong key, context or bytes)
      ├─ DecryptionFailed   an AEAD open failed (wrong key, associated data, or tampering)
      └─ InvalidKey         key material has the wrong length or encoding
"""

from __future__ import annotations


class CryptoError(ValueError):
    """Base class of every error raised by the crypto package."""


class InvalidSignature(CryptoError):
    """The signature does not verify under the given key and context."""


class DecryptionFailed(CryptoError):
    """The sealed box could not be opened: wrong key, wrong associated data, or tampered bytes."""


class InvalidKey(CryptoError):
    """Key material is malformed: wrong length, wrong encoding, or unknown algorithm."""

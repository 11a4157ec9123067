"""Pure cryptographic helpers: bytes in, bytes out, no I/O, no clock, no hidden randomness.

The high-level helpers are re-exported here; raw primitives live in :mod:`crypto._primitives`.
"""

from crypto.aead import open_, seal
from crypto.errors import CryptoError, DecryptionFailed, InvalidKey, InvalidSignature
from crypto.kdf import Argon2Params, derive_subkey, digests_equal, keyed_digest, passphrase_root_key
from crypto.signing import SigningKey, fingerprint, key_id, sign, sign_raw, verify, verify_raw

__all__ = [
    "Argon2Params",
    "CryptoError",
    "DecryptionFailed",
    "InvalidKey",
    "InvalidSignature",
    "SigningKey",
    "derive_subkey",
    "digests_equal",
    "fingerprint",
    "key_id",
    "keyed_digest",
    "open_",
    "passphrase_root_key",
    "seal",
    "sign",
    "sign_raw",
    "verify",
    "verify_raw",
]

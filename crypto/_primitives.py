"""Raw primitives from vetted libraries, in one place.

Nothing here adds a construction of its own: each function is a thin, typed call into
``cryptography`` or PyNaCl (libsodium). The hard-to-misuse helpers in the sibling modules are built on these.
"""

from __future__ import annotations

import hashlib
import hmac

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from crypto.errors import DecryptionFailed, InvalidKey, InvalidSignature

ED25519_SEED_BYTES = 32
ED25519_PUBLIC_BYTES = 32
ED25519_SIGNATURE_BYTES = 64
AES256_KEY_BYTES = 32
GCM_NONCE_BYTES = 12


def ed25519_public_from_seed(seed: bytes) -> bytes:
    """Return the raw 32-byte public key of a 32-byte Ed25519 seed."""
    private = _ed25519_private(seed)
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    """Sign ``message`` with the Ed25519 key whose seed is ``seed`` (RFC 8032, pure Ed25519)."""
    return _ed25519_private(seed).sign(message)


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> None:
    """Verify an Ed25519 signature; raise :class:`InvalidSignature` on any failure.

    Verification uses libsodium (PyNaCl): on this machine it verifies about twice as fast as
    OpenSSL through ``cryptography``, and it also refuses small-order public keys and
    non-canonical signatures. Signing stays with ``cryptography``; Ed25519 is deterministic,
    so both produce and accept the same bytes (tests check each against the other).
    """
    if len(public_key) != ED25519_PUBLIC_BYTES:
        raise InvalidKey(f"an Ed25519 public key is {ED25519_PUBLIC_BYTES} bytes, got {len(public_key)}")
    if len(signature) != ED25519_SIGNATURE_BYTES:
        raise InvalidSignature("signature does not verify")
    try:
        nacl.bindings.crypto_sign_open(signature + message, public_key)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise InvalidSignature("signature does not verify") from exc


def _ed25519_private(seed: bytes) -> Ed25519PrivateKey:
    if len(seed) != ED25519_SEED_BYTES:
        raise InvalidKey(f"an Ed25519 seed is {ED25519_SEED_BYTES} bytes, got {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def aes256gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM encryption; returns ciphertext with the 16-byte tag appended."""
    _check_aead_inputs(key, nonce)
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aes256gcm_decrypt(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM decryption; raise :class:`DecryptionFailed` on a bad tag."""
    _check_aead_inputs(key, nonce)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag as exc:
        raise DecryptionFailed("cannot decrypt: wrong key, wrong associated data, or tampered data") from exc


def _check_aead_inputs(key: bytes, nonce: bytes) -> None:
    if len(key) != AES256_KEY_BYTES:
        raise InvalidKey(f"an AES-256 key is {AES256_KEY_BYTES} bytes, got {len(key)}")
    if len(nonce) != GCM_NONCE_BYTES:
        raise InvalidKey(f"an AES-GCM nonce is {GCM_NONCE_BYTES} bytes, got {len(nonce)}")


def hkdf_sha256(ikm: bytes, *, salt: bytes | None, info: bytes, length: int) -> bytes:
    """HKDF-SHA256 (RFC 5869)."""
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=info).derive(ikm)


def argon2id(
    password: bytes,
    *,
    salt: bytes,
    memory_kib: int,
    iterations: int,
    lanes: int,
    length: int,
    secret: bytes | None = None,
    associated_data: bytes | None = None,
) -> bytes:
    """Argon2id (RFC 9106) from ``cryptography``."""
    kdf = Argon2id(
        salt=salt,
        length=length,
        iterations=iterations,
        lanes=lanes,
        memory_cost=memory_kib,
        ad=associated_data,
        secret=secret,
    )
    return kdf.derive(password)


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104)."""
    return hmac.new(key, message, hashlib.sha256).digest()


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two byte strings without leaking where they differ."""
    return hmac.compare_digest(a, b)


def sha256(data: bytes) -> bytes:
    """SHA-256 digest."""
    return hashlib.sha256(data).digest()

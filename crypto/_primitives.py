"""Raw primitives from vetted libraries, in one place.

Nothing here adds a construction of its own: each function is a thin, typed call into
``cryptography`` or PyNaCl (libsodium). The hard-to-misuse helpers in the sibling modules are built on these.
"""

from __future__ import annotations

import hashlib
import hmac

import nacl.bindings
import nacl.exceptions
from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.mlkem import MLKEM768PrivateKey, MLKEM768PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
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
X25519_BYTES = 32
MLKEM768_SEED_BYTES = 64
MLKEM768_PUBLIC_BYTES = 1184
MLKEM768_CIPHERTEXT_BYTES = 1088


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


def x25519_public_from_private(private_key: bytes) -> bytes:
    """The raw 32-byte X25519 public key of a raw 32-byte private key (RFC 7748)."""
    return _x25519_private(private_key).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def x25519(private_key: bytes, public_key: bytes) -> bytes:
    """X25519 Diffie-Hellman (RFC 7748). Raises :class:`InvalidKey` on a malformed key or a
    small-order public key (an all-zero shared secret)."""
    if len(public_key) != X25519_BYTES:
        raise InvalidKey(f"an X25519 public key is {X25519_BYTES} bytes, got {len(public_key)}")
    try:
        return _x25519_private(private_key).exchange(X25519PublicKey.from_public_bytes(public_key))
    except ValueError as exc:  # cryptography refuses an all-zero result
        raise InvalidKey("X25519 with a small-order public key") from exc


def _x25519_private(private_key: bytes) -> X25519PrivateKey:
    if len(private_key) != X25519_BYTES:
        raise InvalidKey(f"an X25519 private key is {X25519_BYTES} bytes, got {len(private_key)}")
    return X25519PrivateKey.from_private_bytes(private_key)


def mlkem768_public_from_seed(seed: bytes) -> bytes:
    """The 1,184-byte ML-KEM-768 encapsulation key of a 64-byte seed (FIPS 203 ``d || z``)."""
    return _mlkem768_private(seed).public_key().public_bytes_raw()


def mlkem768_encapsulate(public_key: bytes) -> tuple[bytes, bytes]:
    """ML-KEM-768 encapsulation (FIPS 203): ``(shared_secret, ciphertext)``, 32 and 1,088 bytes."""
    if len(public_key) != MLKEM768_PUBLIC_BYTES:
        raise InvalidKey(f"an ML-KEM-768 public key is {MLKEM768_PUBLIC_BYTES} bytes, got {len(public_key)}")
    try:
        return MLKEM768PublicKey.from_public_bytes(public_key).encapsulate()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidKey("not a valid ML-KEM-768 public key") from exc


def mlkem768_decapsulate(seed: bytes, ciphertext: bytes) -> bytes:
    """ML-KEM-768 decapsulation (FIPS 203). A tampered ciphertext yields an unrelated secret
    (implicit rejection), never an error; a ciphertext of the wrong length is refused."""
    if len(ciphertext) != MLKEM768_CIPHERTEXT_BYTES:
        raise InvalidKey(f"an ML-KEM-768 ciphertext is {MLKEM768_CIPHERTEXT_BYTES} bytes, got {len(ciphertext)}")
    return _mlkem768_private(seed).decapsulate(ciphertext)


def _mlkem768_private(seed: bytes) -> MLKEM768PrivateKey:
    if len(seed) != MLKEM768_SEED_BYTES:
        raise InvalidKey(f"an ML-KEM-768 seed is {MLKEM768_SEED_BYTES} bytes, got {len(seed)}")
    return MLKEM768PrivateKey.from_seed_bytes(seed)


def sealed_box(recipient_public_key: bytes, plaintext: bytes) -> bytes:
    """libsodium's ``crypto_box_seal``: anonymous encryption to an X25519 public key (an ephemeral
    key, X25519, XSalsa20-Poly1305); 48 bytes longer than the plaintext."""
    if len(recipient_public_key) != X25519_BYTES:
        raise InvalidKey(f"an X25519 public key is {X25519_BYTES} bytes, got {len(recipient_public_key)}")
    return nacl.bindings.crypto_box_seal(plaintext, recipient_public_key)


def sealed_box_open(private_key: bytes, sealed: bytes) -> bytes:
    """Open a ``crypto_box_seal`` box; :class:`DecryptionFailed` on any failure."""
    public_key = x25519_public_from_private(private_key)
    try:
        return nacl.bindings.crypto_box_seal_open(sealed, public_key, private_key)
    except (nacl.exceptions.CryptoError, nacl.exceptions.ValueError, nacl.exceptions.TypeError) as exc:
        raise DecryptionFailed("the sealed box could not be opened") from exc

"""Raw primitives against the official RFC vectors in ``tests/vectors``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from crypto import _primitives
from crypto.errors import DecryptionFailed, InvalidKey, InvalidSignature

VECTORS_DIR = Path(__file__).resolve().parent.parent / "vectors"


def load_vectors(file_name: str) -> list[dict[str, Any]]:
    """The ``vectors`` list of one JSON vector file in ``tests/vectors``."""
    document = json.loads((VECTORS_DIR / file_name).read_text(encoding="utf-8"))
    vectors: list[dict[str, Any]] = document["vectors"]
    assert vectors, f"{file_name} holds no vectors"
    return vectors


ED25519 = load_vectors("ed25519_rfc8032.json")
HKDF = load_vectors("hkdf_rfc5869.json")
ARGON2ID = load_vectors("argon2id_rfc9106.json")


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [vector["name"] for vector in vectors]


def _flip_bit(data: bytes, bit: int) -> bytes:
    flipped = bytearray(data)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


# --- Ed25519 (RFC 8032 section 7.1) -------------------------------------------------------------


@pytest.mark.parametrize("vector", ED25519, ids=_ids(ED25519))
def test_ed25519_public_key_is_derived_from_the_rfc8032_seed(vector: dict[str, Any]) -> None:
    public_key = _primitives.ed25519_public_from_seed(bytes.fromhex(vector["secret_key"]))

    assert public_key.hex() == vector["public_key"]


@pytest.mark.parametrize("vector", ED25519, ids=_ids(ED25519))
def test_ed25519_signature_reproduces_the_rfc8032_signature(vector: dict[str, Any]) -> None:
    seed, message = bytes.fromhex(vector["secret_key"]), bytes.fromhex(vector["message"])

    signature = _primitives.ed25519_sign(seed, message)

    assert signature.hex() == vector["signature"]


@pytest.mark.parametrize("vector", ED25519, ids=_ids(ED25519))
def test_ed25519_verify_accepts_the_rfc8032_signature(vector: dict[str, Any]) -> None:
    _primitives.ed25519_verify(
        bytes.fromhex(vector["public_key"]),
        bytes.fromhex(vector["signature"]),
        bytes.fromhex(vector["message"]),
    )


@pytest.mark.parametrize("bit", [0, 255, 256, 511], ids=["R-first", "R-last", "S-first", "S-last"])
@pytest.mark.parametrize("vector", ED25519, ids=_ids(ED25519))
def test_ed25519_signature_with_a_flipped_bit_is_rejected(vector: dict[str, Any], bit: int) -> None:
    signature = _flip_bit(bytes.fromhex(vector["signature"]), bit)

    with pytest.raises(InvalidSignature):
        _primitives.ed25519_verify(bytes.fromhex(vector["public_key"]), signature, bytes.fromhex(vector["message"]))


NONEMPTY_MESSAGES = [vector for vector in ED25519 if vector["message"]]


@pytest.mark.parametrize("vector", NONEMPTY_MESSAGES, ids=_ids(NONEMPTY_MESSAGES))
def test_ed25519_signature_over_a_message_with_a_flipped_bit_is_rejected(vector: dict[str, Any]) -> None:
    message = _flip_bit(bytes.fromhex(vector["message"]), 0)

    with pytest.raises(InvalidSignature):
        _primitives.ed25519_verify(bytes.fromhex(vector["public_key"]), bytes.fromhex(vector["signature"]), message)


def test_ed25519_signature_of_the_wrong_length_is_rejected_as_invalid_signature() -> None:
    vector = ED25519[0]

    with pytest.raises(InvalidSignature):
        _primitives.ed25519_verify(bytes.fromhex(vector["public_key"]), bytes.fromhex(vector["signature"])[:-1], b"")


@pytest.mark.parametrize("length", [0, 31, 33])
def test_ed25519_seed_of_the_wrong_length_is_an_invalid_key(length: int) -> None:
    with pytest.raises(InvalidKey, match="32 bytes"):
        _primitives.ed25519_public_from_seed(bytes(length))


# --- HKDF-SHA256 (RFC 5869 appendix A) ----------------------------------------------------------


@pytest.mark.parametrize("vector", HKDF, ids=_ids(HKDF))
def test_hkdf_sha256_matches_rfc5869(vector: dict[str, Any]) -> None:
    okm = _primitives.hkdf_sha256(
        bytes.fromhex(vector["ikm"]),
        salt=bytes.fromhex(vector["salt"]),
        info=bytes.fromhex(vector["info"]),
        length=vector["length"],
    )

    assert okm.hex() == vector["okm"]


def test_hkdf_sha256_without_salt_equals_the_rfc5869_zero_length_salt_case() -> None:
    (vector,) = [vector for vector in HKDF if vector["salt"] == ""]

    okm = _primitives.hkdf_sha256(bytes.fromhex(vector["ikm"]), salt=None, info=b"", length=vector["length"])

    assert okm.hex() == vector["okm"]


# --- Argon2id (RFC 9106 section 5.3) ------------------------------------------------------------


@pytest.mark.parametrize("vector", ARGON2ID, ids=_ids(ARGON2ID))
def test_argon2id_matches_rfc9106_with_secret_and_associated_data(vector: dict[str, Any]) -> None:
    tag = _primitives.argon2id(
        bytes.fromhex(vector["password"]),
        salt=bytes.fromhex(vector["salt"]),
        memory_kib=vector["memory_kib"],
        iterations=vector["iterations"],
        lanes=vector["lanes"],
        length=vector["tag_length"],
        secret=bytes.fromhex(vector["secret"]),
        associated_data=bytes.fromhex(vector["associated_data"]),
    )

    assert tag.hex() == vector["tag"]


# --- X25519 (RFC 7748 sections 5.2 and 6.1) -----------------------------------------------------

X25519_VECTORS = json.loads((VECTORS_DIR / "x25519_rfc7748.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("vector", X25519_VECTORS["x25519"], ids=_ids(X25519_VECTORS["x25519"]))
def test_x25519_matches_rfc7748_section_5_2(vector: dict[str, str]) -> None:
    output = _primitives.x25519(bytes.fromhex(vector["scalar"]), bytes.fromhex(vector["u_coordinate"]))
    assert output.hex() == vector["output"]


def test_x25519_iterated_matches_rfc7748_section_5_2() -> None:
    iterated = X25519_VECTORS["x25519_iterated"]
    k = u = bytes.fromhex(iterated["initial_k"])
    for round_ in range(1, 1001):
        k, u = _primitives.x25519(k, u), k
        if round_ == 1:
            assert k.hex() == iterated["after_1_iteration"]
    assert k.hex() == iterated["after_1000_iterations"]


def test_x25519_diffie_hellman_matches_rfc7748_section_6_1() -> None:
    dh = X25519_VECTORS["diffie_hellman"]
    alice, bob = bytes.fromhex(dh["alice_private"]), bytes.fromhex(dh["bob_private"])
    assert _primitives.x25519_public_from_private(alice).hex() == dh["alice_public"]
    assert _primitives.x25519_public_from_private(bob).hex() == dh["bob_public"]
    assert _primitives.x25519(alice, bytes.fromhex(dh["bob_public"])).hex() == dh["shared_secret"]
    assert _primitives.x25519(bob, bytes.fromhex(dh["alice_public"])).hex() == dh["shared_secret"]


def test_x25519_refuses_a_small_order_public_key_and_wrong_lengths() -> None:
    with pytest.raises(InvalidKey):
        _primitives.x25519(bytes(range(32)), bytes(32))  # the point of order 1 gives an all-zero secret
    with pytest.raises(InvalidKey):
        _primitives.x25519(bytes(31), bytes(32))
    with pytest.raises(InvalidKey):
        _primitives.x25519(bytes(32), bytes(33))


# --- ML-KEM-768 (FIPS 203) ----------------------------------------------------------------------

MLKEM768 = load_vectors("mlkem768_cctv.json")


@pytest.mark.parametrize("vector", MLKEM768, ids=_ids(MLKEM768))
def test_mlkem768_key_from_seed_matches_the_fips203_vector(vector: dict[str, str]) -> None:
    public_key = _primitives.mlkem768_public_from_seed(bytes.fromhex(vector["d"] + vector["z"]))
    assert public_key.hex().startswith(vector["ek_prefix"])
    assert hashlib.sha3_256(public_key).hexdigest() == vector["ek_sha3_256"]


@pytest.mark.parametrize("vector", MLKEM768, ids=_ids(MLKEM768))
def test_mlkem768_decapsulation_matches_the_fips203_vector(vector: dict[str, str]) -> None:
    secret = _primitives.mlkem768_decapsulate(bytes.fromhex(vector["d"] + vector["z"]), bytes.fromhex(vector["c"]))
    assert secret.hex() == vector["K"]


def test_mlkem768_encapsulated_secret_is_the_decapsulated_one() -> None:
    seed = bytes(range(64))
    public_key = _primitives.mlkem768_public_from_seed(seed)
    assert len(public_key) == _primitives.MLKEM768_PUBLIC_BYTES
    secret, ciphertext = _primitives.mlkem768_encapsulate(public_key)
    assert len(secret) == 32 and len(ciphertext) == _primitives.MLKEM768_CIPHERTEXT_BYTES
    assert _primitives.mlkem768_decapsulate(seed, ciphertext) == secret


def test_mlkem768_keys_are_deterministic_in_the_seed() -> None:
    assert _primitives.mlkem768_public_from_seed(bytes(64)) == _primitives.mlkem768_public_from_seed(bytes(64))
    assert _primitives.mlkem768_public_from_seed(bytes(64)) != _primitives.mlkem768_public_from_seed(b"\1" * 64)


def test_mlkem768_tampered_ciphertext_gives_an_unrelated_secret() -> None:
    seed = bytes(range(64))
    secret, ciphertext = _primitives.mlkem768_encapsulate(_primitives.mlkem768_public_from_seed(seed))
    assert _primitives.mlkem768_decapsulate(seed, _flip_bit(ciphertext, 100)) != secret


def test_mlkem768_refuses_wrong_lengths() -> None:
    with pytest.raises(InvalidKey):
        _primitives.mlkem768_encapsulate(bytes(1183))
    with pytest.raises(InvalidKey):
        _primitives.mlkem768_decapsulate(bytes(64), bytes(1087))
    with pytest.raises(InvalidKey):
        _primitives.mlkem768_public_from_seed(bytes(32))


# --- Sealed boxes (libsodium crypto_box_seal) ---------------------------------------------------


def test_sealed_box_opens_only_with_the_recipients_key() -> None:
    recipient, other = bytes(range(32)), bytes(range(1, 33))
    sealed = _primitives.sealed_box(_primitives.x25519_public_from_private(recipient), b"for you")
    assert len(sealed) == len(b"for you") + 48
    assert _primitives.sealed_box_open(recipient, sealed) == b"for you"
    with pytest.raises(DecryptionFailed):
        _primitives.sealed_box_open(other, sealed)
    with pytest.raises(DecryptionFailed):
        _primitives.sealed_box_open(recipient, _flip_bit(sealed, 8 * 40))

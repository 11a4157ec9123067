"""Key derivation: Argon2id root keys, HKDF subkeys, keyed digests (crypto.kdf).

Argon2id at the 64 MiB floor costs about 0.2 s per call, so the root key for the reference
passphrase and salt is derived once per module.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import Argon2Params, InvalidKey, derive_subkey, digests_equal, keyed_digest, passphrase_root_key
from crypto.kdf import MIN_ITERATIONS, MIN_MEMORY_KIB

PASSPHRASE = b"correct horse battery staple"
SALT = bytes(range(16))
OTHER_SALT = bytes(range(1, 17))
ROOT_KEY = bytes(range(32))


@pytest.fixture(scope="module")
def params() -> Argon2Params:
    return Argon2Params()


@pytest.fixture(scope="module")
def reference_root_key(params: Argon2Params) -> bytes:
    return passphrase_root_key(PASSPHRASE, SALT, params)


# --- Argon2Params ------------------------------------------------------------------------------


def test_default_argon2_params_are_the_floor() -> None:
    params = Argon2Params()

    assert (params.memory_kib, params.iterations) == (64 * 1024, 3)


def test_argon2_params_refuse_memory_below_64_mib() -> None:
    with pytest.raises(InvalidKey, match="below the floor"):
        Argon2Params(memory_kib=MIN_MEMORY_KIB - 1)


def test_argon2_params_refuse_fewer_than_3_iterations() -> None:
    with pytest.raises(InvalidKey, match="below the floor"):
        Argon2Params(iterations=MIN_ITERATIONS - 1)


def test_argon2_params_refuse_zero_lanes() -> None:
    with pytest.raises(InvalidKey, match="below the floor"):
        Argon2Params(lanes=0)


def test_argon2_params_accept_costs_above_the_floor() -> None:
    params = Argon2Params(memory_kib=2 * MIN_MEMORY_KIB, iterations=MIN_ITERATIONS + 1, lanes=1)

    assert params.memory_kib == 2 * MIN_MEMORY_KIB


# --- passphrase_root_key -----------------------------------------------------------------------


def test_root_key_is_32_bytes(reference_root_key: bytes) -> None:
    assert len(reference_root_key) == 32


def test_root_key_is_deterministic_for_the_same_passphrase_and_salt(
    params: Argon2Params, reference_root_key: bytes
) -> None:
    assert passphrase_root_key(PASSPHRASE, SALT, params) == reference_root_key


def test_root_key_differs_for_a_different_salt(params: Argon2Params, reference_root_key: bytes) -> None:
    assert passphrase_root_key(PASSPHRASE, OTHER_SALT, params) != reference_root_key


def test_root_key_refuses_an_empty_passphrase(params: Argon2Params) -> None:
    with pytest.raises(InvalidKey, match="passphrase"):
        passphrase_root_key(b"", SALT, params)


@pytest.mark.parametrize("length", [0, 8, 15])
def test_root_key_refuses_a_salt_shorter_than_16_bytes(params: Argon2Params, length: int) -> None:
    with pytest.raises(InvalidKey, match="salt"):
        passphrase_root_key(PASSPHRASE, bytes(length), params)


# --- derive_subkey -----------------------------------------------------------------------------


def test_subkey_is_32_bytes() -> None:
    assert len(derive_subkey(ROOT_KEY, "kek")) == 32


def test_subkey_is_deterministic() -> None:
    assert derive_subkey(ROOT_KEY, "kek") == derive_subkey(ROOT_KEY, "kek")


def test_subkeys_differ_per_purpose() -> None:
    assert derive_subkey(ROOT_KEY, "kek") != derive_subkey(ROOT_KEY, "audit")


def test_subkeys_differ_per_salt() -> None:
    assert derive_subkey(ROOT_KEY, "kek", salt=SALT) != derive_subkey(ROOT_KEY, "kek", salt=OTHER_SALT)


def test_subkey_with_a_salt_differs_from_the_unsalted_subkey() -> None:
    assert derive_subkey(ROOT_KEY, "kek", salt=SALT) != derive_subkey(ROOT_KEY, "kek")


def test_subkeys_differ_per_root_key() -> None:
    assert derive_subkey(ROOT_KEY, "kek") != derive_subkey(bytes(32), "kek")


def test_subkey_is_hkdf_sha256_with_mentornet_v1_purpose_info() -> None:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=SALT, info=b"mentornet/v1/kek")
    expected = hkdf.derive(ROOT_KEY)

    assert derive_subkey(ROOT_KEY, "kek", salt=SALT) == expected


@pytest.mark.parametrize("length", [0, 16, 31, 33])
def test_subkey_refuses_a_root_key_of_the_wrong_length(length: int) -> None:
    with pytest.raises(InvalidKey, match="root key"):
        derive_subkey(bytes(length), "kek")


# --- keyed_digest and digests_equal ------------------------------------------------------------


def test_keyed_digest_is_deterministic() -> None:
    assert keyed_digest(ROOT_KEY, "email", b"ada@example.org") == keyed_digest(ROOT_KEY, "email", b"ada@example.org")


def test_keyed_digest_differs_per_domain() -> None:
    assert keyed_digest(ROOT_KEY, "email", b"ada@example.org") != keyed_digest(ROOT_KEY, "name", b"ada@example.org")


def test_keyed_digest_differs_per_key() -> None:
    assert keyed_digest(ROOT_KEY, "email", b"ada@example.org") != keyed_digest(bytes(32), "email", b"ada@example.org")


def test_keyed_digest_separates_domain_from_value() -> None:
    assert keyed_digest(ROOT_KEY, "ab", b"c") != keyed_digest(ROOT_KEY, "a", b"bc")


def test_keyed_digest_is_32_bytes() -> None:
    assert len(keyed_digest(ROOT_KEY, "email", b"")) == 32


def test_equal_digests_compare_equal() -> None:
    digest = keyed_digest(ROOT_KEY, "email", b"ada@example.org")

    assert digests_equal(digest, bytes(digest))


def test_different_digests_compare_unequal() -> None:
    assert not digests_equal(keyed_digest(ROOT_KEY, "email", b"a"), keyed_digest(ROOT_KEY, "email", b"b"))

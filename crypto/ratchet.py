"""The Double Ratchet for a session, carried by the maintained ``doubleratchet`` library.

Configuration (the library's "recommended" building blocks, all on ``cryptography``):
root chain HKDF-SHA256 with info ``mentornet/v1/ratchet-root``; message chains HMAC-SHA256 with the
constant ``0x01 0x02``; messages AES-256-CBC + HMAC-SHA256 keyed by HKDF-SHA256 with info
``mentornet/v1/ratchet-message`` (Signal's construction); X25519 ratchet keys. At most
:data:`MAX_SKIPPED` message keys are kept for late messages, and a header that would skip more
than :data:`MAX_SKIP_AT_ONCE` in one chain is refused. The library keeps a decryption's state
changes only when the message authenticates, so a tampered message leaves the session as it was.

Wire form of a ratchet message: ``0x01 || ratchet_pub (32) || previous_chain_length (u32 BE) ||
message_number (u32 BE) || ciphertext``.
"""

from __future__ import annotations

import json
import struct
from typing import Any

from doubleratchet import DoubleRatchet, EncryptedMessage, Header
from doubleratchet.aead import AuthenticationFailedException, DecryptionFailedException
from doubleratchet.diffie_hellman_ratchet import DoSProtectionException, DuplicateMessageException
from doubleratchet.recommended import (
    HashFunction,
    aead_aes_hmac,
    diffie_hellman_ratchet_curve25519,
    kdf_hkdf,
    kdf_separate_hmacs,
)

from crypto.errors import CryptoError, DecryptionFailed

MAX_SKIPPED = 1000
MAX_SKIP_AT_ONCE = 500
MESSAGE_VERSION = 1
_HEADER = struct.Struct(">B32sII")
_CHAIN_CONSTANT = b"\x01\x02"


class DuplicateMessage(CryptoError):
    """The message was already decrypted: its key is gone."""


class TooManySkipped(CryptoError):
    """The message claims more skipped messages than a session keeps keys for."""


class _RootKdf(kdf_hkdf.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return b"mentornet/v1/ratchet-root"


class _ChainKdf(kdf_separate_hmacs.KDF):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256


class _MessageAead(aead_aes_hmac.AEAD):
    @staticmethod
    def _get_hash_function() -> HashFunction:
        return HashFunction.SHA_256

    @staticmethod
    def _get_info() -> bytes:
        return b"mentornet/v1/ratchet-message"


class _DhRatchet(diffie_hellman_ratchet_curve25519.DiffieHellmanRatchet):
    pass


class _Ratchet(DoubleRatchet):
    @staticmethod
    def _build_associated_data(associated_data: bytes, header: Header) -> bytes:
        """The session's associated data (length-prefixed) followed by the message's wire header."""
        return struct.pack(">I", len(associated_data)) + associated_data + _encode_header(header)


_CONFIG: dict[str, Any] = {
    "diffie_hellman_ratchet_class": _DhRatchet,
    "root_chain_kdf": _RootKdf,
    "message_chain_kdf": _ChainKdf,
    "message_chain_constant": _CHAIN_CONSTANT,
    "dos_protection_threshold": MAX_SKIP_AT_ONCE,
    "max_num_skipped_message_keys": MAX_SKIPPED,
    "aead": _MessageAead,
}


class Session:
    """One direction-agnostic Double Ratchet session between two devices."""

    def __init__(self, ratchet: _Ratchet, associated_data: bytes) -> None:
        self._ratchet = ratchet
        self._associated_data = associated_data

    @classmethod
    async def initiate(
        cls, shared_secret: bytes, associated_data: bytes, recipient_ratchet_key: bytes, plaintext: bytes
    ) -> tuple[Session, bytes]:
        """Start as the initiator (the recipient's signed pre-key is its first ratchet key);
        return the session and the first message."""
        ratchet, message = await _Ratchet.encrypt_initial_message(
            **_CONFIG,
            shared_secret=shared_secret,
            recipient_ratchet_pub=recipient_ratchet_key,
            message=plaintext,
            associated_data=associated_data,
        )
        return cls(ratchet, associated_data), encode_message(message)

    @classmethod
    async def accept(
        cls, shared_secret: bytes, associated_data: bytes, own_ratchet_private: bytes, first_message: bytes
    ) -> tuple[Session, bytes]:
        """Start as the responder from the initiator's first message; return the session and its plaintext.

        Raises:
            DecryptionFailed: if the message does not authenticate (nothing is kept).
        """
        try:
            ratchet, plaintext = await _Ratchet.decrypt_initial_message(
                **_CONFIG,
                shared_secret=shared_secret,
                own_ratchet_priv=own_ratchet_private,
                message=decode_message(first_message),
                associated_data=associated_data,
            )
        except (AuthenticationFailedException, DecryptionFailedException, DoSProtectionException, ValueError) as exc:
            # ValueError: the library refuses a malformed ratchet key (e.g. one of small order).
            raise DecryptionFailed("the first message of the session does not decrypt") from exc
        return cls(ratchet, associated_data), plaintext

    async def encrypt(self, plaintext: bytes) -> bytes:
        return encode_message(await self._ratchet.encrypt_message(plaintext, self._associated_data))

    async def decrypt(self, message: bytes) -> bytes:
        """Decrypt a message of this session, in any order.

        Raises:
            DecryptionFailed: if it does not authenticate (the session is unchanged).
            DuplicateMessage: if it was decrypted before.
            TooManySkipped: if it would skip more messages than the session keeps keys for.
        """
        try:
            return await self._ratchet.decrypt_message(decode_message(message), self._associated_data)
        except DuplicateMessageException as exc:
            raise DuplicateMessage("this message was already received") from exc
        except DoSProtectionException as exc:
            raise TooManySkipped(f"the message skips more than {MAX_SKIP_AT_ONCE} messages") from exc
        except (AuthenticationFailedException, DecryptionFailedException, ValueError) as exc:
            raise DecryptionFailed("the message does not decrypt in this session") from exc

    def to_json(self) -> str:
        """The whole state (secret keys included: store it only encrypted)."""
        return json.dumps({"ratchet": self._ratchet.json, "ad": self._associated_data.hex()})

    @classmethod
    def from_json(cls, text: str) -> Session:
        state = json.loads(text)
        ratchet = _Ratchet.from_json(
            state["ratchet"],
            _CONFIG["diffie_hellman_ratchet_class"],
            _CONFIG["root_chain_kdf"],
            _CONFIG["message_chain_kdf"],
            _CONFIG["message_chain_constant"],
            _CONFIG["dos_protection_threshold"],
            _CONFIG["max_num_skipped_message_keys"],
            _CONFIG["aead"],
        )
        return cls(ratchet, bytes.fromhex(state["ad"]))


def encode_message(message: EncryptedMessage) -> bytes:
    return _encode_header(message.header) + message.ciphertext


def _encode_header(header: Header) -> bytes:
    return _HEADER.pack(
        MESSAGE_VERSION, header.ratchet_pub, header.previous_sending_chain_length, header.sending_chain_length
    )


def decode_message(data: bytes) -> EncryptedMessage:
    """Raises :class:`DecryptionFailed` on a message too short or of an unknown version."""
    if len(data) <= _HEADER.size:
        raise DecryptionFailed("a ratchet message is longer than its header")
    version, ratchet_pub, previous, number = _HEADER.unpack_from(data)
    if version != MESSAGE_VERSION:
        raise DecryptionFailed(f"unknown ratchet message version {version}")
    return EncryptedMessage(Header(ratchet_pub, previous, number), data[_HEADER.size :])

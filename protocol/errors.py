"""Exceptions raised by :mod:`protocol`; each carries a stable :class:`ErrorCode` for the wire.

::

    ProtocolError (ValueError)
      ├─ MalformedMessage   not valid JSON, wrong shape, float or oversized integer, bad field
      ├─ BadSignature       signature missing, unknown key, or does not verify
      ├─ BadDigest          the Content-Digest does not match the body (RFC 9530)
      ├─ StaleMessage       ``created`` outside the allowed clock skew, or expired
      ├─ StaleSequence      an announcement whose ``seq`` is not newer than the stored one
      ├─ InvalidField       a member-supplied field fails validation (e-mail, time zone, length)
      ├─ AuditChainBroken   an audit-log entry was edited, removed or reordered
      └─ IllegalTransition  a mentorship-lifecycle move not allowed now, or not for this actor
"""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable error codes, used in JSON error bodies and CLI ``--json`` output."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    INVALID_FIELD = "invalid_field"
    BAD_DIGEST = "bad_digest"
    STALE = "stale"
    STALE_SEQUENCE = "stale_sequence"
    AUDIT_CHAIN_BROKEN = "audit_chain_broken"
    ILLEGAL_TRANSITION = "illegal_transition"


class ProtocolError(ValueError):
    """Base class of protocol errors."""

    code: ErrorCode = ErrorCode.MALFORMED


class MalformedMessage(ProtocolError):
    """The object does not have the shape the protocol requires."""

    code = ErrorCode.MALFORMED


class BadSignature(ProtocolError):
    """The object's signature is missing, made by an unknown key, or does not verify."""

    code = ErrorCode.BAD_SIGNATURE


class BadDigest(ProtocolError):
    """The body does not match its Content-Digest, or no supported digest was given."""

    code = ErrorCode.BAD_DIGEST


class StaleMessage(ProtocolError):
    """The message was created outside the allowed clock skew, or has expired."""

    code = ErrorCode.STALE


class StaleSequence(ProtocolError):
    """An announcement's ``seq`` is not greater than the one already stored."""

    code = ErrorCode.STALE_SEQUENCE


class InvalidField(ProtocolError):
    """A field value fails validation; the message names the field."""

    code = ErrorCode.INVALID_FIELD

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


class AuditChainBroken(ProtocolError):
    """The audit chain does not verify at ``seq``."""

    code = ErrorCode.AUDIT_CHAIN_BROKEN

    def __init__(self, seq: int, problem: str) -> None:
        super().__init__(f"audit log broken at entry {seq}: {problem}")
        self.seq = seq


class IllegalTransition(ProtocolError):
    """A lifecycle move not allowed from this state, for this actor, or at this time."""

    code = ErrorCode.ILLEGAL_TRANSITION

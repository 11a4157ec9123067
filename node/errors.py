"""Exceptions raised by :mod:`node`; each has a stable ``code`` for CLI ``--json`` and HTTP bodies.

::

    NodeError
      ├─ ConfigError          the config file is missing, unreadable or invalid (names the file)
      ├─ NodeExists           ``init`` or ``restore`` would overwrite an existing node
      ├─ NodeNotInitialised   no node in the data directory
      ├─ UnlockFailed         wrong passphrase or key file; nothing was touched
      ├─ StorageError         the database is unreachable, corrupted, or of an unknown schema
      │    └─ SchemaMismatch  the schema revision is not the one this version runs on
      ├─ NotFound             no such member (or other object)
      ├─ Conflict             the change contradicts stored state (e.g. e-mail already a member)
      ├─ BackupError          a backup file is unreadable, corrupted, or of an unknown format
      ├─ InvalidInvite        an invite code is unknown, used or expired
      ├─ Unauthorized         a client request without a valid access token
      ├─ PeerError            a remote node failed us (never passed on as our own failure)
      │    ├─ PeerUnreachable     no answer in time, or the connection failed
      │    └─ PeerRefused         it answered with an error, or a response that does not verify
      └─ RequestRejected      an inbound request is refused (carries its HTTP status and code)
"""

from __future__ import annotations


class NodeError(Exception):
    """Base class of node errors."""

    code = "node_error"


class ConfigError(NodeError):
    code = "config_error"


class NodeExists(NodeError):
    code = "node_exists"


class NodeNotInitialised(NodeError):
    code = "not_initialised"


class UnlockFailed(NodeError):
    code = "unlock_failed"


class StorageError(NodeError):
    code = "storage_error"


class SchemaMismatch(StorageError):
    code = "schema_mismatch"


class NotFound(NodeError):
    code = "not_found"


class Conflict(NodeError):
    code = "conflict"


class BackupError(NodeError):
    code = "backup_error"


class InvalidInvite(NodeError):
    code = "invalid_invite"


class Unauthorized(NodeError):
    code = "unauthorized"


class PeerError(NodeError):
    code = "peer_error"


class PeerUnreachable(PeerError):
    code = "peer_unreachable"


class PeerRefused(PeerError):
    """The peer answered, but with an error status (``status``) or an answer that does not verify."""

    code = "peer_refused"

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RequestRejected(NodeError):
    """An inbound request refused with ``status`` and a stable ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code

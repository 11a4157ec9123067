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
      └─ BackupError          a backup file is unreadable, corrupted, or of an unknown format
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

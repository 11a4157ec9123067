"""SQL the two backends spell differently."""

from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import Insert as SqliteInsert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Dialect


def insert(dialect: Dialect, table: Table) -> SqliteInsert:
    """An INSERT that supports ``ON CONFLICT`` on this backend (SQLite or PostgreSQL;
    both statement classes offer the same ``on_conflict_do_*`` methods)."""
    if dialect.name == "sqlite":
        return sqlite_insert(table)
    return postgresql_insert(table)  # type: ignore[return-value]

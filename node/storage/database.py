"""The async database: engine set-up per backend, migrations, and the schema check at start-up."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from node.errors import SchemaMismatch, StorageError

_MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000

QueryObserver = Callable[[str, float], None]


_IN_TRANSACTION: contextvars.ContextVar[bool] = contextvars.ContextVar("in_sqlite_transaction", default=False)


class Database:
    """One engine and its session factory; ``where`` names the database in every error message."""

    def __init__(self, url: str, *, observe_query: QueryObserver | None = None) -> None:
        self.url = url
        self.backend = "sqlite" if url.startswith("sqlite") else "postgresql"
        self.sqlite_path = Path(url.split("///", 1)[1]) if self.backend == "sqlite" else None
        self.where = str(self.sqlite_path) if self.sqlite_path is not None else _redact(url)
        self.engine: AsyncEngine = create_async_engine(url, pool_pre_ping=self.backend == "postgresql")
        if self.backend == "sqlite":
            _configure_sqlite(self.engine)
        if observe_query is not None:
            _observe_queries(self.engine, observe_query)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        # SQLite admits one writer, and every transaction here begins IMMEDIATE: queue them in the
        # process rather than in SQLite's busy handler, which sleeps in steps of up to 100 ms.
        self._sqlite_writer = asyncio.Lock() if self.backend == "sqlite" else None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any error."""
        queue = self._sqlite_writer if self._sqlite_writer is not None and not _IN_TRANSACTION.get() else None
        try:
            async with contextlib.AsyncExitStack() as stack:
                if queue is not None:
                    await stack.enter_async_context(queue)
                    stack.callback(_IN_TRANSACTION.reset, _IN_TRANSACTION.set(True))
                session = await stack.enter_async_context(self._sessions())
                await stack.enter_async_context(session.begin())
                yield session
        except DBAPIError as exc:
            raise StorageError(f"{self.where}: database error: {exc.orig}") from exc
        except (SQLAlchemyError, OSError, OverflowError) as exc:
            raise StorageError(f"{self.where}: database unavailable: {type(exc).__name__}: {exc}") from exc

    async def ping(self) -> None:
        """Run a trivial query; raise :class:`StorageError` if the database does not answer."""
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"{self.where}: database unreachable: {exc}") from exc

    async def upgrade(self) -> str:
        """Bring the schema to the newest revision; return that revision."""
        try:
            async with self.engine.begin() as connection:
                await connection.run_sync(_upgrade_sync)
        except CommandError as exc:
            raise SchemaMismatch(
                f"{self.where}: cannot upgrade from an unknown schema revision (made by a newer Mentornet?): {exc}"
            ) from exc
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"{self.where}: cannot migrate the database: {exc}") from exc
        if self.sqlite_path is not None:
            self.sqlite_path.chmod(0o600)
        return head_revision()

    async def current_revision(self) -> str | None:
        """The schema revision stored in the database (``None`` for an empty database).

        Raises:
            StorageError: if the database cannot be read, or the SQLite file is missing (it is
                never silently created except by an upgrade).
        """
        if self.sqlite_path is not None and not self.sqlite_path.exists():
            raise StorageError(f"{self.where}: the database file is missing; restore it from a backup")
        try:
            async with self.engine.connect() as connection:
                return await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
        except (SQLAlchemyError, OSError) as exc:
            raise StorageError(f"{self.where}: cannot read the database (is it corrupted?): {exc}") from exc

    async def check_schema(self) -> str:
        """Refuse to run on a schema this version does not know.

        Raises:
            SchemaMismatch: if the database is empty, older (needs ``mentornet db upgrade``) or newer.
        """
        current = await self.current_revision()
        head = head_revision()
        if current == head:
            return current
        if current is None:
            raise SchemaMismatch(f"{self.where}: the database has no Mentornet schema; run 'mentornet db upgrade'")
        if current in known_revisions():
            raise SchemaMismatch(
                f"{self.where}: schema revision {current} is older than {head}; run 'mentornet db upgrade'"
            )
        raise SchemaMismatch(
            f"{self.where}: unknown schema revision {current} (made by a newer Mentornet?); refusing to start"
        )

    async def purge_old_pages(self) -> bool:
        """Fold the SQLite WAL into the database file and truncate it, so that page images from
        before an erasure (still holding a destroyed data key) do not linger in the WAL.

        Returns:
            ``True`` when the WAL was fully checkpointed (always for PostgreSQL, where this is a
            no-op); ``False`` when a long-running reader kept it busy.
        """
        if self.sqlite_path is None:
            return True
        return await asyncio.to_thread(_checkpoint_truncate, self.sqlite_path)

    async def close(self) -> None:
        await self.engine.dispose()


def _checkpoint_truncate(path: Path) -> bool:
    connection = sqlite3.connect(path, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000)
    try:
        busy, _log_pages, _checkpointed = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        connection.close()
    return bool(busy == 0)


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def known_revisions() -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_alembic_config()).walk_revisions()}


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def _upgrade_sync(connection: Connection) -> None:
    config = _alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _configure_sqlite(engine: AsyncEngine) -> None:
    # WAL lets the node serve reads while the CLI writes. Every transaction begins IMMEDIATE so two
    # writers queue on the busy timeout instead of failing on a lock upgrade.
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # Crypto-shredding must not leave the destroyed data key in freed pages.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _observe_queries(engine: AsyncEngine, observe: QueryObserver) -> None:
    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _before(conn: Connection, _cursor: Any, _statement: str, _params: Any, _context: Any, _many: bool) -> None:
        conn.info.setdefault("query_started", []).append(time.perf_counter())

    @event.listens_for(engine.sync_engine, "after_cursor_execute")
    def _after(conn: Connection, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool) -> None:
        started = conn.info["query_started"].pop()
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "OTHER"
        observe(operation, time.perf_counter() - started)


def _redact(url: str) -> str:
    scheme, _, rest = url.partition("://")
    if "@" in rest:
        credentials, _, host = rest.rpartition("@")
        user = credentials.split(":", 1)[0]
        return f"{scheme}://{user}@{host}"
    return url

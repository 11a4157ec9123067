"""Schema management: migrations match the models, and a node refuses a schema it does not know."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlmodel import SQLModel

from node.config import NodeConfig
from node.errors import SchemaMismatch, StorageError
from node.instance import Node
from node.storage.database import Database, head_revision


@pytest.fixture
async def empty_database(node_config: NodeConfig) -> Database:
    node_config.data_dir.mkdir(parents=True)
    if node_config.sqlite_path is not None:
        sqlite3.connect(node_config.sqlite_path).close()  # an empty database file
    database = Database(node_config.effective_database_url)
    yield database  # type: ignore[misc]
    await database.close()


async def test_the_migrations_create_exactly_the_tables_the_models_declare(empty_database: Database) -> None:
    await empty_database.upgrade()
    async with empty_database.engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(MigrationContext.configure(sync), SQLModel.metadata)
        )
    assert differences == []


async def test_an_empty_database_is_refused_with_the_command_that_fixes_it(empty_database: Database) -> None:
    with pytest.raises(SchemaMismatch, match="mentornet db upgrade"):
        await empty_database.check_schema()


async def test_upgrading_twice_is_harmless(empty_database: Database) -> None:
    assert await empty_database.upgrade() == head_revision()
    assert await empty_database.upgrade() == head_revision()
    assert await empty_database.check_schema() == head_revision()


async def test_a_schema_from_a_newer_version_is_refused(node: Node) -> None:
    async with node.database.engine.begin() as connection:
        await connection.execute(text("UPDATE alembic_version SET version_num = 'from_the_future'"))
    with pytest.raises(SchemaMismatch, match="unknown schema revision from_the_future"):
        await node.database.check_schema()


async def test_an_unreachable_database_is_a_clear_storage_error() -> None:
    database = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(StorageError, match=r"nobody@127\.0\.0\.1:1"):
            await database.check_schema()
    finally:
        await database.close()


async def test_a_missing_sqlite_file_is_reported_and_not_silently_created(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'node.db'}")
    try:
        with pytest.raises(StorageError, match="database file is missing"):
            await database.check_schema()
    finally:
        await database.close()
    assert not (tmp_path / "node.db").exists()

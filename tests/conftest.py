"""Shared fixtures: nodes on SQLite and, when one answers on 127.0.0.1:5432, on PostgreSQL."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from node.config import NodeConfig, UnlockMethod
from node.instance import Node, init_node

POSTGRES_HOST, POSTGRES_PORT = "127.0.0.1", 5432
POSTGRES_ADMIN_URL = f"postgresql://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/test"


def _postgres_answers() -> bool:
    try:
        with socket.create_connection((POSTGRES_HOST, POSTGRES_PORT), timeout=1):
            return True
    except OSError:
        return False


POSTGRES_AVAILABLE = _postgres_answers()


async def _admin(statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """``None`` for the embedded SQLite file, or the URL of a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield None
        return
    if not POSTGRES_AVAILABLE:
        pytest.skip(f"PostgreSQL does not answer on {POSTGRES_HOST}:{POSTGRES_PORT}; SQLite ran instead")
    name = f"mentornet_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+asyncpg://postgres@{POSTGRES_HOST}:{POSTGRES_PORT}/{name}"
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def node_config(tmp_path: Path, database_url: str | None) -> NodeConfig:
    """A key-file node config in a fresh data directory (no Argon2id cost per test)."""
    data_dir = tmp_path / "node"
    return NodeConfig(
        data_dir=data_dir,
        name="Test University",
        base_url="http://127.0.0.1:8080",
        unlock=UnlockMethod.KEY_FILE,
        key_file=data_dir / "node.key",
        database_url=database_url,
    )


@pytest.fixture
async def node(node_config: NodeConfig) -> AsyncIterator[Node]:
    """An initialised, unlocked node."""
    created = await init_node(node_config, None)
    try:
        yield created
    finally:
        await created.close()


@pytest.fixture
async def sqlite_node(tmp_path: Path) -> AsyncIterator[Node]:
    """A node on the embedded SQLite file, for checks of the files themselves."""
    data_dir = tmp_path / "sqlite-node"
    config = NodeConfig(
        data_dir=data_dir,
        name="SQLite College",
        base_url="http://127.0.0.1:8080",
        unlock=UnlockMethod.KEY_FILE,
        key_file=data_dir / "node.key",
    )
    created = await init_node(config, None)
    try:
        yield created
    finally:
        await created.close()

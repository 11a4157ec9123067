"""Alembic environment: migrations always run on a connection handed in by node.storage.migrate."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import node.storage.tables  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Mentornet migrations run through 'mentornet db upgrade', not the alembic command")

context.configure(connection=connection, target_metadata=SQLModel.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()

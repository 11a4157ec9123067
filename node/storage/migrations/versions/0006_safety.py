"""Safety: the sender handle on queued and delivered messages, members' blocks, abuse reports.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("sender", sa.String(length=64), nullable=False, server_default=""))
    with op.batch_alter_table("mailbox") as batch:
        batch.add_column(sa.Column("sender", sa.String(length=64), nullable=False, server_default=""))
        batch.add_column(sa.Column("origin", sa.String(length=300), nullable=False, server_default=""))
    op.create_table(
        "blocks",
        sa.Column("member_id", sa.String(length=36), sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("origin", sa.String(length=300), primary_key=True),
        sa.Column("sender", sa.String(length=64), primary_key=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "abuse_reports",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("reported_member", sa.String(length=36), nullable=False),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("resolved_at", sa.BigInteger(), nullable=True),
    )
    op.create_index("ix_abuse_reports_status", "abuse_reports", ["status", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_abuse_reports_status", table_name="abuse_reports")
    op.drop_table("abuse_reports")
    op.drop_table("blocks")
    with op.batch_alter_table("mailbox") as batch:
        batch.drop_column("origin")
        batch.drop_column("sender")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("sender")

"""End-to-end messaging: member devices and their pre-keys, mailboxes, the outbox, and the
de-duplication records of delivered messages and received transactions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _time(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "devices",
        sa.Column("member_id", sa.String(length=36), sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("device_id", sa.String(length=32), primary_key=True),
        sa.Column("identity_key", sa.LargeBinary(), nullable=False),
        sa.Column("device_list", sa.String(), nullable=False),
        sa.Column("identity_dh", sa.String(), nullable=False),
        sa.Column("signed_prekey", sa.String(), nullable=False),
        sa.Column("pq_prekey", sa.String(), nullable=False),
        _time("updated_at"),
    )
    op.create_table(
        "one_time_prekeys",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("member_id", sa.String(length=36), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("key_id", sa.BigInteger(), nullable=False),
        sa.Column("prekey", sa.String(), nullable=False),
        sa.UniqueConstraint("member_id", "device_id", "kind", "key_id", name="uq_one_time_prekeys_key"),
    )
    op.create_table(
        "mailbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("member_id", sa.String(length=36), sa.ForeignKey("members.id"), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        _time("received_at"),
    )
    op.create_index("ix_mailbox_recipient", "mailbox", ["member_id", "device_id", "id"])
    op.create_table(
        "seen_messages",
        sa.Column("member_id", sa.String(length=36), primary_key=True),
        sa.Column("device_id", sa.String(length=32), primary_key=True),
        sa.Column("message_id", sa.String(length=64), primary_key=True),
        _time("seen_at"),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("peer", sa.String(length=300), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=32), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        _time("created_at"),
    )
    op.create_index("ix_outbox_peer", "outbox", ["peer", "id"])
    op.create_table(
        "inbound_transactions",
        sa.Column("peer", sa.String(length=300), primary_key=True),
        sa.Column("txn_id", sa.String(length=64), primary_key=True),
        sa.Column("results", sa.String(), nullable=False),
        _time("received_at"),
    )


def downgrade() -> None:
    for table in ("inbound_transactions", "outbox", "seen_messages", "mailbox", "one_time_prekeys", "devices"):
        op.drop_table(table)

"""Federation: peers, blocked hosts, announcements and their feed, seen nonces, access tokens,
and signing-key endorsements (an old key vouching for its successor).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _time(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("node_signing_keys") as batch:
        batch.add_column(sa.Column("endorsed_by", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("endorsement", sa.LargeBinary(), nullable=True))
    op.create_table(
        "peers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("base_url", sa.String(length=300), nullable=False, unique=True),
        sa.Column("host", sa.String(length=300), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("pinned_fingerprint", sa.String(length=80), nullable=False),
        sa.Column("keys", sa.String(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        _time("added_at"),
        _time("last_contact_at", nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("clock_offset", sa.Integer(), nullable=True),
        sa.Column("feed_cursor", sa.Integer(), nullable=False),
        sa.Column("push_cursor", sa.Integer(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        _time("retry_at", nullable=True),
    )
    op.create_index("ix_peers_host", "peers", ["host"])
    op.create_table(
        "blocked_hosts",
        sa.Column("host", sa.String(length=300), primary_key=True),
        _time("blocked_at"),
    )
    op.create_table(
        "announcements",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("origin", sa.String(length=300), nullable=False),
        sa.Column("mentor", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _time("issued_at"),
        _time("expires_at"),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
        sa.Column("raw", sa.String(), nullable=False),
        sa.Column("feed_seq", sa.BigInteger(), nullable=False, unique=True),
        _time("received_at"),
        sa.UniqueConstraint("origin", "mentor", name="uq_announcements_origin_mentor"),
    )
    op.create_table(
        "feed_counter",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("value", sa.BigInteger(), nullable=False),
    )
    op.execute("INSERT INTO feed_counter (id, value) VALUES (1, 0)")  # always there to lock
    op.create_table(
        "seen_nonces",
        sa.Column("keyid", sa.String(length=400), primary_key=True),
        sa.Column("nonce", sa.String(length=128), primary_key=True),
        _time("expires_at"),
    )
    op.create_table(
        "access_tokens",
        sa.Column("token_hash", sa.LargeBinary(), primary_key=True),
        sa.Column("member_id", sa.String(length=36), sa.ForeignKey("members.id"), nullable=False),
        _time("created_at"),
        _time("revoked_at", nullable=True),
    )
    op.create_index("ix_access_tokens_member_id", "access_tokens", ["member_id"])


def downgrade() -> None:
    for table in ("access_tokens", "seen_nonces", "feed_counter", "announcements", "blocked_hosts", "peers"):
        op.drop_table(table)
    with op.batch_alter_table("node_signing_keys") as batch:
        batch.drop_column("endorsement")
        batch.drop_column("endorsed_by")

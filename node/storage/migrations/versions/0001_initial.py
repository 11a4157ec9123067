"""Initial schema: unlock parameters, KEK versions, node signing keys, members, blind indexes,
invites, and the audit log with its head.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _time(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "unlock_params",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("method", sa.String(), nullable=False),
        sa.Column("argon_salt", sa.LargeBinary(), nullable=True),
        sa.Column("argon_memory_kib", sa.Integer(), nullable=True),
        sa.Column("argon_iterations", sa.Integer(), nullable=True),
        sa.Column("argon_lanes", sa.Integer(), nullable=True),
        sa.Column("hkdf_salt", sa.LargeBinary(), nullable=False),
        sa.Column("check_value", sa.LargeBinary(), nullable=False),
        _time("created_at"),
    )
    op.create_table(
        "kek_versions",
        sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        _time("created_at"),
        _time("retired_at", nullable=True),
    )
    op.create_table(
        "node_signing_keys",
        sa.Column("key_id", sa.String(length=16), primary_key=True),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_seed", sa.LargeBinary(), nullable=False),
        sa.Column("kek_version", sa.Integer(), sa.ForeignKey("kek_versions.version"), nullable=False),
        _time("created_at"),
        _time("valid_until"),
        _time("expired_at", nullable=True),
    )
    op.create_index("ix_node_signing_keys_kek_version", "node_signing_keys", ["kek_version"])
    op.create_table(
        "members",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("kek_version", sa.Integer(), sa.ForeignKey("kek_versions.version"), nullable=True),
        sa.Column("sealed_data_key", sa.LargeBinary(), nullable=True),
        sa.Column("data_key_version", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("updated_at"),
        _time("removed_at", nullable=True),
        *(
            sa.Column(field, sa.LargeBinary(), nullable=True)
            for field in ("name", "email", "profile", "interests", "languages", "timezone")
        ),
    )
    op.create_index("ix_members_status", "members", ["status"])
    op.create_index("ix_members_kek_version", "members", ["kek_version"])
    op.create_table(
        "blind_indexes",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
        sa.Column("member_id", sa.String(length=36), sa.ForeignKey("members.id"), nullable=False),
        sa.UniqueConstraint("kind", "digest", name="uq_blind_indexes_kind_digest"),
    )
    op.create_index("ix_blind_indexes_member_id", "blind_indexes", ["member_id"])
    op.create_table(
        "invites",
        sa.Column("code_hash", sa.LargeBinary(), primary_key=True),
        sa.Column("member_id", sa.String(length=36), sa.ForeignKey("members.id"), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        _time("used_at", nullable=True),
    )
    op.create_index("ix_invites_member_id", "invites", ["member_id"])
    op.create_table(
        "audit_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        _time("at"),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("details", sa.String(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("digest", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    for table in (
        "audit_head",
        "audit_log",
        "invites",
        "blind_indexes",
        "members",
        "node_signing_keys",
        "kek_versions",
        "unlock_params",
    ):
        op.drop_table(table)

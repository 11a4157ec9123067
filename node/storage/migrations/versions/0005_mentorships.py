"""Mentorships: each member's side of a request (state and times only) and mentors' declared places.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _time(name: str, *, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "mentorships",
        sa.Column("member_id", sa.String(length=36), sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("request_id", sa.String(length=64), primary_key=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("duration_weeks", sa.Integer(), nullable=False),
        _time("created_at"),
        _time("expires_at"),
        _time("updated_at"),
        _time("answered_at", nullable=True),
        sa.Column("sessions_held", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_mentorships_state", "mentorships", ["state", "expires_at"])
    op.create_table(
        "mentor_places",
        sa.Column("member_id", sa.String(length=36), sa.ForeignKey("members.id"), primary_key=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mentor_places")
    op.drop_index("ix_mentorships_state", table_name="mentorships")
    op.drop_table("mentorships")

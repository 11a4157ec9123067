"""An index on announcements by (origin, feed_seq): a node pushes only its own changes, and with
many peers' announcements stored, finding those must not scan everyone else's.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_announcements_origin_feed_seq", "announcements", ["origin", "feed_seq"])


def downgrade() -> None:
    op.drop_index("ix_announcements_origin_feed_seq", table_name="announcements")

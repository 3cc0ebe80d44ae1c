"""Saved claim checks: a saved question can be a claim, rerun through the claim cross-encoder.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``saved_questions.claim`` (false for every question saved before)."""
    with op.batch_alter_table("saved_questions") as batch:
        batch.add_column(sa.Column("claim", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop ``saved_questions.claim``."""
    with op.batch_alter_table("saved_questions") as batch:
        batch.drop_column("claim")

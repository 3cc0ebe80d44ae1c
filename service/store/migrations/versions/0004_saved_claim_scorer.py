"""Saved claim checks remember the claim scorer of their last run.

A retrained claim cross-encoder can quote other sentences, and so cite other documents, with no change to
the index. Recording which scorer (name and graph SHA-256) made each run lets a rerun say so, and lets the
start-up job rerun claim checks whose scorer changed.

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


def upgrade() -> None:
    """Add ``saved_questions.last_claim_scorer`` (unknown, NULL, for every row saved before)."""
    with op.batch_alter_table("saved_questions") as batch:
        batch.add_column(sa.Column("last_claim_scorer", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    """Drop ``saved_questions.last_claim_scorer``."""
    with op.batch_alter_table("saved_questions") as batch:
        batch.drop_column("last_claim_scorer")

"""Saved questions remember the sentence scorer of their last run.

New scorer weights (a retrained scorer, or a re-weighted prior) can quote other sentences, and so cite other
documents, with no change to the index. Recording which scorer (name and weights SHA-256) made each run lets
a rerun say so, and lets the start-up job rerun saved questions whose scorer changed.

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


def upgrade() -> None:
    """Add ``saved_questions.last_sentence_scorer`` (unknown, NULL, for every row saved before)."""
    with op.batch_alter_table("saved_questions") as batch:
        batch.add_column(sa.Column("last_sentence_scorer", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    """Drop ``saved_questions.last_sentence_scorer``."""
    with op.batch_alter_table("saved_questions") as batch:
        batch.drop_column("last_sentence_scorer")

"""Draft sentences say when they are the first part of a sentence cut in two by a page break.

The summariser quotes such a sentence whole, as two consecutive quotes, each cited to its own page. The flag
keeps the two parts tied together in a draft, its versions and its releases.

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
    """Add ``draft_sentences.continues`` (false for every sentence saved before)."""
    with op.batch_alter_table("draft_sentences") as batch:
        batch.add_column(sa.Column("continues", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Drop ``draft_sentences.continues``."""
    with op.batch_alter_table("draft_sentences") as batch:
        batch.drop_column("continues")

"""Re-checking released summaries and saved questions: review flags, retractions, saved questions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.store.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    """Create ``review_flags``, ``retractions`` and ``saved_questions``; record each draft sentence's source type."""
    with op.batch_alter_table("draft_sentences") as batch:
        batch.add_column(sa.Column("doc_type", sa.String(40), nullable=False, server_default=""))
    op.create_table(
        "review_flags",
        sa.Column("id", sa.Integer()),
        sa.Column("release_id", sa.Integer(), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        _ts("detected_at"),
        sa.Column("detected_by", sa.String(100), nullable=False),
        _ts("resolved_at", nullable=True),
        sa.Column("resolved_by", sa.String(100), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_review_flags"),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"], name="fk_review_flags_release_id_releases"),
        sa.UniqueConstraint("release_id", "document_id", "kind", name="uq_review_flags_release_id"),
    )
    op.create_index("ix_review_flags_release_id", "review_flags", ["release_id"])
    op.create_index("ix_review_flags_draft_id", "review_flags", ["draft_id"])
    op.create_table(
        "retractions",
        sa.Column("id", sa.Integer()),
        sa.Column("identifier_kind", sa.String(10), nullable=False),
        sa.Column("identifier", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        _ts("added_at"),
        sa.Column("added_by", sa.String(100), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_retractions"),
        sa.UniqueConstraint("identifier_kind", "identifier", name="uq_retractions_identifier_kind"),
    )
    op.create_table(
        "saved_questions",
        sa.Column("id", sa.Integer()),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("pico", sa.JSON(), nullable=True),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("source_priority", sa.Boolean(), nullable=True),
        sa.Column("owner", sa.String(100), nullable=False),
        _ts("created_at"),
        _ts("last_run_at", nullable=True),
        sa.Column("last_snapshot_id", sa.String(200), nullable=True),
        sa.Column("cited_document_ids", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_saved_questions"),
    )
    op.create_index("ix_saved_questions_owner", "saved_questions", ["owner"])


def downgrade() -> None:
    """Drop what this revision created."""
    for table in ("saved_questions", "retractions", "review_flags"):
        op.drop_table(table)
    with op.batch_alter_table("draft_sentences") as batch:
        batch.drop_column("doc_type")

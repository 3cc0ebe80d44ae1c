"""Workflow store: users and keys, questions, drafts, sentences, versions, comments, releases, audit.

Revision ID: 0001
Revises:
Create Date: 2025-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from service.store.models import UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

APPEND_ONLY = ("audit_events", "releases", "release_withdrawals", "draft_versions")
"""Tables whose rows are never updated or deleted; triggers enforce it."""


def _ts(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, UTCDateTime(), nullable=nullable)


def upgrade() -> None:
    """Create every table and the append-only triggers."""
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("name", name="uq_users_name"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer()),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        _ts("created_at"),
        _ts("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_api_keys_user_id_users"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_index("ix_api_keys_user_id", "api_keys", ["user_id"])
    op.create_table(
        "questions",
        sa.Column("id", sa.Integer()),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("normalised", sa.Text(), nullable=False),
        sa.Column("pico", sa.JSON(), nullable=True),
        sa.Column("created_by", sa.String(100), nullable=False),
        _ts("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_questions"),
    )
    op.create_index("ix_questions_normalised", "questions", ["normalised"])
    op.create_table(
        "drafts",
        sa.Column("id", sa.Integer()),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("reviewer", sa.String(100), nullable=True),
        sa.Column("bottom_line", sa.Text(), nullable=False),
        sa.Column("caveats", sa.Text(), nullable=False),
        sa.Column("max_sentences", sa.Integer(), nullable=False),
        sa.Column("snapshot_id", sa.String(200), nullable=False),
        sa.Column("search", sa.JSON(), nullable=False),
        sa.Column("next_key", sa.Integer(), nullable=False),
        sa.Column("release_count", sa.Integer(), nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        _ts("submitted_at", nullable=True),
        _ts("approved_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_drafts"),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], name="fk_drafts_question_id_questions"),
    )
    op.create_index("ix_drafts_question_id", "drafts", ["question_id"])
    op.create_index("ix_drafts_state", "drafts", ["state"])
    op.create_index("ix_drafts_author", "drafts", ["author"])
    op.create_table(
        "draft_sentences",
        sa.Column("id", sa.Integer()),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("origin", sa.String(20), nullable=False),
        sa.Column("sentence_id", sa.Integer(), nullable=True),
        sa.Column("document_id", sa.String(100), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("char_start", sa.Integer(), nullable=False),
        sa.Column("char_end", sa.Integer(), nullable=False),
        sa.Column("section", sa.Text(), nullable=True),
        sa.Column("source_path", sa.Text(), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("edited_text", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_draft_sentences"),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name="fk_draft_sentences_draft_id_drafts"),
        sa.UniqueConstraint("draft_id", "key", name="uq_draft_sentences_draft_id"),
    )
    op.create_index("ix_draft_sentences_draft_id", "draft_sentences", ["draft_id"])
    op.create_table(
        "draft_versions",
        sa.Column("id", sa.Integer()),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("actor", sa.String(100), nullable=False),
        _ts("created_at"),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_draft_versions"),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name="fk_draft_versions_draft_id_drafts"),
        sa.UniqueConstraint("draft_id", "version", name="uq_draft_versions_draft_id"),
    )
    op.create_index("ix_draft_versions_draft_id", "draft_versions", ["draft_id"])
    op.create_table(
        "comments",
        sa.Column("id", sa.Integer()),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        _ts("at"),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("sentence_key", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_comments"),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name="fk_comments_draft_id_drafts"),
    )
    op.create_index("ix_comments_draft_id", "comments", ["draft_id"])
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer()),
        sa.Column("draft_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("draft_version", sa.Integer(), nullable=False),
        sa.Column("question_normalised", sa.Text(), nullable=False),
        _ts("released_at"),
        sa.Column("released_by", sa.String(100), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
        sa.ForeignKeyConstraint(["draft_id"], ["drafts.id"], name="fk_releases_draft_id_drafts"),
        sa.UniqueConstraint("draft_id", "number", name="uq_releases_draft_id"),
    )
    op.create_index("ix_releases_draft_id", "releases", ["draft_id"])
    op.create_index("ix_releases_question_normalised", "releases", ["question_normalised"])
    op.create_table(
        "release_withdrawals",
        sa.Column("id", sa.Integer()),
        sa.Column("release_id", sa.Integer(), nullable=False),
        _ts("at"),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_release_withdrawals"),
        sa.ForeignKeyConstraint(["release_id"], ["releases.id"], name="fk_release_withdrawals_release_id_releases"),
        sa.UniqueConstraint("release_id", name="uq_release_withdrawals_release_id"),
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Integer()),
        _ts("at"),
        sa.Column("actor", sa.String(100), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("draft_id", sa.Integer(), nullable=True),
        sa.Column("release_id", sa.Integer(), nullable=True),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_actor", "audit_events", ["actor"])
    op.create_index("ix_audit_events_draft_id", "audit_events", ["draft_id"])
    _append_only_triggers()


def _append_only_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            "CREATE OR REPLACE FUNCTION evsum_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END; $$ LANGUAGE plpgsql"
        )
        for table in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION evsum_append_only()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY:
            for event in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                           f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END")


def downgrade() -> None:
    """Drop everything this revision created."""
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        elif dialect == "sqlite":
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{event}")
    for table in ("audit_events", "release_withdrawals", "releases", "comments", "draft_versions",
                  "draft_sentences", "drafts", "questions", "api_keys", "users"):
        op.drop_table(table)
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS evsum_append_only()")

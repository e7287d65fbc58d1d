"""statistics releases: frozen, dated, protected tables

Revision ID: 0013e
Revises: 0014f
Create Date: 2026-12-03

Advocates query releases, not the live cases: each release keeps its protected tables (as
served), its parameters, and two blobs sealed with the system key (exact counts for a larger k,
per-case fingerprints to count the changes before the next release).
"""

import sqlalchemy as sa
from alembic import op

import casebook.db

revision = "0013e"
down_revision = "0014f"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_releases",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("created_at", casebook.db.UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("scopes", sa.String(length=200), nullable=False),
        sa.Column("cases", sa.Integer(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("exact_enc", sa.LargeBinary(), nullable=False),
        sa.Column("fingerprints_enc", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("number"),
    )
    op.create_table(
        "stats_release_tables",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("release_id", sa.Uuid(), nullable=False),
        sa.Column("k", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["release_id"], ["stats_releases.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("release_id", "k", "name", "scope"),
    )
    with op.batch_alter_table("stats_release_tables", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stats_release_tables_release_id"), ["release_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("stats_release_tables", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_stats_release_tables_release_id"))
    op.drop_table("stats_release_tables")
    op.drop_table("stats_releases")

"""release cuts: a release cut from the web runs in the background, one at a time (one slot,
unique), its step and outcome shared by every worker

Revision ID: 0018c
Revises: 0017h
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa
import casebook.db


revision = "0018c"
down_revision = "0017h"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "stats_release_cuts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("started_at", casebook.db.UTCDateTime(), nullable=False),
        sa.Column("started_by", sa.Uuid(), nullable=True),
        sa.Column("heartbeat_at", casebook.db.UTCDateTime(), nullable=False),
        sa.Column("finished_at", casebook.db.UTCDateTime(), nullable=True),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=True),
        sa.Column("step", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("estimate_lists", sa.Text(), nullable=False),
        sa.Column("estimate_by", sa.String(length=40), nullable=True),
        sa.Column("release_number", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=1000), nullable=True),
        sa.Column("reason_values", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["started_by"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("stats_release_cuts", schema=None) as batch_op:
        batch_op.create_index("ux_stats_release_cuts_slot", ["slot"], unique=True)
        batch_op.create_index("ix_stats_release_cuts_started", ["started_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("stats_release_cuts", schema=None) as batch_op:
        batch_op.drop_index("ix_stats_release_cuts_started")
        batch_op.drop_index("ux_stats_release_cuts_slot")
    op.drop_table("stats_release_cuts")

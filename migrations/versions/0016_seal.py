"""seal: the one-row seal flag every app process reads

Revision ID: 0016s
Revises: 0015o
Create Date: 2026-12-03
"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import casebook.db

revision = "0016s"
down_revision = "0015o"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "seal_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.Boolean(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("changed_at", casebook.db.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(
        table, [{"id": 1, "sealed": False, "epoch": 0, "changed_at": datetime.now(UTC)}]
    )


def downgrade() -> None:
    op.drop_table("seal_state")

"""dedupe runs count their pairs held back: the web run's block says how many it queued
marked so, as the command line does

Revision ID: 0019r
Revises: 0018c
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa


revision = "0019r"
down_revision = "0018c"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("linkage_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("linkage_runs", schema=None) as batch_op:
        batch_op.drop_column("held")

"""dedupe runs count the pairs at or above their score that a lawyer had already decided: the
run's block says why they did not come back to the queue

Revision ID: 0020d
Revises: 0019r
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa


revision = "0020d"
down_revision = "0019r"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("linkage_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decided", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("linkage_runs", schema=None) as batch_op:
        batch_op.drop_column("decided")

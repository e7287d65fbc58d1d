"""linkage_merge: web dedupe runs (one at a time, state shared by every worker) and the sealed
absorbed case of a merge (cases.merged_into), so a merge can be undone

Revision ID: 0012d
Revises: 0013e
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import casebook.db


revision = '0012d'
down_revision = '0013e'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('linkage_runs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('started_at', casebook.db.UTCDateTime(), nullable=False),
    sa.Column('started_by', sa.Uuid(), nullable=True),
    sa.Column('heartbeat_at', casebook.db.UTCDateTime(), nullable=False),
    sa.Column('finished_at', casebook.db.UTCDateTime(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('slot', sa.Integer(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('cases', sa.Integer(), nullable=False),
    sa.Column('read', sa.Integer(), nullable=False),
    sa.Column('model', sa.String(length=20), nullable=True),
    sa.Column('compared', sa.Integer(), nullable=True),
    sa.Column('expected_pairs', sa.Float(), nullable=True),
    sa.Column('pairs', sa.Integer(), nullable=True),
    sa.Column('queued', sa.Integer(), nullable=True),
    sa.Column('summary', sa.String(length=500), nullable=True),
    sa.Column('error', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['started_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('linkage_runs', schema=None) as batch_op:
        batch_op.create_index('ux_linkage_runs_slot', ['slot'], unique=True)
        batch_op.create_index('ix_linkage_runs_started', ['started_at'], unique=False)
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('merged_into', sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('merged_into')
    with op.batch_alter_table('linkage_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_linkage_runs_started')
        batch_op.drop_index('ux_linkage_runs_slot')
    op.drop_table('linkage_runs')

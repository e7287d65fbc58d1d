"""blind-index lookups read newest first: the lookup index also carries the row id

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('case_index', schema=None) as batch_op:
        batch_op.drop_index('ix_case_index_lookup')
        batch_op.create_index('ix_case_index_lookup', ['name', 'value', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('case_index', schema=None) as batch_op:
        batch_op.drop_index('ix_case_index_lookup')
        batch_op.create_index('ix_case_index_lookup', ['name', 'value'], unique=False)

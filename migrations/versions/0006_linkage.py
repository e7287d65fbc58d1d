"""linkage: review items for duplicate pairs and outside-list matches (list rows sealed)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import casebook.db


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('match_lists',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', casebook.db.UTCDateTime(), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('matched', sa.Integer(), nullable=False),
    sa.Column('label_enc', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('match_candidates',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', casebook.db.UTCDateTime(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('case_a', sa.Uuid(), nullable=False),
    sa.Column('case_b', sa.Uuid(), nullable=True),
    sa.Column('list_id', sa.Uuid(), nullable=True),
    sa.Column('row_enc', sa.LargeBinary(), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('status', sa.String(length=15), nullable=False),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('decided_at', casebook.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['case_a'], ['cases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['case_b'], ['cases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['list_id'], ['match_lists.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('match_candidates', schema=None) as batch_op:
        batch_op.create_index('ix_match_candidates_case_b', ['case_b'], unique=False)
        batch_op.create_index('ix_match_candidates_list', ['list_id'], unique=False)
        batch_op.create_index('ix_match_candidates_status_score', ['status', 'score'], unique=False)
        batch_op.create_index('ux_match_candidates_pair', ['case_a', 'case_b'], unique=True)



def downgrade() -> None:
    with op.batch_alter_table('match_candidates', schema=None) as batch_op:
        batch_op.drop_index('ux_match_candidates_pair')
        batch_op.drop_index('ix_match_candidates_status_score')
        batch_op.drop_index('ix_match_candidates_list')
        batch_op.drop_index('ix_match_candidates_case_b')

    op.drop_table('match_candidates')
    op.drop_table('match_lists')

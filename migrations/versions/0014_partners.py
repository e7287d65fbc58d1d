"""partners: our partner-matching exports, keyed record tags and sealed "also documented" marks

Revision ID: 0014f
Revises: 0010b
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import casebook.db


revision = '0014f'
down_revision = '0010b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('partner_exports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', casebook.db.UTCDateTime(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('records', sa.Integer(), nullable=False),
    sa.Column('label_enc', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('partner_records',
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.Column('export_id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['export_id'], ['partner_exports.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('tag')
    )
    with op.batch_alter_table('partner_records', schema=None) as batch_op:
        batch_op.create_index('ix_partner_records_export', ['export_id'], unique=False)
        batch_op.create_index('ix_partner_records_case', ['case_id'], unique=False)
    op.create_table('partner_marks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=False),
    sa.Column('created_at', casebook.db.UTCDateTime(), nullable=False),
    sa.Column('body_enc', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('partner_marks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partner_marks_case_id'), ['case_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('partner_marks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partner_marks_case_id'))
    op.drop_table('partner_marks')
    with op.batch_alter_table('partner_records', schema=None) as batch_op:
        batch_op.drop_index('ix_partner_records_case')
        batch_op.drop_index('ix_partner_records_export')
    op.drop_table('partner_records')
    op.drop_table('partner_exports')

"""field: devices that submit encrypted ODK forms, the form's RSA key pairs, inbox submissions

Revision ID: 0015o
Revises: 0012d
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa
import casebook.db


revision = '0015o'
down_revision = '0012d'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('field_devices',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', casebook.db.UTCDateTime(), nullable=False),
    sa.Column('revoked_at', casebook.db.UTCDateTime(), nullable=True),
    sa.Column('last_used_at', casebook.db.UTCDateTime(), nullable=True),
    sa.Column('label_enc', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('field_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_field_devices_owner_id'), ['owner_id'], unique=False)
    op.create_table('field_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', casebook.db.UTCDateTime(), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('private_enc', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('field_submissions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.Uuid(), nullable=True),
    sa.Column('instance_hash', sa.String(length=64), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('received_at', casebook.db.UTCDateTime(), nullable=False),
    sa.Column('state', sa.String(length=12), nullable=False),
    sa.Column('case_id', sa.Uuid(), nullable=True),
    sa.Column('closed_at', casebook.db.UTCDateTime(), nullable=True),
    sa.Column('body_enc', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['device_id'], ['field_devices.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instance_hash')
    )
    with op.batch_alter_table('field_submissions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_field_submissions_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_field_submissions_state'), ['state'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('field_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_field_submissions_state'))
        batch_op.drop_index(batch_op.f('ix_field_submissions_owner_id'))
    op.drop_table('field_submissions')
    op.drop_table('field_keys')
    with op.batch_alter_table('field_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_field_devices_owner_id'))
    op.drop_table('field_devices')

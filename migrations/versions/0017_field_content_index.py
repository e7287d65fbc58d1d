"""field content index: find a submission already received for another documenter

Idempotency became per documenter (the instance hash now includes the owner, under a purpose
of its own, so the global unique constraint on it still holds); a submission's content hash
(its wrapped key and signature, unique to one encryption) is looked up across documenters so
the same ciphertext is never decrypted into a second inbox.

Revision ID: 0017h
Revises: 0016s
Create Date: 2026-12-03
"""
from alembic import op

revision = "0017h"
down_revision = "0016s"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("field_submissions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_field_submissions_content_hash"), ["content_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("field_submissions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_field_submissions_content_hash"))

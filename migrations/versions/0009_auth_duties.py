"""auth: role changes waiting for a second administrator; sessions purged by last use

Revision ID: 0009a
Revises: 0008
Create Date: 2026-12-03

A role change to or from lawyer or admin is a request until another administrator approves or
rejects it (two-person rule). Expired sessions are deleted by last use, so that column gets an
index for the purge.
"""

import sqlalchemy as sa
from alembic import op

import casebook.db

revision = "0009a"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "role_change_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("from_role", sa.String(length=20), nullable=False),
        sa.Column("to_role", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=False),
        sa.Column("requested_at", casebook.db.UTCDateTime(), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", casebook.db.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["requested_by"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_role_change_requests_user_id", "role_change_requests", ["user_id"], unique=False
    )
    op.create_index(
        "ix_web_sessions_last_seen_at", "web_sessions", ["last_seen_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_web_sessions_last_seen_at", table_name="web_sessions")
    op.drop_index("ix_role_change_requests_user_id", table_name="role_change_requests")
    op.drop_table("role_change_requests")

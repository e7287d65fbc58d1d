"""cases: the case list reads newest first off a partial index of live cases

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30

Without it every page of the case list, and its count, scanned the whole cases table (about
half a second each at a million cases on PostgreSQL); with it a page reads its own rows and the
count reads the index only. Erased cases (tombstones) are left out, as the list leaves them out.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_cases_live_order",
        "cases",
        ["created_at", "id"],
        postgresql_where=sa.text("erased_at IS NULL"),
        sqlite_where=sa.text("erased_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_cases_live_order", table_name="cases")

"""erasure: note the KEK that wrapped each destroyed data key; import fingerprints per importer

Revision ID: 0010b
Revises: 0009a
Create Date: 2026-12-03

An erasure is complete everywhere (old tuples, WAL, backups) only once the KEK that wrapped
the destroyed key is retired, so each erasure records that KEK. Rows recorded before have NULL:
they wait for every KEK created before the erasure. Import fingerprints carry the importer,
backfilled from their run, so that "already imported" speaks only of the caller's own imports;
their primary key becomes (value, case_id) since two importers may bring in the same case.
"""

import warnings

import sqlalchemy as sa
from alembic import op

revision = "0010b"
down_revision = "0009a"
branch_labels = None
depends_on = None


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    with op.batch_alter_table("key_erasures") as batch:
        batch.add_column(sa.Column("kek_id", sa.Integer(), nullable=True))
    with (
        warnings.catch_warnings(),
        op.batch_alter_table("import_fingerprints", recreate="always") as batch,
    ):
        # SQLite's copy is made with the new key; SQLAlchemy warns that it differs from the
        # reflected one, which is the point of the change
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        batch.add_column(sa.Column("created_by", sa.Uuid(), nullable=True))
        if not _sqlite():  # SQLite's batch copy takes the new key in place of the old one
            batch.drop_constraint("import_fingerprints_pkey", type_="primary")
        batch.create_primary_key("import_fingerprints_pkey", ["value", "case_id"])
        batch.create_foreign_key(
            "fk_import_fingerprints_created_by",
            "users",
            ["created_by"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index(
            "ix_import_fingerprints_created_by_value", ["created_by", "value"], unique=False
        )
    op.execute(
        "UPDATE import_fingerprints SET created_by = (SELECT r.created_by FROM import_runs r "
        "WHERE r.id = import_fingerprints.run_id)"
    )


def downgrade() -> None:
    # fingerprints of one case brought in by several importers collapse to one row
    op.execute(
        "DELETE FROM import_fingerprints WHERE EXISTS (SELECT 1 FROM import_fingerprints o "
        "WHERE o.value = import_fingerprints.value AND o.case_id < import_fingerprints.case_id)"
    )
    with (
        warnings.catch_warnings(),
        op.batch_alter_table("import_fingerprints", recreate="always") as batch,
    ):
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        batch.drop_index("ix_import_fingerprints_created_by_value")
        batch.drop_constraint("fk_import_fingerprints_created_by", type_="foreignkey")
        if not _sqlite():
            batch.drop_constraint("import_fingerprints_pkey", type_="primary")
        batch.create_primary_key("import_fingerprints_pkey", ["value"])
        batch.drop_column("created_by")
    with op.batch_alter_table("key_erasures") as batch:
        batch.drop_column("kek_id")

"""audit: on PostgreSQL one server-side call appends an entry (lock, chain head, hash, insert)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

Every audited request on PostgreSQL paid three round trips for its entry: the advisory lock,
the chain-head read and the insert. The function does the three in one call. The hash is the
same SHA-256 over the same canonical JSON as casebook.audit.services.hash_of: the client
sends that JSON cut where the previous hash and the sequence number go (known only under the
lock), and `casebook audit verify` recomputes every hash in Python, so a difference would show.
"""

from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

SIGNATURE = (
    "casebook_audit_append(bigint, text, text, text, text, text, text, text, text, text, "
    "text, text)"
)

# VOLATILE: under READ COMMITTED each statement of the function takes a new snapshot, so the
# head is read after the lock is held and sees every entry committed before it.
FUNCTION = """
CREATE OR REPLACE FUNCTION casebook_audit_append(
    lock_key bigint, p_occurred_at text, p_actor_id text, p_actor text, p_role text,
    p_action text, p_object_type text, p_object_id text, p_outcome text, p_details text,
    body_head text, body_tail text
) RETURNS TABLE (entry_seq bigint, entry_prev_hash text, entry_hash text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    head_seq bigint;
    head_hash text;
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    SELECT a.seq, a.hash INTO head_seq, head_hash FROM audit_log a ORDER BY a.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        head_seq := 0;
        head_hash := repeat('0', 64);
    END IF;
    entry_seq := head_seq + 1;
    entry_prev_hash := head_hash;
    entry_hash := encode(
        sha256(convert_to(body_head || head_hash || body_tail || entry_seq::text || '}', 'UTF8')),
        'hex'
    );
    INSERT INTO audit_log (seq, occurred_at, actor_id, actor, role, action, object_type,
                           object_id, outcome, details, prev_hash, hash)
    VALUES (entry_seq, p_occurred_at, p_actor_id, p_actor, p_role, p_action, p_object_type,
            p_object_id, p_outcome, p_details, entry_prev_hash, entry_hash);
    RETURN NEXT;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")

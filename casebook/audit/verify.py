"""Recomputing the chain, and signed checkpoints that are kept off the server."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casebook.audit.models import AuditEntry
from casebook.audit.services import GENESIS, canonical, hash_of, now_iso
from casebook.encrypted import CheckpointSigner

CHECKPOINT_FORMAT = "casebook-audit-checkpoint/1"


@dataclass(frozen=True)
class Verdict:
    ok: bool
    entries: int
    head_seq: int
    head_hash: str
    first_bad: int | None = None
    reason: str = ""

    def sentence(self) -> str:
        if self.ok:
            return (
                f"audit log intact: {self.entries} entries, head {self.head_seq} {self.head_hash}"
            )
        return f"audit log damaged at entry {self.first_bad}: {self.reason}"


def verify_chain(
    session: Session, checkpoint: dict[str, Any] | None = None, public_key: bytes | None = None
) -> Verdict:
    """Walk the log in order; name the first entry whose sequence, link or hash is wrong."""
    expected_seq = 1
    prev = GENESIS
    hashes_at: dict[int, str] = {}
    want = int(checkpoint["seq"]) if checkpoint else None
    rows = session.execute(
        select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=2000)
    ).scalars()
    count = 0
    for entry in rows:
        if entry.seq != expected_seq:
            return Verdict(
                False,
                count,
                expected_seq - 1,
                prev,
                expected_seq,
                f"entry {expected_seq} is missing (next is {entry.seq})",
            )
        if entry.prev_hash != prev:
            return Verdict(
                False,
                count,
                entry.seq - 1,
                prev,
                entry.seq,
                "its link to the previous entry is broken",
            )
        if hash_of(entry) != entry.hash:
            return Verdict(
                False, count, entry.seq - 1, prev, entry.seq, "its contents do not match its hash"
            )
        prev = entry.hash
        count += 1
        expected_seq += 1
        if want is not None and entry.seq == want:
            hashes_at[want] = entry.hash
    head_seq = expected_seq - 1
    if checkpoint is not None and want is not None:
        problem = _check_checkpoint(checkpoint, public_key)
        if problem:
            return Verdict(False, count, head_seq, prev, want, problem)
        if want > head_seq:
            return Verdict(
                False,
                count,
                head_seq,
                prev,
                head_seq + 1,
                f"the log ends at {head_seq} but the checkpoint vouches for {want}: "
                "entries were cut off",
            )
        if hashes_at.get(want) != checkpoint["hash"]:
            return Verdict(
                False,
                count,
                head_seq,
                prev,
                want,
                "the entry differs from the one the checkpoint vouches for",
            )
    return Verdict(True, count, head_seq, prev)


def _payload(seq: int, head_hash: str, at: str) -> bytes:
    return canonical(
        {"format": CHECKPOINT_FORMAT, "seq": seq, "hash": head_hash, "at": at}
    ).encode()


def make_checkpoint(session: Session, signer: CheckpointSigner) -> dict[str, Any]:
    head = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    at = now_iso()
    return {
        "format": CHECKPOINT_FORMAT,
        "seq": seq,
        "hash": head_hash,
        "at": at,
        "public_key": base64.b64encode(signer.public_key).decode(),
        "signature": base64.b64encode(signer.sign(_payload(seq, head_hash, at))).decode(),
    }


def _check_checkpoint(doc: dict[str, Any], public_key: bytes | None) -> str:
    try:
        if doc.get("format") != CHECKPOINT_FORMAT:
            return "the checkpoint file has an unknown format"
        key = base64.b64decode(doc["public_key"])
        if public_key is not None and key != public_key:
            return "the checkpoint was signed by another key"
        signature = base64.b64decode(doc["signature"])
        message = _payload(int(doc["seq"]), str(doc["hash"]), str(doc["at"]))
    except (KeyError, ValueError, TypeError):
        return "the checkpoint file is damaged"
    if not CheckpointSigner.verify(key, message, signature):
        return "the checkpoint's signature is not valid"
    return ""


def load_checkpoint(raw: str) -> dict[str, Any]:
    doc = json.loads(raw)
    if not isinstance(doc, dict):
        raise ValueError("not a checkpoint")
    return doc

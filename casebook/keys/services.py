"""Key operations: status, rotate, rewrap (batched, resumable), retire, crypto-shredding."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from casebook.audit.selectors import role_controls_audit_log
from casebook.audit.services import Actor, audit_record
from casebook.db import after_commit
from casebook.encrypted import Vault
from casebook.events import kek_rotated
from casebook.keys.models import CaseKey, KeyErasure
from casebook.pausepoints import pause_point
from crypto.keyring import KekStatus, KeyRing


@dataclass(frozen=True)
class PendingShredding:
    """Erasures whose destroyed keys were wrapped by KEKs not yet retired: old copies of the
    wrapped keys (WAL, dead tuples, backups) still open with today's keyring until then."""

    keks: tuple[int, ...]  # every one of these must be retired
    erasures: int

    def sentence(self) -> str:
        if len(self.keks) == 1:
            return f"{self.erasures} erasures pending shredding until KEK {self.keks[0]} is retired"
        ids = ", ".join(str(k) for k in self.keks)
        return f"{self.erasures} erasures pending shredding until KEKs {ids} are retired"


@dataclass(frozen=True)
class KeyStatus:
    source: str
    primary: int
    keks: list[tuple[int, str, str, int]]  # id, status, created, data keys wrapped under it
    index_bits: int
    expected_records: int
    pending: list[PendingShredding] = field(default_factory=list)
    erasures: int = 0
    role_controls_audit_log: bool = False  # PostgreSQL: the app's role owns audit_log

    @property
    def rewrap_remaining(self) -> int:
        """Data keys still wrapped under a KEK other than the primary."""
        return sum(count for kid, _s, _c, count in self.keks if kid != self.primary)


def keys_status(session: Session, vault: Vault) -> KeyStatus:
    counts = dict(
        session.execute(select(CaseKey.kek_id, func.count()).group_by(CaseKey.kek_id)).all()
    )
    ring = vault.keyring
    return KeyStatus(
        source=vault.source.describe(),
        primary=ring.primary_id,
        keks=[(k.id, k.status.value, k.created, int(counts.get(k.id, 0))) for k in ring.keks],
        index_bits=vault.index_bits,
        expected_records=vault.expected_records,
        pending=erasures_pending(session, ring),
        erasures=int(session.scalar(select(func.count()).select_from(KeyErasure)) or 0),
        role_controls_audit_log=role_controls_audit_log(session),
    )


def erasures_pending(session: Session, ring: KeyRing) -> list[PendingShredding]:
    """Erasures not yet complete everywhere, grouped by the KEKs whose retirement completes
    them. An erasure noted without its KEK waits for every KEK created up to its time."""
    live = [k for k in ring.keks if k.status is not KekStatus.RETIRED]
    live_ids = {k.id for k in live}
    groups: dict[tuple[int, ...], int] = {}
    for kek_id, count in session.execute(
        select(KeyErasure.kek_id, func.count())
        .where(KeyErasure.kek_id.is_not(None))
        .group_by(KeyErasure.kek_id)
    ):
        if kek_id in live_ids:
            groups[(kek_id,)] = groups.get((kek_id,), 0) + int(count)
    for (erased_at,) in session.execute(
        select(KeyErasure.erased_at).where(KeyErasure.kek_id.is_(None))
    ):
        blocking = tuple(k.id for k in live if datetime.fromisoformat(k.created) <= erased_at)
        if blocking:
            groups[blocking] = groups.get(blocking, 0) + 1
    return [PendingShredding(keks, n) for keks, n in sorted(groups.items())]


def keys_rotate(session: Session, actor: Actor, vault: Vault) -> int:
    """Add a new primary KEK. Old data keys stay readable until rewrapped."""
    ring = vault.keyring.rotated()
    vault.source.save(ring)
    vault.reload()
    audit_record(session, actor, "keys.rotate", object_type="kek", object_id=ring.primary_id)
    kek_rotated.send(session, vault=vault)  # system keys (the field form's) rewrapped at once
    return ring.primary_id


def keys_rewrap(
    factory: sessionmaker[Session],
    actor: Actor,
    vault: Vault,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Rewrap every data key not under the primary KEK, one committed batch at a time.

    Each batch is its own transaction with its own audit entry, so a crash loses at most one
    batch of work and a rerun continues where it stopped; reads and writes go on meanwhile.
    """
    vault.reload()
    primary = vault.keyring.primary_id
    done = 0
    while True:
        with factory() as session, session.begin():
            rows = session.execute(
                select(CaseKey.owner_id, CaseKey.wrapped)
                .where(CaseKey.kek_id != primary)
                .order_by(CaseKey.owner_id)
                .limit(batch)
            ).all()
            if not rows:
                break
            for owner_id, wrapped in rows:
                new = vault.envelope.rewrap(str(owner_id), wrapped)
                session.execute(
                    update(CaseKey)
                    .where(CaseKey.owner_id == owner_id)
                    .values(wrapped=new, kek_id=primary)
                )
            audit_record(
                session,
                actor,
                "keys.rewrap",
                object_type="kek",
                object_id=primary,
                details={"rewrapped": len(rows)},
            )
            pause_point("keys.rewrap.batch")
        done += len(rows)
        if progress:
            progress(len(rows))
    return done


class KeyInUseError(Exception):
    pass


def keys_retire(session: Session, actor: Actor, vault: Vault, kek_id: int) -> None:
    """Retire a KEK for good; refused while any data key is still wrapped under it."""
    in_use = session.scalar(select(func.count()).where(CaseKey.kek_id == kek_id)) or 0
    if in_use:
        raise KeyInUseError(
            f"KEK {kek_id} still wraps {in_use} data keys; run 'casebook keys rewrap'"
        )
    completed = int(session.scalar(select(func.count()).where(KeyErasure.kek_id == kek_id)) or 0)
    ring = vault.keyring.retired(kek_id)
    vault.source.save(ring)
    vault.reload()
    audit_record(
        session,
        actor,
        "keys.retire",
        object_type="kek",
        object_id=kek_id,
        details={"erasures_completed": completed},
    )


def data_key_destroy(
    session: Session, actor: Actor, vault: Vault, owner_id: uuid.UUID, ledger: Path | None
) -> None:
    """Crypto-shredding: delete the wrapped DEK. Every field and attachment of the owner becomes
    unreadable in the live database (SQLite: secure_delete overwrites the freed page). The
    erasure notes the KEK that wrapped the key: copies of it elsewhere (PostgreSQL's old tuples
    and WAL, backups) stay unwrappable until that KEK is retired (`keys_status` says so).

    The erasure is kept in the database and, when given, appended to a ledger file outside the
    database, so that a restore of an older backup can erase the case again.
    """
    kek_id = session.scalar(
        delete(CaseKey).where(CaseKey.owner_id == owner_id).returning(CaseKey.kek_id)
    )
    session.add(KeyErasure(owner_id=owner_id, erased_by=actor.label, kek_id=kek_id))
    vault.forget(owner_id)
    audit_record(
        session,
        actor,
        "keys.destroy",
        object_type="case",
        object_id=owner_id,
        details={"kek": kek_id},
    )
    session.flush()
    if ledger is not None:
        line = json.dumps(
            {"owner_id": str(owner_id), "erased_at": datetime.now(UTC).isoformat(), "kek": kek_id}
        )
        # only once committed: a ledger line for an erasure that rolled back would erase a
        # live case at the next restore
        after_commit(session, lambda: _ledger_append(ledger, line))


def _ledger_append(ledger: Path, line: str) -> None:
    ledger.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(ledger, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def erasures_reapply(session: Session, actor: Actor, vault: Vault, ledger: Path) -> int:
    """After a restore: destroy again every data key the ledger says was erased."""
    if not ledger.exists():
        return 0
    count = 0
    for line in ledger.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        owner = uuid.UUID(entry["owner_id"])
        if session.get(CaseKey, owner) is not None:
            data_key_destroy(session, actor, vault, owner, None)
            count += 1
        elif session.get(KeyErasure, owner) is None:
            kek = entry.get("kek")
            session.add(
                KeyErasure(
                    owner_id=owner,
                    erased_by=actor.label,
                    kek_id=int(kek) if kek is not None else None,
                )
            )
    return count

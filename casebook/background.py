"""Long work a request starts and a thread of the same worker finishes (a deduplication run, a
statistics release cut): the work's state lives in the database, so every worker shows its
progress, and a heartbeat column tells a live thread from one whose worker ended.

Threads rather than a task queue: one instance runs one or two workers on one machine, the
work is rare (a lawyer's button) and one at a time, and a queue would be one more service to
run and secure. Tests join the threads kept in `app.extensions[<key>]`."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from casebook.db import UTCDateTime, new_id, utcnow

HEARTBEAT_SECONDS = 30.0  # how often running work says it is alive
STALE = timedelta(minutes=5)  # work silent this long lost its worker: it is abandoned
RUNNING, FAILED = "running", "failed"


class BackgroundWork:
    """The columns every piece of background work keeps (a mixin of its model): who started
    it and when, its heartbeat, its state, and `slot` — 1 while it goes and NULL after, so a
    unique index on it (declared by each table) lets one piece of its kind hold it at a time."""

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    state: Mapped[str] = mapped_column(String(10), default=RUNNING)
    slot: Mapped[int | None] = mapped_column(Integer, nullable=True, default=1)


def abandon_if_silent(work: BackgroundWork | None) -> bool:
    """Let go of work whose worker died (no heartbeat for STALE): its slot freed, its state
    failed, so a killed worker never blocks the next run for good. True when it was; the
    caller says why in its own words and flushes."""
    if work is None or datetime.now(UTC) - work.heartbeat_at <= STALE:
        return False
    work.slot = None
    work.state = FAILED
    work.finished_at = datetime.now(UTC)
    return True


log = logging.getLogger(__name__)


def start_worker(threads_key: str, name: str, work: Callable[[], None]) -> None:
    """Run `work` in a daemon thread of this worker, inside the app's context (call it once
    the start is committed: the thread reads what the request wrote)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        with app.app_context():
            work()

    thread = threading.Thread(target=run, name=name, daemon=True)
    app.extensions.setdefault(threads_key, []).append(thread)
    thread.start()


@contextmanager
def heartbeat(beat: Callable[[], None], every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Call `beat` every `every` seconds while the block runs (a long step that has no
    progress of its own to report still shows it lives). A failed beat is logged, not raised:
    the work goes on, and at worst is taken for abandoned after STALE."""
    finished = threading.Event()

    def loop() -> None:
        while not finished.wait(every):
            try:
                beat()
            except Exception as exc:  # a locked database for a moment must not end the work
                log.warning(
                    "heartbeat failed",
                    extra={"event": "heartbeat_failed", "error": type(exc).__name__},
                )

    thread = threading.Thread(
        target=loop, name=f"{threading.current_thread().name}-beat", daemon=True
    )
    thread.start()
    try:
        yield
    finally:
        finished.set()
        thread.join()

"""Long work a request starts and a thread of the same worker finishes (a deduplication run, a
statistics release cut): the work's state lives in the database, so every worker shows its
progress, and a heartbeat column tells a live thread from one whose worker ended.

Threads rather than a task queue: one instance runs one or two workers on one machine, the
work is rare (a lawyer's button) and one at a time, and a queue would be one more service to
run and secure. Tests join the threads kept in `app.extensions[<key>]`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from flask import current_app

HEARTBEAT_SECONDS = 30.0  # how often running work says it is alive
STALE = timedelta(minutes=5)  # work silent this long lost its worker: it is abandoned

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

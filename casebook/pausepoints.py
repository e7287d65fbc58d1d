"""Pause points: named places where a test holds a process, so that it can act (kill the
process, look at the database) at a known moment instead of after a guessed sleep.

Inactive, at the cost of one environment lookup, unless `CASEBOOK_PAUSE_AT` names the point
(`name`, or `name:n` for its n-th passage in the process) and `CASEBOOK_PAUSE_DIR` names a
folder. The process then creates `<folder>/<name>.reached` on reaching the point and waits until
`<folder>/<name>.go` exists, for ten minutes at most. Ignored when `CASEBOOK_ENV` is production.

Points: `keys.rewrap.batch` (a batch's keys rewrapped, not yet committed), `imports.batch`
(a batch of an import's cases written, not yet committed), `stats.release.snapshot` (a
release cut has read its snapshot of the cases, and not yet protected or estimated).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

_WAIT_SECONDS = 600.0
_passages: dict[str, int] = {}
_lock = threading.Lock()


def pause_point(name: str) -> None:
    wanted = os.environ.get("CASEBOOK_PAUSE_AT")
    if not wanted or os.environ.get("CASEBOOK_ENV") == "production":
        return
    point, _, nth = wanted.partition(":")
    if point != name:
        return
    with _lock:
        _passages[name] = _passages.get(name, 0) + 1
        if _passages[name] != int(nth or 1):
            return
    folder = Path(os.environ.get("CASEBOOK_PAUSE_DIR", "."))
    (folder / f"{name}.reached").touch()
    deadline = time.monotonic() + _WAIT_SECONDS
    while not (folder / f"{name}.go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)

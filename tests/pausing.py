"""The test side of casebook.pausepoints: hold a process at a named point, then act."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def pause_env(folder: Path, point: str, nth: int = 1) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return {"CASEBOOK_PAUSE_AT": f"{point}:{nth}", "CASEBOOK_PAUSE_DIR": str(folder)}


def wait_reached(
    folder: Path, point: str, alive: Callable[[], bool] = lambda: True, seconds: float = 300
) -> None:
    """Poll, with a bounded deadline, until the process holds at `point`."""
    deadline = time.monotonic() + seconds
    while not (folder / f"{point}.reached").exists():
        assert alive(), f"the process ended before it reached {point}"
        assert time.monotonic() < deadline, f"{point} was not reached in {seconds:.0f} s"
        time.sleep(0.02)


def release(folder: Path, point: str) -> None:
    (folder / f"{point}.go").touch()

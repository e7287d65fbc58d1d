"""Small timing helpers: every figure is printed next to a baseline measured in the same run,
because this machine is shared and noisy (absolute numbers move by 1.5x between runs)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def per_call(fn: Callable[[], object], number: int, repeat: int = 5) -> float:
    """Median seconds per call over `repeat` rounds of `number` calls."""
    rounds = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - start) / number)
    return statistics.median(rounds)


def row(name: str, seconds: float, baseline: float | None = None, unit: str = "µs") -> str:
    scale = {"µs": 1e6, "ms": 1e3, "s": 1.0}[unit]
    text = f"{name:<58} {seconds * scale:>10.2f} {unit}"
    if baseline:
        text += f"   {seconds / baseline:>6.2f}x baseline"
    return text

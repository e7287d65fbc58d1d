"""Multiple systems estimation: the Kosovo run with LCMCR's default schedule beside the
log-linear fit, and how a sweep's cost grows with the number of distinct capture patterns.

Baseline (same run): the multinomial draw of the same shape alone — the one step of a sweep
that cannot be vectorised away (numpy draws each pattern's classes in turn), so the ratio
shows what the rest of the sweep costs.

Run: .venv/bin/python -m bench.estimate [--lists 4,5,6] [--sweeps 4000]
Goal: the Kosovo run with the default schedule in <= 10 s on two cores; time per
sweep linear in the number of distinct patterns.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._timing import per_call, row
from casebook.estimate.captures import Captures, captures_from_counts
from casebook.estimate.lcmcr import K_DEFAULT, Schedule, lcmcr
from casebook.estimate.loglinear import loglinear
from tests.estimate.conftest import kosovo


def _default_sweeps() -> int:
    schedule = Schedule()
    return schedule.burn_in + schedule.samples // schedule.chains * schedule.thin


def _multinomial_baseline(patterns: int, chains: int) -> float:
    rng = np.random.default_rng(0)
    prob = rng.dirichlet(np.ones(K_DEFAULT), size=(chains, patterns + 1))
    counts = rng.integers(0, 1000, size=(chains, patterns + 1))
    return per_call(lambda: rng.multinomial(counts, prob), number=500)


def kosovo_run(seed: int) -> None:
    data = kosovo()
    schedule = Schedule()
    start, cpu = time.perf_counter(), time.process_time()
    post = lcmcr(data, seed=seed, schedule=schedule)
    took, took_cpu = time.perf_counter() - start, time.process_time() - cpu
    start = time.perf_counter()
    fit = loglinear(data)
    took_ll = time.perf_counter() - start
    sweeps = _default_sweeps()
    lo, hi = post.interval
    print(
        f"Kosovo (4 lists, 15 patterns, 4,400 people), LCMCR default schedule: "
        f"{schedule.chains} chains x {sweeps:,} sweeps, {schedule.samples:,} draws kept"
    )
    print(row("LCMCR (K=10, a=b=0.25), wall", took, unit="s"))
    # On a busy host the wall time waits for other processes; CPU time is this run's own work.
    print(row("LCMCR, CPU time of this process", took_cpu, unit="s"))
    print(row("log-linear (64 models by BIC + profile interval)", took_ll, unit="s"))
    print(
        f"  LCMCR median {post.median:,.0f} (95% {lo:,.0f}-{hi:,.0f}), split-R̂ "
        f"{post.convergence.rhat:.3f}, ESS {post.convergence.ess:.0f}; "
        f"log-linear {fit.estimate:,.0f} ({fit.interval[0]:,.0f}-{fit.interval[1]:,.0f}) "
        f"{fit.model}"
    )
    sys.stdout.flush()


def _population(lists: int, seed: int) -> Captures:
    """Heterogeneous capture (two groups) over enough people that every pattern occurs."""
    rng = np.random.default_rng(seed)
    total = 200_000
    group = rng.random(total) < 0.3
    p = np.where(group[:, None], rng.uniform(0.3, 0.6, lists), rng.uniform(0.05, 0.2, lists))
    caught = rng.random((total, lists)) < p
    seen = caught[caught.any(axis=1)].astype(int)
    patterns, counts = np.unique(seen, axis=0, return_counts=True)
    return captures_from_counts(
        [f"L{j + 1}" for j in range(lists)],
        {tuple(int(v) for v in pat): int(n) for pat, n in zip(patterns, counts, strict=True)},
    )


def scaling(list_counts: list[int], sweeps: int) -> None:
    print(f"\nper sweep by distinct patterns (4 chains, {sweeps:,} sweeps each):")
    per_pattern = []
    for lists in list_counts:
        data = _population(lists, seed=lists)
        patterns = len(data.counts)
        schedule = Schedule(samples=40, burn_in=sweeps - 10, thin=1, chains=4)
        start = time.perf_counter()
        lcmcr(data, seed=1, schedule=schedule)
        sweep = (time.perf_counter() - start) / sweeps
        baseline = _multinomial_baseline(patterns, 4)
        start = time.perf_counter()
        fit = loglinear(data)
        took_ll = time.perf_counter() - start
        per_pattern.append((patterns, sweep))
        print(row(f"{lists} lists, {patterns} patterns: one sweep", sweep, baseline))
        print(row(f"{lists} lists: log-linear ({len(fit.pairs)} pairs chosen)", took_ll, unit="s"))
        sys.stdout.flush()
    if len(per_pattern) >= 2:
        x = np.array([p for p, _ in per_pattern], dtype=float)
        y = np.array([s for _, s in per_pattern])
        slope, intercept = np.polyfit(x, y, 1)
        print(
            f"  fit: {intercept * 1e6:.0f} µs + {slope * 1e6:.2f} µs per pattern a sweep; "
            f"Kosovo's default schedule at 63 patterns would take "
            f"{(intercept + 63 * slope) * _default_sweeps():.1f} s"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lists", default="4,5,6")
    parser.add_argument("--sweeps", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    kosovo_run(args.seed)
    scaling([int(v) for v in args.lists.split(",")], args.sweeps)


if __name__ == "__main__":
    main()

"""The log-linear cross-check: closed forms where they exist, model choice where it matters."""

from __future__ import annotations

import numpy as np

from casebook.estimate.captures import captures_from_counts
from casebook.estimate.loglinear import loglinear
from tests.estimate.conftest import kosovo


def test_two_lists_give_lincoln_petersen() -> None:
    """Independence on two lists: the unseen are n10 × n01 / n11 (Petersen), exactly."""
    data = captures_from_counts(["A", "B"], {(1, 0): 300, (0, 1): 200, (1, 1): 100})
    fit = loglinear(data)
    assert abs(fit.estimate - (600 + 300 * 200 / 100)) < 0.5
    assert fit.pairs == ()
    assert fit.interval[0] < fit.estimate < fit.interval[1]


def test_kosovo_best_bic_model_is_in_the_published_range() -> None:
    fit = loglinear(kosovo())
    assert 9_400 <= fit.estimate <= 14_400
    assert fit.interval[0] < fit.estimate < fit.interval[1]
    assert fit.model.startswith("[EXH][ABA][OSCE][HRW]")


def test_dependence_between_two_lists_is_chosen_and_corrects_the_estimate() -> None:
    """List B finds mostly people list A already found: an independence model would
    underestimate badly; BIC picks the A×B interaction and the interval covers the truth."""
    rng = np.random.default_rng(3)
    truth = 3000
    a = rng.random(truth) < 0.3
    b = np.where(a, rng.random(truth) < 0.6, rng.random(truth) < 0.15)
    c = rng.random(truth) < 0.3
    seen = np.stack([a, b, c], axis=1).astype(int)
    seen = seen[seen.any(axis=1)]
    patterns, counts = np.unique(seen, axis=0, return_counts=True)
    data = captures_from_counts(
        ["A", "B", "C"],
        {tuple(int(v) for v in p): int(n) for p, n in zip(patterns, counts, strict=True)},
    )
    fit = loglinear(data)
    assert (0, 1) in fit.pairs
    assert fit.interval[0] <= truth <= fit.interval[1]

"""The latent-class estimator against the field (Kosovo) and against known totals."""

from __future__ import annotations

import numpy as np

from casebook.estimate.lcmcr import Schedule, lcmcr, split_rhat
from casebook.estimate.loglinear import loglinear
from tests.estimate.conftest import kosovo, simulate


def test_kosovo_matches_lcmcr_and_ball_et_al() -> None:
    """LCMCR 0.4.14's default run gives a median of 10,487 (9,146–13,281); Ball et al. 10,356.

    LCMCR's own schedule (10,000 burn-in, 1,000 draws thinned by 100), over four chains.
    """
    post = lcmcr(kosovo(), seed=20, schedule=Schedule())
    lo, hi = post.interval
    assert post.observed == 4400
    assert abs(post.median - 10_487) <= 0.05 * 10_487
    assert lo <= 10_356 <= hi
    assert 8_000 < lo < 10_000 and 12_000 < hi < 15_000
    assert post.convergence.converged, post.convergence
    assert post.pooled.size == 1000


def test_same_seed_same_draws_other_seed_other_draws() -> None:
    short = Schedule(samples=40, burn_in=50, thin=2, chains=4)
    a = lcmcr(kosovo(), seed=5, schedule=short)
    b = lcmcr(kosovo(), seed=5, schedule=short)
    c = lcmcr(kosovo(), seed=6, schedule=short)
    assert np.array_equal(a.draws, b.draws)
    assert not np.array_equal(a.draws, c.draws)


def test_samples_not_divisible_by_chains_are_kept_exactly() -> None:
    post = lcmcr(kosovo(), seed=1, schedule=Schedule(samples=30, burn_in=10, thin=1, chains=4))
    assert post.pooled.size == 30


def test_a_short_run_from_dispersed_starts_is_not_converged() -> None:
    """The chains start from a tenth to five times the observed unseen: too short a run shows."""
    post = lcmcr(kosovo(), seed=1, schedule=Schedule(samples=40, burn_in=0, thin=1, chains=4))
    assert not post.convergence.converged
    assert post.convergence.rhat > 1.1


def test_split_rhat_of_mixed_and_unmixed_chains() -> None:
    rng = np.random.default_rng(0)
    mixed = rng.normal(size=(4, 500))
    assert split_rhat(mixed).rhat < 1.02 and split_rhat(mixed).ess > 1000
    shifted = mixed + np.arange(4)[:, None]
    assert split_rhat(shifted).rhat > 1.5 and not split_rhat(shifted).converged
    drifting = mixed + np.linspace(0, 5, 500)[None, :]  # each chain's halves disagree
    assert not split_rhat(drifting).converged


def test_interval_covers_known_totals_in_simulations() -> None:
    """Independent lists, homogeneous capture (identifiable): the 95% intervals of both the
    latent-class and the log-linear model cover the true total in at least 36 of 40 runs."""
    truth = 1500
    capture = (0.2, 0.3, 0.25, 0.35)
    schedule = Schedule(samples=200, burn_in=500, thin=5, chains=4)
    covered_lcmcr = covered_loglinear = 0
    for rep in range(40):
        data = simulate(truth, capture, seed=1000 + rep)
        post = lcmcr(data, seed=rep, schedule=schedule)
        lo, hi = post.interval
        covered_lcmcr += lo <= truth <= hi
        fit = loglinear(data)
        covered_loglinear += fit.interval[0] <= truth <= fit.interval[1]
    assert covered_lcmcr >= 36, covered_lcmcr
    assert covered_loglinear >= 36, covered_loglinear

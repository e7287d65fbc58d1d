"""Bayesian non-parametric latent-class capture–recapture (Manrique-Vallier, Biometrics 2016).

The model of the R package LCMCR: every person belongs to one of K latent classes with
stick-breaking weights π (truncated at K, concentration α ~ Gamma(a, b)); within a class each
list j captures independently with probability λ_jk ~ Beta(1, 1); the population size N has
the prior p(N) ∝ 1/N. Classes let capture probabilities vary between people and so absorb
heterogeneity and dependence between lists.

The Gibbs sampler works on pattern counts, not people: the people sharing a pattern are
exchangeable, so their classes are one multinomial draw per pattern. One sweep:
  1. classes of the observed (per pattern) and of the n0 unobserved (the all-zero pattern):
     multinomial with probabilities ∝ π_k Π_j λ_jk^x_j (1 − λ_jk)^(1 − x_j);
  2. λ_jk ~ Beta(1 + captured in class k by list j, 1 + in class k not captured by j);
  3. V_k ~ Beta(1 + n_k, α + Σ_{l>k} n_l) for k < K, V_K = 1, π from V;
  4. α ~ Gamma(a + K − 1, b − Σ_{k<K} log(1 − V_k));
  5. n0 ~ NegativeBinomial(n, 1 − π0), π0 = Σ_k π_k Π_j (1 − λ_jk), the probability of being on
     no list (the conditional of N − n under the 1/N prior, classes of the unobserved
     integrated out; they are drawn again in step 1).
Several chains run side by side in the same arrays (one numpy call per step for all of them),
started from dispersed values, so split-R̂ over the chains checks convergence at almost no
extra cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from casebook.estimate.captures import Captures

# LCMCR's defaults (lcmCR(): K = 10, a_alpha = b_alpha = 0.25, burnin 10000, samples 1000,
# thinning 100).
K_DEFAULT = 10
ALPHA_PRIOR = (0.25, 0.25)
BURN_IN = 10_000
SAMPLES = 1_000
THIN = 100
CHAINS = 4
LEVEL = 0.95
# Split-R̂ above this means the chains have not mixed: Gelman et al.'s conventional bar (BDA3
# §11.4). The stricter 1.01 of Vehtari et al. (2021) needs far longer runs than LCMCR's
# schedule: N mixes slowly in this model (a class of people almost no list catches trades off
# against the unseen count), so the effective number of draws is reported beside it.
RHAT_LIMIT = 1.1

_TINY = 1e-12


@dataclass(frozen=True)
class Schedule:
    """How long to run: `samples` draws kept in all (split over `chains`), after `burn_in`
    sweeps per chain, one kept every `thin` sweeps."""

    samples: int = SAMPLES
    burn_in: int = BURN_IN
    thin: int = THIN
    chains: int = CHAINS

    def __post_init__(self) -> None:
        if self.chains < 2:
            raise ValueError("at least two chains are needed to check convergence")
        if self.samples < 2 * self.chains:
            raise ValueError(
                f"at least {2 * self.chains} samples are needed for {self.chains} chains"
            )
        if self.burn_in < 0 or self.thin < 1:
            raise ValueError("burn-in must be 0 or more and thinning 1 or more")


@dataclass(frozen=True)
class Convergence:
    """Split-R̂ and effective sample size of N over the chains."""

    rhat: float
    ess: float
    converged: bool
    limit: float = RHAT_LIMIT

    def as_dict(self) -> dict[str, object]:
        return {
            "converged": self.converged,
            "rhat": round(self.rhat, 4),
            "rhat_limit": self.limit,
            "ess": round(self.ess, 1),
        }


@dataclass(frozen=True)
class Posterior:
    """Draws of N (pooled over chains) and their summary."""

    observed: int
    draws: NDArray[np.int64]  # shape (chains, per-chain draws)
    convergence: Convergence
    seed: int
    schedule: Schedule
    level: float = LEVEL
    alpha: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    @property
    def pooled(self) -> NDArray[np.int64]:
        """Exactly `samples` draws: sweep by sweep across chains, so when the chains do not
        divide the samples only the last sweep is partly dropped."""
        flat: NDArray[np.int64] = self.draws.T.reshape(-1)[: self.schedule.samples]
        return flat

    @property
    def median(self) -> float:
        return float(np.median(self.pooled))

    @property
    def interval(self) -> tuple[float, float]:
        tail = (1.0 - self.level) / 2.0
        lo, hi = np.quantile(self.pooled, [tail, 1.0 - tail])
        return float(lo), float(hi)


def _stick(v: NDArray[np.float64]) -> NDArray[np.float64]:
    """Weights π from stick-breaking fractions V (last column is 1)."""
    rest = np.cumprod(1.0 - v[:, :-1], axis=1)
    pi = v.copy()
    pi[:, 1:] *= rest
    return pi


def lcmcr(
    captures: Captures,
    *,
    seed: int,
    schedule: Schedule | None = None,
    k: int = K_DEFAULT,
    alpha_prior: tuple[float, float] = ALPHA_PRIOR,
    level: float = LEVEL,
) -> Posterior:
    """Sample the posterior of the population size N; the same seed gives the same draws."""
    sched = schedule or Schedule()
    if len(captures.lists) < 3:
        raise ValueError("the latent-class model needs three lists or more")
    rng = np.random.default_rng(seed)
    c = sched.chains
    per_chain = math.ceil(sched.samples / c)
    a, b = alpha_prior
    x = captures.patterns.astype(np.float64)
    n_obs = captures.observed
    # Observed patterns, then the all-zero pattern (the unobserved) as the last row.
    xa = np.vstack([x, np.zeros((1, x.shape[1]))])  # (P+1, J)
    xa_off = 1.0 - xa
    xa_t = np.ascontiguousarray(xa.T)
    obs_counts = captures.counts.astype(np.int64)

    # Dispersed starts: capture probabilities from their prior, weights from a stick with α=1,
    # and the unobserved from a tenth to five times the observed, spread over the chains.
    lam = np.clip(rng.beta(1.0, 1.0, size=(c, x.shape[1], k)), _TINY, 1.0 - _TINY)
    v = rng.beta(1.0, 1.0, size=(c, k))
    v[:, -1] = 1.0
    pi = _stick(v)
    alpha = np.ones(c)
    n0 = np.rint(n_obs * np.exp(np.linspace(math.log(0.1), math.log(5.0), c))).astype(np.int64)
    counts = np.empty((c, xa.shape[0]), dtype=np.int64)
    counts[:, :-1] = obs_counts

    draws = np.empty((c, per_chain), dtype=np.int64)
    alphas = np.empty((c, per_chain))
    total = sched.burn_in + per_chain * sched.thin
    kept = 0
    for sweep in range(total):
        # 1. classes of every pattern's people, the unobserved included. λ stays within
        # [1e-12, 1 − 1e-12], so with a dozen lists no row of products underflows to zero.
        prob = np.exp(xa @ np.log(lam) + xa_off @ np.log1p(-lam)) * pi[:, None, :]
        prob /= prob.sum(axis=2, keepdims=True)  # (C, P+1, K)
        counts[:, -1] = n0
        alloc = rng.multinomial(counts, prob)  # (C, P+1, K)
        # 2. capture probabilities per list and class.
        n_k = alloc.sum(axis=1)  # (C, K)
        caught = xa_t @ alloc  # (C, J, K)
        lam = rng.beta(1.0 + caught, 1.0 + n_k[:, None, :] - caught)
        # 3. stick-breaking weights.
        after = np.cumsum(n_k[:, ::-1], axis=1)[:, ::-1] - n_k  # people in later classes
        v[:, :-1] = rng.beta(1.0 + n_k[:, :-1], alpha[:, None] + after[:, :-1])
        np.minimum(np.maximum(v, _TINY, out=v), 1.0 - _TINY, out=v)
        v[:, -1] = 1.0
        pi = _stick(v)
        # 4. concentration.
        rate = b - np.log1p(-v[:, :-1]).sum(axis=1)
        alpha = rng.gamma(a + k - 1, 1.0 / rate)
        # 5. the unobserved.
        np.minimum(np.maximum(lam, _TINY, out=lam), 1.0 - _TINY, out=lam)
        p0 = (pi * np.exp(np.log1p(-lam).sum(axis=1))).sum(axis=1)
        n0 = rng.negative_binomial(n_obs, np.clip(1.0 - p0, _TINY, 1.0))
        if sweep >= sched.burn_in and (sweep - sched.burn_in + 1) % sched.thin == 0:
            draws[:, kept] = n_obs + n0
            alphas[:, kept] = alpha
            kept += 1

    return Posterior(
        observed=n_obs,
        draws=draws,
        convergence=split_rhat(draws.astype(np.float64)),
        seed=seed,
        schedule=sched,
        level=level,
        alpha=alphas,
    )


def split_rhat(chains: NDArray[np.float64], limit: float = RHAT_LIMIT) -> Convergence:
    """Split-R̂ and a multi-chain effective sample size (BDA3 §11.4–11.5) of draws (m, n)."""
    m, n = chains.shape
    half = n // 2
    if half < 2:
        return Convergence(rhat=math.inf, ess=0.0, converged=False, limit=limit)
    split = np.vstack([chains[:, :half], chains[:, n - half :]])  # (2m, half)
    means = split.mean(axis=1)
    within = split.var(axis=1, ddof=1).mean()
    between = half * means.var(ddof=1)
    if within <= 0.0:
        same = between <= 0.0
        return Convergence(rhat=1.0 if same else math.inf, ess=0.0, converged=same, limit=limit)
    var_plus = (half - 1) / half * within + between / half
    rhat = math.sqrt(var_plus / within)
    # Effective sample size from autocorrelations summed over pairs until they turn negative
    # (Geyer's initial positive sequence, as in BDA3).
    centred = split - means[:, None]
    acov = np.array(
        [(centred[:, : half - t] * centred[:, t:]).sum(axis=1).mean() / half for t in range(half)]
    )
    rho = 1.0 - (within - acov) / var_plus
    total = 0.0
    t = 1
    while t + 1 < half:
        pair = rho[t] + rho[t + 1]
        if pair < 0:
            break
        total += pair
        t += 2
    ess = (2 * m * half) / (1.0 + 2.0 * total)
    return Convergence(rhat=rhat, ess=float(ess), converged=rhat <= limit, limit=limit)

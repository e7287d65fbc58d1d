"""Log-linear capture–recapture (Fienberg 1972; Bishop, Fienberg and Holland 1975).

A Poisson GLM over the 2^J − 1 observable patterns (patterns nobody has count as zeros) with
list main effects and a chosen set of pairwise interactions; the unobserved cell is the
intercept, exp(β0), assuming no J-way interaction. The interactions are chosen by BIC
(−2 log L + parameters × log n, n the people observed): every subset of pairs up to five lists,
a stepwise search (add or drop the pair that lowers BIC most) above. The interval is a profile
likelihood interval for the expected number unseen (Cormack 1992): β0 is held fixed through an
offset, the other parameters refitted, and the interval is where the deviance rises by at most
the χ²₁ quantile. It is conditional on the chosen model: model choice is this method's main
uncertainty, which is why it is printed beside the latent-class model and not instead of it.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from numpy.typing import NDArray
from scipy.optimize import brentq
from scipy.stats import chi2

from casebook.estimate.captures import Captures

EXHAUSTIVE_PAIRS = 10  # 2^10 models at five lists; stepwise above
# An expected unseen count beyond this many times the observed is a fit that ran off to
# infinity (a pattern of zeros the model cannot explain), not an estimate.
_RUNAWAY = 1e4


@dataclass(frozen=True)
class LoglinearFit:
    """The chosen model: its pairs, the estimate of N, the profile interval and BIC."""

    estimate: float
    interval: tuple[float, float]
    pairs: tuple[tuple[int, int], ...]
    lists: tuple[str, ...]
    bic: float
    level: float

    @property
    def model(self) -> str:
        """The model in the usual bracket notation, e.g. "[A][B][C] [A×B]"."""
        mains = "".join(f"[{name}]" for name in self.lists)
        pairs = " ".join(f"[{self.lists[i]}×{self.lists[j]}]" for i, j in self.pairs)
        return f"{mains} {pairs}".strip()

    def as_dict(self) -> dict[str, object]:
        return {
            "estimate": round(self.estimate, 1),
            "interval": [round(self.interval[0], 1), round(self.interval[1], 1)],
            "model": self.model,
            "interval_method": "profile likelihood",
            "bic": round(self.bic, 2),
        }


def _cells(captures: Captures) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Every non-zero pattern (2^J − 1 rows) and its count, zeros included."""
    j = len(captures.lists)
    observed = captures.as_dict()
    rows = [p for p in itertools.product((0, 1), repeat=j) if any(p)]
    y = np.array([observed.get("".join(map(str, p)), 0) for p in rows], dtype=np.float64)
    return np.array(rows, dtype=np.float64), y


def _design(x: NDArray[np.float64], pairs: tuple[tuple[int, int], ...]) -> NDArray[np.float64]:
    cols = [x] + [x[:, [i]] * x[:, [j]] for i, j in pairs]
    return np.hstack(cols)


def _fit(
    y: NDArray[np.float64], exog: NDArray[np.float64], offset: float | None = None
) -> tuple[float, float] | None:
    """(deviance, intercept) of a Poisson GLM, or None when it does not converge.

    With `offset` the intercept is held at that value and not estimated.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if offset is None:
                model = sm.GLM(y, sm.add_constant(exog, has_constant="add"), sm.families.Poisson())
                result = model.fit()
                return float(result.deviance), float(result.params[0])
            model = sm.GLM(y, exog, sm.families.Poisson(), offset=np.full(y.shape, offset))
            result = model.fit()
            return float(result.deviance), offset
        except (ValueError, np.linalg.LinAlgError, FloatingPointError):
            return None


def _bic(
    y: NDArray[np.float64], x: NDArray[np.float64], pairs: tuple[tuple[int, int], ...], n: int
) -> tuple[float, float] | None:
    """(BIC, intercept) of the model with these pairs; None when it fails or runs away."""
    fitted = _fit(y, _design(x, pairs))
    if fitted is None:
        return None
    deviance, b0 = fitted
    if (
        not math.isfinite(b0)
        or not math.isfinite(deviance)
        or math.exp(min(b0, 700)) > _RUNAWAY * n
    ):
        return None
    params = 1 + x.shape[1] + len(pairs)
    # The deviance differs from −2 log L by a constant of the data, the same for every model.
    return deviance + params * math.log(n), b0


def loglinear(captures: Captures, *, level: float = 0.95) -> LoglinearFit:
    """The BIC-best log-linear model with pairwise interactions, its estimate and interval."""
    x, y = _cells(captures)
    j = x.shape[1]
    n = captures.observed
    all_pairs = list(itertools.combinations(range(j), 2))
    # A model must leave the unseen cell identified: no more parameters than cells.
    max_pairs = min(len(all_pairs), (2**j - 1) - 1 - j)
    scored: dict[tuple[tuple[int, int], ...], tuple[float, float] | None] = {}

    def score(pairs: tuple[tuple[int, int], ...]) -> float:
        if pairs not in scored:
            scored[pairs] = _bic(y, x, pairs, n) if len(pairs) <= max_pairs else None
        got = scored[pairs]
        return math.inf if got is None else got[0]

    if len(all_pairs) <= EXHAUSTIVE_PAIRS:
        for size in range(max_pairs + 1):
            for pairs in itertools.combinations(all_pairs, size):
                score(pairs)
    else:
        current: tuple[tuple[int, int], ...] = ()
        while True:
            moves = [tuple(sorted((*current, p))) for p in all_pairs if p not in current]
            moves += [tuple(q for q in current if q != p) for p in current]
            best = min(moves, key=score, default=current)
            if score(best) >= score(current):
                break
            current = best
    fits = {p: v for p, v in scored.items() if v is not None}
    if not fits:
        raise ValueError("no log-linear model could be fitted to these capture histories")
    pairs = min(fits, key=lambda p: fits[p][0])
    bic, b0 = fits[pairs]
    lo, hi = _profile(y, _design(x, pairs), b0, level)
    return LoglinearFit(
        estimate=n + math.exp(b0),
        interval=(n + math.exp(lo), n + math.exp(hi)),
        pairs=pairs,
        lists=captures.lists,
        bic=bic,
        level=level,
    )


def _profile(
    y: NDArray[np.float64], exog: NDArray[np.float64], b0: float, level: float
) -> tuple[float, float]:
    """The profile-likelihood interval for the intercept (log expected unseen)."""
    best = _fit(y, exog)
    assert best is not None
    cut = best[0] + float(chi2.ppf(level, 1))

    def excess(value: float) -> float:
        fitted = _fit(y, exog, offset=value)
        return (math.inf if fitted is None else fitted[0]) - cut

    def bound(direction: float) -> float:
        step = 0.25
        inner = b0
        outer = b0 + direction * step
        while excess(outer) < 0:
            inner = outer
            step *= 2
            outer = b0 + direction * step
            if step > 64:
                return direction * math.inf
        return float(brentq(excess, min(inner, outer), max(inner, outer), xtol=1e-4))

    return bound(-1.0), bound(1.0)

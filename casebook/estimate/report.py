"""One estimate as a plain dict (the JSON of `casebook estimate`) and as text.

The latent-class model leads when there are three lists or more; the log-linear model is always
printed beside it. With two lists only the log-linear (Lincoln–Petersen) estimate exists, and it
assumes the lists are independent, which nobody can check from two lists: a warning says so.
"""

from __future__ import annotations

import math
from typing import Any

from casebook.estimate.captures import CaptureError, Captures, captures_from_counts
from casebook.estimate.lcmcr import LEVEL, Schedule, lcmcr
from casebook.estimate.loglinear import loglinear

TWO_LISTS_WARNING = (
    "only two lists: dependence between lists cannot be modelled, so the log-linear estimate "
    "assumes they are independent (a list that finds the same people as the other biases it down)"
)


def _count(value: float) -> int | None:
    """People are whole; an unbounded interval end is null."""
    return round(value) if math.isfinite(value) else None


def estimate_report(captures: Captures, *, seed: int, schedule: Schedule) -> dict[str, Any]:
    """Estimate N from capture histories: LCMCR (three lists or more) beside log-linear."""
    try:
        fit = loglinear(captures, level=LEVEL)
    except ValueError as exc:  # every model ran away: the overlaps cannot carry an estimate
        raise CaptureError([str(exc)]) from None
    loglin = {
        "estimate": _count(fit.estimate),
        "interval": [_count(fit.interval[0]), _count(fit.interval[1])],
        "model": fit.model,
        "interval_method": "profile likelihood, conditional on the model chosen by BIC",
    }
    report: dict[str, Any] = {
        "observed": captures.observed,
        "lists": list(captures.lists),
        "level": LEVEL,
        "loglinear": loglin,
        "warnings": [],
    }
    if len(captures.lists) < 3:
        report |= {
            "method": "loglinear",
            "estimate": loglin["estimate"],
            "interval": loglin["interval"],
            "samples": None,
            "seed": None,
            "convergence": None,
        }
        report["warnings"].append(TWO_LISTS_WARNING)
        return report
    post = lcmcr(captures, seed=seed, schedule=schedule, level=LEVEL)
    lo, hi = post.interval
    report |= {
        "method": "lcmcr",
        "estimate": _count(post.median),
        "interval": [_count(lo), _count(hi)],
        "samples": schedule.samples,
        "seed": seed,
        "convergence": post.convergence.as_dict()
        | {"chains": schedule.chains, "burn_in": schedule.burn_in, "thin": schedule.thin},
    }
    if not post.convergence.converged:
        report["warnings"].append(
            f"the chains did not converge (split-R̂ {post.convergence.rhat:.3f} > "
            f"{post.convergence.limit}): run longer (--burn-in, --samples, --thin); these "
            "figures are not an estimate"
        )
    return report


def _span(interval: list[int | None]) -> str:
    lo, hi = interval
    return f"{lo:,}–{hi:,}" if lo is not None and hi is not None else f"{lo or '?'}–unbounded"


def report_text(report: dict[str, Any]) -> str:
    """The report as a few lines a reader can quote."""
    pct = round(report["level"] * 100)
    lines = [
        f"lists: {', '.join(report['lists'])}",
        f"documented (on at least one list): {report['observed']:,}",
    ]
    if report["method"] == "lcmcr":
        conv = report["convergence"]
        lines.append(
            f"estimated total (latent-class model, LCMCR): {report['estimate']:,} "
            f"({pct}% interval {_span(report['interval'])}), posterior median of "
            f"{report['samples']:,} draws, seed {report['seed']}"
        )
        lines.append(
            f"convergence: split-R̂ {conv['rhat']} (limit {conv['rhat_limit']}), effective "
            f"draws {conv['ess']}, {conv['chains']} chains: "
            + ("converged" if conv["converged"] else "NOT CONVERGED")
        )
    ll = report["loglinear"]
    role = (
        "log-linear cross-check" if report["method"] == "lcmcr" else "estimated total (log-linear)"
    )
    lines.append(
        f"{role}: {ll['estimate']:,} ({pct}% profile interval "
        f"{_span(ll['interval'])}), model {ll['model']} (chosen by BIC)"
    )
    lines += [f"warning: {w}" for w in report["warnings"]]
    return "\n".join(lines)


# People on two lists or more below which a stratum is not estimated: with a handful of
# overlaps the unseen count is driven by chance coincidences (Petersen's estimate with m = 3
# moves by a third when one more person is matched).
MIN_OVERLAP = 10


def stratified_report(
    lists: tuple[str, ...],
    overall: dict[tuple[int, ...], int],
    strata: dict[str, dict[tuple[int, ...], int]],
    *,
    seed: int,
    schedule: Schedule,
    unstratified: int = 0,
    dimension: str | None = None,
    min_overlap: int = MIN_OVERLAP,
) -> dict[str, Any]:
    """The overall estimate and one per stratum; a stratum with too little overlap (or with
    people of unknown stratum outside it) is reported as not estimable, with the reason."""
    report = estimate_report(captures_from_counts(lists, overall), seed=seed, schedule=schedule)
    if dimension is None:
        return report
    rows: list[dict[str, Any]] = []
    for name in sorted(strata):
        counts = strata[name]
        documented = sum(counts.values())
        entry: dict[str, Any] = {"stratum": name, "documented_cases": documented}
        reason = None
        if unstratified:
            reason = (
                f"{unstratified} row(s) of outside lists match no case and are stored without "
                f"{dimension}: this stratum's people on outside lists only are unknown"
            )
        else:
            try:
                captures = captures_from_counts(lists, counts)
            except CaptureError as exc:
                reason = "; ".join(exc.problems)
            else:
                if captures.overlap() < min_overlap:
                    reason = (
                        f"too little overlap: {captures.overlap()} people on two lists or "
                        f"more (at least {min_overlap} are needed)"
                    )
        if reason is None:
            try:
                result = estimate_report(captures, seed=seed, schedule=schedule)
            except CaptureError as exc:
                reason = "; ".join(exc.problems)
            else:
                rows.append(entry | {"estimable": True} | result)
                continue
        rows.append(entry | {"estimable": False, "reason": reason})
    report["by"] = dimension
    report["strata"] = rows
    return report


def strata_text(report: dict[str, Any]) -> str:
    """One line per stratum under the overall report."""
    lines = [f"by {report['by']}:"]
    for row in report["strata"]:
        if not row["estimable"]:
            lines.append(f"  {row['stratum']}: not estimable ({row['reason']})")
            continue
        conv = row.get("convergence")
        flag = "" if conv is None or conv["converged"] else " NOT CONVERGED"
        lines.append(
            f"  {row['stratum']}: documented {row['observed']:,}, estimated {row['estimate']:,} "
            f"({_span(row['interval'])}), log-linear {row['loglinear']['estimate']:,}{flag}"
        )
    return "\n".join(lines)

"""What of an estimate may be published: no count of people below k.

A capture-pattern count is a small-cell count like any table cell: a pattern of two people on
three particular lists, in a small community, points at those people. So the published
document keeps the estimate and its interval, and counts only where they are at least k:
- pattern counts of the overall table: below k shown as null, and when exactly one is hidden
  the next smallest is hidden too (the total minus the others would give it back); patterns are
  never published per stratum (the overall table minus the strata would undo the suppression);
- a stratum with fewer than k documented people is not estimable (its estimate would reveal
  its size), and when exactly one stratum is hidden so is the next smallest;
- reasons and warnings are given without the counts they were built from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REASONS = {
    "unplaceable": "rows of outside lists that match no case are stored without this dimension",
    "overlap": "too little overlap between the lists in this stratum",
    "small": "fewer than k documented people in this stratum",
    "lists": (
        "the lists in this stratum cannot give an estimate (a list holds nobody, or the "
        "overlaps fit no model)"
    ),
}
WARNINGS = {
    "counted twice": (
        "rows of outside lists that match no case are not linked between outside lists: a "
        "person on two of them and not a case is counted twice, so the estimate is too high"
    ),
    "dependence": "only two lists: dependence between the lists cannot be modelled",
}


def _hide(values: Mapping[str, int], k: int) -> dict[str, int | None]:
    """Counts below k as None, and one more when exactly one is hidden."""
    shown: dict[str, int | None] = {key: (v if v >= k else None) for key, v in values.items()}
    hidden = [key for key, v in shown.items() if v is None and values[key] > 0]
    if len(hidden) == 1:
        rest = sorted((v, key) for key, v in values.items() if shown[key] is not None and v > 0)
        if rest:
            shown[rest[0][1]] = None
    return shown


def _reason_code(reason: str) -> str:
    if "stored without" in reason:
        return "unplaceable"
    if "too little overlap" in reason:
        return "overlap"
    return "lists"


def publish(report: dict[str, Any], patterns: Mapping[str, int], k: int) -> dict[str, Any]:
    """The report as advocates may see it (see the module's rules)."""
    estimate_keys = ("estimate", "interval", "level", "method", "loglinear", "samples", "seed")
    out: dict[str, Any] = {key: report[key] for key in estimate_keys}
    out["convergence"] = report["convergence"]
    out["lists"] = report["lists"]
    out["k"] = k
    out["observed"] = report["observed"] if report["observed"] >= k else None
    out["patterns"] = _hide(dict(patterns), k)
    out["warnings"] = [
        text for key, text in WARNINGS.items() if any(key in w for w in report["warnings"])
    ]
    if "strata" not in report:
        return out
    sizes = {row["stratum"]: int(row["documented_cases"]) for row in report["strata"]}
    shown = _hide(sizes, k)
    strata = []
    for row in report["strata"]:
        name = row["stratum"]
        if not row["estimable"]:
            code = _reason_code(row["reason"])
            strata.append({"stratum": name, "estimable": False, "reason": REASONS[code]})
        elif shown[name] is None:
            strata.append({"stratum": name, "estimable": False, "reason": REASONS["small"]})
        else:
            strata.append(
                {"stratum": name, "estimable": True, "documented_cases": sizes[name]}
                | {key: row[key] for key in (*estimate_keys, "convergence", "observed")}
            )
    out["by"] = report["by"]
    out["strata"] = strata
    return out

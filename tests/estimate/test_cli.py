"""`casebook estimate FILE` as an analyst runs it: JSON, text, bad files, non-convergence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from casebook.cli import cli
from casebook.estimate.captures import CaptureError, captures_from_csv
from tests.estimate.conftest import kosovo_csv, simulate

QUICK = ["--burn-in", "2000", "--samples", "400", "--thin", "10"]


def _run(tmp_path: Path, text: str, *args: str) -> tuple[int, str, str]:
    path = tmp_path / "histories.csv"
    path.write_text(text)
    result = CliRunner().invoke(cli, ["estimate", str(path), *args])
    assert "Traceback" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


def _csv(seed: int = 1) -> str:
    data = simulate(1500, (0.3, 0.35, 0.25, 0.4), seed)
    lines = [",".join((*data.lists, "count"))]
    for pattern, n in data.as_dict().items():
        lines.append(",".join((*pattern, str(n))))
    return "\n".join(lines) + "\n"


def test_json_report_has_the_documented_fields(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, _csv(), "--format", "json", "--seed", "7", *QUICK)
    assert code == 0
    report = json.loads(out)
    assert {
        "observed", "estimate", "interval", "level", "method", "lists", "loglinear", "samples",
        "seed", "convergence",
    } <= set(report)  # fmt: skip
    assert report["method"] == "lcmcr" and report["level"] == 0.95
    assert report["lists"] == ["L1", "L2", "L3", "L4"]
    assert report["samples"] == 400 and report["seed"] == 7
    lo, hi = report["interval"]
    assert report["observed"] < lo <= report["estimate"] <= hi
    assert {"estimate", "interval", "model"} <= set(report["loglinear"])
    assert report["convergence"]["converged"] is True
    again = _run(tmp_path, _csv(), "--format", "json", "--seed", "7", *QUICK)[1]
    assert json.loads(again) == report


def test_text_report_states_documented_and_estimated(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, _csv(), "--seed", "1", *QUICK)
    assert code == 0
    assert "documented (on at least one list):" in out
    assert "95% interval" in out and "log-linear cross-check" in out and "converged" in out


def test_a_run_that_did_not_converge_says_so_and_fails(tmp_path: Path) -> None:
    code, out, err = _run(
        tmp_path, kosovo_csv(), "--format", "json", "--seed", "1",
        "--burn-in", "0", "--samples", "40", "--thin", "1",
    )  # fmt: skip
    assert code == 1
    assert json.loads(out)["convergence"]["converged"] is False
    assert "did not converge" in err


def test_two_lists_give_loglinear_only_with_a_warning(tmp_path: Path) -> None:
    code, out, err = _run(tmp_path, "A,B,count\n1,0,300\n0,1,200\n1,1,100\n", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["method"] == "loglinear" and report["estimate"] == 1200
    assert "dependence between lists cannot be modelled" in err
    code, out, _ = _run(tmp_path, "A,B,count\n1,0,300\n0,1,200\n1,1,100\n")
    assert code == 0 and "estimated total (log-linear): 1,200" in out


def test_a_files_warning_lines_travel_into_the_report(tmp_path: Path) -> None:
    """A capture-history CSV made by a partner comparison carries its warnings as `# warning:`
    lines (counts likely far below the truth): the estimate reads past them and repeats them,
    so whoever is handed the file and runs the estimate is told."""
    text = (
        "A,B,count\n1,0,300\n0,1,200\n1,1,100\n"
        "# warning: the counts are floors well below the truth\n# a plain comment\n"
    )
    code, out, err = _run(tmp_path, text, "--format", "json")
    assert code == 0 and json.loads(out)["estimate"] == 1200
    said = "the file says: the counts are floors well below the truth"
    assert said in json.loads(out)["warnings"] and said in err
    assert "a plain comment" not in out + err
    code, out, _ = _run(tmp_path, text)
    assert code == 0 and said in out
    # a problem's line number is still the file's, comments counted
    code, _, err = _run(tmp_path, "A,B\n# warning: x\n1,2\n")
    assert code == 2 and "line 3: values other than 0 and 1 in B" in err


def test_bad_files_are_refused_naming_the_problem(tmp_path: Path) -> None:
    cases = {
        "A,count\n1,5\n": "at least 2 lists",
        "A,B,C\n1,0,0\n0,1,0\n0,0,1\n": "no overlaps",
        "A,B,C\n1,2,0\n1,1,0\n": "values other than 0 and 1 in B",
        "A,B,C,count\n1,1,0,4\n0,0,0,9\n": "a pattern of all zeros",
        "A,B,C,count\n1,1,0,x\n": "count must be a whole number",
        "": "the file is empty",
    }
    for text, problem in cases.items():
        code, out, err = _run(tmp_path, text)
        assert code == 2, (text, code, err)
        assert problem in err, (text, err)
        assert out == ""


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(0, 1)), min_size=1),
    st.randoms(use_true_random=False),
)
def test_one_row_per_person_equals_aggregated_counts(
    rows: list[tuple[int, int, int]], random: object
) -> None:
    """Per-person rows in any order and the same people as pattern counts read the same."""
    rows = [r for r in rows if any(r)] + [(1, 1, 0)]
    shuffled = list(rows)
    random.shuffle(shuffled)  # type: ignore[attr-defined]
    per_person = "A,B,C\n" + "".join(f"{a},{b},{c}\n" for a, b, c in shuffled)
    counts: dict[tuple[int, int, int], int] = {}
    for r in rows:
        counts[r] = counts.get(r, 0) + 1
    aggregated = "A,B,C,count\n" + "".join(f"{a},{b},{c},{n}\n" for (a, b, c), n in counts.items())
    if not all(any(r[j] for r in rows) for j in range(3)):
        with pytest.raises(CaptureError, match="holds nobody"):
            captures_from_csv(per_person)
        return
    one = captures_from_csv(per_person)
    two = captures_from_csv(aggregated)
    assert one.as_dict() == two.as_dict() and one.observed == len(rows)
    assert np.array_equal(one.patterns, two.patterns)

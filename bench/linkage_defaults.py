"""Make casebook/linkage/default_model.json: the model every dedupe run starts from.

Supervised, offline, from the documented population generator (tests/linkage/generator.py):
m per comparison level from the true duplicate pairs (Splink's estimate_m_from_label_column),
u per level from a random sample of pairs, and the prior as true duplicate pairs per record.
A caseload too small or too odd for EM then still has a model that separates pairs; EM may
refine it on a large caseload (model.score). Seeds here are not the seeds the bench scores.

Run: .venv/bin/python -m bench.linkage_defaults [--records 40000] [--seed 1001]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.linkage.generator import generate

FACT_FIELDS = ("birth_year", "arrest_year", "governorate")
FACT_M_FLOOR = 0.03
U_PAIRS = 3e7  # random pairs u is estimated from (5 million left levels unobserved)


def _u(level: object) -> float:
    """The level's u; for a level no sampled pair fell in, the rule of three's bound (3 in
    the pairs sampled). Splink leaves such a level at its placeholder (0.029 for the "alike"
    level once names were compared letter by letter), which sank the true pairs there."""
    from splink.internals.constants import LEVEL_NOT_OBSERVED_TEXT

    u = getattr(level, "_u_probability", None)
    if u is None or u == LEVEL_NOT_OBSERVED_TEXT:
        return 3 / U_PAIRS
    return float(max(u, 3 / U_PAIRS))


def build(records: int, seed: int) -> dict:  # type: ignore[type-arg]
    import pyarrow as pa
    import splink
    from splink import DuckDBAPI, Linker

    from casebook.linkage.features import feature_rows
    from casebook.linkage.scoring import (
        DEFAULTS_PATH,
        DIFFERENT_FIRST_NAMES_M,
        UNLIKE_FIRST_NAMES_M,
        _levels,
        _settings,
        _table,
        private_duckdb,
        register_functions,
    )

    data = generate(records, seed=seed)
    rows = feature_rows(data.records)
    cluster: dict[str, str] = {r["id"]: r["id"] for r in data.records}
    for pair in sorted(data.pairs, key=sorted):  # union the reports of one person
        a, b = sorted(pair)
        root_a, root_b = cluster[a], cluster[b]
        while cluster[root_a] != root_a:
            root_a = cluster[root_a]
        while cluster[root_b] != root_b:
            root_b = cluster[root_b]
        cluster[max(root_a, root_b)] = min(root_a, root_b)

    def root(x: str) -> str:
        while cluster[x] != x:
            x = cluster[x]
        return x

    table = _table(rows)
    table = table.append_column(
        "cluster", pa.array([root(str(i)) for i in table.column("unique_id").to_pylist()])
    )
    con = private_duckdb("4GB")
    register_functions(con)
    linker = Linker(DuckDBAPI(connection=con).register(table), _settings(), log_level=logging.ERROR)
    linker.training.estimate_u_using_random_sampling(max_pairs=U_PAIRS, seed=seed)
    linker.training.estimate_m_from_label_column("cluster")
    comparisons: dict[str, list[dict[str, object]]] = {}
    for name, _, level in _levels(linker):
        m = float(max(level.m_probability or 0.0, 1e-6))
        if name == "first" and level.label_for_charts == "two different known names":
            m = DIFFERENT_FIRST_NAMES_M  # policy, not data: see model.py
        elif name == "first" and level.label_for_charts == "All other comparisons":
            m = min(m, UNLIKE_FIRST_NAMES_M)  # policy too
        elif name in FACT_FIELDS:
            # the generator changes a year or a place less often and by less than families'
            # reports do: a disagreement may lower a pair, not sink it on its own
            m = max(m, FACT_M_FLOOR)
        comparisons.setdefault(name, []).append(
            {
                "label": level.label_for_charts,
                "m": m,
                "u": _u(level),
            }
        )
    con.close()
    out = {
        "made_by": "bench/linkage_defaults.py",
        "generator": "tests/linkage/generator.py",
        "records": records,
        "seed": seed,
        "true_pairs": len(data.pairs),
        "splink": splink.__version__,
        "pairs_per_record": len(data.pairs) / records,
        "comparisons": comparisons,
    }
    DEFAULTS_PATH.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=1001)
    args = parser.parse_args()
    out = build(args.records, args.seed)
    print(f"wrote {len(out['comparisons'])} comparisons; {out['true_pairs']} true pairs")


if __name__ == "__main__":
    main()

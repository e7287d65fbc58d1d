"""The Splink model: Fellegi–Sunter over normalised Arabic names and Latin skeletons, trained
unsupervised on the data itself, run on an in-memory DuckDB that may not spill to disk.

DuckDB would otherwise offload to a temporary directory when memory runs short — plaintext
names on disk. Here the temporary directory is switched off and external access disabled once
set, so an oversized run fails with an out-of-memory error instead (raise
CASEBOOK_LINKAGE_MEMORY). Choices follow shared/notes/linkage-and-statistics.md (term-frequency
adjustment on first and family names, birth year exact / ±1 / ±3, u by random sampling, two EM
passes) with two departures measured in bench/README.md: the arrest year is compared (exact /
±1), and pairs are found by many narrow blocking rules instead of the note's three broad ones.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from casebook.linkage.features import COLUMNS, INTEGER_COLUMNS

DEFAULT_MEMORY = "8GB"
CHUNK_RECORDS = 50_000  # left-hand records scored per chunk


def private_duckdb(memory_limit: str = DEFAULT_MEMORY, threads: int = 2) -> Any:
    """An in-memory DuckDB that never writes: no temp directory, no external access."""
    import duckdb  # imported when linkage runs: web workers that never link need not load it

    con = duckdb.connect(":memory:", config={"threads": threads})
    con.execute("SET temp_directory = ''")
    con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_external_access = false")  # last: it locks the settings above
    return con


def _table(rows: Iterable[dict[str, Any]]) -> Any:
    import pyarrow as pa

    data: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for row in rows:
        for column in COLUMNS:
            data[column].append(row.get(column))
    schema = pa.schema([(c, pa.int64() if c in INTEGER_COLUMNS else pa.string()) for c in COLUMNS])
    return pa.table(data, schema=schema)


def _tf(level: Any, column: str, on: bool) -> Any:
    return level.configure(tf_adjustment_column=column, tf_adjustment_weight=1.0) if on else level


def _name_comparison(column: str, *, tf: bool) -> Any:
    """Levels from strongest to weakest. "Same name" is the same normalised Arabic form, the
    same Latin skeleton, or — across scripts — an Arabic and a Latin spelling with the same
    skeleton (محمد / Mohammad); term frequencies weigh a common name less."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    c, k = column, f"{column}_skel"
    cross_script = f"(starts_with({c}_l, '~') <> starts_with({c}_r, '~')) AND {k}_l = {k}_r"
    return cl.CustomComparison(
        output_column_name=column,
        comparison_levels=[
            cll.NullLevel(c),
            cll.ExactMatchLevel(c, term_frequency_adjustments=tf),
            _tf(cll.CustomLevel(cross_script, label_for_charts="same name across scripts"), k, tf),
            cll.JaroWinklerLevel(c, 0.92),
            cll.ExactMatchLevel(k, term_frequency_adjustments=tf),
            cll.JaroWinklerLevel(c, 0.80),
            cll.JaroWinklerLevel(k, 0.88),
            cll.ElseLevel(),
        ],
    )


def blocking_rules() -> list[Any]:
    """Which pairs are scored at all. Many narrow rules, each of four keys, instead of a few
    broad ones: a pair is scored when any rule's keys all agree, so a duplicate is reached as
    long as one rule avoids every field its report changed, while the pairs scored stay few.
    The three broad rules used before — (birth year, first initial), (family, father), (first,
    mother) — made blocks that grow with the caseload (every محمد born in 1985), so pairs grew
    with its square: 204 million at 200,000 records, 5.1 billion at 1,000,000. The first nine
    were chosen greedily for true pairs reached per pair scored on synthetic data and checked
    on another draw; the last two serve rows of outside lists that give three names and one
    more fact. Measured (bench/README.md): 3.3 million pairs at 200,000 records and 82 million
    at 1,000,000, with the same precision and recall as before at 100,000. Skeleton keys let a
    Latin spelling meet its Arabic twin; the arrest year stands in for the birth year in rules
    a changed birth year would break, and the other way round."""
    from splink import block_on

    return [
        block_on("first_skel", "family_skel", "mother_skel", "birth_year"),
        block_on("first", "father", "grandfather", "family"),
        block_on("father_skel", "grandfather_skel", "birth_year", "arrest_year"),
        block_on("first_skel", "family_skel", "mother_skel", "arrest_year"),
        block_on("substr(first_skel, 1, 1)", "grandfather_skel", "family_skel", "birth_year"),
        block_on("first", "father", "substr(mother_skel, 1, 1)", "birth_year"),
        block_on("father_skel", "grandfather_skel", "family_skel", "mother_skel"),
        block_on("father", "family", "birth_year", "arrest_year"),
        block_on("first_skel", "father_skel", "grandfather_skel", "arrest_year"),
        # rows of outside lists often give three names and one more fact, nothing else
        block_on("first_skel", "father_skel", "family_skel", "birth_year"),
        block_on("first", "father", "family", "governorate"),
    ]


def _settings() -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            _name_comparison("first", tf=True),
            _name_comparison("father", tf=False),
            _name_comparison("grandfather", tf=False),
            _name_comparison("family", tf=True),
            _name_comparison("mother", tf=False),
            cl.CustomComparison(
                output_column_name="birth_year",
                comparison_levels=[
                    cll.NullLevel("birth_year"),
                    cll.ExactMatchLevel("birth_year"),
                    cll.AbsoluteDifferenceLevel("birth_year", 1),
                    cll.AbsoluteDifferenceLevel("birth_year", 3),
                    cll.ElseLevel(),
                ],
            ),
            cl.CustomComparison(
                output_column_name="arrest_year",
                comparison_levels=[
                    cll.NullLevel("arrest_year"),
                    cll.ExactMatchLevel("arrest_year"),
                    cll.AbsoluteDifferenceLevel("arrest_year", 1),
                    cll.ElseLevel(),
                ],
            ),
            cl.ExactMatch("governorate"),
        ],
        blocking_rules_to_generate_predictions=blocking_rules(),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def _estimate_prior(linker: Any, records: int) -> None:
    """The share of pairs that are matches, from pairs agreeing on four names and the birth
    year (taken to find 70% of them); a small caseload may have none such, and then one
    duplicate per five people is assumed rather than none at all."""
    from splink import block_on

    linker.training.estimate_probability_two_random_records_match(
        [block_on("first", "father", "family", "birth_year")], recall=0.7
    )
    settings = linker._settings_obj  # Splink offers no public setter for the prior
    if not settings._probability_two_random_records_match > 0:
        settings._probability_two_random_records_match = min(0.5, 0.4 / max(records, 2))


def _train(linker: Any, rule: Any) -> None:
    """One EM pass. On a small caseload a pass can find too few pairs to learn from; the
    parameters then keep their previous (or Splink's default) values rather than fail the run."""
    import duckdb
    from splink.internals.exceptions import EMTrainingException

    # Splink takes the comparisons a pass cannot train out of the linker's own model and puts
    # them back only when the pass succeeds: after a failed pass the next pass, and predict,
    # would run without them (a small caseload scored without first or family names).
    model = linker._settings_obj.core_model_settings
    comparisons = list(model.comparisons)
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    except (EMTrainingException, ValueError, ZeroDivisionError, duckdb.Error) as exc:
        model.comparisons = comparisons
        logging.getLogger("casebook.linkage").warning(
            "linkage training pass skipped", extra={"reason": type(exc).__name__}
        )


def score_pairs(
    rows: Iterable[dict[str, Any]],
    *,
    threshold: float,
    memory_limit: str = DEFAULT_MEMORY,
    seed: int = 7,
) -> list[tuple[str, str, float]]:
    """Every pair scored at or above `threshold`: (unique_id_l, unique_id_r, probability)."""
    from splink import DuckDBAPI, Linker, block_on

    for name in ("splink", "splink.internals"):  # its warnings name model levels, not people
        logging.getLogger(name).setLevel(logging.ERROR)
    table = _table(rows)
    if table.num_rows < 2:
        return []
    con = private_duckdb(memory_limit)
    try:
        api = DuckDBAPI(connection=con)
        frame = api.register(table)
        linker = Linker(frame, _settings(), log_level=logging.ERROR)
        _estimate_prior(linker, table.num_rows)
        linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=seed)
        # Two EM passes, each blocked on skeletons of what it does not train, so that every
        # level is trained by a pass that sees pairs written in two scripts; a pass blocked on
        # Arabic forms would see almost none and drive those levels to zero. Each pass also
        # holds one year or place fixed that the other trains: with three names alone a
        # million-case pass made more pairs than DuckDB's memory holds (EM is not chunked).
        for rule in (
            block_on("first_skel", "family_skel", "mother_skel", "arrest_year"),
            block_on("father_skel", "grandfather_skel", "birth_year", "governorate"),
        ):
            _train(linker, rule)
        # chunks bound the memory of a large run (DuckDB may not spill to disk)
        chunks = max(1, -(-table.num_rows // CHUNK_RECORDS))
        predictions = linker.inference.predict(
            threshold_match_probability=threshold,
            num_chunks_left=chunks,
            num_chunks_right=1,
        )
        table_name = predictions.physical_name  # Splink's own table, not input
        result = con.execute(
            f"SELECT unique_id_l, unique_id_r, match_probability FROM {table_name}"  # noqa: S608  # nosec B608
        ).fetchall()
    finally:
        con.close()
    return [(str(a), str(b), float(p)) for a, b, p in result]

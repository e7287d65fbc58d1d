"""A model that cannot silently collapse: the shipped parameters, refinement only when sane,
a report of every run, and clear failures."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from casebook.audit.services import Actor
from casebook.config import Settings
from casebook.linkage.features import feature_rows
from casebook.linkage.models import MatchCandidate
from casebook.linkage.scoring import (
    LinkageError,
    _apply_defaults,
    _settings,
    _table,
    _train,
    load_defaults,
    private_duckdb,
    register_functions,
    score,
)
from casebook.linkage.services import dedupe_run, list_match
from tests.conftest import bearer, cli_env, make_user, minimal_case
from tests.linkage.generator import generate, precision_recall, sibling_rate
from tests.linkage.generator import record as linkage_record


def test_a_failed_training_pass_leaves_the_prior_and_comparisons_as_they_were() -> None:
    from splink import DuckDBAPI, Linker, block_on

    rows = feature_rows(generate(200, seed=5).records)
    con = private_duckdb("1GB")
    register_functions(con)
    linker = Linker(
        DuckDBAPI(connection=con).register(_table(rows)), _settings(), log_level=logging.ERROR
    )
    _apply_defaults(linker, load_defaults(), len(rows), u=True)
    settings = linker._settings_obj
    prior = settings._probability_two_random_records_match
    names = [c.output_column_name for c in settings.comparisons]
    # no two records share an id: this pass finds no pairs and fails
    assert _train(linker, block_on("first", "unique_id")) is not None
    assert settings._probability_two_random_records_match == prior
    assert [c.output_column_name for c in settings.comparisons] == names
    con.close()


@pytest.mark.parametrize(("records", "seed"), [(300, 21), (680, 22), (1000, 23)])
def test_small_caseloads_find_their_planted_duplicates(records: int, seed: int) -> None:
    data = generate(records, seed=seed)
    result = score(feature_rows(data.records), threshold=0.9, memory_limit="1GB")
    precision, recall = precision_recall(result.pairs, data.pairs, 0.9)
    assert precision >= 0.95 and recall >= 0.85, (precision, recall)
    assert result.model == "shipped" and result.comparisons >= len(result.pairs) > 0
    assert 0.5 * len(data.pairs) <= result.expected_pairs <= 2 * len(data.pairs)
    assert "model: shipped, prior " in result.summary()


def test_a_refinement_that_collapses_is_refused_and_the_run_says_so() -> None:
    data = generate(400, seed=31)
    result = score(feature_rows(data.records), threshold=0.9, memory_limit="1GB", refine=True)
    assert result.model == "shipped"
    assert any("the shipped model was used" in n or "shipped u" in n for n in result.notes)
    assert precision_recall(result.pairs, data.pairs, 0.9)[1] >= 0.85


def test_fewer_than_two_records_is_nothing_to_compare() -> None:
    one = feature_rows(generate(2, seed=1).records[:1])
    assert score(one, threshold=0.9).summary() == "nothing to compare: fewer than two cases"
    assert score([], threshold=0.9).nothing_to_compare


def test_a_shipped_model_that_does_not_fit_the_code_is_a_clear_error() -> None:
    defaults = load_defaults()
    defaults["comparisons"]["first"][0]["label"] = "something else"
    rows = feature_rows(generate(50, seed=1).records)
    with pytest.raises(LinkageError, match="regenerate"):
        score(rows, threshold=0.9, defaults=defaults)


def test_a_run_that_does_not_fit_in_memory_writes_nothing(app: Flask) -> None:
    db = app.extensions["casebook.db"]
    with app.app_context(), db.sessionmaker() as s, s.begin():
        from casebook.cases.services import case_create_many

        records = generate(300, seed=41).records
        case_create_many(
            s,
            Actor.cli(),
            [
                {**minimal_case(), "person": r["person"], "arrests": r["arrests"], "status": []}
                for r in records
            ],
            created_by=None,
        )
    with app.app_context(), db.sessionmaker() as s:
        with pytest.raises(LinkageError, match="CASEBOOK_LINKAGE_MEMORY") as refused, s.begin():
            dedupe_run(s, Actor.cli(), threshold=0.9, memory_limit="2MB")
        assert "for 300 cases:" in str(refused.value)
        assert s.scalar(select(func.count()).select_from(MatchCandidate)) == 0
    # an outside list: its rows are counted apart from the cases (not "303 records")
    rows = [(n, {"first_name": "أحمد", "family_name": "الحلبي"}) for n in (2, 3, 4)]
    with app.app_context(), db.sessionmaker() as s:
        with pytest.raises(LinkageError, match="for 300 cases and 3 list rows:"), s.begin():
            list_match(
                s, Actor.cli(), rows, label="l", created_by=None, threshold=0.9, memory_limit="2MB"
            )
        assert s.scalar(select(func.count()).select_from(MatchCandidate)) == 0


def _env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **cli_env(settings, CASEBOOK_LINKAGE_MEMORY="1GB")}


def test_cli_on_an_empty_instance_says_nothing_to_compare(
    app: Flask, settings: Settings, tmp_path: Path
) -> None:
    bearer(app, make_user(app, "lawyer"))  # an instance with users and no cases
    app.extensions["casebook.db"].dispose()
    done = subprocess.run(
        [sys.executable, "-c", "from casebook.cli import main; main()", "dedupe"],
        env=_env(settings),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-800:]
    assert "nothing to compare" in done.stderr


def test_brothers_arrested_together_are_not_one_person() -> None:
    # same parents, grandfather and family, arrested together, born 1-3 years apart; half of
    # them with names one letter or one long vowel apart (حسن/حسين, محمد/محمود, عمر/عمار)
    data = generate(1200, seed=51, sibling_share=0.3)
    assert len(data.siblings) >= 80
    result = score(feature_rows(data.records), threshold=0.9, memory_limit="1GB")
    assert sibling_rate(result.pairs, data.siblings, 0.9) <= 0.05
    assert precision_recall(result.pairs, data.pairs, 0.9)[1] >= 0.85


def _brothers_scored(his: str, brothers: str, misspelt: str, year: str) -> Any:
    """Brothers (same parents, family and arrest; him 1978, his brother 1975) and a second
    report of him with his first name misspelt and the given birth year, among 300 others,
    scored as a run scores them (ids him, brother, report)."""

    def record(*fields: str) -> dict[str, Any]:
        return linkage_record(*fields, governorate="homs", date="2013-04-02")

    family = [
        record("him", his, "أحمد", "حسين", "الحسن", "نور", "1978"),
        record("brother", brothers, "أحمد", "حسين", "الحسن", "نور", "1975"),
        record("report", misspelt, "أحمد", "حسين", "الحسن", "نور", year),
    ]
    background = generate(300, seed=61, sibling_share=0.0).records
    return score(feature_rows([*background, *family]), threshold=0.9, memory_limit="1GB")


@pytest.mark.parametrize(
    ("his", "brothers", "misspelt", "year"),
    [
        ("حسين", "حسن", "حسي", "1978"),  # a letter lost: one letter from either brother
        ("حسين", "حسن", "حسي", ""),
        ("حسن", "حسين", "حسبن", "1978"),
        ("محمود", "محمد", "محمو", ""),
        ("عمار", "عمر", "عماا", "1978"),
        ("أنيس", "أنس", "انيص", "1978"),
        # a letter changed to a final alef: one letter from each (ساما was read as سامي's
        # spelling, the alef as an alef maqsura, and paired with his brother alone at 1.0)
        ("سامر", "سامي", "ساما", ""),
    ],
)
def test_a_misspelt_report_of_one_brother_never_pairs_with_both(
    his: str, brothers: str, misspelt: str, year: str
) -> None:
    """A second report of one of two brothers (same parents, family and arrest, born three
    years apart) with his first name misspelt fits both at 1.0: proposed with each, a lawyer
    accepting both pairs merged the brothers through it. It is paired with at most one of
    them (the one it fits clearly better), and the run says how many pairs it held back."""

    result = _brothers_scored(his, brothers, misspelt, year)
    paired = {frozenset((a, b)) for a, b, _ in result.pairs}
    assert frozenset(("him", "brother")) not in paired
    both = {frozenset(("report", "him")), frozenset(("report", "brother"))}
    assert not both <= paired, "the report would merge the brothers"
    assert "not proposed: each would have joined two brothers" in result.summary()


@pytest.mark.parametrize(
    ("his", "brothers", "misspelt"),
    [
        # a letter lost from his name is a letter changed from his brother's, and the changed
        # letter shares its first UTF-8 byte with the one it replaced (ي/ن, و/م, ا/ر)
        ("حسين", "حسن", "حسي"),
        ("محمود", "محمد", "محود"),
        ("عمار", "عمر", "عما"),
        ("أنيس", "أنس", "أيس"),
        ("سامر", "سامي", "ساما"),  # a final alef is not his brother's ي
    ],
)
def test_a_misspelt_report_goes_to_the_brother_it_fits_letter_by_letter(
    his: str, brothers: str, misspelt: str
) -> None:
    """Names are compared letter by letter: DuckDB's edit distances count UTF-8 bytes, two to
    an Arabic letter, so a letter lost was two edits and some letters changed one. The report
    (his birth year, his name with a letter lost) then fit his brother better than him by
    the code points alone and both pairs were held back as a tie, or the brother's proposed
    alone. Letter by letter the name fits both equally and the birth year decides."""

    result = _brothers_scored(his, brothers, misspelt, "1978")
    paired = {frozenset((a, b)) for a, b, _ in result.pairs}
    assert frozenset(("report", "him")) in paired
    assert frozenset(("report", "brother")) not in paired


def test_two_misspelt_reports_of_two_brothers_never_chain_them_into_one_person() -> None:
    """Brothers كمال and جمال, and a misspelt report of each (ومال with no birth year, ذمال):
    each report is paired with its own brother and the two reports with each other, so
    accepting every pair made one person of the brothers with no report paired with both (an
    outside review's draw of 300 cases, exactly these records). Pairs are taken strongest
    first; the one that would join the brothers is held back."""

    def record(key: str, first: str, family: str, year: str) -> dict[str, Any]:
        return linkage_record(
            key,
            first,
            "خالد",
            "أنس",
            family,
            "فاطمة",
            year,
            governorate="daraa",
            date="2018-05-25",
        )

    family = [
        record("kamal", "كمال", "الزعبي", "1976"),
        record("jamal", "جمال", "الزعبي", "1977"),
        record("wamal", "ومال", "الزعبي", ""),
        record("dhamal", "ذمال", "الزعبى", "1977"),
    ]
    background = generate(300, seed=61, sibling_share=0.0).records
    result = score(feature_rows([*background, *family]), threshold=0.9, memory_limit="1GB")
    brothers = {frozenset(("kamal", "jamal"))}
    assert sibling_rate(result.pairs, brothers, 0.9) == 0, result.pairs[-6:]
    # the chain was there to cut: every pair before the rule joins them
    assert sibling_rate(result.pairs + result.held, brothers, 0.9) == 1
    assert "not proposed" in result.summary()


@pytest.mark.parametrize(
    ("first", "second", "proposed"),
    [
        ("1979-07-20", "1978-09-21", False),  # two birthdays: two people
        ("1979-07-20", "1979-09-21", False),  # the same year does not make them one
        ("1979-07-20", "1979-07-02", True),  # a day mistyped
        ("1979-03-04", "1979-04-03", True),  # the day and month swapped
        # a year alone (1 January: a year whose day nobody knew) is no second birthday, but
        # such a report fits كمال's report and جمال (born 1978) alike: held as torn between
        ("1979-07-20", "1979-01-01", False),
        ("1979-07-20", "1979", False),
        ("1953", "1998", False),  # two generations apart
        ("1953", "1962", True),  # a decade is the line
    ],
)
def test_two_reports_whose_births_say_two_people_are_held_back(
    first: str, second: str, proposed: bool
) -> None:
    """Brothers كمال and جمال, and two reports with the same misspelling (يمال) and full birth
    dates: the reports fit each other at 1.0 on names, parents and family, the model comparing
    the birth year only (an outside review's pair, 1979-07-20 and 1978-09-21; born in one year
    they were proposed as one person). Two full dates differing in both the month and the day
    are two people to a lawyer's eye, as are birth years a decade apart: the pair waits in the
    queue, held back, and the run says so. A slip of one number, or a date standing for a
    year, leaves it to the model."""

    def record(key: str, first_name: str, birth: str) -> dict[str, Any]:
        return linkage_record(
            key,
            first_name,
            "خالد",
            "أنس",
            "الزعبي",
            "فاطمة",
            birth,
            governorate="daraa",
            date="2018-05-25",
        )

    family = [
        record("kamal", "كمال", "1979-07-20"),
        record("jamal", "جمال", "1978-09-21"),
        record("report1", "يمال", first),
        record("report2", "يمال", second),
    ]
    background = generate(300, seed=61, sibling_share=0.0).records
    result = score(feature_rows([*background, *family]), threshold=0.9, memory_limit="1GB")
    reports = frozenset(("report1", "report2"))
    paired = {frozenset((a, b)) for a, b, _ in result.pairs}
    held = {frozenset((a, b)) for a, b, _ in result.held}
    assert (reports in paired) is proposed
    assert (reports in held) is not proposed
    if not proposed:
        assert "not proposed" in result.summary()


@pytest.mark.parametrize("report_birth", ["1979", "", "1979-07-20"])
def test_a_report_never_joins_two_records_whose_births_say_two_people(report_birth: str) -> None:
    """Two men of one name, parents, family and arrest, born 1979-07-20 and 1979-09-21, and a
    third report of that name giving the year, nothing, or the first one's date: the report
    fits both, so accepting its two pairs made the two men one person although their own pair
    was held back. It is paired with at most one of them, and never through a chain."""

    def record(key: str, birth: str) -> dict[str, Any]:
        return linkage_record(
            key, "حسين", "أحمد", "حسين", "الحسن", "نور", birth, governorate="homs", date="2013"
        )

    family = [record("first", "1979-07-20"), record("second", "1979-09-21")]
    family.append(record("report", report_birth))
    background = generate(300, seed=61, sibling_share=0.0).records
    result = score(feature_rows([*background, *family]), threshold=0.9, memory_limit="1GB")
    two = {frozenset(("first", "second"))}
    assert sibling_rate(result.pairs, two, 0.9) == 0, result.pairs[-4:]
    assert sibling_rate(result.pairs + result.held, two, 0.9) == 1  # there was a pair to hold
    if report_birth == "1979-07-20":  # his own date: the report is his
        assert frozenset(("report", "first")) in {frozenset((a, b)) for a, b, _ in result.pairs}


def test_reports_never_bridge_brothers_in_a_caseload_of_many_brothers() -> None:
    """A third of the people brothers arrested together, second reports misspelt as the
    generator misspells them: accepting every proposed pair makes no two brothers one person,
    directly or through a report paired with both (without the rule, six pairs of brothers of
    this draw were bridged so, and precision was 0.984)."""
    data = generate(3500, seed=51, sibling_share=0.3)
    result = score(feature_rows(data.records), threshold=0.9, memory_limit="1GB")
    assert sibling_rate(result.pairs, data.siblings, 0.9) == 0
    precision, recall = precision_recall(result.pairs, data.pairs, 0.9)
    assert precision >= 0.99 and recall >= 0.95, (precision, recall)


@pytest.mark.parametrize("seed", [100, 104, 105, 106, 108])
def test_three_hundred_records_meet_the_goals(seed: int) -> None:
    # caseloads on which precision or recall fell short: reports that moved father,
    # grandfather and family at once, Latin spellings resolved to the wrong name, two
    # different family names counted for a match on a small caseload
    data = generate(300, seed=seed)
    result = score(feature_rows(data.records), threshold=0.9, memory_limit="1GB")
    precision, recall = precision_recall(result.pairs, data.pairs, 0.9)
    assert precision >= 0.98 and recall >= 0.90, (precision, recall)
    assert sibling_rate(result.pairs, data.siblings, 0.9) == 0


def _rows_of_a_list(data: Any, count: int, seed: int) -> list[tuple[str, str, dict[str, Any]]]:
    import random

    from tests.linkage.generator import latin

    rng = random.Random(seed)
    people = [r for r in data.records if r["id"].startswith("p")]
    out = []
    for i, record in enumerate(rng.sample(people, count)):
        person = record["person"]
        parts = [person[k] for k in ("first_name", "father_name", "family_name")]
        if i % 2:
            parts = [latin(p, rng) for p in parts]
        out.append(
            (
                f"list:{i}",
                record["id"],
                {"name": " ".join(parts), "birth_year": person["birth_date"]},
            )
        )
    return out


def test_a_list_row_with_three_names_and_a_birth_year_meets_its_case() -> None:
    # one row is one person: as a pair of cases three exact names and the birth year stayed
    # below 0.9 on a thousand cases; as a row of a list it is found, in either script
    from casebook.linkage.features import person_features
    from casebook.linkage.lists import _person

    data = generate(1000, seed=61)
    listed = _rows_of_a_list(data, 20, 61)
    rows = feature_rows(data.records) + [
        person_features(key, _person(row), None) for key, _, row in listed
    ]
    result = score(rows, threshold=0.9, memory_limit="1GB", list_prefix="list:")
    found = {frozenset((a, b)) for a, b, _ in result.pairs}
    assert all(a.startswith("list:") != b.startswith("list:") for a, b, _ in result.pairs)
    hits = sum(frozenset((key, case)) in found for key, case, _ in listed)
    assert hits >= 18, hits
    assert "of the list's rows are in the caseload" in result.summary()


def _without(record: dict[str, Any], *fields: str) -> dict[str, Any]:
    for name in fields:
        record["person"].pop(name)
    return record


def test_reports_without_a_family_name_are_found() -> None:
    """A family that does not know the family name, or a list that does not give it, with one
    more change: father and grandfather swapped, or no birth year nor grandfather. The rules
    that reached such changes all needed a family name, so these pairs were never compared."""
    data = generate(1000, seed=71)
    people = [
        linkage_record("s1", "هادي", "زياد", "جميل", "الشمري", "نجوى", "1986", "raqqa", "2014"),
        _without(
            linkage_record("s2", "هادي", "جميل", "زياد", "", "نجوى", "", "raqqa", "2014"),
            "family_name",
            "birth_date",
        ),
        linkage_record("t1", "أيمن", "رياض", "حسان", "العمر", "سعاد", "1980", "tartus", "2014"),
        _without(
            linkage_record("t2", "أيمن", "رياض", "", "", "سعاد", "", "tartus", "2014"),
            "family_name",
            "birth_date",
            "grandfather_name",
        ),
    ]
    result = score(feature_rows(data.records + people), threshold=0.9, memory_limit="1GB")
    found = {frozenset((a, b)) for a, b, p in result.pairs if p >= 0.9}
    assert {frozenset(("s1", "s2")), frozenset(("t1", "t2"))} <= found
    precision, recall = precision_recall(result.pairs, data.pairs, 0.9)
    assert precision >= 0.98 and recall >= 0.9


def test_a_list_row_two_people_share_is_no_match_to_either() -> None:
    from casebook.linkage.scoring import _list_posteriors

    # two people with the same strong evidence: neither; two records the caseload takes for
    # one person: both, with that person's probability
    two, _, _, _ = _list_posteriors([("r", "a", 20.0), ("r", "b", 20.0)], [], 1000, 1)
    assert all(p < 0.5 for _, _, p in two)
    one, _, _, _ = _list_posteriors([("r", "a", 20.0), ("r", "b", 12.0)], [("a", "b")], 1000, 1)
    assert [round(p, 6) for _, _, p in one] == [round(one[0][2], 6)] * 2 and one[0][2] > 0.9


def test_the_shipped_prior_is_the_one_splink_predicts_with() -> None:
    """The prior the shipped model sets (its duplicate pairs per record over the caseload's
    pairs) is the one Splink reads back and scores with, not Splink's own default of 1e-4."""
    from splink import DuckDBAPI, Linker

    rows = feature_rows(generate(300, seed=5).records)
    defaults = load_defaults()
    shipped = defaults["pairs_per_record"] * 300 / (300 * 299 / 2)
    assert abs(shipped - 1e-4) > 5e-4  # the shipped prior is not Splink's default
    con = private_duckdb("1GB")
    register_functions(con)
    frame = DuckDBAPI(connection=con).register(_table(rows))
    linker = Linker(frame, _settings(), log_level=logging.ERROR)
    _apply_defaults(linker, defaults, len(rows), u=True)
    model = linker.misc.save_model_to_json()
    assert model["probability_two_random_records_match"] == pytest.approx(shipped, rel=1e-9)
    # the same parameters with the prior given explicitly score every pair the same
    explicit = Linker(
        frame,
        {**model, "probability_two_random_records_match": shipped},
        log_level=logging.ERROR,
    )

    def weights(which: Any) -> dict[tuple[str, str], float]:
        table = which.inference.predict(threshold_match_probability=0.01).physical_name
        found = con.execute(
            f"SELECT unique_id_l, unique_id_r, match_weight FROM {table}"
        ).fetchall()
        return {(str(a), str(b)): float(w) for a, b, w in found}

    applied, given = weights(linker), weights(explicit)
    assert applied and applied.keys() == given.keys()
    assert all(applied[k] == pytest.approx(given[k], abs=1e-9) for k in applied)
    con.close()


def test_the_run_report_states_the_prior_it_used() -> None:
    rows = feature_rows(generate(300, seed=5).records)
    result = score(rows, threshold=0.9, memory_limit="1GB")
    shipped = load_defaults()["pairs_per_record"] * 300 / (300 * 299 / 2)
    assert result.prior == pytest.approx(shipped, rel=1e-9)
    assert f"prior {shipped:.2g}" in result.summary()


def _latin_report_scored(
    latin: str, his: str, brothers: str, report_born: str, *, brother_born: str = "1977"
) -> Any:
    """Brothers (same parents, family and arrest; him born 1978) and a second report of him
    with his names in Latin letters and the given birth year, among 300 others, scored as a
    run scores them (ids him, brother, him-latin)."""

    def record(*fields: str) -> dict[str, Any]:
        return linkage_record(*fields, governorate="homs", date="2013-04-02")

    family = [
        record("him", his, "أحمد", "حسين", "الحسن", "نور", "1978"),
        record("brother", brothers, "أحمد", "حسين", "الحسن", "نور", brother_born),
        record("him-latin", latin, "Ahmad", "Hussein", "Al-Hasan", "Nour", report_born),
    ]
    background = generate(300, seed=61, sibling_share=0.0).records
    return score(feature_rows([*background, *family]), threshold=0.9, memory_limit="1GB")


@pytest.mark.parametrize(
    ("latin", "his", "brothers"),
    [
        ("Samir", "سمير", "سامر"),
        ("Samer", "سامر", "سمير"),
        ("Anis", "أنيس", "أنس"),
        ("Mahmud", "محمود", "محمد"),
    ],
)
def test_a_latin_report_of_one_brother_is_not_taken_for_the_other(
    latin: str, his: str, brothers: str
) -> None:
    """Two brothers arrested together (same parents, grandfather and family, born three years
    apart) and a second report of one of them in Latin letters: the Latin first name is read
    as his name, not as "may be" his brother's too (an outside review: 10 of 25 such brothers
    merged, every one at 0.98 or more)."""

    result = _latin_report_scored(latin, his, brothers, "1978", brother_born="1975")
    pairs = {frozenset((a, b)): p for a, b, p in result.pairs}
    assert pairs.get(frozenset(("him", "him-latin")), 0) >= 0.9, pairs
    assert pairs.get(frozenset(("brother", "him-latin")), 0) < 0.9
    assert pairs.get(frozenset(("brother", "him")), 0) < 0.9


@pytest.mark.parametrize(
    ("latin", "his", "brothers"),
    [
        ("Said", "سعيد", "سعد"),
        ("Omar", "عمر", "عمار"),
        ("Ammar", "عمار", "عمر"),
        ("Amr", "عمرو", "عمر"),
        ("Hamed", "حامد", "أحمد"),
        ("Majd", "مجد", "ماجد"),
        ("Houssein", "حسين", "حسن"),  # the sounds alone put it further than حسين
    ],
)
def test_a_latin_report_without_a_birth_year_goes_to_the_brother_it_is_written_for(
    latin: str, his: str, brothers: str
) -> None:
    """Two brothers a year apart and a Latin report of one of them that gives no birth year:
    the sounds alone read Said as سعيد and سعد alike (Arabic does not write the short vowels
    that tell them apart), so the report fitted both brothers and waited held back, or went
    to the more frequent name. Its usual spelling says whose report it is."""

    result = _latin_report_scored(latin, his, brothers, "")
    pairs = {frozenset((a, b)): p for a, b, p in result.pairs}
    assert pairs.get(frozenset(("him", "him-latin")), 0) >= 0.9, pairs
    assert pairs.get(frozenset(("brother", "him-latin")), 0) < 0.9
    assert pairs.get(frozenset(("brother", "him")), 0) < 0.9


def test_a_latin_spelling_usual_for_both_brothers_names_waits_held_back() -> None:
    """Hassan is written for حسن and for حسان alike: a report with no birth year fits both
    brothers and is proposed with neither; the run says it held them back."""

    result = _latin_report_scored("Hassan", "حسن", "حسان", "")
    paired = {frozenset((a, b)) for a, b, _ in result.pairs}
    assert not paired & {
        frozenset(("him", "him-latin")),
        frozenset(("brother", "him-latin")),
        frozenset(("him", "brother")),
    }
    assert "not proposed: each would have joined two brothers" in result.summary()


@pytest.mark.parametrize(
    ("latin", "his", "brothers"),
    [
        # a typo that puts the Latin spelling nearer the brother's name than his own
        ("Mahmd", "محمود", "محمد"),
        ("Smaer", "سامر", "سمير"),
        ("Saede", "سعيد", "سعد"),
        ("Ammra", "عمار", "عمر"),
        ("Mgaed", "ماجد", "مجد"),
    ],
)
@pytest.mark.parametrize("year", ["1978", ""])
def test_a_misspelt_latin_report_goes_by_its_birth_year_not_by_its_typo(
    latin: str, his: str, brothers: str, year: str
) -> None:
    """A Latin report of one brother whose first name has a typo that brings it nearer the
    other brother's name (Mahmd for Mahmoud is محمد letter for letter): read as the brother's
    name, it met him as his very name and was proposed with him at 0.98 or more although its
    birth year was the right brother's (an outside review: 9 of 66). Such a spelling "may
    be" either name, so the birth year decides; without one, it is proposed with neither."""

    result = _latin_report_scored(latin, his, brothers, year, brother_born="1975")
    pairs = {frozenset((a, b)): p for a, b, p in result.pairs}
    assert pairs.get(frozenset(("brother", "him-latin")), 0) < 0.9, pairs
    assert pairs.get(frozenset(("brother", "him")), 0) < 0.9
    if year:
        assert pairs.get(frozenset(("him", "him-latin")), 0) >= 0.9, pairs

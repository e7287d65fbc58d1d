"""Rows of outside lists as they come: three common names with no birth year or one off, in
Arabic or Latin letters; the same three names on two cases; a brother; another man with the
same common names. Each row is found, sent to review with every case it fits, or left alone."""

from __future__ import annotations

from typing import Any

import pytest

from casebook.linkage.features import feature_rows, person_features
from casebook.linkage.lists import _person
from casebook.linkage.scoring import Scored, score
from tests.linkage.generator import generate, record

THRESHOLD = 0.9


def _case(key: str, names: str, year: str, mother: str, grandfather: str) -> dict[str, Any]:
    first, father, family = names.split(" ")
    return record(key, first, father, grandfather, family, mother, year)


# the people a list names, added to a generated caseload from which everyone sharing their
# first and family names was taken out (so that what each row fits is known)
PEOPLE = [
    _case("t1", "علي محمد الحلبي", "1953", "فاطمة", "مصعب"),
    _case("t2", "أحمد محمود الحلبي", "1980", "خديجة", "محمد"),
    # the same three names on two men: cousins named after one grandfather's sons
    _case("t3", "محمد محمد العلي", "1960", "مريم", "محمد"),
    _case("t4", "محمد محمد العلي", "1975", "زينب", "خالد"),
    _case("t5", "حسن خالد الحلبي", "1985", "عائشة", "أحمد"),
]

# (row, the list's cells, outcome: "match" to `expected`, "several" naming every case of
# `expected` as a candidate, or "none": no match and no candidate at the threshold)
ROWS: list[tuple[str, dict[str, str], str, set[str]]] = [
    # three very common names, no birth year (0.70–0.88 before: below the threshold)
    ("list:common", {"name": "علي محمد الحلبي"}, "match", {"t1"}),
    ("list:common-year-off", {"name": "أحمد محمود الحلبي", "birth_year": "1981"}, "match", {"t2"}),
    # the same in Latin letters: scored as a second report it fell under the model's floor
    ("list:latin", {"name": "Ali Muhammad Al Hlbi"}, "match", {"t1"}),
    (
        "list:latin-year-off",
        {"name": "Ahmad Mahmoud Al-Halabi", "birth_year": "1979"},
        "match",
        {"t2"},
    ),
    # the article written joined to the family name, as passports and many lists write it
    # (found 0 of 8 times before: the joined Al kept it from meeting الحلبي)
    (
        "list:latin-joined-article",
        {"name": "Ahmad Mahmoud Alhalabi", "birth_year": "1980"},
        "match",
        {"t2"},
    ),
    # only first and family names and the birth year, as many lists give them (no output
    # at all before: every blocking rule wanted a third name)
    ("list:two-names", {"name": "حسن الحلبي", "birth_year": "1985"}, "match", {"t5"}),
    ("list:two-names-latin", {"name": "Hassan Alhalabi", "birth_year": "1986"}, "match", {"t5"}),
    # two cases give these names: neither is guessed, both go to the lawyer
    ("list:shared", {"name": "محمد محمد العلي"}, "several", {"t3", "t4"}),
    # must not match: t5's brother (one known first name for another) ...
    ("list:brother", {"name": "حسين خالد الحلبي", "birth_year": "1987"}, "none", set()),
    # ... and another man with t1's common names, born a generation later
    ("list:other-man", {"name": "علي محمد الحلبي", "birth_year": "1990"}, "none", set()),
]


def _other_people(records: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """The rest of a list: thirteen people of the caseload with four names and a birth year
    (a list mostly of people in the caseload, as the share of its rows found there is
    estimated)."""
    others = [r["person"] for r in records if r["id"].startswith("p")][:13]
    return {
        f"list:other-{i}": {
            "name": " ".join(
                p[k] for k in ("first_name", "father_name", "grandfather_name", "family_name")
            ),
            "birth_year": p["birth_date"],
        }
        for i, p in enumerate(others)
    }


@pytest.fixture(scope="module")
def scored() -> Scored:
    taken = {(p["person"]["first_name"], p["person"]["family_name"]) for p in PEOPLE}
    taken |= {("حسين", "الحلبي")}
    records = [
        r
        for r in generate(300, seed=105).records
        if (r["person"]["first_name"], r["person"]["family_name"]) not in taken
    ]
    # the rest of the list: people of the caseload with four names and a birth year (a list
    # mostly of people in the caseload, as the share of its rows found there is estimated)
    filler = _other_people(records)
    cells = {key: row for key, row, _, _ in ROWS} | filler
    rows = feature_rows(records + PEOPLE) + [
        person_features(key, _person(row), None) for key, row in cells.items()
    ]
    return score(rows, threshold=THRESHOLD, memory_limit="1GB", list_prefix="list:")


@pytest.mark.parametrize(("row", "cells", "outcome", "expected"), ROWS, ids=[r[0] for r in ROWS])
def test_a_list_row_is_found_sent_to_review_or_left_alone(
    scored: Scored, row: str, cells: dict[str, str], outcome: str, expected: set[str]
) -> None:
    matched = {case for a, case, p in scored.pairs if a == row and p >= THRESHOLD}
    candidates = {case for case, _ in scored.ambiguous.get(row, [])}
    if outcome == "match":
        assert matched == expected and not candidates, (matched, candidates)
    elif outcome == "several":
        # every case the row fits (here a second report of one of them too), none matched
        assert not matched and expected <= candidates, (matched, candidates)
        assert all(p < THRESHOLD for _, p in scored.ambiguous[row])
    else:
        assert not matched and not candidates, (matched, candidates)


def test_only_list_case_pairs_come_back(scored: Scored) -> None:
    assert scored.pairs and all(
        a.startswith("list:") and not b.startswith("list:") for a, b, _ in scored.list_candidates
    )


def test_a_row_that_fits_a_dozen_cases_alike_sends_each_to_review_on_every_run() -> None:
    """Thirteen men of the caseload give the three names of a row that gives nothing else:
    each is as likely as the next. Cut at the ten most likely, which of them reached review
    depended on the order the database returned them in (the row's own person was sent for
    review on one run and missed on the next, in the benchmark). Every one of them is a
    candidate, whatever order the cases come in."""
    background = [
        r
        for r in generate(300, seed=105).records
        if (r["person"]["first_name"], r["person"]["family_name"]) != ("محمد", "العلي")
    ]
    grandfathers = ["أحمد", "خالد", "علي", "حسن", "عمر", "يوسف", "سعيد", "مصطفى", "إبراهيم"]
    alike = [
        _case(f"m{i}", "محمد محمد العلي", str(1950 + 3 * i), "فاطمة", grandfathers[i % 9])
        for i in range(13)
    ]
    cells = {"list:vague": {"name": "محمد محمد العلي"}} | _other_people(background)
    listed = [person_features(key, _person(row), None) for key, row in cells.items()]
    seen = []
    for records in (background + alike, list(reversed(alike)) + background[::-1]):
        run = score(
            feature_rows(records) + listed,
            threshold=THRESHOLD,
            memory_limit="1GB",
            list_prefix="list:",
        )
        seen.append({case for case, _ in run.ambiguous.get("list:vague", [])})
    assert seen[0] == seen[1]
    assert {case["id"] for case in alike} <= seen[0]


@pytest.mark.parametrize(
    ("row_name", "year"),
    [("حسن أحمد حسين الحسن", "2000"), ("Hassan Ahmad Al-Hasan", "2000"), ("حسن أحمد الحسن", "")],
)
def test_a_report_held_between_two_brothers_does_not_make_them_one_person_to_a_row(
    row_name: str, year: str
) -> None:
    """Brothers حسن (2000) and حسان (2001) and a report in Latin letters, Hassan (the usual
    spelling of both), with no birth year: a run holds it back between them. A list row
    naming حسن went to both brothers as sure matches: the caseload's own pairs, the report to
    each brother, made the three one person to the row (an outside review's row 148)."""
    family = [
        record("him", "حسن", "أحمد", "حسين", "الحسن", "نور", "2000"),
        record("brother", "حسان", "أحمد", "حسين", "الحسن", "نور", "2001"),
        record("report", "Hassan", "Ahmad", "Hussein", "Al-Hasan", "Nour", ""),
    ]
    background = [
        r
        for r in generate(300, seed=61, sibling_share=0.0).records
        if r["person"]["family_name"] != "الحسن"
    ]
    cells = {"list:him": {"name": row_name, "birth_year": year}} | _other_people(background)
    listed = [person_features(key, _person(row), None) for key, row in cells.items()]
    run = score(
        feature_rows(background + family) + listed,
        threshold=THRESHOLD,
        memory_limit="1GB",
        list_prefix="list:",
    )
    matched = {case for a, case, p in run.pairs if a == "list:him" and p >= THRESHOLD}
    assert "brother" not in matched, (matched, run.ambiguous.get("list:him"))


def test_rows_in_french_spellings_meet_their_cases() -> None:
    """A list written in French spellings (Youcef, Djamel, Houcine, Fayçal: c for س, dj for
    ج) was never compared with the cases: the rows' consonant skeletons (kf, djml) met no
    case's (sf, jml) in any blocking rule, so every such row was missed, not even sent to
    review (an outside review's probe). A usual spelling blocks as the name it is written for."""
    people = {
        "youcef": ("Youcef", _case("youcef", "يوسف عماد السعيد", "1984", "مريم", "خالد")),
        "djamel": ("Djamel", _case("djamel", "جمال عماد القاسم", "1979", "هدى", "علي")),
        "houcine": ("Houcine", _case("houcine", "حسين رامي الخطيب", "1990", "سلمى", "أحمد")),
        "faycal": ("Fayçal", _case("faycal", "فيصل نزار الحموي", "1968", "ليلى", "محمد")),
    }
    fathers = {"youcef": "Imad", "djamel": "Imad", "houcine": "Rami", "faycal": "Nizar"}
    families = {"youcef": "Al-Said", "djamel": "Al-Qasem", "houcine": "Khatib", "faycal": "Hamwi"}
    taken = {p["person"]["family_name"] for _, p in people.values()}
    background = [
        r for r in generate(300, seed=105).records if r["person"]["family_name"] not in taken
    ]
    cells = {
        f"list:{key}": {
            "name": f"{first} {fathers[key]} {families[key]}",
            "birth_year": case["person"]["birth_date"],
        }
        for key, (first, case) in people.items()
    }
    cells |= _other_people(background)
    run = score(
        feature_rows(background + [case for _, case in people.values()])
        + [person_features(key, _person(row), None) for key, row in cells.items()],
        threshold=THRESHOLD,
        memory_limit="1GB",
        list_prefix="list:",
    )
    for key in people:
        matched = {case for a, case, p in run.pairs if a == f"list:{key}" and p >= THRESHOLD}
        assert matched == {key}, (key, matched, run.ambiguous.get(f"list:{key}"))

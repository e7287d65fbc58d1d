"""Synthetic cases for the demo and the benchmarks: Arabic names with Zipf-like frequencies,
vocabulary codes, dates 2011–2024, statuses and Arabic testimonies — made through the same
services as real cases. Nothing here describes a real person."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

MALE = [
    "محمد",
    "أحمد",
    "علي",
    "محمود",
    "خالد",
    "عمر",
    "حسن",
    "حسين",
    "إبراهيم",
    "يوسف",
    "عبد الله",
    "مصطفى",
    "عبد الرحمن",
    "سامر",
    "باسل",
    "فراس",
    "مازن",
    "وائل",
    "رامي",
    "طارق",
    "ياسر",
    "زياد",
    "جمال",
    "ماهر",
    "عماد",
    "أيمن",
    "أنس",
    "معاذ",
    "حمزة",
    "بلال",
]
FEMALE = [
    "فاطمة",
    "مريم",
    "عائشة",
    "زينب",
    "خديجة",
    "نور",
    "هبة",
    "رنا",
    "سعاد",
    "آمنة",
    "ريم",
    "لينا",
    "سلمى",
    "دعاء",
    "رغد",
    "هدى",
    "سمر",
    "منى",
    "ياسمين",
    "رهف",
]
FAMILY = [
    "الحلبي",
    "الأحمد",
    "العلي",
    "الخطيب",
    "المصري",
    "الشامي",
    "الحمصي",
    "الإدلبي",
    "الحسن",
    "السيد",
    "النجار",
    "الحداد",
    "العمر",
    "الشيخ",
    "القاسم",
    "الحموي",
    "الدرعاوي",
    "الزعبي",
    "المحمد",
    "الخليل",
    "الرفاعي",
    "العبدالله",
    "الجاسم",
    "الديري",
    "الحريري",
    "البكور",
    "الأسعد",
    "الصالح",
    "الكردي",
    "الحوراني",
    "السقا",
    "الطويل",
    "الكيالي",
    "العثمان",
    "الموسى",
    "الحمادي",
    "الشهابي",
    "الدباغ",
    "البيطار",
    "الأيوبي",
]
LATIN = {
    "محمد": "Mohammad",
    "أحمد": "Ahmad",
    "علي": "Ali",
    "محمود": "Mahmoud",
    "خالد": "Khaled",
    "عمر": "Omar",
    "حسن": "Hassan",
    "حسين": "Hussein",
    "يوسف": "Youssef",
    "فاطمة": "Fatima",
    "مريم": "Maryam",
    "الحلبي": "Al-Halabi",
    "المصري": "Al-Masri",
    "الشامي": "Al-Shami",
    "الخطيب": "Al-Khatib",
    "الحمصي": "Al-Homsi",
    "النجار": "Al-Najjar",
}
PLACES = {
    "aleppo": ["حي الشعار", "صلاح الدين", "الكلاسة", "حاجز الراموسة"],
    "damascus": ["المزة", "القابون", "برزة", "حاجز القطيفة"],
    "rif_dimashq": ["دوما", "داريا", "المعضمية", "التل"],
    "homs": ["بابا عمرو", "الخالدية", "الوعر"],
    "hama": ["حي الحاضر", "طريق حلب"],
    "idlib": ["سراقب", "معرة النعمان"],
    "daraa": ["درعا البلد", "طفس", "إنخل"],
    "deir_ez_zor": ["الجورة", "الميادين"],
    "latakia": ["الصليبة", "الرمل الفلسطيني"],
    "raqqa": ["الرقة المدينة"],
    "hasakah": ["القامشلي"],
    "tartus": ["بانياس"],
    "suwayda": ["شهبا"],
    "quneitra": ["خان أرنبة"],
}
GOV_WEIGHTS = {
    "aleppo": 16,
    "damascus": 12,
    "rif_dimashq": 20,
    "homs": 12,
    "hama": 8,
    "idlib": 7,
    "daraa": 10,
    "deir_ez_zor": 6,
    "latakia": 3,
    "raqqa": 2,
    "hasakah": 2,
    "tartus": 1,
    "suwayda": 1,
    "quneitra": 1,
}
PERPETRATORS = [
    ("regime.air_force_intelligence", 20),
    ("regime.military_intelligence", 22),
    ("regime.political_security", 10),
    ("regime.general_intelligence", 12),
    ("regime.military_police", 4),
    ("regime.army", 8),
    ("regime.militia", 6),
    ("isis", 5),
    ("hts", 3),
    ("armed_opposition", 2),
    ("sdf", 2),
    ("foreign.iran_backed", 1),
    ("unknown", 5),
]
FACILITIES = [
    "sednaya",
    "adra",
    "mezzeh_airport",
    "branch_215",
    "branch_227",
    "branch_235",
    "branch_248",
    "branch_251",
    "military_police_qaboun",
    "tadmur",
]
STATUSES = [
    ("forcibly_disappeared", 55),
    ("detained", 10),
    ("released", 15),
    ("died_in_custody", 10),
    ("deceased", 3),
    ("unknown", 7),
]
YEARS = [
    (2011, 10),
    (2012, 22),
    (2013, 20),
    (2014, 14),
    (2015, 9),
    (2016, 7),
    (2017, 5),
    (2018, 4),
    (2019, 3),
    (2020, 2),
    (2021, 1),
    (2022, 1),
    (2023, 1),
    (2024, 1),
]
RELATIONS = ["أم", "أب", "زوجة", "أخ", "أخت", "ابن", "ابنة", "عم"]


def _zipf(rng: random.Random, items: list[str]) -> str:
    weights = [1 / (i + 1) for i in range(len(items))]
    return rng.choices(items, weights)[0]


def _weighted(rng: random.Random, pairs: list[tuple[Any, int]] | dict[Any, int]) -> Any:
    items = list(pairs.items()) if isinstance(pairs, dict) else pairs
    return rng.choices([k for k, _ in items], [w for _, w in items])[0]


def synthetic_case(rng: random.Random) -> dict[str, Any]:
    sex = "male" if rng.random() < 0.88 else "female"
    first = _zipf(rng, MALE if sex == "male" else FEMALE)
    father, grandfather = _zipf(rng, MALE), _zipf(rng, MALE)
    family = _zipf(rng, FAMILY)
    mother = _zipf(rng, FEMALE)
    year = _weighted(rng, YEARS)
    month = rng.randint(1, 12)
    arrest_date = f"{year}-{month:02d}" if rng.random() < 0.8 else str(year)
    birth_year = year - rng.choice([15, 17, 19, 22, 25, 28, 31, 35, 40, 46, 52, 63])
    governorate = _weighted(rng, GOV_WEIGHTS)
    place = rng.choice(PLACES[governorate])
    perpetrator = _weighted(rng, PERPETRATORS)
    status = _weighted(rng, STATUSES)
    person: dict[str, Any] = {
        "first_name": first,
        "father_name": father,
        "grandfather_name": grandfather,
        "family_name": family,
        "mother_name": mother,
        "sex": sex,
        "birth_date": str(birth_year),
    }
    if first in LATIN and family in LATIN and rng.random() < 0.5:
        person["latin_name"] = f"{LATIN[first]} {LATIN[family]}"
    if rng.random() < 0.3:
        person["national_id"] = "".join(rng.choice("0123456789") for _ in range(11))
    facility = rng.choice(FACILITIES)
    history = [{"status": "detained", "date": arrest_date, "source": "العائلة"}]
    if status != "detained":
        later = min(year + rng.randint(0, 6), 2024)
        history.append({"status": status, "date": str(later), "source": "شاهد"})
    relation = rng.choice(RELATIONS)
    text = (
        f"اعتُقل {first} {father} {family} في {place} ({arrest_date}) على يد عناصر قالوا "
        f"إنهم من {'الأمن' if perpetrator.startswith('regime') else 'جهة مسلحة'}. "
        f"سألت العائلة عنه في الأفرع الأمنية دون جواب، وقال معتقل سابق إنه رآه في "
        f"مكان احتجاز آخر مرة. تروي {relation}ه أنه لم يُعرف مصيره منذ ذلك الحين."
    )
    return {
        "person": person,
        "arrests": [
            {
                "date": arrest_date,
                "governorate": governorate,
                "place": place,
                "perpetrator": perpetrator,
                "circumstances": "اعتقال عند حاجز أو من المنزل",
            }
        ],
        "detention": {"places": [{"facility": facility, "from": arrest_date}]},
        "status": history,
        "family_actions": [
            {"type": "inquiry", "date": str(min(year + 1, 2024)), "note": "سؤال في فرع الأمن"}
        ],
        "source": {
            "name": f"{_zipf(rng, FEMALE)} {family}",
            "relationship": relation,
            "contact": f"+90 5{rng.randint(10, 99)} {rng.randint(100, 999)} "
            f"{rng.randint(1000, 9999)}",
            "confidential": True,
        },
        "consent": {
            "documentation": {"granted": True, "date": "2024-05-01"},
            "statistics": {"granted": rng.random() < 0.9, "date": "2024-05-01"},
            "un_mechanisms": {"granted": rng.random() < 0.6, "date": "2024-05-01"},
        },
        "testimonies": [{"text": text, "date": "2024-05-01", "language": "ar"}],
    }


def synthetic_cases(count: int, seed: int) -> Iterator[dict[str, Any]]:
    # synthetic data, not secrets (bandit B311)
    rng = random.Random(seed)  # nosec B311
    for _ in range(count):
        yield synthetic_case(rng)

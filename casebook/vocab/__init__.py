"""Controlled vocabularies (design.md §7): one place that forms, validation, import and statistics
read from. Codes are stable identifiers; labels are for people, in Arabic and English."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Term:
    code: str
    ar: str
    en: str

    def label(self, language: str) -> str:
        return self.ar if language == "ar" else self.en


@dataclass(frozen=True)
class Vocabulary:
    name: str
    terms: tuple[Term, ...]

    def __post_init__(self) -> None:
        codes = [t.code for t in self.terms]
        if len(set(codes)) != len(codes):
            raise ValueError(f"duplicate code in vocabulary {self.name}")

    @property
    def codes(self) -> frozenset[str]:
        return frozenset(t.code for t in self.terms)

    def get(self, code: str) -> Term | None:
        return next((t for t in self.terms if t.code == code), None)

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.get(code) is not None

    def choices(self, language: str) -> list[tuple[str, str]]:
        return [(t.code, t.label(language)) for t in self.terms]


GOVERNORATES = Vocabulary(
    "governorate",
    (
        Term("damascus", "دمشق", "Damascus"),
        Term("rif_dimashq", "ريف دمشق", "Rif Dimashq"),
        Term("aleppo", "حلب", "Aleppo"),
        Term("homs", "حمص", "Homs"),
        Term("hama", "حماة", "Hama"),
        Term("latakia", "اللاذقية", "Latakia"),
        Term("tartus", "طرطوس", "Tartus"),
        Term("idlib", "إدلب", "Idlib"),
        Term("raqqa", "الرقة", "Raqqa"),
        Term("deir_ez_zor", "دير الزور", "Deir ez-Zor"),
        Term("hasakah", "الحسكة", "Hasakah"),
        Term("daraa", "درعا", "Daraa"),
        Term("suwayda", "السويداء", "Suwayda"),
        Term("quneitra", "القنيطرة", "Quneitra"),
    ),
)

PERPETRATORS = Vocabulary(
    "perpetrator",
    (
        Term("regime.air_force_intelligence", "المخابرات الجوية", "Air Force Intelligence"),
        Term(
            "regime.military_intelligence",
            "شعبة المخابرات العسكرية",
            "Military Intelligence Division",
        ),
        Term("regime.political_security", "شعبة الأمن السياسي", "Political Security Division"),
        Term(
            "regime.general_intelligence",
            "إدارة المخابرات العامة (أمن الدولة)",
            "General Intelligence Directorate (State Security)",
        ),
        Term("regime.military_police", "الشرطة العسكرية", "Military Police"),
        Term("regime.army", "الجيش", "Army"),
        Term("regime.militia", "الميليشيات الموالية", "Pro-government militias"),
        Term("foreign.russia", "القوات الروسية", "Russian forces"),
        Term("foreign.iran_backed", "الميليشيات المدعومة من إيران", "Iran-backed militias"),
        Term("isis", "تنظيم داعش", "ISIS"),
        Term("hts", "هيئة تحرير الشام", "Hay'at Tahrir al-Sham"),
        Term("armed_opposition", "فصائل المعارضة المسلحة", "Armed opposition factions"),
        Term("sdf", "قوات سوريا الديمقراطية", "Syrian Democratic Forces"),
        Term(
            "transitional_authorities",
            "السلطات الانتقالية",
            "Transitional authorities (after 8 December 2024)",
        ),
        Term("other", "جهة أخرى", "Other"),
        Term("unknown", "جهة مجهولة", "Unknown"),
    ),
)

#: The statistics dimension `perpetrator` reports the code's group (design.md §8).
PERPETRATOR_GROUPS = Vocabulary(
    "perpetrator_group",
    (
        Term("regime", "قوات النظام السوري", "Syrian regime forces"),
        Term("foreign", "قوات أجنبية", "Foreign forces"),
        Term("isis", "تنظيم داعش", "ISIS"),
        Term("hts", "هيئة تحرير الشام", "Hay'at Tahrir al-Sham"),
        Term("armed_opposition", "فصائل المعارضة المسلحة", "Armed opposition factions"),
        Term("sdf", "قوات سوريا الديمقراطية", "Syrian Democratic Forces"),
        Term("transitional_authorities", "السلطات الانتقالية", "Transitional authorities"),
        Term("other", "جهة أخرى", "Other"),
        Term("unknown", "جهة مجهولة", "Unknown"),
    ),
)


def perpetrator_group(code: str) -> str:
    """`regime.air_force_intelligence` → `regime`; codes without a dot are their own group."""
    group = code.split(".", 1)[0]
    return group if group in PERPETRATOR_GROUPS else "other"


FACILITIES = Vocabulary(
    "facility",
    (
        Term("sednaya", "سجن صيدنايا العسكري", "Sednaya military prison"),
        Term("adra", "سجن عدرا المركزي", "Adra central prison"),
        Term("mezzeh_airport", "مطار المزة العسكري", "Mezzeh military airport"),
        Term("branch_215", "الفرع 215", "Branch 215"),
        Term("branch_227", "الفرع 227", "Branch 227"),
        Term("branch_235", "فرع فلسطين (235)", "Palestine Branch (235)"),
        Term("branch_248", "الفرع 248", "Branch 248"),
        Term("branch_251", "فرع الخطيب (251)", "Al-Khatib Branch (251)"),
        Term(
            "military_police_qaboun",
            "الشرطة العسكرية في القابون",
            "Military Police, Qaboun",
        ),
        Term("tadmur", "سجن تدمر", "Tadmur (Palmyra) prison"),
    ),
)

STATUSES = Vocabulary(
    "status",
    (
        Term("detained", "معتقل", "Detained"),
        Term("forcibly_disappeared", "مختفٍ قسرياً", "Forcibly disappeared"),
        Term("released", "أُفرج عنه", "Released"),
        Term("died_in_custody", "توفي في الاحتجاز", "Died in custody"),
        Term("deceased", "متوفى", "Deceased"),
        Term("unknown", "غير معروف", "Unknown"),
    ),
)

VERIFICATION = Vocabulary(
    "verification",
    (
        Term("unverified", "غير متحقق منها", "Unverified"),
        Term("under_review", "قيد المراجعة", "Under review"),
        Term("verified", "متحقق منها", "Verified"),
        Term("rejected", "مرفوضة", "Rejected"),
        Term("duplicate", "مكررة", "Duplicate"),
    ),
)

SEXES = Vocabulary(
    "sex",
    (
        Term("male", "ذكر", "Male"),
        Term("female", "أنثى", "Female"),
        Term("unknown", "غير معروف", "Unknown"),
    ),
)

CONSENT_SCOPES = Vocabulary(
    "consent_scope",
    (
        Term("documentation", "التوثيق", "Documentation"),
        Term("legal", "الإجراءات القانونية", "Legal proceedings"),
        Term("un_mechanisms", "آليات الأمم المتحدة", "UN mechanisms"),
        Term("icrc", "اللجنة الدولية للصليب الأحمر", "ICRC"),
        Term("statistics", "الإحصاءات المجهولة", "Anonymised statistics"),
        Term("public", "النشر العلني", "Public disclosure"),
        Term("partner_matching", "المطابقة المشفرة مع منظمات شريكة", "Partner matching"),
    ),
)

AGE_BANDS = Vocabulary(
    "age_band",
    (
        Term("under_18", "أقل من 18", "Under 18"),
        Term("18_29", "18–29", "18–29"),
        Term("30_44", "30–44", "30–44"),
        Term("45_59", "45–59", "45–59"),
        Term("60_plus", "60 فأكثر", "60 and over"),
        Term("unknown", "غير معروف", "Unknown"),
    ),
)

ALL: dict[str, Vocabulary] = {
    v.name: v
    for v in (
        GOVERNORATES,
        PERPETRATORS,
        PERPETRATOR_GROUPS,
        FACILITIES,
        STATUSES,
        VERIFICATION,
        SEXES,
        CONSENT_SCOPES,
        AGE_BANDS,
    )
}

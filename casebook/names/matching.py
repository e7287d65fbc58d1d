"""Names compared as names, for record linkage: one canonical form per script, a phonetic
sequence shared by Arabic and Latin spellings, and a transliteration-aware distance.

Why not a library: camel-tools (its transliterator and normalisers) pulls in torch and
downloads data at run time; pyarabic's hamza and alef rules do not follow the matching
convention (shared notes); jellyfish's Soundex/Metaphone/NYSIIS and abydos's phonetic
algorithms are built for English or German names and drop exactly the distinctions that
separate Arabic names (long vowels: محمد/محمود, حسن/حسين); unidecode and anyascii turn Arabic
into one fixed spelling and cannot tell that Mohammad, Muhammad and Mhd are all محمد. What
fits is the established method for Arabic/Latin names (Freeman, Condon & Ackerman,
HLT-NAACL 2006): edit distance over equivalence classes of letters, with Latin short vowels
free (Arabic does not write them) and Arabic long vowels costly (they are what tells names
apart). About two hundred lines, table-tested in tests/names/test_matching.py.

Search keys (casebook.names.normalise, skeleton) are deliberately left as they are: every
stored case's blind indexes are computed from them.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from collections.abc import Iterable, Mapping
from pathlib import Path

from casebook.names import skeleton

_ARABIC = re.compile("[\u0600-\u06ff]")
_LETTERS = str.maketrans(
    {
        "ٱ": "ا",
        "ٲ": "ا",
        "ٳ": "ا",
        "ة": "ه",
        "ى": "ي",
        "ء": None,
        "ی": "ي",
        "ې": "ي",
        "ک": "ك",
        "ڪ": "ك",
        "ھ": "ه",
        "ہ": "ه",
        "\u0640": None,  # tatweel
    }
)
_AR_JOINERS = {"عبد", "ابو", "العبد", "ابن"}
_AR_FILIATION = {"بن", "ابن", "بنت"}
_LATIN_JOINERS = {
    "abd", "abdul", "abdel", "abdal", "abdil", "abdol", "abdu", "abdur", "abdar", "abder",
    "abdus", "abdas", "abdes", "abduz", "abdaz", "abdun", "abdan", "abu", "abou", "abo",
}  # fmt: skip
_LATIN_FILIATION = {"bin", "ibn", "bint", "ben"}
# a separate article: "al"/"el" and its assimilated forms before a sun letter (ad-Din, ar-Rahman)
_LATIN_ARTICLES = {
    "al", "el", "ul", "il", "ad", "ed", "ud", "ar", "er", "ur", "as", "es", "us", "az", "ez",
    "uz", "an", "en", "un", "at", "et", "ut", "ash", "esh", "ath", "eth", "adh",
}  # fmt: skip
_ABBREVIATIONS = {
    "mhd": "muhammad", "mhmd": "muhammad", "mohd": "muhammad", "muhd": "muhammad",
    "md": "muhammad",
}  # fmt: skip
_SUN = set("تثدذرزسشصضطظلن")
# names that begin with ال without an article: never stripped from a family name
_AL_NAMES = {"الياس", "الهام", "الفت"}
_NON_WORD = re.compile(r"[^\w\s]", re.UNICODE)
# What documenters and lists write in a name field they cannot fill (a family name is asked
# for, and "unknown" is typed): no name, so it never agrees with another record's "unknown"
# and never disagrees with the real name. Compared after _clean (hamza, ta marbuta, alef
# maqsura unified; punctuation gone), spaces removed.
_UNKNOWN = {
    "غيرمعروف", "غيرمعروفه", "مجهول", "مجهوله", "لايوجد", "لايعرف", "لانعرف", "لااعرف",
    "غيرمحدد", "غيرمذكور", "بدون", "لاشي", "unknown", "notknown", "unk", "na", "nk", "none",
    "nil", "null", "x", "xx", "xxx", "inconnu", "nonconnu", "sansnom",
}  # fmt: skip


def _clean(text: str) -> str:
    """NFKD with every combining mark dropped (tashkeel, hamza and madda above or below the
    alef, the dot of İ, Latin accents), Arabic letter variants unified, punctuation to space."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.translate(_LETTERS).casefold()
    return _NON_WORD.sub(" ", text).replace("_", " ")


def _arabic_form(tokens: list[str], *, family: bool) -> str:
    tokens = [t for t in tokens if t not in _AR_FILIATION] or tokens
    joined: list[str] = []
    for token in tokens:
        if joined and joined[-1] in _AR_JOINERS:
            joined[-1] += token
        else:
            joined.append(token)
    out = []
    for token in joined:
        token = re.sub("([وي])\\1+", r"\1", token)  # رؤوف → رووف → روف, as رءوف
        token = token.replace("عبدلله", "عبدالله")
        if token.endswith("ا") and _bare(token)[:-1] + "ي" in _maqsura_names():
            token = token[:-1] + "ي"  # يحيى = يحيا, موسى = موسا (alef maqsura read as alef)
            token = re.sub("([وي])\\1+", r"\1", token)
        article = token.startswith("ال") and not token.startswith("الله")
        if family and article and token not in _AL_NAMES and len(token) > 3:
            token = token[2:]
        out.append(token)
    return "".join(out)


def _bare(token: str) -> str:
    """A token without its article, to look a family name (العيسى) up as the given name."""
    return token[2:] if token.startswith("ال") and len(token) > 4 else token


@functools.cache
def _maqsura_names() -> frozenset[str]:
    """The common given names written with a final alef maqsura (موسى, يحيى, ليلى), in the
    form `_clean` gives them (ى as ي). Only these read a final alef as their ى: the rule for
    every name made a misspelt سامر (ساما) the exact spelling of his brother سامي, and عمرا
    that of عمري. Hand-kept because no library lists Arabic names by their final letter."""
    path = Path(__file__).with_name("common_names.txt")
    words = [w.strip() for w in path.read_text(encoding="utf-8").splitlines()]
    return frozenset(
        _clean(w).replace(" ", "") for w in words if w.endswith("ى") and not w.startswith("#")
    )


_LATIN_SUN = ("t", "d", "r", "z", "s", "n", "l")


def _latin_tokens(text: str) -> list[str]:
    """Tokens with abbreviations expanded, filiation dropped, and the article's l dropped
    where Arabic does not sound it, before a sun letter: Abdul Rahman = Abdurrahman = عبد
    الرحمن = Abd Alrahman, Nur al-Din = Nur ad-Din, but Abdul Karim keeps it (عبد الكريم)."""
    tokens = [_ABBREVIATIONS.get(t, t) for t in text.split() if t not in _LATIN_FILIATION]
    out: list[str] = []
    for i, token in enumerate(tokens):
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if following.startswith(_LATIN_SUN):
            if token in ("al", "el", "ul", "il") and out:
                token = token[0]
            elif re.fullmatch("abd[aeiou]l", token):
                token = token[:-1]
        token = re.sub("^(abd[aeiou])l(?=(th|sh|[tdrzsn]))", r"\1", token)
        if out and out[-1] in _LATIN_JOINERS:  # Abd Alrazzaq, Abu Alnour: the article joined
            token = re.sub("^([aeu])l(?=(th|sh|[tdrzsn]))", r"\1", token)
        out.append(token)
    return out


def is_unknown(name: str) -> bool:
    """Whether a name field holds no letters or a word for "not known" ("-", "غير معروف",
    "unknown", "N/A") rather than a name. Not remembered across calls: a process-wide cache
    would keep plaintext names in a long-lived worker (linkage keeps its caches per run)."""
    return _no_name(_clean(name).split())


def _no_name(tokens: list[str]) -> bool:
    return not tokens or "".join(tokens) in _UNKNOWN


def name_form(name: str, *, family: bool = False) -> str:
    """One canonical form per script, without spaces: for Arabic the normalised letters with
    compounds joined (عبد الله = عبدالله = عبدلله) and, in a family name, the article dropped
    (but not from العبدالله's الله, nor from الياس); for Latin the lower-case letters with
    accents and the dot of İ dropped, Abdul/Abu compounds joined case-insensitively, and a
    separate Al/El article dropped from a family name (Alwan keeps its Al)."""
    text = _clean(name)
    tokens = text.split()
    if _no_name(tokens):
        return ""
    if _ARABIC.search(text):
        return _arabic_form(tokens, family=family)
    tokens = _latin_tokens(text)
    return "".join(_without_article(tokens) if family else tokens)


def _without_article(tokens: list[str]) -> list[str]:
    """A Latin family name's tokens without its article, written apart or joined."""
    if len(tokens) > 1 and tokens[0] in _LATIN_ARTICLES:
        return tokens[1:]
    if len(tokens) == 1 and (joined := _JOINED_ARTICLE.fullmatch(tokens[0])):
        return [joined.group(1)]
    return tokens


# A family name with its article written joined (Alomar, Alhajj, Almisri, Elkhatib, as
# lists and passports write them) reads as the name without it, when what follows the Al
# is four letters or more and begins neither with w nor l: Alwan, Elwan, Alwani (علوان), Alawi
# (علوي), Alaa and Elie keep theirs, and so do Allawi and the names of three letters
# (Alhaj stays as written: Al-Haj and Alhajj are read). Written apart (Al Omar, Al-Omar),
# the article is dropped anyway.
_JOINED_ARTICLE = re.compile(r"(?:al|el)([^wl][a-z]{3,})")


# -- the phonetic sequence shared by both scripts ----------------------------------------------
# Consonant symbols: b =t T(ث) j H(ح) x(خ) =d Z(ذ ظ) r =z =s S(ش) G(غ) f =q =k l m n =h; long
# vowels A I U (و and ي also as w and y); ' for ع and a seat alef, optional; h? for a final ه/ة.
# Arabic letters a Latin letter of the same look may stand for carry "=" (=d is د or ض, while a
# Latin d may also be ذ or ظ): without it an Arabic د met a Latin z through their shared Z, and
# Hmza resolved to احمد.
_AR_PHONE = {
    "ب": "b", "ت": "=t", "ط": "=t", "ث": "T", "ج": "j", "ح": "H", "خ": "x", "د": "=d",
    "ض": "=d", "ذ": "Z", "ظ": "Z", "ر": "r", "ز": "=z", "س": "=s", "ص": "=s", "ش": "S",
    "غ": "G", "ف": "f", "ق": "=q", "ك": "=k", "ل": "l", "م": "m", "ن": "n", "ه": "=h",
    "ع": "'", "و": "U", "ي": "I",
    "ا": "A", "پ": "b", "چ": "S", "ڤ": "f", "گ": "G",
}  # fmt: skip


_SUN_AFTER_ARTICLE = re.compile("^(عبد|ابو|العبد)?ال(?=[" + "".join(sorted(_SUN)) + "])")


def heard(form: str) -> str:
    """An Arabic canonical form as it is heard, which is how Latin letters write it: the
    article before a sun letter is not heard (عبدالرحمن = Abdurrahman, نورالدين = Noureddine)
    and inside a compound its alef is no long vowel (عبدالكريم = Abdulkarim). The linkage's
    blocking skeleton is taken from this form, so that both scripts give one key."""
    text = form.replace("الله", "لله")
    text = _SUN_AFTER_ARTICLE.sub(r"\1", text)
    text = re.sub("ال(?=دين$)", "", text)
    return re.sub("^(عبد|ابو|العبد)ال", r"\1ل", text)


def _arabic_phones(form: str) -> tuple[str, ...]:
    text = heard("عمر" if form == "عمرو" else form)  # the silent و of Amr
    out: list[str] = []
    for i, c in enumerate(text):
        p = _AR_PHONE.get(c)
        if p is None:
            continue
        if p == "A" and i == 0:
            p = "'"  # a word-initial alef only seats a vowel
        if p == "=h" and i == len(text) - 1 and i > 0:
            p = "h?"
        elif p == "=h" and i > 0 and text[i - 1] in "دتسكذ":
            p = "h~"  # Adham, Is-haq: Latin dh, th, sh, kh may hide this ه
        elif p == "I" and i == len(text) - 1 and len(text) >= 4:
            p = "Ia"  # final ى written ي or ا: Mustafa, Moussa, Yahya
        if out and out[-1] == p and p not in "AIU":
            continue  # shadda-like doubles
        out.append(p)
    return tuple(out)


_LATIN_MULTI = (
    ("kh", "x"), ("sh", "S"), ("ch", "S"), ("gh", "G"), ("th", "th"), ("dh", "dh"),
    ("ph", "f"), ("ck", "k"), ("ou", "U!"), ("oo", "U!"), ("uu", "U!"), ("ee", "I!"),
    ("ii", "I!"), ("ei", "I!"), ("ey", "I!"), ("ie", "I!"), ("aa", "A!"),
)  # fmt: skip
_LATIN_SINGLE = {
    "b": "b", "p": "b", "t": "t", "j": "j", "g": "g", "h": "h", "x": "x", "d": "d", "z": "z",
    "r": "r", "s": "s", "f": "f", "v": "f", "q": "q", "k": "k", "c": "c", "l": "l", "m": "m",
    "n": "n", "w": "U", "y": "I", "a": "a", "e": "e", "i": "i", "o": "o", "u": "u", "'": "'",
}  # fmt: skip


def _closed(form: str, at: int) -> bool:
    """Whether two different consonants follow `at` (a closed syllable, where Arabic names
    have no long vowel: مصطفى Moustafa, منذر Mounther, بطرس Boutros). A doubled letter is
    French spelling of one sound, not two (Youssef, Moussa keep their long و)."""
    pair = form[at : at + 2]
    return len(pair) == 2 and pair[0] != pair[1] and not set(pair) & set("aeiouyw'")


def _open(form: str, at: int) -> bool:
    """Whether one consonant and then a vowel follow `at` (an open syllable: French ou is a
    long و in نورة Noura and a short u in زهير Zouhair, سليمان Soulaiman, جمانة Joumana)."""
    pair = form[at : at + 2]
    vowels = set("aeiouy")
    return len(pair) == 2 and pair[0] not in vowels | {"w", "'"} and pair[1] in vowels


def _latin_phones(form: str) -> tuple[str, ...]:
    """Phones of one Latin token (tokens are read apart: Is-haq is not Ishaq's sh)."""
    out: list[str] = []
    i = 0
    while i < len(form):
        sym = next((single for pair, single in _LATIN_MULTI if form.startswith(pair, i)), "")
        if sym == "U!" and form.startswith("ou", i) and _closed(form, i + 2):
            sym = "u"  # French ou before two consonants is a short u: Moustafa, Mounther
        elif sym == "U!" and form.startswith("ou", i) and _open(form, i + 2):
            sym = "U~"  # before one consonant and a vowel, long or short: Noura, Zouhair
        if sym:
            i += 2
        else:
            sym = _LATIN_SINGLE.get(form[i], "")
            i += 1
        if not sym:
            continue
        if out and out[-1] == sym and sym not in "aeiou":
            continue  # Hassan = Hasan
        out.append(sym)
    if len(out) > 1 and out[-1] == "h" and out[-2] in ("a", "e", "A!", "I", "i"):
        out[-1] = "h?"  # Fatimah = Fatima
    if out and out[0] == "I" and len(out) > 1 and out[1] in "aeiou":
        pass  # Yasin: initial y is a consonant ي, kept as I
    return tuple(out)


def phones(name: str, *, family: bool = False) -> tuple[str, ...]:
    """The phonetic sequence of a name in either script (see _AR_PHONE / _LATIN_SINGLE)."""
    form = name_form(name, family=family)
    if _ARABIC.search(form):
        return _arabic_phones(form)
    tokens = _latin_tokens(_clean(name))
    if family:
        tokens = _without_article(tokens)
    out: list[str] = []
    for p in (p for token in tokens for p in _latin_phones(token)):
        if not (out and out[-1] == p and p not in "aeiou"):  # Abd ar-Rahman: one r
            out.append(p)
    return tuple(out)


# What a Latin symbol may stand for, and Arabic symbols for themselves.
_CAN_BE: dict[str, frozenset[str]] = {
    "t": frozenset(["=t", "T"]), "th": frozenset(["T", "Z", "=t"]),
    "d": frozenset(["=d", "Z"]), "dh": frozenset(["=d", "Z"]), "z": frozenset(["=z", "Z"]),
    "s": frozenset(["=s", "T"]), "g": frozenset("Gj"), "h": frozenset(["=h", "H"]),
    "h?": frozenset(["=h", "H", "h?"]), "q": frozenset(["=q", "=k"]),
    "k": frozenset(["=k", "=q"]), "c": frozenset(["=k", "=q", "=s"]), "x": frozenset("x"),
    "'": frozenset("'"),
    "a": frozenset("A'"), "e": frozenset("AI'"), "i": frozenset("I'"), "o": frozenset("U'"),
    "u": frozenset("U'"), "A!": frozenset("A'"), "I!": frozenset("I"), "U!": frozenset("U"),
    "Ia": frozenset("IA"), "h~": frozenset(["=h", "H"]), "U~": frozenset("U'"),
}  # fmt: skip
_VOWELS = {"a", "e", "i", "o", "u", "A!", "I!", "U!", "U~", "A", "I", "U"}
_LONG = {"A", "I", "U", "A!", "I!", "U!"}
_LONG_DROP = 0.6  # a long vowel one side has and the other does not: محمد / Mahmoud
# short Latin vowels cost nothing to drop, except i and u, more often long than not in names
_SHORT_DROP = {"a": 0.0, "e": 0.0, "o": 0.0, "i": 0.3, "u": 0.2}


def _drop(sym: str, initial: bool = False) -> float:
    if initial and sym in _SHORT_DROP:
        return 0.4  # a Latin name's first vowel is written for a reason: Ali is not Elie
    if sym in ("'", "h?"):
        return 0.0
    if sym == "h~":
        return 0.1
    if sym == "U~":
        return _SHORT_DROP["u"]  # French ou that may be a short u (see _open)
    if sym in _SHORT_DROP:
        return _SHORT_DROP[sym]
    if sym in _LONG:
        return _LONG_DROP
    if sym in ("h", "=h"):
        return 0.4  # ه inside a word is often not written in Latin (Adham = أدهم read as dh)
    return 1.0


def _options(sym: str) -> frozenset[str]:
    return _CAN_BE.get(sym, frozenset([sym]))


def _sub(a: str, b: str, first: bool = False) -> float:
    if a == b:
        return 0.0
    if first and {a, b} == {"a", "e"}:
        return 0.4  # Ali is not Elie, though Mohammad is Mohamed
    if _options(a) & _options(b) or a in _options(b) or b in _options(a):
        cost = 0.0
        if {a, b} & {"e"} and {a, b} & {"I"}:
            cost = 0.2  # e for ي: Wael, but Samer is not Samir
        return cost
    if a in _VOWELS and b in _VOWELS:
        both_short = a in _SHORT_DROP and b in _SHORT_DROP
        return 0.0 if both_short else 0.5
    return 1.0


@functools.lru_cache(maxsize=200_000)
def phonetic_distance(a: tuple[str, ...], b: tuple[str, ...]) -> float:
    """Weighted edit distance between two phonetic sequences (0 is the same name)."""
    prev = [0.0]
    for j, sym in enumerate(b, start=1):
        prev.append(prev[-1] + _drop(sym, j == 1))
    for i, x in enumerate(a, start=1):
        row = [prev[0] + _drop(x, i == 1)]
        for j, y in enumerate(b, start=1):
            row.append(
                min(
                    prev[j] + _drop(x, i == 1),
                    row[j - 1] + _drop(y, j == 1),
                    prev[j - 1] + _sub(x, y, i == j == 1),
                )
            )
        prev = row
    return prev[-1]


def name_cache_clear(_sender: object = None, **_kw: object) -> None:
    """Sealing: the remembered distances between names (sounds of decrypted names) go."""
    phonetic_distance.cache_clear()


SAME = 0.35  # at most this far apart: the same name written by two people
SIMILAR = 1.2


def name_distance(a: str, b: str, *, family: bool = False) -> float:
    """0 for the same name (same canonical form), else the phonetic distance; names in one
    script with different canonical forms are never 0 (محمد / محمود, حسن / حسين)."""
    fa, fb = name_form(a, family=family), name_form(b, family=family)
    if not fa or not fb:
        return float("inf")
    if fa == fb:
        return 0.0
    pa, pb = phones(a, family=family), phones(b, family=family)
    distance = phonetic_distance(pa, pb)
    if bool(_ARABIC.search(fa)) == bool(_ARABIC.search(fb)) and _ARABIC.search(fa):
        return max(distance, SAME + 0.05)  # two Arabic spellings that differ are not equal
    return distance


def same_name(a: str, b: str, *, family: bool = False) -> bool:
    return name_distance(a, b, family=family) <= SAME


def one_name(a: str, b: str, *, family: bool = False) -> bool:
    """Whether two spellings that differ are one name: in two scripts, or two Latin spellings,
    by the usual spellings where a Latin one has listed ones (Mohammad and Mohamed are محمد;
    Ammar is عمار and not عمر), else by how they sound. Two Arabic spellings that differ are
    two names (هشام, هاشم), as the linkage holds."""
    arabic = [bool(_ARABIC.search(x)) for x in (a, b)]
    if all(arabic):
        return name_form(a, family=family) == name_form(b, family=family)
    usual = [
        frozenset({name_form(x, family=family)}) if is_ar else usual_names(x)
        for x, is_ar in zip((a, b), arabic, strict=True)
    ]
    if usual[0] and usual[1]:
        return bool(usual[0] & usual[1])
    return same_name(a, b, family=family)


@functools.cache
def common_names_digest() -> str:
    """Which list of common names this is (partner encodings depend on it)."""
    path = Path(__file__).with_name("common_names.txt")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@functools.cache
def common_names() -> frozenset[str]:
    """Canonical forms of common Arabic given names (common_names.txt): two different names
    both on this list are two names, not a typo of one."""
    path = Path(__file__).with_name("common_names.txt")
    words = [w.strip() for w in path.read_text(encoding="utf-8").splitlines()]
    return frozenset(name_form(w) for w in words if w and not w.startswith("#"))


def _latin_key(form: str) -> str:
    """A Latin canonical form with doubled consonants written once (Hassan = Hasan); doubled
    vowels stay (Saeed is not Saed, Sameer not Samer)."""
    return re.sub(r"([^aeiou])\1+", r"\1", form)


@functools.cache
def _usual_latin() -> tuple[dict[str, frozenset[str]], frozenset[str]]:
    """(each usual Latin spelling's key -> the Arabic names it is a usual spelling of, every
    Arabic name listed), from usual_latin.txt.

    Hand-written: no maintained library lists how Syrian names are usually written in Latin
    letters (the transliteration standards give one spelling each, not the ones families and
    the press use), and the sounds alone cannot tell Said (سعيد) from Saad (سعد) or Omar
    (عمر) from Ammar (عمار): Arabic does not write the short vowels that do."""
    path = Path(__file__).with_name("usual_latin.txt")
    readings: dict[str, set[str]] = {}
    listed: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        arabic, _, spellings = line.partition(":")
        form = name_form(arabic)
        listed.add(form)
        for spelling in spellings.split(","):
            if key := _latin_key(name_form(spelling)):
                readings.setdefault(key, set()).add(form)
    return {k: frozenset(v) for k, v in readings.items()}, frozenset(listed)


def unknown_digest() -> str:
    """Which words for "not known" are read as no name (partner encodings depend on it)."""
    return hashlib.sha256("\n".join(sorted(_UNKNOWN)).encode()).hexdigest()[:16]


@functools.cache
def usual_latin_digest() -> str:
    """Which list of usual Latin spellings this is (partner encodings depend on it)."""
    path = Path(__file__).with_name("usual_latin.txt")
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def usual_names(name: str) -> frozenset[str]:
    """The names (canonical Arabic forms) a name written in Latin letters is a usual spelling
    of: Said {سعيد}, Hassan {حسن, حسان}; empty for Arabic script or a spelling nobody lists."""
    form = name_form(name)
    if not form or _ARABIC.search(form):
        return frozenset()
    return _usual_latin()[0].get(_latin_key(form), frozenset())


def latin_readings(
    form: str,
    sounds: tuple[str, ...],
    candidates: Iterable[str],
    arabic: Mapping[str, tuple[str, ...]],
) -> list[tuple[float, str]]:
    """(distance, Arabic name) for each of the names in `arabic` (canonical form -> phonetic
    sequence) that a Latin spelling (`form`, canonical; `sounds`, its sequence) may be read
    as, among `candidates` (those its skeleton finds). Where the spelling is a usual spelling
    of some of the names (usual_latin.txt), it is read as those (distance 0, however the
    sounds compare: Huda is هدى, Ishaq إسحاق) and as names whose usual spellings are not
    listed, within SAME; otherwise as every candidate within SAME."""
    readings, listed = _usual_latin()
    usual = {name for name in readings.get(_latin_key(form), ()) if name in arabic}
    out = [(0.0, name) for name in usual]
    for name in candidates:
        if name in usual or (usual and name in listed):
            continue
        if (distance := phonetic_distance(sounds, arabic[name])) <= SAME:
            out.append((distance, name))
    return out


def _deletions(key: str) -> set[str]:
    return {key} | {key[:i] + key[i + 1 :] for i in range(len(key))}


class LatinResolver:
    """Latin spellings read as the Arabic names of one collection they are the same name as.

    Built from every name of a collection (a partner export): each distinct Latin spelling is
    compared by the transliteration-aware distance with the collection's Arabic names whose
    skeletons are within a deletion of its own (the skeleton only finds candidates, never
    decides); among those it may be read as (`latin_readings`: Omar is عمر, not عمار) the
    nearest wins, ties to the more frequent Arabic name. A spelling with no such name is left
    as it is. Names are remembered only as long as the resolver lives (one export)."""

    def __init__(self, names: Mapping[tuple[str, bool], int]) -> None:
        """`names`: how often each (spelling, is a family name) occurs in the collection."""
        self._arabic: dict[str, tuple[tuple[str, ...], int, str]] = {}
        self._index: dict[str, set[str]] = {}
        for (name, family), count in sorted(names.items(), key=lambda item: -item[1]):
            form = name_form(name, family=family)
            if not form or not _ARABIC.search(form):
                continue
            known = self._arabic.get(form)
            if known is None:  # the most frequent spelling of a form speaks for it
                self._arabic[form] = (phones(name, family=family), count, name)
                for key in _deletions(skeleton(heard(form))):
                    self._index.setdefault(key, set()).add(form)
            else:
                self._arabic[form] = (known[0], known[1] + count, known[2])
        self._sounds = {form: known[0] for form, known in self._arabic.items()}
        self.resolve = functools.lru_cache(maxsize=100_000)(self._resolve)

    def _resolve(self, name: str, family: bool) -> str:
        """`name` itself unless it is a Latin spelling of one of the collection's Arabic
        names, then that name as the collection writes it."""
        form = name_form(name, family=family)
        if not form or _ARABIC.search(form):
            return name
        sounds = phones(name, family=family)
        candidates = {c for key in _deletions(skeleton(form)) for c in self._index.get(key, ())}
        near = sorted(
            (distance, -self._arabic[c][1], c)
            for distance, c in latin_readings(form, sounds, candidates, self._sounds)
        )
        return self._arabic[near[0][2]][2] if near else name

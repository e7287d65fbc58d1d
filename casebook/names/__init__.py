"""Arabic and Latin name normalisation for matching and search keys.

Hand-written: camel-tools needs torch and downloads data at run time, and pyarabic's alef and
hamza handling does not follow the matching convention. About forty lines of
rules, property-tested.
"""

from __future__ import annotations

import re
import unicodedata

_TASHKEEL = re.compile("[\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u0640]")  # + tatweel
_LETTERS = str.maketrans(
    {
        "أ": "ا",
        "إ": "ا",
        "آ": "ا",
        "ٱ": "ا",
        "ٲ": "ا",
        "ٳ": "ا",
        "ة": "ه",
        "ى": "ي",
        "ؤ": "و",
        "ئ": "ي",
        "ء": None,
        "ی": "ي",
        "ې": "ي",
        "ک": "ك",
        "ڪ": "ك",
        "ھ": "ه",
        "ہ": "ه",
        "٠": "0",
        "١": "1",
        "٢": "2",
        "٣": "3",
        "٤": "4",
        "٥": "5",
        "٦": "6",
        "٧": "7",
        "٨": "8",
        "٩": "9",
        "۰": "0",
        "۱": "1",
        "۲": "2",
        "۳": "3",
        "۴": "4",
        "۵": "5",
        "۶": "6",
        "۷": "7",
        "۸": "8",
        "۹": "9",
    }
)
_JOINERS = {"عبد", "ابو", "abd", "abdul", "abdel", "abdal", "abu", "abou"}
_FILIATION = {"بن", "ابن", "بنت", "bin", "ibn", "bint", "ben"}
_ARTICLES = ("ال", "al", "el")
_DOUBLED_SEAT = re.compile("([وي])\\1+")
_NON_WORD = re.compile(r"[^\w\s]", re.UNICODE)


def normalise(name: str) -> str:
    """One canonical form for comparing names written by different people.

    NFKC; tashkeel and tatweel removed; alef forms to ا, ة to ه, ى and ئ to ي, ؤ to و, bare ء
    dropped, Persian ی/ک to ي/ك; digits to ASCII; punctuation dropped; casefolded; بن/ابن/بنت
    dropped; عبد and ابو joined to the next word (عبد الله = عبدالله).
    """
    text = unicodedata.normalize("NFKC", name)
    text = _TASHKEEL.sub("", text).translate(_LETTERS).casefold()
    text = _DOUBLED_SEAT.sub(r"\1", text)  # رؤوف → رووف → روف, as رءوف
    text = _NON_WORD.sub(" ", text).replace("_", " ")
    tokens = [t for t in text.split() if t not in _FILIATION]
    joined: list[str] = []
    for token in tokens:
        if joined and joined[-1] in _JOINERS:
            joined[-1] += token
        else:
            joined.append(token)
    return " ".join(joined)


def normalise_family(name: str) -> str:
    """A family name with its article dropped too (الحلبي = حلبي; Al-Halabi = Halabi)."""
    tokens = [t for t in normalise(name).split() if t not in _ARTICLES]
    out = []
    for token in tokens:
        for article in _ARTICLES:
            if token.startswith(article) and len(token) > len(article) + 1:
                token = token[len(article) :]
                break
        out.append(token)
    return " ".join(out)


# Consonant classes shared by Arabic letters and their common Latin spellings. Vowels, ع, ء,
# ا/و/ي and ة carry no class. The skeleton is a blocking key and a search key, never the
# decision alone: it also merges distinct names (محمد and محمود are both "mhmd").
_AR_SKELETON = {
    "ب": "b",
    "ت": "t",
    "ث": "t",
    "ج": "j",
    "ح": "h",
    "خ": "x",
    "د": "d",
    "ذ": "z",
    "ر": "r",
    "ز": "z",
    "س": "s",
    "ش": "s",
    "ص": "s",
    "ض": "d",
    "ط": "t",
    "ظ": "z",
    "غ": "j",
    "ف": "f",
    "ق": "k",
    "ك": "k",
    "ل": "l",
    "م": "m",
    "ن": "n",
    "ه": "h",
    "پ": "b",
    "چ": "j",
    "ڤ": "f",
    "گ": "j",
}
_LATIN_DIGRAPHS = (
    ("kh", "x"),
    ("sh", "s"),
    ("th", "t"),
    ("dh", "z"),
    ("gh", "j"),
    ("ch", "s"),
    ("ph", "f"),
    ("ou", "u"),
)
_LATIN_SKELETON = {
    "b": "b",
    "p": "b",
    "t": "t",
    "j": "j",
    "g": "j",
    "h": "h",
    "x": "x",
    "d": "d",
    "z": "z",
    "r": "r",
    "s": "s",
    "f": "f",
    "v": "f",
    "q": "k",
    "k": "k",
    "c": "k",
    "l": "l",
    "m": "m",
    "n": "n",
}


def _collapse(chars: list[str]) -> str:
    out: list[str] = []
    for c in chars:
        if not out or out[-1] != c:
            out.append(c)
    return "".join(out)


def skeleton(token: str) -> str:
    """The consonant skeleton of one name, from Arabic or Latin script alike.

    A final h is dropped on both sides: ة/ه at the end is mostly written as a vowel in Latin
    (فاطمة = Fatima), and dropping it everywhere keeps عبدالله = Abdullah.
    """
    text = normalise(token).replace(" ", "")
    if any("\u0600" <= c <= "\u06ff" for c in text):
        out = _collapse([_AR_SKELETON[c] for c in text if c in _AR_SKELETON])
    else:
        text = "".join(
            c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
        )
        for digraph, single in _LATIN_DIGRAPHS:
            text = text.replace(digraph, single)
        out = _collapse([_LATIN_SKELETON[c] for c in text if c in _LATIN_SKELETON])
    return out[:-1] if out.endswith("h") and len(out) > 1 else out


def family_skeleton(name: str) -> str:
    return " ".join(skeleton(t) for t in normalise_family(name).split())


def is_arabic(text: str) -> bool:
    return any("\u0600" <= c <= "\u06ff" for c in text)

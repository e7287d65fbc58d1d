"""Keyed Bloom-filter encodings (CLKs) of a person, for counting the people two or more
organisations share without either one showing the other a name.

Hand-written rather than clkhash: clkhash 0.18.3 (the last release, 2023) pins
`cryptography<41`, below the version casebook needs (Argon2id, current security fixes), so the
two cannot be installed together. The encoding follows clkhash's design (Schnell, Bachteler and
Reiher 2009; Schnell 2011): q-grams of each field hashed into one record-level filter, with
clkhash's hardening choices made explicit in SECURITY.md:

- one secret key per field, derived with HKDF from the secret the organisations share, so the
  same q-gram sets different bits in different fields and nobody without the secret can encode
  a dictionary of names to compare against;
- "random hashing" (each q-gram's k bit positions read from its own HMAC-SHA256, not the
  double-hashing scheme that Kroll and Steinmetzer's cryptanalysis recovers);
- XOR-folding the 4096-bit filter in half (Schnell, Borgs and Encheva 2016): a bit of the
  published encoding is the parity of two bits, which breaks the one-q-gram-one-pattern link
  that frequency and pattern-mining attacks start from, and halves the comparison work.

Pure functions: no database, no Flask. Nothing here writes a file.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import struct
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from casebook.names import is_arabic, normalise, skeleton
from casebook.names.matching import (
    LatinResolver,
    common_names,
    common_names_digest,
    heard,
    is_unknown,
    name_form,
    unknown_digest,
    usual_latin_digest,
)

FORMAT = "casebook-partners"
VERSION = 1
NAME_FIELDS = ("first_name", "father_name", "grandfather_name", "family_name", "mother_name")
# father and grandfather share one tag: families and documenters swap them, and a person is
# rarely told apart from another by the order of his father's and grandfather's names alone
_TAG = {"father_name": "ancestor", "grandfather_name": "ancestor"}

# The linkage schema both organisations must use. Each field's tokens are hashed with its own
# key; `k` is the number of bits a token sets (its weight in the similarity).
SCHEMA: dict[str, Any] = {
    "id": "casebook-pprl-9",
    # pprl-6: a final alef is read as an alef maqsura only in names written so (موسا = موسى;
    # ساما no longer encodes as سامي). pprl-7: the first name also whole (below). pprl-8: a
    # usual Latin spelling is read as the name it is usually written for (Said as سعيد, not
    # سعد; Huda as هدى, which the sounds alone did not reach). pprl-9: a word for "not known"
    # in a name field ("-", "غير معروف", "unknown") is no name (it agreed between strangers and
    # disagreed with the real name; a first name of no letters gave all such one token).
    # 4,096 bits folded to 2,048 published (pprl-3: 2,048 to 1,024): at 1,024 bits a third of
    # the bits were set and every record shared 62% of its bits with any other, so the few
    # bits a different father's name sets were lost among chance collisions; at 2,048 a fifth
    # are set, and at 100,000 x 100,000 precision rose from 0.952 to 0.976 at the same recall
    # (bench/README.md)
    "bits": 4096,
    "fold": 1,  # XOR-fold once: 4096 -> 2048 published bits
    "q": 2,
    "fields": {
        # the canonical Arabic form of each name part (a Latin spelling is first read as the
        # Arabic name of the same export it is the same name as; absent when there is none)
        "name_ar": {"k": 6},
        # the consonant skeleton of each name part as it is heard (both scripts)
        "name_skel": {"k": 12},
        # the first name whole (its canonical Arabic form, or the skeleton of a Latin spelling
        # read as no Arabic name): brothers and sisters share every other name part, their
        # mother, often their arrest, and so matched each other (precision 0.934 where a fifth
        # of the men had a brother); a misspelt first name loses these bits but keeps its
        # bigrams (bench/README.md)
        "first": {"k": 48},
        # the birth year, and its two 2-year windows so that a year off by one still shares one
        "birth_year": {"k": 24},
        "governorate": {"k": 40},
        # the year of the first arrest, with its 2-year windows: families and organisations
        # remember it, and at 100,000 people names and birth year alone leave too many
        # look-alikes (bench/README.md)
        "arrest_year": {"k": 16},
    },
    # the list of common given names a Latin spelling may be read as (its digest: two
    # organisations with different lists would encode Latin names differently)
    "common_names": common_names_digest(),
    # the usual Latin spellings of common names (names.matching.latin_readings): the same
    "usual_latin": usual_latin_digest(),
    # the words for "not known" read as no name: the same
    "unknown_words": unknown_digest(),
}
MIN_SECRET_BYTES = 32


def canonical(schema: Mapping[str, Any]) -> bytes:
    return json.dumps(schema, sort_keys=True, separators=(",", ":")).encode()


def _hkdf(secret: bytes, info: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode()).derive(secret)


def fingerprint(secret: bytes, schema: Mapping[str, Any] = SCHEMA) -> str:
    """A MAC of the schema under a key derived from the secret: equal for two files exactly
    when both were made with the same secret and schema, and reveals neither."""
    key = _hkdf(secret, "casebook:partners:fingerprint")
    return hmac.new(key, canonical(schema), hashlib.sha256).hexdigest()


def _qgrams(text: str, q: int) -> list[str]:
    padded = f"_{text}_"
    return [padded[i : i + q] for i in range(max(1, len(padded) - q + 1))]


def name_grams(value: str, family: bool, q: int = 2) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(skeleton q-grams, canonical Arabic q-grams) of one name part; the second is empty for
    a name written in Latin letters. The skeleton is taken from the name as it is heard, so
    عبد الرحمن and Abdurrahman, نور الدين and Noureddine, محمد and Mhd give the same one."""
    form = name_form(value, family=family)
    if not form:
        return (), ()
    arabic = is_arabic(form)
    skel = skeleton(heard(form) if arabic else form)
    return (
        tuple(_qgrams(skel, q)) if skel else (),
        tuple(_qgrams(form, q)) if arabic else (),
    )


NameGramPair = tuple[tuple[str, ...], tuple[str, ...]]
NameGrams = Callable[[str, bool, int], NameGramPair]


class ExportNames:
    """What an export knows of its own names before encoding any: which Latin spellings are
    its Arabic names written in Latin letters. Read from the exporting organisation's own
    records (and the common given names); an Arabic record's encoding never depends on it, so
    two organisations of any sizes encode one person alike."""

    def __init__(self, people: Iterable[Mapping[str, Any]]) -> None:
        # names repeat (every محمد): each distinct spelling is read once
        spellings: Counter[tuple[str, bool]] = Counter(
            (value, part == "family_name")
            for person in people
            for part in NAME_FIELDS
            if (value := str(person.get(part) or "").strip())
        )
        # the common given names (casebook.names) stand in for a list written only in Latin
        # letters, which has no Arabic spelling of its own to read Ahmad as أحمد
        known = dict(spellings)
        for name in common_names():
            known.setdefault((name, False), 0)
        self.read = LatinResolver(known).resolve


def person_tokens(
    person: Mapping[str, Any],
    governorate: str | None,
    q: int = 2,
    grams: NameGrams = name_grams,
    arrest_date: str | None = None,
    names: ExportNames | None = None,
) -> dict[str, set[str]]:
    """The tokens of each schema field for one person.

    Every name part gives q-grams of its skeleton (so `محمد` and `Mohammad` share them) and, for
    Arabic script, of its canonical form (which tells محمد from محمود). Tokens carry their name
    part (father and grandfather one part) so that a mother's name never agrees with a
    family name. With `names`, a Latin spelling is first read as the export's Arabic name of
    the same sound. `grams` may be an encoder's memo of `name_grams`.
    """
    tokens: dict[str, set[str]] = {f: set() for f in SCHEMA["fields"]}
    latin_name = str(person.get("latin_name") or "")
    latin = normalise(latin_name).split() if latin_name else []
    parts: dict[str, NameGramPair] = {}
    for part in NAME_FIELDS:
        value = str(person.get(part) or "").strip()
        if is_unknown(value):  # "-", "غير معروف": no name, as an empty field
            value = ""
        if not value and part in ("first_name", "family_name") and len(latin) >= 2:
            value = latin[0] if part == "first_name" else latin[-1]
        if not value:
            continue
        family = part == "family_name"
        if names is not None:
            value = names.read(value, family)
        parts[part] = grams(value, family, q)
    # A family name that is the grandfather's name is how many families give a surname they do
    # not use (or a documenter fills the slot): it says nothing the grandfather's name does not,
    # and encoded as a family name it would disagree with the real one on the other list.
    family_grams, grandfather = parts.get("family_name"), parts.get("grandfather_name")
    if family_grams and grandfather and _same_name(family_grams, grandfather):
        del parts["family_name"]
    if (first := parts.get("first_name")) and any(first):
        skel, arabic = first
        # its Arabic form (which tells حسن from حسين, one skeleton); a Latin spelling the
        # export could not read as an Arabic name, by its skeleton
        tokens["first"].add("".join(arabic) if arabic else "~" + "".join(skel))
    for part, (skel, arabic) in parts.items():
        tag = _TAG.get(part, part)
        tokens["name_skel"].update(f"{tag}:{g}" for g in skel)
        tokens["name_ar"].update(f"{tag}:{g}" for g in arabic)
    year = _year(person.get("birth_date"))
    if year is not None:
        tokens["birth_year"].update({f"y{year}", f"p{year // 2}", f"q{(year + 1) // 2}"})
    if governorate:
        tokens["governorate"].add(str(governorate))
    arrest = _year(arrest_date)
    if arrest is not None:
        tokens["arrest_year"].update({f"y{arrest}", f"p{arrest // 2}", f"q{(arrest + 1) // 2}"})
    return tokens


def _same_name(a: NameGramPair, b: NameGramPair) -> bool:
    """One name in two slots: the same canonical Arabic form, or, where either is in Latin
    letters, the same skeleton."""
    if a[1] and b[1]:
        return a[1] == b[1]
    return bool(a[0]) and a[0] == b[0]


def _year(value: Any) -> int | None:
    text = str(value or "").strip()
    if len(text) >= 4 and text[:4].isdigit():
        return int(text[:4])
    return None


class Encoder:
    """Encodes people with one shared secret and the schema; keeps only derived keys."""

    def __init__(self, secret: bytes, schema: Mapping[str, Any] = SCHEMA) -> None:
        if len(secret) < MIN_SECRET_BYTES:
            raise ValueError(f"the secret must be at least {MIN_SECRET_BYTES} bytes")
        self.schema = dict(schema)
        self.bits = int(schema["bits"])
        self.folds = int(schema["fold"])
        self.q = int(schema["q"])
        self.fingerprint = fingerprint(secret, schema)
        # names repeat (every محمد): normalised once per encoder, dropped with it, so no name
        # outlives one export in a long-lived process
        self._grams: NameGrams = functools.lru_cache(maxsize=100_000)(name_grams)
        self._masks: dict[tuple[str, str], int] = {}
        self._keys = {
            name: (_hkdf(secret, f"casebook:partners:{schema['id']}:field:{name}"), int(spec["k"]))
            for name, spec in schema["fields"].items()
        }

    @property
    def published_bits(self) -> int:
        return self.bits >> self.folds

    def _positions(self, key: bytes, token: str, k: int) -> list[int]:
        """k bit positions from the token's own HMAC stream ("random hashing")."""
        out: list[int] = []
        counter = 0
        while len(out) < k:
            digest = hmac.digest(key, f"{counter}|{token}".encode(), "sha256")
            out.extend(w % self.bits for w in struct.unpack("<16H", digest)[: k - len(out)])
            counter += 1
        return out

    def _mask(self, field: str, token: str) -> int:
        """The token's bits as one integer; remembered per encoder, as q-grams repeat in
        almost every record (a few thousand distinct ones in a caseload)."""
        mask = self._masks.get((field, token))
        if mask is None:
            key, k = self._keys[field]
            mask = 0
            for position in self._positions(key, token, k):
                mask |= 1 << position
            self._masks[(field, token)] = mask
        return mask

    def encode_tokens(self, tokens: Mapping[str, set[str]]) -> bytes:
        bloom = 0
        for field, values in tokens.items():
            for token in values:
                bloom |= self._mask(field, token)
        width = self.bits
        for _ in range(self.folds):
            width //= 2
            bloom = (bloom & ((1 << width) - 1)) ^ (bloom >> width)
        return bloom.to_bytes(width // 8, "big")

    def encode(
        self,
        person: Mapping[str, Any],
        governorate: str | None,
        arrest_date: str | None = None,
        names: ExportNames | None = None,
    ) -> bytes:
        """`governorate` and `arrest_date` are those of the first arrest; `names` is what the
        export knows of its own names (ExportNames of every person it encodes)."""
        return self.encode_tokens(
            person_tokens(person, governorate, self.q, self._grams, arrest_date, names)
        )

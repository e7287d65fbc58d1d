"""How a search query's names meet a case's names: the blind-index keys a query looks up, and
the exact test on the decrypted record that every search path (the HTML case list, the API's
case list) applies to each candidate those keys find.

The rules, as the search form states them:
- two words or more: the first word is the first name and the last the family name (words
  between, a father's name, are not compared); a case matches by its first and family name,
  where its family name is not known by its first name and its grandfather's or father's name
  (the three-part name people give in its place),
  by one of its other names, or, for a query in Latin letters only, by the consonant skeleton
  of its first and family name or of its name in Latin letters. An Arabic query is compared
  letter for letter after normalisation (the skeleton merges محمد and محمود);
- one word: a family name; with the mother's name given, the person's first name or family
  name (either one, and the mother's name must agree);
  an article written apart belongs to the word after it (al-Halabi, Al Halabi and ال حلبي are
  one word, the family name);
- a first name alone is not searchable: no blind index holds a first name by itself (thousands
  of people share each one, and such an index would show how often each name occurs);
- a four-digit number is a birth year, and with the birth-year and national-ID fields it only
  narrows; the mother's name compares its first word; a national ID compares whole.

Names are compared in the normalised forms the stored blind indexes were computed from
(casebook.names.normalise, normalise_family, skeleton): changing those forms changes every
stored index, so they are used here as they are.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from casebook.names import family_skeleton, is_arabic, normalise, normalise_family, skeleton
from casebook.names.matching import is_unknown

Person = Mapping[str, Any]
Key = tuple[str, tuple[str, ...]]  # (blind index name, its normalised parts)


@dataclass(frozen=True)
class NameQuery:
    """A search query, normalised once for the many candidates it is checked against."""

    words: tuple[str, ...] = ()  # normalised name words, numbers left out
    years: tuple[int, ...] = ()  # birth years: four-digit numbers in the name, the year field
    mother: str | None = None  # first word of the mother's name; "" if given but empty
    national_id: str = ""
    arabic: bool = False  # written in Arabic letters: matched letter for letter
    family: str = ""  # the last word as a family name's index holds it
    skeletons: tuple[str, str] = ("", "")  # of the first and last word (latin_key)

    @property
    def first(self) -> str:
        return self.words[0] if self.words else ""


def parse_query(
    q: str = "", mother: str = "", birth_year: int | None = None, national_id: str | None = None
) -> NameQuery:
    tokens = normalise(q).split()
    years = [int(t) for t in tokens if t.isdigit() and len(t) == 4]
    if birth_year:
        years.append(birth_year)
    words = _articles_joined([t for t in tokens if not t.isdigit()])
    return NameQuery(
        words=words,
        years=tuple(years),
        mother=first_word(mother) if mother.strip() else None,
        national_id=(national_id or "").strip().upper(),
        arabic=is_arabic(q),
        family=family_key(words[-1]) if words else "",
        skeletons=latin_key(words[0], words[-1]) if words else ("", ""),
    )


_ARTICLES = frozenset({"ال", "al", "el"})


def _articles_joined(words: list[str]) -> tuple[str, ...]:
    """An article written apart (al-Halabi, Al Halabi, El-Halabi, ال حلبي: normalising turns
    the hyphen into a space) belongs to the word after it, so "al-Halabi" alone is one family
    name, not the first name "al" and the family name "Halabi" (whose skeleton "l" is علي's). An
    article with no word after it is dropped."""
    out: list[str] = []
    article = ""
    for word in words:
        if word in _ARTICLES:
            article = word
            continue
        out.append(article + word)
        article = ""
    return tuple(out)


def first_word(value: str | None) -> str:
    tokens = normalise(value or "").split()
    return tokens[0] if tokens else ""


def family_key(value: str | None) -> str:
    """A family name as its index holds it: normalised, article dropped, spaces closed."""
    return normalise_family(value or "").replace(" ", "")


def latin_key(first: str, family: str) -> tuple[str, str]:
    """The consonant skeletons of a first and a family name (Arabic or Latin letters)."""
    return (skeleton(first) if first else "", family_skeleton(family).replace(" ", ""))


# -- the keys a query looks up -------------------------------------------------------------


def lookup_keys(query: NameQuery) -> list[Key]:
    """The blind-index keys that may find a match; none when the query cannot be searched (a
    first name alone). The keys only find candidates: `matches` decides."""
    return _name_keys(query) + _family_keys(query) + _mother_keys(query) + _nid_keys(query)


def _name_keys(query: NameQuery) -> list[Key]:
    if len(query.words) < 2:
        return []
    keys: list[Key] = [("name", (query.first, query.family))]
    if all(query.skeletons) and not query.arabic:
        keys.append(("latin", query.skeletons))
    return keys


def _family_keys(query: NameQuery) -> list[Key]:
    if len(query.words) != 1 or query.mother == "":
        return []  # a mother's name given but empty after normalising: nothing to search
    if query.years:
        return [("family_year", (query.family, str(y))) for y in query.years]
    return [("family", (query.family,))]


def _mother_keys(query: NameQuery) -> list[Key]:
    if not (query.mother and query.words):
        return []
    return [("mother", (query.first, query.mother))]


def _nid_keys(query: NameQuery) -> list[Key]:
    return [("nid", (query.national_id,))] if query.national_id else []


# -- the keys a record is indexed by ---------------------------------------------------------


def record_keys(person: Person, birth_year: int | None) -> list[Key]:
    """Every key a case's record is findable by (its stored blind indexes), in the forms the
    query's keys take: first and family name, family name (with the birth year), first name
    with the mother's, the Latin skeletons, other names, the national ID."""
    unknown = is_unknown(person.get("family_name") or "")  # asked once per record
    family = "" if unknown else family_key(person.get("family_name"))
    keys = (
        _record_name_keys(person, family, _stand_ins(person, unknown))
        + _record_family_keys(family, birth_year)
        + _record_mother_keys(person)
        + _record_latin_name_keys(person)
        + _record_other_name_keys(person)
        + _record_nid_keys(person)
        + kin_keys(person)
    )
    return list(dict.fromkeys(keys))


def kin_keys(person: Person) -> list[Key]:
    """The first name with the father's and with the grandfather's name, whatever the family
    name: the `kin` index, which no search reads. Only the check at entry looks it up, for a
    new case whose family name is not known, to meet earlier reports that give one."""
    first = first_word(person.get("first_name"))
    names = (family_key(person.get(f)) for f in ("father_name", "grandfather_name"))
    return [("kin", (first, n)) for n in dict.fromkeys(names) if n] if first else []


def _record_name_keys(person: Person, family: str, given: list[str]) -> list[Key]:
    """`family`: the family name's key ("" where not known); `given`: the stand-ins."""
    first = first_word(person.get("first_name"))
    if not first:
        return []
    names = dict.fromkeys(n for n in (family_key(g) for g in given) if n)
    stand_ins: list[Key] = [("name", (first, name)) for name in names]
    stand_ins += [("latin", skel) for g in given if all(skel := latin_key(first, g))]
    if not family:
        return stand_ins
    skel = latin_key(first, person.get("family_name") or "")
    return [("name", (first, family)), *([("latin", skel)] if all(skel) else []), *stand_ins]


def stand_in_families(person: Person) -> list[str]:
    """Where a record's family name is missing or written as "not known", its grandfather's and
    father's names as a family name's index holds them: people asked for such a person give the
    three-part name (first, father, grandfather), so a two-word search meets it through these.
    A record with a family name has none: its family name alone answers for it, as before."""
    names = (family_key(name) for name in _stand_ins(person))
    return list(dict.fromkeys(n for n in names if n))


def three_part_keys(person: Person) -> list[Key]:
    """The keys a case without a family name is indexed by, made from this person's first,
    father's and grandfather's names whether or not it has a family name: what the check at
    entry looks up so that a new case with a family name meets an earlier report without."""
    first = first_word(person.get("first_name"))
    names = (family_key(person.get(f)) for f in ("grandfather_name", "father_name"))
    return [("name", (first, n)) for n in dict.fromkeys(names) if n] if first else []


def _stand_ins(person: Person, unknown: bool | None = None) -> list[str]:
    """The grandfather's and father's names as written, where the family name is not known
    (`unknown`, when the caller has asked already)."""
    if unknown is None:
        unknown = is_unknown(person.get("family_name") or "")
    if not unknown:
        return []
    return [str(v) for f in ("grandfather_name", "father_name") if (v := person.get(f))]


def _stand_in_skeletons(person: Person) -> list[tuple[str, str]]:
    """The consonant skeletons of the first name with each stand-in: a Latin query ("Mohammad
    Khaled") meets محمد خالد whose family name is not known as it meets a family name."""
    first = first_word(person.get("first_name"))
    return [latin_key(first, name) for name in _stand_ins(person)] if first else []


def _known_family(person: Person) -> str:
    """The family name's key; none for a word meaning "not known", which would otherwise make
    every such case one family in the index (and show how many there are)."""
    family = person.get("family_name") or ""
    return "" if is_unknown(family) else family_key(family)


def _record_family_keys(family: str, birth_year: int | None) -> list[Key]:
    if not family:
        return []
    year = [("family_year", (family, str(birth_year)))] if birth_year else []
    return [("family", (family,)), *year]


def _record_mother_keys(person: Person) -> list[Key]:
    first, mother = first_word(person.get("first_name")), first_word(person.get("mother_name"))
    return [("mother", (first, mother))] if first and mother else []


def _record_latin_name_keys(person: Person) -> list[Key]:
    latin = normalise(person.get("latin_name") or "").split()
    if len(latin) < 2:
        return []
    skel = latin_key(latin[0], latin[-1])
    return [("latin", skel)] if all(skel) else []


def _record_other_name_keys(person: Person) -> list[Key]:
    keys: list[Key] = []
    for alias in person.get("other_names") or []:
        tokens = normalise(alias).split()
        if len(tokens) >= 2:
            keys.append(("name", (tokens[0], family_key(tokens[-1]))))
    return keys


def _record_nid_keys(person: Person) -> list[Key]:
    nid = str(person.get("national_id") or "").strip().upper()
    return [("nid", (nid,))] if nid else []


# -- the exact test ------------------------------------------------------------------------


def matches(person: Person, query: NameQuery, birth_year: int | None) -> bool:
    """Whether a decrypted record's person (born in `birth_year`, if known) matches the query:
    the exact test behind the lossy blind indexes, so no false positive reaches anyone."""
    return (
        _national_id_agrees(person, query)
        and _year_agrees(birth_year, query)
        and _mother_agrees(person, query)
        and names_agree(person, query)
    )


def _national_id_agrees(person: Person, query: NameQuery) -> bool:
    if not query.national_id:
        return True
    return str(person.get("national_id") or "").strip().upper() == query.national_id


def _year_agrees(birth_year: int | None, query: NameQuery) -> bool:
    return not query.years or birth_year in query.years


def _mother_agrees(person: Person, query: NameQuery) -> bool:
    if query.mother is None:
        return True
    return bool(query.mother) and first_word(person.get("mother_name")) == query.mother


def names_agree(person: Person, query: NameQuery) -> bool:
    """The name words of the query against the record's names (see the module's rules)."""
    if not query.words:
        return True
    if len(query.words) == 1:
        family = bool(query.family) and _known_family(person) == query.family
        if query.mother is not None:  # the first name, or the family name, with the mother's
            return family or first_word(person.get("first_name")) == query.first
        return family
    return (
        _first_and_family(person, query)
        or _other_names(person, query)
        or (not query.arabic and _skeletons(person, query))
    )


def _first_and_family(person: Person, query: NameQuery) -> bool:
    if first_word(person.get("first_name")) != query.first:
        return False
    family = _known_family(person)
    return (bool(family) and family == query.family) or query.family in stand_in_families(person)


def _other_names(person: Person, query: NameQuery) -> bool:
    for alias in person.get("other_names") or []:
        tokens = normalise(alias).split()
        if tokens and tokens[0] == query.first and family_key(tokens[-1]) == query.family:
            return True
    return False


def _skeletons(person: Person, query: NameQuery) -> bool:
    """A Latin query against the skeletons of the record's names and of its Latin name."""
    want = query.skeletons
    if not all(want):
        return False
    have = [latin_key(first_word(person.get("first_name")), person.get("family_name") or "")]
    have += _stand_in_skeletons(person)
    latin = normalise(person.get("latin_name") or "").split()
    if len(latin) >= 2:
        have.append(latin_key(latin[0], latin[-1]))
    return want in have

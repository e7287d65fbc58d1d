"""What people and programs send, made safe to store, in one place so every path agrees: JSON
parsed within limits, text cleaned of characters that hide or reorder what is shown, and
digits in ASCII whatever keyboard typed them.

Used by the case schemas (API, forms and import all validate through them), the JSON request
parser and the JSON-lines import.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_JSON_DEPTH = 32  # a case nests 5 deep; anything far deeper is an attack on the parser

_SURROGATE = re.compile("[\ud800-\udfff]")
# Removed everywhere: C0 and C1 controls (NUL included), DEL, the bidi embeddings, overrides
# and isolates (U+202A-U+202E, U+2066-U+2069) that can reorder a page or a spreadsheet, and lone
# surrogates (not characters; they cannot be stored as UTF-8). Marks used in Arabic and Persian
# text (LRM, RLM, ALM, ZWJ, ZWNJ) are kept.
_UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_UNSAFE_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_LINE_BREAKS = str.maketrans({"\t": " ", "\n": " ", "\r": " ", "\v": " ", "\f": " "})
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")


class JSONInputError(ValueError):
    """A JSON document that parses but cannot be taken (too deep, not text)."""


def loads_checked(data: str | bytes) -> Any:
    """json.loads, refusing documents nested deeper than MAX_JSON_DEPTH and strings (or keys)
    holding lone surrogates, with a sentence that says which."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise JSONInputError(
            f"The JSON document nests deeper than {MAX_JSON_DEPTH} levels."
        ) from None
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                raise JSONInputError(
                    "The JSON document holds a lone surrogate (\\ud800-\\udfff), which is not "
                    "text: send UTF-8 text or a surrogate pair."
                )
            continue
        if not isinstance(item, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise JSONInputError(f"The JSON document nests deeper than {MAX_JSON_DEPTH} levels.")
        if isinstance(item, dict):
            stack.extend((key, depth) for key in item)
            stack.extend((child, depth + 1) for child in item.values())
        else:
            stack.extend((child, depth + 1) for child in item)
    return value


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Text as people meant it: without control characters (line breaks and tabs are kept in
    free text, turned into spaces in one-line fields such as names), bidi overrides, embeddings
    or isolates, or lone surrogates."""
    if multiline:
        return _UNSAFE_TEXT.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))
    return _UNSAFE_LINE.sub("", value.translate(_LINE_BREAKS))


def ascii_digits(value: str) -> str:
    """Arabic-Indic (٠-٩) and Persian (۰-۹) digits as ASCII 0-9; nothing else changes."""
    return value.translate(_DIGITS)


def decimal_text(value: str) -> str:
    """A decimal number as typed on an Arabic keyboard ("٠٫٨", "0,8") as "0.8": ASCII digits,
    and the Arabic decimal separator (٫) or a comma as the point."""
    return ascii_digits(value).strip().replace("\u066b", ".").replace(",", ".")


_DMY = re.compile(r"^([0-9]{1,2})[/.\-]([0-9]{1,2})[/.\-]([0-9]{4})$")
_MY = re.compile(r"^([0-9]{1,2})[/.\-]([0-9]{4})$")


def partial_date_text(value: str) -> str:
    """A date as typed, towards partial ISO: ASCII digits, and d/m/yyyy or m/yyyy (as Syrian
    offices write dates, with / . or -) turned into yyyy-mm-dd or yyyy-mm. Anything else comes
    back trimmed, for the date rule to accept or name."""
    text = ascii_digits(value).strip()
    if match := _DMY.match(text):
        day, month, year = (int(g) for g in match.groups())
        return f"{year:04d}-{month:02d}-{day:02d}"
    if match := _MY.match(text):
        month, year = (int(g) for g in match.groups())
        return f"{year:04d}-{month:02d}"
    return text

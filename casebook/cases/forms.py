"""The case entry form: flat HTML field names ("arrests.0.date") to the API's nested shape and
back, so the form validates with exactly the API's schema and shows every message beside its
field. Repeatable sections work without JavaScript (an "add another" button re-renders)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from werkzeug.datastructures import MultiDict

LIST_SECTIONS = {"arrests", "status", "family_actions", "places"}
INT_FIELDS = {"dependants"}
BOOL_FIELDS = {"granted", "confidential"}
DEFAULT_ROWS = {"arrests": 1, "detention.places": 1, "status": 1, "family_actions": 1}


def _set(tree: dict[str, Any], parts: list[str], value: Any) -> None:
    node: Any = tree
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        key: Any = int(part) if part.isdigit() else part
        if isinstance(node, dict):
            if last:
                node[key] = value
                return
            node = node.setdefault(key, {})  # numeric keys become lists in _listify
        else:  # pragma: no cover - every level is a dict while building
            return


def _listify(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(isinstance(k, int) for k in node):
            items = [_listify(node[k]) for k in sorted(node)]
            return [item for item in items if item not in ({}, None, "")]
        return {k: _listify(v) for k, v in node.items() if v not in ({}, None, "")}
    return node


def _value(name: str, raw: str) -> Any:
    field = name.rsplit(".", 1)[-1]
    raw = raw.strip()
    if field in BOOL_FIELDS:
        return {"yes": True, "no": False}.get(raw, None if raw == "" else raw)
    if field in INT_FIELDS and raw.isdigit():
        return int(raw)
    if field == "other_names":
        return [line.strip() for line in raw.splitlines() if line.strip()] or None
    return raw or None


def parse(form: MultiDict[str, str]) -> dict[str, Any]:
    """Form fields to the API's case object; blank fields and blank repeated rows are dropped."""
    tree: dict[str, Any] = {}
    for name in form:
        if name in ("csrf_token", "add") or name.startswith("_"):
            continue
        value = _value(name, form.get(name, ""))
        if value is None:
            continue
        _set(tree, name.split("."), value)
    data: dict[str, Any] = _listify(tree)
    testimony = data.pop("testimony", None)
    if testimony and testimony.get("text"):
        data["testimonies"] = [testimony]
    consent = data.get("consent") or {}
    data["consent"] = {k: v for k, v in consent.items() if isinstance(v, dict) and "granted" in v}
    return data


def flatten(data: Any, prefix: str = "") -> dict[str, str]:
    """A case object to form values ({"arrests.0.date": "2013-05", …}) to fill the form."""
    out: dict[str, str] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    elif isinstance(data, list):
        if prefix.endswith("other_names"):
            out[prefix] = "\n".join(str(x) for x in data)
        else:
            for i, v in enumerate(data):
                out.update(flatten(v, f"{prefix}.{i}"))
    elif isinstance(data, bool):
        out[prefix] = "yes" if data else "no"
    elif data is not None:
        out[prefix] = str(data)
    return out


def row_counts(values: dict[str, str], add: str | None) -> dict[str, int]:
    """How many rows each repeatable section shows: what was typed, plus one if asked."""
    counts = dict(DEFAULT_ROWS)
    for name in values:
        for section in DEFAULT_ROWS:
            prefix = section + "."
            if name.startswith(prefix):
                rest = name[len(prefix) :].split(".", 1)[0]
                if rest.isdigit():
                    counts[section] = max(counts[section], int(rest) + 1)
    if add in counts:
        counts[add] += 1
    return counts


def localise(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The schema's messages in the user's language."""
    from casebook.messages import localise_fields

    return localise_fields(errors)


# Every field the case form renders, and the rows and sections that show their own messages: a
# schema message is placed on the nearest of these, so none is left without a place on the page.
_FIELD = re.compile(
    r"^(?:person\.(?:first_name|father_name|grandfather_name|family_name|mother_name|latin_name"
    r"|sex|birth_date|birth_place|nationality|national_id|occupation|civil_status|dependants"
    r"|address|other_names|description)"
    r"|arrests\.\d+\.(?:date|governorate|place|perpetrator|unit|circumstances|reason_given"
    r"|witnesses)"
    r"|detention\.places\.\d+\.(?:facility|place|from|to)"
    r"|detention\.(?:transfers|court|charge)"
    r"|status\.\d+\.(?:status|date|source|note)"
    r"|family_actions\.\d+\.(?:type|date|body|reference|amount|reply|note)"
    r"|source\.(?:name|relationship|contact|language|reliability|confidential)"
    r"|consent\.[a-z_]+\.(?:granted|date)"
    r"|testimony\.(?:text|date|language))$"
)
_ANCHOR = re.compile(
    r"^(?:person|arrests(?:\.\d+)?|detention(?:\.places(?:\.\d+)?)?|status(?:\.\d+)?"
    r"|family_actions(?:\.\d+)?|source|consent(?:\.[a-z_]+)?|testimony)$"
)
_TESTIMONY = re.compile(r"^testimonies(?:\.\d+)?(?=\.|$)")


_ROW = re.compile(r"^(arrests|detention\.places|status|family_actions)\.(\d+)\.")


def _row(name: str) -> tuple[str, int] | None:
    """The repeatable section and row a field belongs to (`status.2.date`: status, 2)."""
    match = _ROW.match(name)
    return (match[1], int(match[2])) if match else None


def _digest(value: str) -> str:
    return hashlib.sha256(value.strip().encode()).hexdigest()[:10]


_EMPTY = _digest("")


def fingerprint(values: dict[str, str]) -> str:
    """The form's values as opened, as short digests (`name=digest;…`, in a hidden field): on
    a save after someone else changed the case, they tell the fields this form changed from
    those it left alone, without sending every value twice over a weak connection."""
    return ";".join(
        f"{name}={_digest(value)}"
        for name, value in sorted(values.items())
        if is_field(name) and value.strip()
    )


def read_fingerprint(text: str) -> dict[str, str]:
    """`fingerprint`'s text back as {field: digest}; anything else in it is ignored."""
    out = {}
    for part in text.split(";"):
        name, _, digest = part.partition("=")
        if is_field(name) and re.fullmatch(r"[0-9a-f]{10}", digest):
            out[name] = digest
    return out


def _rows(values: Iterable[str]) -> dict[str, int]:
    rows: dict[str, int] = {}
    for section, index in filter(None, map(_row, values)):
        rows[section] = max(rows.get(section, 0), index + 1)
    return rows


def merge_stale(
    typed: dict[str, str], base: dict[str, str], now: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """An edit form sent after someone else changed the case: a three-way merge of what was
    typed, the form as it was opened (`base`, digests) and the case as it is now.

    Returns the merged values and the fields in conflict. A field this form left alone keeps
    the case's value now; a field only this form changed takes what was typed; a field changed
    here and by someone else to something different keeps theirs and is in conflict (to be
    shown with what was typed beside it); so is a field of a row someone else changed (rows
    are matched by place). Rows this form added (past the rows it opened with) go after the
    rows the case has now (and those it opened with), so they never land on a row someone
    else added; when both added rows to one section, the section is in conflict (its order
    decides which status is current)."""
    base_rows, now_rows = _rows(base), _rows(now)
    merged = dict(now)
    conflicts = []
    added: set[str] = set()
    for name, value in typed.items():
        if not is_field(name):
            continue
        where = _row(name)
        if where is not None and where[1] >= base_rows.get(where[0], 0):
            if value.strip():
                section, index = where
                past = max(now_rows.get(section, 0), base_rows.get(section, 0))
                moved = past + index - base_rows.get(section, 0)
                rest = name[len(f"{section}.{index}.") :]
                merged[f"{section}.{moved}.{rest}"] = value
                added.add(section)
            continue
        was = base.get(name, _EMPTY)
        theirs = now.get(name, "")
        if _digest(value) == was or theirs.strip() == value.strip():
            continue  # left alone here, or both made the same change
        if _digest(theirs) == was and not (where and _row_changed(*where, base, now)):
            merged[name] = value  # changed only here
        else:
            # changed by someone else too, or its row was (removed, reordered or edited: a
            # row is matched by its place, which no longer says which row this was)
            conflicts.append(name)
    # rows added here and by someone else: the order decides (the last status is the
    # current one), so the person saving checks it
    conflicts += sorted(s for s in added if now_rows.get(s, 0) > base_rows.get(s, 0))
    return merged, conflicts


def _row_changed(section: str, index: int, base: dict[str, str], now: dict[str, str]) -> bool:
    """Whether any field of this row is not what the form opened with."""
    prefix = f"{section}.{index}."
    names = {n for n in (*base, *now) if n.startswith(prefix) and is_field(n)}
    return any(_digest(now.get(n, "")) != base.get(n, _EMPTY) for n in names)


def is_field(name: str) -> bool:
    """Whether the case form renders a field of this name (and can show a message beside it)."""
    return _FIELD.match(name) is not None


_CONSENT_ROW = re.compile(r"^consent\.([a-z_]+)$")
_NEEDS_DATE = "Give the date consent was given or refused."


def complete(errors: dict[str, list[str]], values: dict[str, str]) -> dict[str, list[str]]:
    """Every problem of the consent rows in one round: a message about a whole row (consent not
    given) is shown on its Yes/No choice, and a row without a date says so now rather than
    after the choice is corrected."""
    out = {path: list(messages) for path, messages in errors.items()}
    for path in list(out):
        match = _CONSENT_ROW.match(path)
        if not match:
            continue
        scope = match[1]
        out.setdefault(f"consent.{scope}.granted", []).extend(out.pop(path))
        date = f"consent.{scope}.date"
        if not values.get(date, "").strip() and _NEEDS_DATE not in out.get(date, []):
            out.setdefault(date, []).append(_NEEDS_DATE)
    return out


def place(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """The schema's error paths as the form's field names: the one testimony of the form is
    `testimony.*` (the schema says `testimonies.0.*`), and a path the form has no field for goes
    to the nearest row or section that shows messages (`_schema`, the summary, at worst)."""
    out: dict[str, list[str]] = {}
    for path, messages in errors.items():
        name = _TESTIMONY.sub("testimony", path)
        if name == "testimony":
            name = "testimony.text"
        while name and not (_FIELD.match(name) or _ANCHOR.match(name)):
            name = name.rpartition(".")[0]
        out.setdefault(name or "_schema", []).extend(messages)
    return out

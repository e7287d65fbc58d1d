"""What every page shares when it shows a value: bidirectional isolation, sizes and times for
people, and the error summary's data. Registered as Jinja filters by `install`.

Arabic pages are right-to-left and most values people type are mixed: a Latin name, a phone
number, a date or a reference on an Arabic page (or an Arabic testimony on an English page)
reorders its neighbours unless it is isolated. Every user-entered or mixed-direction value goes
through the one `bidi` filter: free text is isolated with its own direction found from its first
strong letter (`<bdi>`, `dir="auto"`), dates, ids, references and phone numbers are always
left-to-right. An isolate also contains any bidi control character a value carries, so an
override typed into a name cannot flip the rest of the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app
from flask_babel import format_datetime, format_decimal, gettext
from markupsafe import Markup, escape

DIRECTIONS = ("auto", "ltr", "rtl")


def bidi(value: Any, direction: str = "auto", block: bool = False) -> Markup:
    """`value` escaped and isolated: `<bdi>` inline, `<div>` for a block of text (testimonies,
    notes). `direction` is "auto" for free text and "ltr" for dates, ids, references, phones."""
    if direction not in DIRECTIONS:
        raise ValueError(f"unknown direction {direction!r}")
    if value is None or value == "":
        return Markup("")
    tag = "div" if block else "bdi"
    return Markup('<{0} dir="{1}">{2}</{0}>').format(tag, direction, escape(str(value)))


def ltr(value: Any) -> Markup:
    """Dates, ids, references, phone numbers: always left to right, isolated."""
    return bidi(value, "ltr")


def filesize(size: Any) -> str:
    """A byte count for people: "12 KB", "3.4 MB" (1024-based, as file managers show)."""
    try:
        n = int(size)
    except (TypeError, ValueError):
        return ""
    if n < 1024:
        return str(gettext("%(n)s bytes", n=format_decimal(n)))
    for unit in ("KB", "MB", "GB"):
        n_units = n / 1024
        if n_units < 1024 or unit == "GB":
            shown = str(format_decimal(round(n_units, 1 if n_units < 10 else 0)))
            return str(
                {
                    "KB": gettext("%(n)s KB", n=shown),
                    "MB": gettext("%(n)s MB", n=shown),
                    "GB": gettext("%(n)s GB", n=shown),
                }[unit]
            )
        n = int(n_units)
    return ""  # pragma: no cover - the loop always returns


def when(value: Any) -> str:
    """A stored UTC time (datetime or ISO text) as a local date and time in the page's language."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if not isinstance(value, datetime):
        return str(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(format_datetime(value, "medium"))


def upload_limit() -> str:
    """The largest file a person may attach, as they read sizes ("50 MB")."""
    return filesize(current_app.config["CASEBOOK"].max_attachment_bytes)


def install(app: Flask) -> None:
    app.jinja_env.filters.update(bidi=bidi, ltr=ltr, filesize=filesize, when=when)
    app.jinja_env.globals.update(upload_limit=upload_limit)

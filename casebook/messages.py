"""The messages of schemas and services, in the reader's language at the boundary.

Schemas and services speak English (their messages are also what the logs and tests read); pages
and API answers show each message in the language of the page or of the request's
Accept-Language. A message not listed here is shown as it is.
"""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l

_KNOWN = (
    _l("This field is required."),
    _l("Missing data for required field."),
    _l("Unknown field."),
    _l("Not a valid integer."),
    _l("Not a valid string."),
    _l("Not a valid boolean."),
    _l("Not a valid UUID."),
    _l("Field may not be null."),
    _l("Invalid input type."),
    _l("Choose one of the listed values."),
    _l("The birth year narrows a search by name: add a name."),
    _l("Use a year (2013), a month (5/2013 or 2013-05) or a day (14/5/2013 or 2013-05-14)."),
    _l(
        "This date does not exist (check the day and the month). Write a day as d/m/yyyy "
        "(14/5/2013) or 2013-05-14, a month as 2013-05, or a year."
    ),
    _l("This date is in the future."),
    _l("Enter a year of four digits, from 1900 to 2100."),
    _l("This date is before 1900."),
    _l("This is before the birth date."),
    _l("This is before the earliest arrest."),
    _l("The end is before the start."),
    _l("Choose a facility or describe the place."),
    _l("Give the date consent was given or refused."),
    _l("The family's consent to documentation is needed to store a case."),
    _l("Say where it was submitted (WGEID, IIMP, ICRC, ICMP)."),
    _l("Letters, digits and - only."),
    _l("Name the case this one duplicates."),
    _l("An erased case cannot be merged."),
    _l("This case is already a duplicate."),
    _l("Only a decision of different people can be taken back here."),
    _l(
        "These cases give two different first names, both common names: most likely two "
        "people, such as brothers. Merge them only if you are sure they are one person, and "
        "say so."
    ),
    _l(
        "This case and the one named give two different first names, both common names: most "
        "likely two people, such as brothers. Mark it a duplicate only if you are sure they are "
        "one person, and say so."
    ),
    _l("This case was erased."),
    _l("This case was merged into another case: edit that one, or undo the merge."),
    _l("This case can no longer be edited by you (it is verified, or not yours). Ask a lawyer."),
    _l(
        "If-Match does not name this case's version: the case was changed after it was read, "
        "or the value is not an ETag this server sent (weak W/ tags never match). Read the "
        "case again, apply your change to what it holds now, and send it with the new ETag."
    ),
    _l("This case is not merged into another."),
    _l("A deduplication run is already going. Wait for it to finish."),
    _l("Confirm the undo with true."),
    _l("A number between 0.5 and 0.999."),
    _l("The case it was merged into is itself merged or erased; undo that first."),
    _l("A list must be a CSV or XLSX file."),
    _l("A token lasts 1 to 366 days."),
    _l("An account with this email already exists."),
    _l("Choose Arabic or English."),
    _l("Choose a or b."),
    _l("Choose an active documenter."),
    _l("Choose one of the four roles."),
    _l("Choose one or two dimensions."),
    _l("Months are counted alone; use arrest_year with another dimension."),
    _l("Releases publish exact counts with suppression; there is no noisy version."),
    _l("A release is given by its number."),
    _l("Each line must be one JSON object (a case)."),
    _l("Enter a name of 1 to 120 characters."),
    _l("Enter a valid email address."),
    _l("Must be a whole number (a sequence number)."),
    _l("Must be a whole number from 1 to 5000."),
    _l("No such case."),
    _l("No such submission."),
    _l("One of the cases no longer exists."),
    _l("The current password is not right."),
    _l("The file is empty."),
    _l("The file is not readable text in UTF-8, UTF-16 or Windows-1256."),
    _l("The first line is not a CSV header."),
    _l("The first sheet is empty."),
    _l("The list needs a column with the full name, or first and family names."),
    _l("The two new passwords differ."),
    _l("This account is disabled."),
    _l("This is not a readable CSV file."),
    _l("This is not a readable XLSX workbook."),
    _l(
        "This XLSX workbook unpacks to more than 100 MB or is compressed suspiciously well; "
        "split it into smaller files or save it as CSV."
    ),
    _l("This XLSX workbook has too many parts to be a case list."),
    _l("This item was already decided."),
    _l("This request was already decided."),
    _l("Only the administrator who asked can withdraw it."),
    _l("The account's role changed since; the request lapsed."),
    _l("The account is disabled: enable it and ask again."),
    _l("Another administrator must decide: not the one who asked, nor the account it is about."),
    _l("This line is not valid JSON."),
    _l("This row has more cells than the header."),
    _l("Type the case reference exactly to confirm."),
    _l("Write a note of 1 to 20,000 characters."),
    _l("Write the reply (at most 20,000 characters)."),
    _l("Documentation consent cannot be withdrawn by editing; erase the case instead."),
    _l("Withdrawn documentation consent means erasing the case: a lawyer erases it."),
    _l("Choose a CSV, XLSX or JSON-lines file."),
    _l("Only images, PDF documents and audio recordings can be attached."),
    _l("Send the file in a multipart field named 'file'."),
    _l("The case was not saved: correct the fields listed."),
    _l("The file could not be read."),
    _l("The file needs a first-name column: person.first_name, or a header such as first name."),
    _l(
        "The file needs a family-name column: person.family_name, or a header such as"
        " family name (its cells may be left empty where the family name is not"
        " known)."
    ),
    _l("The query has problems."),
    _l("This list has no such filter."),
    _l("Give this filter once."),
    _l("Only lawyers can list the cases partner organisations also document."),
    _l("Send a JSON object (Content-Type: application/json)."),
    _l("The same case, from the same or another file, has the same fingerprint."),
    _l("The form expired or was sent from elsewhere. Reload and try again."),
    _l("Confirm your password and code again."),
    _l(
        "A stored record could not be decrypted. The failure has been "
        "recorded for the administrator."
    ),
    _l("Give the device a name of 1 to 100 characters."),
    _l("This submission is no longer in the inbox."),
    _l("The submission is not well-formed XML."),
    _l("This server accepts only encrypted submissions. Download the form again."),
    _l("The submission's manifest is incomplete."),
    _l("The submission's instance ID is too long."),
    _l("This server does not serve that form."),
    _l("A different submission with this instance ID was already received."),
    _l("This submission was sent in parts, which this server does not accept."),
    _l("The submission is missing some of its files."),
    _l(
        "The submission could not be read: it was damaged on the way or encrypted for another "
        "server. Send it again; if this keeps happening, download the form again."
    ),
    _l("The submission is nested too deeply to be a form."),
    _l("This submission was already received from another device."),
    _l("Sent with an older version of the form."),
    _l("Sent with an unknown form version."),
)
CATALOGUE: dict[str, Any] = {str(m._args[0]): m for m in _KNOWN}
CATALOGUE["Missing data for required field."] = _l("This field is required.")
CATALOGUE["Field may not be null."] = _l("This field is required.")
CATALOGUE["Unknown field."] = _l("This field is not part of a case.")
CATALOGUE["Not a valid integer."] = _l("Enter a whole number.")
CATALOGUE["Not a valid string."] = _l("Enter text.")
CATALOGUE["Not a valid boolean."] = _l("Choose yes or no.")
CATALOGUE["Not a valid number."] = _l("Enter a number.")
CATALOGUE["Not a valid email address."] = _l("Enter a valid email address.")
CATALOGUE["Invalid email address."] = _l("Enter a valid email address.")
CATALOGUE["String does not match expected pattern."] = _l("This is not in the expected form.")
CATALOGUE["Invalid value."] = _l("This value is not accepted.")
CATALOGUE["Not a valid choice."] = _l("Choose one of the listed values.")
CATALOGUE["Not a valid date."] = _l(
    "Use a year (2013), a month (5/2013 or 2013-05) or a day (14/5/2013 or 2013-05-14)."
)
CATALOGUE["Not a valid datetime."] = _l("Enter a date and time.")
CATALOGUE["Invalid input."] = _l("This value is not accepted.")
CATALOGUE["Not a valid list."] = _l("This value is not accepted.")
_EXPIRED = _l("The form expired or was sent from elsewhere. Reload and try again.")
CATALOGUE["Invalid CSRF token."] = _EXPIRED
CATALOGUE["The CSRF token is missing."] = _EXPIRED
_LENGTH = re.compile(
    r"^Length must be between (\d+) and (\d+)\.$|^Longer than maximum length (\d+)\.$"
)


def _patterned(text: str) -> str | None:
    """Messages that carry a number or a list: matched by shape, translated with their values."""
    from flask_babel import ngettext

    m = re.match(r"^k is a whole number from (\d+)(?: \(this release's\))? to (\d+)\.$", text)
    if m:
        return str(_l("k is a whole number from %(low)s to %(high)s.", low=m[1], high=m[2]))
    m = re.match(r"^Row (\d+) is not valid CSV \(an unclosed quote\?\)\.$", text)
    if m:
        return str(_l("Row %(row)s is not valid CSV (an unclosed quote?).", row=m[1]))
    if re.match(r"^Dimensions are .+ \(two different ones at most\)\.$", text):
        return str(_l("Choose at most two different dimensions from the list."))
    m = re.match(r"^Nothing was imported: (\d+) rows? need attention\.$", text)
    if m:
        return str(
            ngettext(
                "Nothing was imported: %(num)s row needs attention.",
                "Nothing was imported: %(num)s rows need attention.",
                int(m[1]),
            )
        )
    m = re.match(r"^This period's privacy budget is ([\d.]+); ([\d.]+) is spent already\.$", text)
    if m:
        return str(
            _l(
                "This period's privacy budget is %(budget)s; %(spent)s is spent already.",
                budget=m[1],
                spent=m[2],
            )
        )
    m = re.match(r"^Column (\d+) is not a casebook column: (.*)$", text, re.S)
    if m:
        return str(_l("Column %(n)s is not a casebook column: %(name)s", n=m[1], name=m[2]))
    m = re.match(r"^Columns (\d+) and (\d+) are both ([\w.]+)\.$", text)
    if m:
        return str(
            _l(
                "Columns %(first)s and %(second)s are both %(name)s.",
                first=m[1],
                second=m[2],
                name=m[3],
            )
        )
    m = re.match(
        r"^(?:Must be|Number must be) (?:greater than or equal to|at least) (-?[\d.]+) and "
        r"(?:less than or equal to|at most) (-?[\d.]+)\.$|^Number must be between (-?[\d.]+) and "
        r"(-?[\d.]+)\.$",
        text,
    )
    if m:
        low, high = (m[1], m[2]) if m[1] is not None else (m[3], m[4])
        return str(_l("Enter a number from %(low)s to %(high)s.", low=low, high=high))
    m = re.match(
        r"^(?:Must be greater than or equal to|Number must be at least) (-?[\d.]+)\.$", text
    )
    if m:
        return str(_l("Enter a number of at least %(low)s.", low=m[1]))
    m = re.match(r"^(?:Must be less than or equal to|Number must be at most) (-?[\d.]+)\.$", text)
    if m:
        return str(_l("Enter a number of at most %(high)s.", high=m[1]))
    m = re.match(
        r"^Shorter than minimum length (\d+)\.$|^Field must be at least (\d+) characters? long\.$",
        text,
    )
    if m:
        return str(_l("Too short: at least %(min)s characters.", min=m[1] or m[2]))
    m = re.match(
        r"^Field cannot be longer than (\d+) characters?\.$"
        r"|^Field must be between \d+ and (\d+) characters long\.$",
        text,
    )
    if m:
        return str(_l("Too long: at most %(max)s characters.", max=m[1] or m[2]))
    m = re.match(r"^The headers a list may use \(English or Arabic\): (.*)$", text, re.S)
    if m:
        return str(_l("The headers a list may use (English or Arabic): %(headers)s", headers=m[1]))
    if text == "Missing.":
        return str(_l("This is missing."))
    return None


def localise_message(message: Any) -> str:
    """One message in the current language."""
    text = str(message)
    patterned = _patterned(text)
    if patterned is not None:
        return patterned
    match = _LENGTH.match(text)
    if match:
        return str(
            _l("Too long: at most %(max)s characters.", max=match.group(2) or match.group(3))
        )
    if text.startswith("Must be one of:"):
        return str(_l("Choose one of the listed values."))
    known = CATALOGUE.get(text)
    return str(known) if known is not None else text


def localise_fields(fields: dict[str, list[str]]) -> dict[str, list[str]]:
    """Every message of an error's `fields` in the current language."""
    return {path: [localise_message(m) for m in msgs] for path, msgs in fields.items()}

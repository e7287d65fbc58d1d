"""The case record's shape and rules (marshmallow): the API, the forms and the import all
validate through these, so a rule holds everywhere. Shape and validation only — no queries, no
permission checks."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any, TypeVar

from marshmallow import (
    EXCLUDE,
    RAISE,
    Schema,
    ValidationError,
    fields,
    post_load,
    pre_load,
    validate,
    validates_schema,
)
from werkzeug.datastructures import MultiDict

from casebook.inputs import ascii_digits, clean_text, partial_date_text
from casebook.vocab import CONSENT_SCOPES, FACILITIES, GOVERNORATES, PERPETRATORS, SEXES, STATUSES

_PARTIAL = re.compile(r"^([0-9]{4})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$")
SHORT = 200
LONG = 20_000
TESTIMONY = 200_000


def partial_bounds(value: str) -> tuple[date, date]:
    """The earliest and latest day a partial date (1985, 1985-03, 1985-03-14) may mean."""
    m = _PARTIAL.match(ascii_digits(value))  # records stored before digits were normalised
    if not m:
        raise ValueError("not a partial date")
    year = int(m.group(1))
    month = int(m.group(2)) if m.group(2) else None
    day = int(m.group(3)) if m.group(3) else None
    if month is None:
        return date(year, 1, 1), date(year, 12, 31)
    if day is None:
        start = date(year, month, 1)
        end = date(year + (month == 12), month % 12 + 1, 1)
        return start, date.fromordinal(end.toordinal() - 1)
    exact = date(year, month, day)
    return exact, exact


class Text(fields.String):
    """Every string of a case: cleaned by `clean_text` before any rule sees it (no control,
    bidi-override or embedding characters; line breaks and tabs only in free text), and with
    `digits`, Arabic-Indic and Persian digits stored as ASCII."""

    def __init__(self, *args: Any, multiline: bool = False, digits: bool = False, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.multiline = multiline
        self.digits = digits

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        text = clean_text(text, multiline=self.multiline)
        return ascii_digits(text) if self.digits else text


class WholeNumber(fields.Integer):
    """A whole number as an API client or a form sends it: an integer, or digits in a string
    (Arabic-Indic digits too, spaces around allowed); a fraction (1.5, "1.5") or a boolean is
    refused, where marshmallow's Integer cut 1.5 to 1."""

    def __init__(self, **kwargs: Any):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, str):
            value = ascii_digits(clean_text(value)).strip()
            if not (value.isascii() and value.isdigit()):
                raise self.make_error("invalid")
            value = int(value)
        result: int = super()._deserialize(value, attr, data, **kwargs)
        return result


class Year(WholeNumber):
    """A year as typed in a search field: four digits from 1900 to 2100 (١٩٩٢ is 1992);
    anything else one message that says so."""

    YEAR_MESSAGE = "Enter a year of four digits, from 1900 to 2100."
    default_error_messages = {"invalid": YEAR_MESSAGE}  # noqa: RUF012 (marshmallow's own)

    def __init__(self, **kwargs: Any):
        super().__init__(
            validate=validate.Range(min=1900, max=2100, error=self.YEAR_MESSAGE), **kwargs
        )


class PartialDate(Text):
    """ISO dates with the precision a family remembers: a year, a month, or a day. Typed with
    any digits, and as d/m/yyyy or m/yyyy too (see `partial_date_text`); stored as ISO."""

    default_error_messages = {  # noqa: RUF012 (marshmallow's own extension point)
        "invalid_partial": (
            "Use a year (2013), a month (5/2013 or 2013-05) or a day (14/5/2013 or 2013-05-14)."
        ),
        "no_such_day": (
            "This date does not exist (check the day and the month). Write a day as d/m/yyyy "
            "(14/5/2013) or 2013-05-14, a month as 2013-05, or a year."
        ),
        "future": "This date is in the future.",
        "too_old": "This date is before 1900.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = partial_date_text(super()._deserialize(value, attr, data, **kwargs))
        try:
            start, _ = partial_bounds(text)
        except ValueError:
            # well formed, but a day or month no calendar has (31/2/2012, 2013-13)
            shaped = _PARTIAL.match(text) is not None
            raise self.make_error("no_such_day" if shaped else "invalid_partial") from None
        if start > date.today():
            raise self.make_error("future")
        if start.year < 1900:
            raise self.make_error("too_old")
        return text


def _text(max_len: int = SHORT, min_len: int = 0, **kwargs: Any) -> fields.String:
    """Text up to `max_len`; from 500 characters up it is free text, where lines are kept."""
    return Text(
        validate=validate.Length(min=min_len, max=max_len), multiline=max_len >= 500, **kwargs
    )


def _code(vocabulary: Any, **kwargs: Any) -> fields.String:
    return Text(
        validate=validate.OneOf(sorted(vocabulary.codes), error="Choose one of the listed values."),
        **kwargs,
    )


class Strict(Schema):
    class Meta:
        unknown = RAISE

    @pre_load
    def _blank_is_absent(self, data: Any, **_: Any) -> Any:
        """An optional field sent as null, "" or spaces is a field not given (the form sends
        empty fields; an API client clears one with null): stored absent, one shape for
        readers, and a PATCH with null clears it. A required field so sent is refused as not
        given ("   " was a first name, and "" was "too long")."""
        if not isinstance(data, Mapping):
            return data
        blanks = [
            key
            for key, value in data.items()
            if value is None or (isinstance(value, str) and not value.strip())
        ]
        if not blanks:  # nearly every object: given back as it came
            return data
        out = dict(data)
        for key in blanks:
            if key in self.fields:
                if self.fields[key].required:
                    out[key] = None  # "This field is required."
                else:
                    del out[key]
        return out


class PersonSchema(Strict):
    first_name = _text(100, 1, required=True)
    father_name = _text(100)
    grandfather_name = _text(100)
    family_name = _text(100)  # may be unknown to the family or missing from a list
    mother_name = _text(100)
    latin_name = _text(200)
    other_names = fields.List(_text(200), validate=validate.Length(max=20))
    sex = _code(SEXES, load_default="unknown")
    birth_date = PartialDate()
    birth_place = _text()
    nationality = _text(100)
    national_id = Text(
        digits=True,
        validate=validate.Regexp(r"^[0-9A-Za-z-]{1,30}$", error="Letters, digits and - only."),
    )
    occupation = _text()
    civil_status = _text(50)
    dependants = fields.Integer(validate=validate.Range(min=0, max=60))
    address = _text(500)
    description = _text(LONG)


class ArrestSchema(Strict):
    merged_from = _text(20)  # provenance after a merge of duplicates (a case reference)
    date = PartialDate()
    governorate = _code(GOVERNORATES)
    place = _text(300)
    perpetrator = _code(PERPETRATORS)
    unit = _text(300)
    circumstances = _text(LONG)
    reason_given = _text(2000)
    witnesses = _text(2000)


class DetentionPlaceSchema(Strict):
    merged_from = _text(20)
    facility = _code(FACILITIES)
    place = _text(300)
    date_from = PartialDate(data_key="from")
    date_to = PartialDate(data_key="to")
    note = _text(2000)

    @validates_schema
    def _where(self, data: dict[str, Any], **_: Any) -> None:
        """Both rules at once: the form showed the second only after the first was mended."""
        errors: dict[str, list[str]] = {}
        if not data.get("facility") and not data.get("place"):
            errors["place"] = ["Choose a facility or describe the place."]
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and partial_bounds(start)[0] > partial_bounds(end)[1]:
            errors["to"] = ["The end is before the start."]
        if errors:
            raise ValidationError(errors)


class DetentionSchema(Strict):
    places = fields.List(fields.Nested(DetentionPlaceSchema), validate=validate.Length(max=50))
    transfers = _text(LONG)
    court = _text(500)
    charge = _text(2000)


class StatusSchema(Strict):
    merged_from = _text(20)
    status = _code(STATUSES, required=True)
    date = PartialDate()
    source = _text(300)
    note = _text(2000)


FAMILY_ACTION_TYPES = ("inquiry", "habeas_corpus", "payment_demanded", "submission", "other")
SUBMISSION_BODIES = ("wgeid", "iimp", "icrc", "icmp", "other")


class FamilyActionSchema(Strict):
    merged_from = _text(20)
    type = Text(required=True, validate=validate.OneOf(FAMILY_ACTION_TYPES))
    date = PartialDate()
    body = Text(validate=validate.OneOf(SUBMISSION_BODIES))
    reference = _text(100)
    reply = _text(LONG)
    reply_date = PartialDate()
    amount = Text(validate=validate.Length(max=100), digits=True)
    note = _text(LONG)

    @validates_schema
    def _body(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("type") == "submission" and not data.get("body"):
            raise ValidationError("Say where it was submitted (WGEID, IIMP, ICRC, ICMP).", "body")


RELIABILITY = ("high", "medium", "low", "unknown")


class SourceSchema(Strict):
    name = _text(200)
    relationship = _text(100)
    contact = _text(500)
    language = _text(20)
    reliability = Text(validate=validate.OneOf(RELIABILITY), load_default="unknown")
    confidential = fields.Boolean(load_default=True)


class ConsentEntrySchema(Strict):
    granted = fields.Boolean(required=True)
    date = PartialDate()

    @validates_schema
    def _dated(self, data: dict[str, Any], **_: Any) -> None:
        if "date" not in data:
            raise ValidationError("Give the date consent was given or refused.", "date")


def _consent_scopes(value: dict[str, Any]) -> None:
    unknown = set(value) - CONSENT_SCOPES.codes
    if unknown:
        raise ValidationError(f"Unknown consent scopes: {', '.join(sorted(unknown))}.")


class TestimonyInSchema(Strict):
    text = Text(required=True, validate=validate.Length(min=1, max=TESTIMONY), multiline=True)
    date = PartialDate()
    language = Text(validate=validate.Length(max=10), load_default="ar")


class CaseInSchema(Strict):
    """A whole case, as POST /api/v1/cases and the import take it."""

    person = fields.Nested(PersonSchema, required=True)
    arrests = fields.List(
        fields.Nested(ArrestSchema), load_default=list, validate=validate.Length(max=30)
    )
    detention = fields.Nested(DetentionSchema, load_default=dict)
    status = fields.List(
        fields.Nested(StatusSchema), load_default=list, validate=validate.Length(max=100)
    )
    family_actions = fields.List(
        fields.Nested(FamilyActionSchema), load_default=list, validate=validate.Length(max=100)
    )
    source = fields.Nested(SourceSchema, load_default=dict)
    consent = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(ConsentEntrySchema),
        required=True,
        validate=_consent_scopes,
    )
    testimonies = fields.List(
        fields.Nested(TestimonyInSchema), load_default=list, validate=validate.Length(max=50)
    )

    @validates_schema(skip_on_field_errors=False)
    def _rules(self, data: dict[str, Any], **_: Any) -> None:
        errors: dict[str, Any] = {}
        consent = data.get("consent") or {}
        documentation = consent.get("documentation")
        if not documentation or not documentation.get("granted"):
            errors["consent"] = {
                "documentation": [
                    "The family's consent to documentation is needed to store a case."
                ]
            }
        errors.update(chronology_errors(data))
        if errors:
            raise ValidationError(errors)


# statuses that follow an arrest: a person is held, disappeared, released or dies in custody
# only once taken ("deceased" and "unknown" need no arrest)
AFTER_ARREST = frozenset({"detained", "forcibly_disappeared", "released", "died_in_custody"})


def chronology_errors(data: Mapping[str, Any]) -> dict[str, Any]:
    """Arrests and status changes cannot come before the person's birth, nor a custody status
    ("disappeared since 2011") before the earliest arrest: one of the two dates is wrong, or an
    arrest is missing, and a WGEID file built on it would not hold together. Dates are compared
    by their widest reading (2013 against 2013-05 is no contradiction), and only when every
    arrest is dated (an undated one may be the earliest)."""
    errors: dict[str, Any] = {}
    birth = (data.get("person") or {}).get("birth_date")
    if birth:
        born = partial_bounds(birth)[0]
        for section in ("arrests", "status"):
            for i, item in enumerate(data.get(section) or []):
                when = item.get("date")
                if when and partial_bounds(when)[1] < born:
                    errors.setdefault(section, {})[i] = {"date": ["This is before the birth date."]}
    arrests = data.get("arrests") or []
    if arrests and all(a.get("date") for a in arrests):
        taken = min(partial_bounds(a["date"])[0] for a in arrests)
        for i, item in enumerate(data.get("status") or []):
            when = item.get("date")
            if (
                when
                and item.get("status") in AFTER_ARREST
                and partial_bounds(when)[1] < taken
                and i not in errors.get("status", {})
            ):
                errors.setdefault("status", {})[i] = {
                    "date": ["This is before the earliest arrest."]
                }
    return errors


T = TypeVar("T")


def load_as(schema: Schema, data: Any, shape: type[T]) -> T:
    """`schema.load(data)` as `shape`, the type of casebook.cases.records that the schema
    produces (dict[str, Any] for a value that is not part of the record). marshmallow types
    what it loads as Any: this is where a loaded value takes its type, once the schema has
    checked every key and value of it (or raised ValidationError)."""
    loaded: T = schema.load(data)
    return loaded


class CasePatchSchema(Strict):
    """PATCH: sections given replace (lists) or update field by field (person, source,
    detention, consent); sections left out stay as they are."""

    person = fields.Dict()
    arrests = fields.List(fields.Nested(ArrestSchema), validate=validate.Length(max=30))
    detention = fields.Dict()
    status = fields.List(fields.Nested(StatusSchema), validate=validate.Length(max=100))
    family_actions = fields.List(
        fields.Nested(FamilyActionSchema), validate=validate.Length(max=100)
    )
    source = fields.Dict()
    consent = fields.Dict(
        keys=fields.String(), values=fields.Nested(ConsentEntrySchema), validate=_consent_scopes
    )


class StatusInSchema(StatusSchema):
    pass


class ReviewSchema(Strict):
    verification = Text(
        required=True,
        validate=validate.OneOf(
            ["unverified", "under_review", "verified", "rejected", "duplicate"]
        ),
    )
    duplicate_of = Text(allow_none=True)
    # the lawyer's word that a duplicate giving another common first name is the same person
    different_first_names = fields.Boolean(load_default=False)
    note = _text(LONG)

    @validates_schema
    def _duplicate(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("verification") == "duplicate" and not data.get("duplicate_of"):
            raise ValidationError("Name the case this one duplicates.", "duplicate_of")


class ConsentChangeSchema(Strict):
    scope = _code(CONSENT_SCOPES, required=True)
    granted = fields.Boolean(required=True)
    date = PartialDate(required=True)


class LegalNoteSchema(Strict):
    text = Text(required=True, validate=validate.Length(min=1, max=LONG), multiline=True)


class EraseSchema(Strict):
    confirm = Text(required=True)


class AssignSchema(Strict):
    user_id = fields.UUID(required=True)


YEAR_NEEDS_A_NAME = "The birth year narrows a search by name: add a name."
GIVEN_TWICE = "Give this filter once."


def filters_given_twice(args: Mapping[str, Any]) -> dict[str, list[str]]:
    """The list's filters a query string gives more than once (status=detained&status=
    released): read as the first value, a part of what was asked for would pass for all of
    it, so the API and the page refuse them. A JSON body cannot repeat a key."""
    if not isinstance(args, MultiDict):
        return {}
    fields = ListQuerySchema().fields
    return {key: [GIVEN_TWICE] for key in args if key in fields and len(args.getlist(key)) > 1}


class ListQuerySchema(Schema):
    class Meta:
        unknown = EXCLUDE

    q = Text(load_default="", validate=validate.Length(max=200), digits=True)
    mother = Text(load_default="", validate=validate.Length(max=100))
    birth_year = Year()
    national_id = Text(validate=validate.Length(max=30), digits=True)
    status = _code(STATUSES)
    governorate = _code(GOVERNORATES)
    verification = Text(
        validate=validate.OneOf(["unverified", "under_review", "verified", "rejected", "duplicate"])
    )
    # only cases a partner organisation's list also holds: lawyers only (cases.selectors
    # .refused_filters), as the marks themselves are
    partner = fields.Boolean(load_default=False)
    page = WholeNumber(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = WholeNumber(load_default=50, validate=validate.Range(min=1, max=200))

    @pre_load
    def _blank_is_no_filter(self, data: Any, **_: Any) -> Any:
        """A filter sent empty or null is no filter (the form sends every field; an API client
        may send `"status": null`), not a filter to match or a value to refuse."""
        if not isinstance(data, Mapping):
            return data
        return {
            key: value
            for key, value in data.items()
            if value is not None and not (isinstance(value, str) and not value.strip())
        }

    @validates_schema
    def _year_narrows_a_name(self, data: dict[str, Any], **_: Any) -> None:
        """A birth year alone is no search (names are the index): refused, where a list of no
        case, or of every case, would read as the cases born that year."""
        named = any(str(data.get(f) or "").strip() for f in ("q", "mother", "national_id"))
        if data.get("birth_year") and not named:
            raise ValidationError(YEAR_NEEDS_A_NAME, "birth_year")

    @post_load
    def _strip(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        data["q"] = data["q"].strip()
        data["mother"] = data["mother"].strip()
        return data


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested errors as {"person.birth_date": ["…"], "arrests.0.date": ["…"]}."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key in ("_schema", "value"):  # "value": marshmallow's level inside a Dict field
                name = prefix
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            for path, msgs in flatten_errors(value, name).items():
                out.setdefault(path or "_schema", []).extend(msgs)
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            out[prefix] = list(messages)
        else:
            for m in messages:
                for path, msgs in flatten_errors(m, prefix).items():
                    out.setdefault(path, []).extend(msgs)
    else:
        out[prefix] = [str(messages)]
    return out

"""HTML pages for cases: list and search, entry form (Arabic first), case page, edit, status,
testimony, attachment, review, consent, legal notes and erasure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape
from marshmallow import ValidationError
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from casebook import db, vocab
from casebook.auth.forms import EmptyForm
from casebook.auth.guards import fresh_factor
from casebook.auth.permissions import Permission
from casebook.cases import derived, forms, hints, selectors
from casebook.cases.api import (
    download_response,
    name_search_notice,
    possible_duplicates,
    receive_upload,
)
from casebook.cases.models import Case
from casebook.cases.records import Person
from casebook.cases.schemas import (
    FAMILY_ACTION_TYPES,
    RELIABILITY,
    SUBMISSION_BODIES,
    ListQuerySchema,
    filters_given_twice,
    flatten_errors,
)
from casebook.cases.services import (
    CaseInputError,
    CaseStateError,
    case_create,
    case_erase,
    case_lock,
    case_review,
    case_update,
    case_viewed,
    consent_change,
    legal_note_add,
    status_add,
    testimony_add,
)
from casebook.messages import localise_message
from casebook.partners.services import marks_of
from casebook.web import current_actor, error_response, requires

bp = Blueprint("cases", __name__, url_prefix="/cases")


def _lang() -> str:
    return str(get_locale() or "ar")


def _choices() -> dict[str, Any]:
    lang = _lang()
    return {
        "governorates": vocab.GOVERNORATES.choices(lang),
        "perpetrators": vocab.PERPETRATORS.choices(lang),
        "facilities": vocab.FACILITIES.choices(lang),
        "statuses": vocab.STATUSES.choices(lang),
        "sexes": vocab.SEXES.choices(lang),
        "scopes": vocab.CONSENT_SCOPES.choices(lang),
        "verifications": vocab.VERIFICATION.choices(lang),
        "action_types": [(t, _action_label(t)) for t in FAMILY_ACTION_TYPES],
        "bodies": [(b, _body_label(b)) for b in SUBMISSION_BODIES],
        "reliabilities": [(r, _reliability_label(r)) for r in RELIABILITY],
    }


def _action_label(code: str) -> str:
    labels: dict[str, str] = {
        "inquiry": _("Inquiry"),
        "habeas_corpus": _("Habeas corpus"),
        "payment_demanded": _("Payment demanded"),
        "submission": _("Submission"),
        "other": _("Other"),
    }
    return labels[code]


def _body_label(code: str) -> str:
    """The bodies a family's submission went to, named in the reader's language with the
    acronym their own papers use."""
    labels: dict[str, str] = {
        "wgeid": _("WGEID (UN Working Group on Enforced or Involuntary Disappearances)"),
        "iimp": _("IIMP (Independent Institution on Missing Persons in the Syrian Arab Republic)"),
        "icrc": _("ICRC (International Committee of the Red Cross)"),
        "icmp": _("ICMP (International Commission on Missing Persons)"),
        "other": _("Other"),
    }
    return labels[code]


def _reliability_label(code: str) -> str:
    labels: dict[str, str] = {
        "high": _("High"),
        "medium": _("Medium"),
        "low": _("Low"),
        # a reliability (الموثوقية) is feminine in Arabic: its own "unknown"
        "unknown": pgettext("reliability", "Unknown"),
    }
    return labels[code]


def _label(vocabulary: str, code: str | None) -> str:
    if not code:
        return ""
    term = vocab.ALL[vocabulary].get(code)
    if term is None and code == "unknown":  # a facet with nothing recorded (no arrest)
        return str(_("Unknown"))
    return term.label(_lang()) if term else code


@bp.app_template_global()
def person_name(person: Person | None) -> str:
    return derived.display_name(person)


@bp.app_template_global()
def person_full_name(person: Person | None) -> str:
    return derived.full_name(person)


@bp.app_template_global()
def family_name_known(person: Person | None) -> bool:
    return derived.family_name_known(person)


@bp.app_template_global()
def action_label(code: str | None) -> str:
    return _action_label(code) if code in FAMILY_ACTION_TYPES else (code or "")


@bp.app_template_global()
def body_label(code: str | None) -> str:
    return _body_label(code) if code in SUBMISSION_BODIES else (code or "")


@bp.app_template_global()
def reliability_label(code: str | None) -> str:
    return _reliability_label(code) if code in RELIABILITY else (code or "")


_ENDONYMS = {"ar": "العربية", "en": "English", "ku": "Kurdî"}


@bp.app_template_global()
def testimony_language(code: str | None) -> Markup:
    """A testimony's language as the form offers it: a language's own name (marked with its
    language), or "Other"."""
    if code in _ENDONYMS:
        return Markup('<span lang="{0}">{1}</span>').format(code, _ENDONYMS[code])
    return escape(_("Other"))


@bp.app_template_global()
def vocab_label(vocabulary: str, code: str | None) -> str:
    return _label(vocabulary, code)


def _attachments_dir() -> Path:
    return Path(current_app.config["CASEBOOK"].instance) / "attachments"


@bp.route("/", methods=["GET", "POST"])
@requires(Permission.CASE_READ)
def index() -> Any:
    """The case list. Name searches are POSTed so that names never sit in a URL (address bar,
    history, proxy logs); codes-only filters and paging of them stay shareable GET links."""
    # a form sends every field, empty or not: an empty field is no filter
    source = {k: v for k, v in request.form.items() if v.strip() and k != "csrf_token"}
    if request.method == "GET":  # a name in the query string is refused, not used
        personal = ("q", "mother", "national_id", "birth_year")
        source = {k: v for k, v in request.args.items() if v.strip() and k not in personal}
        if any(request.args.get(k, "").strip() for k in personal):
            # said, or an old link's list of every case reads as the name's results
            flash(
                _(
                    "Names are not read from a web address (it is kept in browser history and "
                    "server logs): type the name into the search form."
                )
            )
    twice = filters_given_twice(request.args)
    try:
        if twice:
            raise ValidationError(twice)
        params = ListQuerySchema().load(source)
        refused = selectors.refused_filters(current_user, params)
        if refused:
            raise ValidationError(refused, valid_data=params)
    except ValidationError as exc:
        # No search runs on a filter that could not be read: a list of every case under it
        # would look like its results. Every problem is listed at once, a filter refused to
        # this role beside the unreadable ones.
        query = selectors.Query(**ListQuerySchema().load({}))
        valid = exc.valid_data if isinstance(exc.valid_data, dict) else {}
        refused = selectors.refused_filters(current_user, valid)
        unreadable = {k: v for k, v in flatten_errors(exc.messages).items() if k not in refused}
        errors = forms.localise(unreadable | refused)
        return render_template(
            "cases/index.html",
            searched=False,
            suggestion=None,
            rows=[],
            total=0,
            total_exact=True,
            query=query,
            pages=1,
            errors=errors,
            args=source,
            **_choices(),
        ), 422 if unreadable else 403
    query = selectors.Query(**params)
    s = db.session()
    found = selectors.search(s, current_app.extensions["casebook.vault"], current_user, query)
    from casebook.audit.services import audit_record

    audit_record(
        s,
        current_actor(),
        "case.list",
        details={
            "by_name": query.by_name and not query.reference,
            "by_reference": bool(query.reference),
            "status": query.status,
            "governorate": query.governorate,
            "verification": query.verification,
            "partner": query.partner,
            "results": found.total,
            "page": query.page,
        },
    )
    pages = max(1, (found.total + query.per_page - 1) // query.per_page)
    return render_template(
        "cases/index.html",
        searched=True,
        suggestion=hints.search_hint(
            s, current_app.extensions["casebook.vault"], current_user, query, found.total
        ),
        rows=[selectors.summary(c) for c in found.items],
        total=found.total,
        total_exact=found.total_exact,
        query=query,
        pages=pages,
        errors={},
        args=source,
        **_choices(),
    )


def _form_page(
    template: str,
    values: dict[str, str],
    errors: dict[str, list[str]],
    status: int = 200,
    **context: Any,
) -> Any:
    counts = forms.row_counts(values, request.form.get("add"))
    errors = forms.localise(forms.complete(forms.place(errors), values))
    return render_template(
        template, v=values, errors=errors, counts=counts, labels={}, **_choices(), **context
    ), status


@bp.route("/new", methods=["GET", "POST"])
@requires(Permission.CASE_CREATE)
def new() -> Any:
    if request.method == "GET":
        return _form_page(
            "cases/form.html",
            {"source.confidential": "yes", "person.sex": "unknown"},
            {},
            mode="new",
        )
    values = {k: v for k, v in request.form.items() if k != "csrf_token"}
    if not EmptyForm().validate_on_submit():
        return error_response(400)
    if request.form.get("add"):  # "add another row": nothing is saved, everything comes back
        return _form_page("cases/form.html", values, {}, mode="new")
    try:
        case = case_create(
            db.session(), current_actor(), forms.parse(request.form), created_by=current_user.id
        )
    except CaseInputError as exc:
        return _form_page("cases/form.html", values, exc.fields, 422, mode="new")
    flash(_("Case %(reference)s saved.", reference=case.reference))
    similar = possible_duplicates(case)
    if similar.get("possible_duplicate"):  # which cases, only to those who may read them all
        flash(similar["message"])
    findable = name_search_notice(case)
    if not findable["searchable_by_name"]:
        flash(findable["notice"])
    return redirect(url_for(".show", case_id=case.id))


@bp.get("/<case_id>")
@requires(Permission.CASE_READ)
def show(case_id: str) -> Any:
    return show_page(case_id)


def show_page(
    case_id: str,
    *,
    undo_error: str | None = None,
    status_typed: Mapping[str, str] | None = None,
    status_errors: Mapping[str, list[str]] | None = None,
) -> str:
    """The case page; `undo_error`: what the undo-merge box says when it was not ticked;
    `status_typed` and `status_errors`: a refused status change, as typed, with its messages."""
    s = db.session()
    case, doc = selectors.case_page(s, current_user, case_id)
    case_viewed(s, current_actor(), case, source="source" in doc, legal="legal_notes" in doc)
    reviewer = current_user.can(Permission.CASE_REVIEW)
    return render_template(
        "cases/show.html",
        case=case,
        doc=doc,
        form=EmptyForm(),
        undo_error=undo_error,
        status_typed=status_typed or {},
        status_errors=status_errors or {},
        can_review=current_user.can(Permission.CASE_REVIEW),
        can_erase=current_user.can(Permission.CASE_ERASE),
        # a case sealed by a merge offers no packet (it would report one person twice)
        can_packet=current_user.can(Permission.CASE_PACKET) and case.merged_into is None,
        merged_into=selectors.reference_of(s, case.merged_into) if case.merged_into else None,
        # lawyers (who may undo a merge) reach the cases merged into this one from here
        merged_here=selectors.merged_here(s, case.id)
        if current_user.can(Permission.CASE_REVIEW)
        else {},
        # and the duplicates a review named, both ways (a merge says so itself)
        duplicate_of=selectors.reference_of(s, case.duplicate_of)
        if case.duplicate_of and case.merged_into is None and reviewer
        else None,
        duplicates_here=selectors.duplicates_here(s, case.id) if reviewer else {},
        # lawyers see which partner organisations also document this person
        partner_marks=marks_of(s, case.id, case.consent)
        if current_user.can(Permission.CASE_REVIEW)
        else [],
        **_choices(),
    )


def _edit_values(s: Session, case: Case) -> tuple[dict[str, str], bool]:
    """The edit form's values for the case as it is (its opening is audited as a read), and
    whether the source section is shown."""
    doc = selectors.case_document(s, current_user, case)
    case_viewed(s, current_actor(), case, source="source" in doc, legal=False)
    editable = {
        k: doc[k] for k in ("person", "arrests", "detention", "status", "family_actions", "consent")
    }
    if "source" in doc:
        editable["source"] = doc["source"]
    values = forms.flatten(editable)
    if "source" in doc:
        # the choice has no blank: "yes" is what the form shows for a source never marked
        values.setdefault("source.confidential", "yes")
    return values, "source" in doc


@bp.route("/<case_id>/edit", methods=["GET", "POST"])
@requires(Permission.CASE_EDIT)
def edit(case_id: str) -> Any:
    s = db.session()
    case = selectors.case_or_404(s, current_user, case_id)
    if request.method == "POST":
        case_lock(s, case)  # a verification committed meanwhile is seen before deciding
    if not selectors.may_edit(current_user, case):
        if request.method == "POST" and EmptyForm().validate_on_submit():
            # verified (or no longer this documenter's) while the form was open: nothing is
            # saved, and what was typed comes back to be handed to a lawyer, not dropped
            typed = {k: v for k, v in request.form.items() if forms.is_field(k)}
            return _form_page(
                "cases/form.html",
                typed,
                {},
                409,
                mode="edit",
                case=case,
                show_source=selectors.may_see_source(current_user, case),
                locked=True,
            )
        flash(_not_editable(case))
        return redirect(url_for(".show", case_id=case.id))
    if request.method == "GET":
        filled, show_source = _edit_values(s, case)
        return _form_page(
            "cases/form.html",
            filled,
            {},
            mode="edit",
            case=case,
            show_source=show_source,
            version=selectors.case_version(case),
            base=forms.fingerprint(filled),
        )
    values = {k: v for k, v in request.form.items() if k not in ("csrf_token", "_version", "_base")}
    if not EmptyForm().validate_on_submit():
        return error_response(400)
    show_source = selectors.may_see_source(current_user, case)
    opened = {"version": request.form.get("_version", ""), "base": request.form.get("_base", "")}
    if request.form.get("add"):
        return _form_page(
            "cases/form.html",
            values,
            {},
            mode="edit",
            case=case,
            show_source=show_source,
            version=opened["version"],
            base=opened["base"],
        )
    form: MultiDict[str, str] = request.form
    current = selectors.case_version(case)
    merged_with_others = opened["version"] != current
    now: dict[str, str] = {}
    if merged_with_others:
        # Changed since this form was opened (a status added, a review, another edit): saved
        # as it is, the form's sections would replace what was written meanwhile. Merged
        # instead, field by field, with what the form was opened on: saved when nobody else
        # changed what this form changed; otherwise nothing is saved and the form comes back
        # merged, each field in conflict showing the other change with what was typed beside.
        now, show_source = _edit_values(s, case)
        merged, conflicts = forms.merge_stale(values, forms.read_fingerprint(opened["base"]), now)
        if conflicts:
            notes = {
                name: [_conflict_note(name, values[name]) if name in values else str(ROWS_ADDED)]
                for name in conflicts
            }
            return _form_page(
                "cases/form.html",
                merged,
                notes,
                409,
                mode="edit",
                case=case,
                show_source=show_source,
                version=current,
                base=forms.fingerprint(now),
                stale=True,
            )
        form = MultiDict(merged)
    data = forms.parse(form)
    data.pop("testimonies", None)
    patch = {
        k: data.get(k, [] if k in ("arrests", "status", "family_actions") else {})
        for k in ("person", "arrests", "detention", "status", "family_actions")
    }
    if show_source:
        patch["source"] = data.get("source", {})
    if data.get("consent"):
        patch["consent"] = data["consent"]
    try:
        changed = case_update(s, current_actor(), case, patch, replace=True)
    except CaseInputError as exc:
        return _form_page(
            "cases/form.html",
            dict(form.items()) if merged_with_others else values,
            exc.fields,
            422,
            mode="edit",
            case=case,
            show_source=show_source,
            version=current if merged_with_others else opened["version"],
            base=forms.fingerprint(now) if merged_with_others else opened["base"],
        )
    if not changed:
        flash(_("Nothing to save: the case is as it was."))
    elif merged_with_others:
        flash(
            _(
                "Changes saved. This case had been changed after you opened the form (by "
                "someone else, or in another window): those changes were kept too."
            )
        )
    else:
        flash(_("Changes saved."))
    return redirect(url_for(".show", case_id=case.id))


ROWS_ADDED = _l(
    "Rows were added here too after you opened the form (by someone else, or in another "
    "window); yours come after them. The last status is the current one: check the order is "
    "right, then save."
)


def _conflict_note(name: str, typed: str) -> str:
    """Beside a field someone else changed after the form was opened, what was typed there
    (a code as its label: "Released", not "released")."""
    shown = typed.strip()
    labels = dict(_field_choices(name))
    shown = str(labels.get(shown, shown))
    if not shown:
        return str(
            _(
                "This was changed after you opened the form (by someone else, or in another "
                "window); you had cleared it."
            )
        )
    return str(
        _(
            "This was changed after you opened the form (by someone else, or in another "
            "window); you had entered “%(value)s”.",
            value=shown,
        )
    )


def _field_choices(name: str) -> list[tuple[str, str]]:
    """The choices of the form's select field `name` (codes and labels), or none."""
    field = name.rpartition(".")[2]
    choices = _choices()
    by_field = {
        "status": choices["statuses"],
        "governorate": choices["governorates"],
        "perpetrator": choices["perpetrators"],
        "facility": choices["facilities"],
        "sex": choices["sexes"],
        "type": choices["action_types"],
        "body": choices["bodies"],
        "reliability": choices["reliabilities"],
        "granted": [("yes", _("Yes")), ("no", _("No"))],
        "confidential": [("yes", _("Yes")), ("no", _("No"))],
    }
    return list(by_field.get(field, []))


def case_form_action(
    case_id: str,
    action: Any,
    *,
    edit: bool = False,
    done: str | None = None,
    refused: Callable[[CaseInputError], Any] | None = None,
) -> Any:
    """A form post on one case (here and in packets): load-then-authorise, check CSRF, apply one
    service, flash every problem (or `done`, saying what happened), and return to the case
    page."""
    s = db.session()
    case = selectors.case_or_404(s, current_user, case_id)
    case_lock(s, case)  # a verification or merge committed meanwhile is seen before deciding
    if edit and not selectors.may_edit(current_user, case):
        flash(_not_editable(case))
        return redirect(url_for("cases.show", case_id=case.id))
    if not EmptyForm().validate_on_submit():
        return error_response(400)
    try:
        action(s, case)
    except CaseInputError as exc:
        if refused is not None:  # the form is shown again, as typed, with the messages
            return refused(exc)
        # each message is shown at the top and beside its field (the category names the field)
        for name, messages in forms.localise(exc.fields).items():
            for message in messages:
                flash(message, f"field:{name}")
        anchor = next(iter(exc.fields), None)
        return redirect(url_for("cases.show", case_id=case.id, _anchor=anchor)), 303
    except CaseStateError as exc:
        flash(localise_message(str(exc)))
    else:
        if done:
            flash(done)
    return redirect(url_for("cases.show", case_id=case.id))


def _not_editable(case: Case) -> str:
    """Why the reader may not change the case: a merge seals it for everyone (lawyers too),
    else verification or erasure closed it to its documenter."""
    if case.merged_into is not None:
        return str(_("This case was merged into another case: edit that one, or undo the merge."))
    return str(_("This case can no longer be edited by you. Ask a lawyer."))


def _fields(*names: str) -> dict[str, Any]:
    return {n: request.form.get(n, "").strip() for n in names if request.form.get(n, "").strip()}


@bp.post("/<case_id>/status")
@requires(Permission.CASE_EDIT)
def add_status(case_id: str) -> Any:
    typed = _fields("status", "date", "source", "note")

    def again(exc: CaseInputError) -> Any:
        # shown again as typed, each message beside its field: after a redirect the documenter
        # found an empty form and a message at the top (an outside check)
        errors = forms.localise(exc.fields)
        return show_page(case_id, status_typed=typed, status_errors=errors), 422

    return case_form_action(
        case_id,
        lambda s, c: status_add(s, current_actor(), c, typed),
        edit=True,
        done=_("Status change added to the case."),
        refused=again,
    )


@bp.post("/<case_id>/testimonies")
@requires(Permission.CASE_CREATE)
def add_testimony(case_id: str) -> Any:
    return case_form_action(
        case_id,
        lambda s, c: testimony_add(
            s, current_actor(), c, _fields("text", "date", "language"), current_user.id
        ),
        done=_("Testimony added and encrypted."),
    )


@bp.post("/<case_id>/attachments")
@requires(Permission.CASE_CREATE)
def add_attachment(case_id: str) -> Any:
    s = db.session()
    case = selectors.case_or_404(s, current_user, case_id)
    if not EmptyForm().validate_on_submit():
        return error_response(400)
    _kept, problem = receive_upload(case)
    if problem:
        flash(localise_message(problem), "field:file")
        return redirect(url_for(".show", case_id=case.id, _anchor="attach-file"), 303)
    flash(_("File attached and encrypted."))
    return redirect(url_for(".show", case_id=case.id))


@bp.get("/<case_id>/attachments/<attachment_id>")
@requires(Permission.CASE_READ)
def attachment(case_id: str, attachment_id: str) -> Any:
    s = db.session()
    case = selectors.case_or_404(s, current_user, case_id)
    return download_response(selectors.attachment_or_404(s, case, attachment_id))


@bp.post("/<case_id>/review")
@requires(Permission.CASE_REVIEW)
def review(case_id: str) -> Any:
    def act(s: Any, c: Any) -> None:
        data: dict[str, Any] = _fields("verification", "duplicate_of", "note")
        data["different_first_names"] = request.form.get("different_first_names") == "yes"
        case_review(s, current_actor(), c, data)

    return case_form_action(
        case_id, act, done=_("Review saved: the verification shown below is now in effect.")
    )


@bp.post("/<case_id>/consent")
@requires(Permission.CASE_EDIT)
def consent(case_id: str) -> Any:
    """As the API: consent changes need edit rights on the case (see cases.api.consent)."""

    def act(s: Any, c: Any) -> None:
        data: dict[str, Any] = _fields("scope", "date")
        data["granted"] = request.form.get("granted") == "yes"
        consent_change(s, current_actor(), c, data)

    return case_form_action(case_id, act, edit=True, done=_("Consent recorded."))


@bp.post("/<case_id>/legal-notes")
@requires(Permission.LEGAL_NOTES)
def legal_note(case_id: str) -> Any:
    return case_form_action(
        case_id,
        lambda s, c: legal_note_add(s, current_actor(), c, request.form.get("text", "")),
        done=_("Legal note added. Only lawyers can read it."),
    )


@bp.route("/<case_id>/erase", methods=["GET", "POST"])
@requires(Permission.CASE_ERASE)
@fresh_factor
def erase(case_id: str) -> Any:
    s = db.session()
    case = selectors.case_or_404(s, current_user, case_id)
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and EmptyForm().validate_on_submit():
        instance = Path(current_app.config["CASEBOOK"].instance)
        try:
            case_erase(
                s,
                current_actor(),
                case,
                request.form.get("confirm", ""),
                _attachments_dir(),
                instance / "erasures.jsonl",
            )
        except CaseInputError as exc:
            errors = exc.fields
        else:
            flash(
                _(
                    "Case %(reference)s was erased. Only its reference remains.",
                    reference=case.reference,
                )
            )
            return redirect(url_for(".index"))
    return render_template("cases/erase.html", case=case, form=EmptyForm(), errors=errors), (
        422 if errors else 200
    )

"""The lawyers' review queue (side by side, differences highlighted), decisions, and the upload
of outside lists; with their JSON twins under /api/v1/linkage."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import func, or_, select

from casebook import db
from casebook.auth.forms import EmptyForm
from casebook.auth.permissions import Permission
from casebook.background import start_worker
from casebook.cases import selectors
from casebook.cases.derived import birth_year
from casebook.cases.models import Case
from casebook.cases.records import Person
from casebook.cases.services import CaseStateError
from casebook.imports.reader import ImportFileError
from casebook.inputs import ascii_digits, decimal_text
from casebook.linkage.features import birth_month_day, two_births
from casebook.linkage.lists import ListRead, read_list_report
from casebook.linkage.models import HELD, OPEN, LinkageRun, MatchCandidate
from casebook.linkage.services import (
    FirstNamesDifferError,
    LinkageInputError,
    RunBusyError,
    candidate_decide,
    candidate_reopen,
    case_merge_undo,
    first_names_differ,
    list_match,
    run_current,
    run_execute,
    run_start,
)
from casebook.messages import localise_message
from casebook.names import normalise
from casebook.names.matching import common_names, name_form, one_name, usual_names
from casebook.uploads import uploaded_bytes
from casebook.web import current_actor, error_response, id_or_404, requires

bp = Blueprint("linkage", __name__, url_prefix="/linkage")
api = Blueprint("linkage_api", __name__, url_prefix="/api/v1/linkage")

PER_PAGE = 50
COMPARED = (
    "first_name",
    "father_name",
    "grandfather_name",
    "family_name",
    "mother_name",
    "latin_name",
    "sex",
    "birth_date",
    "birth_place",
    "national_id",
)


def _attachments_dir() -> Path:
    return Path(current_app.config["CASEBOOK"].instance) / "attachments"


def _candidate_or_404(candidate_id: str) -> MatchCandidate:
    candidate = db.session().get(MatchCandidate, id_or_404(candidate_id))
    if candidate is None:
        abort(404)
    return candidate


KINDS = ("dedupe", "entry", "list", HELD)


def _kind() -> str | None:
    """The queue shown as one kind of item (`?kind=held`: the pairs held back as brothers);
    anything else shows every kind."""
    kind = request.args.get("kind", "")
    return kind if kind in KINDS else None


def _open_items(page: int, kind: str | None = None) -> tuple[list[MatchCandidate], int]:
    s = db.session()
    where = [MatchCandidate.status == OPEN]
    if kind is not None:
        where.append(MatchCandidate.kind == kind)
    total = s.scalar(select(func.count()).where(*where)) or 0
    items = list(
        s.scalars(
            select(MatchCandidate)
            .where(*where)
            .order_by(MatchCandidate.score.desc(), MatchCandidate.id)
            .offset((page - 1) * PER_PAGE)
            .limit(PER_PAGE)
        )
    )
    return items, total


def _references(items: list[MatchCandidate]) -> dict[Any, str]:
    ids = {i.case_a for i in items} | {i.case_b for i in items if i.case_b}
    if not ids:
        return {}
    return dict(db.session().execute(select(Case.id, Case.reference).where(Case.id.in_(ids))).all())


def _page() -> int:
    try:
        return min(max(1, int(request.args.get("page", "1"))), 100_000)
    except ValueError:
        return 1


def _latest_run() -> LinkageRun | None:
    s = db.session()
    return (
        run_current(s)
        or s.scalars(select(LinkageRun).order_by(LinkageRun.started_at.desc()).limit(1)).first()
    )


@bp.get("/")
@requires(Permission.CASE_REVIEW)
def queue() -> Any:
    page, kind = _page(), _kind()
    items, total = _open_items(page, kind)
    return render_template(
        "linkage/queue.html",
        items=items,
        total=total,
        kind=kind,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        references=_references(items),
        run=_latest_run(),
        held_open=_held_open(),
        form=EmptyForm(),
    )


def _held_open() -> int:
    """Open pairs a run held back (each may join two brothers): the run's page says how many
    wait, so a lawyer looks for them instead of reading the queue as the run's proposals."""
    query = select(func.count()).where(MatchCandidate.status == OPEN, MatchCandidate.kind == HELD)
    return db.session().scalar(query) or 0


def _held_beside(candidate: MatchCandidate) -> list[tuple[MatchCandidate, str, str]]:
    """For a pair a run held back, the other open pairs naming either of its cases — held
    back too, or proposed — each with the case they share and the other case: the report is
    the case they share, and a lawyer decides these pairs together. For any other pair, the
    held pairs beside it (a proposed pair of a report whose other pair was held back)."""
    if candidate.case_b is None:
        return []
    ids = (candidate.case_a, candidate.case_b)
    where = [
        MatchCandidate.status == OPEN,
        MatchCandidate.case_b.is_not(None),
        MatchCandidate.id != candidate.id,
        or_(MatchCandidate.case_a.in_(ids), MatchCandidate.case_b.in_(ids)),
    ]
    if candidate.kind != HELD:  # a proposed pair: only the held pairs beside it
        where.append(MatchCandidate.kind == HELD)
    others = list(
        db.session().scalars(
            select(MatchCandidate)
            .where(*where)
            .order_by(MatchCandidate.score.desc(), MatchCandidate.id)
        )
    )
    references = _references(others)
    beside = []
    for other in others:
        shared, far = (
            (other.case_a, other.case_b) if other.case_a in ids else (other.case_b, other.case_a)
        )
        beside.append((other, references.get(shared, ""), references.get(far, "")))
    return beside


def _start_thread(run_id: Any, actor: Any) -> None:
    """Run the dedupe in a thread of this worker once the start is committed (see
    casebook.background)."""
    database = current_app.extensions["casebook.db"]
    memory = current_app.config["CASEBOOK"].linkage_memory
    start_worker(
        "casebook.linkage_threads",
        f"casebook-dedupe-{run_id}",
        lambda: run_execute(
            database.sessionmaker, database.reading_sessionmaker, actor, run_id, memory
        ),
    )


def _begin_run(threshold: float) -> LinkageRun | str:
    """Start a run (shared by the page and the API): the run, or why not ("few", "busy")."""
    s = db.session()
    cases = (
        s.scalar(
            select(func.count()).where(Case.erased_at.is_(None), Case.verification != "duplicate")
        )
        or 0
    )
    if cases < 2:
        return "few"
    actor = current_actor()
    try:
        started = run_start(s, actor, threshold=threshold, cases=cases, started_by=current_user.id)
    except RunBusyError:
        return "busy"
    db.after_commit(s, lambda: _start_thread(started.id, actor))
    return started


@bp.post("/runs")
@requires(Permission.CASE_REVIEW)
def run() -> Any:
    if not EmptyForm().validate_on_submit():
        abort(400)
    threshold = _threshold()
    if threshold is None:
        flash(_("A number between 0.5 and 0.999."))
        return redirect(url_for(".queue"), 303)
    outcome = _begin_run(threshold)
    if outcome == "few":
        flash(_("Nothing to compare: there are fewer than two cases."))
    elif outcome == "busy":
        flash(_("A deduplication run is already going. Wait for it to finish."))
    else:
        flash(_("Deduplication started. Refresh this page to follow it."))
    return redirect(url_for(".queue", _anchor="run"), 303)


def _side(case: Case) -> dict[str, Any]:
    return selectors.case_document(db.session(), current_user, case)


def _list_row(candidate: MatchCandidate) -> int | None:
    """The row number of an outside list's row a review item is about."""
    row = candidate.row
    return row.get("row") if row else None


def _differences(left: Mapping[str, Any], right: Mapping[str, Any]) -> set[str]:
    """Fields whose values differ once normalised (what a lawyer should look at first)."""
    out = set()
    for field in COMPARED:
        a, b = (normalise(str(p.get(field) or "")) for p in (left, right))
        if a != b:
            out.add(field)
    return out


NAME_FIELDS = ("first_name", "father_name", "grandfather_name", "family_name", "mother_name")


def _one_date(a: str, b: str) -> bool:
    """Whether one partial date is the other given more precisely (1985 and 1985-02-03)."""
    short, long = sorted((a, b), key=len)
    return long.startswith(short + "-")


def _alike(left: Mapping[str, Any], right: Mapping[str, Any]) -> set[str]:
    """Fields whose values agree but are written otherwise: a name in the other script or
    another Latin spelling (محمد, Mohammad, Mohamed), a date one case gives more precisely.
    Marked as differing they sent a lawyer looking for a conflict that is not one (an outside
    check); they are marked apart, to check the spelling."""
    out = set()
    for field in (*NAME_FIELDS, "birth_date"):
        a, b = (str(p.get(field) or "").strip() for p in (left, right))
        if not a or not b or normalise(a) == normalise(b):
            continue
        if field == "birth_date":
            if _one_date(ascii_digits(a), ascii_digits(b)):
                out.add(field)
        elif one_name(a, b, family=field == "family_name"):
            out.add(field)
    return out


def _filled(value: Any) -> int:
    """How many values a part of a record holds (empty strings and lists count for nothing)."""
    if isinstance(value, Mapping):
        return sum(_filled(v) for v in value.values())
    if isinstance(value, list | tuple):
        return sum(_filled(v) for v in value)
    return 0 if value is None or value == "" else 1


RECORD_PARTS = ("person", "arrests", "detention", "status", "family_actions")


def _richness(doc: Mapping[str, Any]) -> int:
    """Filled fields of a case plus its testimonies and attachments."""
    return (
        sum(_filled(doc.get(part)) for part in RECORD_PARTS)
        + len(doc.get("testimonies") or [])
        + len(doc.get("attachments") or [])
    )


def _default_keep(left: Mapping[str, Any], right: Mapping[str, Any]) -> tuple[str, str]:
    """Which case a merge keeps unless the lawyer chooses otherwise, and why: the one whose
    first name is a common name when the other's is not (the kept case's name stays, and a
    misspelt report — حسي beside حسين — was pre-selected as the richer or older one), else
    the richer record, else the older case."""
    common = common_names()
    firsts = [str((doc.get("person") or {}).get("first_name") or "") for doc in (left, right)]
    known = [name_form(first) in common for first in firsts]
    if known[0] != known[1]:
        other = firsts[1] if known[0] else firsts[0]
        # Mohammad beside محمد is not a misspelling but the name in Latin letters
        why = "script" if usual_names(other) & common else "name"
        return ("a" if known[0] else "b"), why
    a, b = _richness(left), _richness(right)
    if a != b:
        return ("a" if a > b else "b"), "richer"

    def age(doc: Mapping[str, Any]) -> tuple[str, str]:  # references follow creation order
        return str(doc["created_at"]), str(doc["reference"])

    return ("b" if age(right) < age(left) else "a"), "older"


def _arrest_lines(doc: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    return [
        (
            normalise(str(a.get("date") or "")),
            str(a.get("governorate") or ""),
            normalise(str(a.get("place") or "")),
        )
        for a in doc.get("arrests") or []
    ]


def _case_differences(left: Mapping[str, Any], right: Mapping[str, Any]) -> set[str]:
    """The rows below the person's fields that differ between two cases."""
    out = set()
    if _arrest_lines(left) != _arrest_lines(right):
        out.add("arrests")
    if left.get("current_status") != right.get("current_status"):
        out.add("current_status")
    if len(left.get("testimonies") or []) != len(right.get("testimonies") or []):
        out.add("testimonies")
    return out


@bp.get("/<candidate_id>")
@requires(Permission.CASE_REVIEW)
def item(candidate_id: str) -> Any:
    from casebook.cases.services import case_viewed

    candidate = _candidate_or_404(candidate_id)
    s = db.session()
    case_a = selectors.case_or_404(s, current_user, str(candidate.case_a))
    left = _side(case_a)
    case_viewed(s, current_actor(), case_a, source="source" in left, legal="legal_notes" in left)
    if candidate.case_b is not None:
        case_b = selectors.case_or_404(s, current_user, str(candidate.case_b))
        right = _side(case_b)
        case_viewed(
            s, current_actor(), case_b, source="source" in right, legal="legal_notes" in right
        )
        right_person = right["person"]
    else:
        right = None
        right_person = candidate.row or {}
    across = _alike(left["person"], right_person)
    differ = _differences(left["person"], right_person) - across
    keep, keep_why = ("a", "") if right is None else _default_keep(left, right)
    if right is not None:
        differ |= _case_differences(left, right)
    return render_template(
        "linkage/item.html",
        candidate=candidate,
        left=left,
        right=right,
        right_person=right_person,
        fields=COMPARED,
        differ=differ,
        across=across,
        keep=keep,
        keep_why=keep_why,
        held_beside=_held_beside(candidate),
        held_for_births=candidate.kind == HELD
        and right is not None
        and _births_say_two(left["person"], right_person),
        form=EmptyForm(),
    )


def _births_say_two(person: Mapping[str, Any], other: Mapping[str, Any]) -> bool:
    """Whether the run held the pair back for its dates of birth (features.two_births), so
    that the page says why in those words rather than the brothers' report's."""
    return two_births(
        birth_year(cast(Person, person)),
        birth_month_day(person.get("birth_date")),
        birth_year(cast(Person, other)),
        birth_month_day(other.get("birth_date")),
    )


@bp.post("/<candidate_id>/decide")
@requires(Permission.CASE_REVIEW)
def decide(candidate_id: str) -> Any:
    if not EmptyForm().validate_on_submit():
        abort(400)
    candidate = _candidate_or_404(candidate_id)
    decision = request.form.get("decision", "")
    keep = request.form.get("keep", "a")
    if decision == "duplicate" and request.form.get("confirm") != "yes":
        if request.form.get("preview") == "1":
            # sent from the preview with the box unticked: the preview again, with why
            return _merge_page(candidate, keep, _("Tick the box to confirm the merge.")), 422
        # a merge is never one click: the lawyer sees what it would do, then confirms
        return redirect(url_for(".merge_preview", candidate_id=candidate.id, keep=keep), 303)
    try:
        kept = candidate_decide(
            db.session(),
            current_actor(),
            candidate,
            decision,
            keep=keep,
            attachments_dir=_attachments_dir(),
            different_first_names=request.form.get("different_first_names") == "yes",
        )
    except LinkageInputError as exc:
        flash("; ".join(m for ms in exc.fields.values() for m in ms))
        return redirect(url_for(".item", candidate_id=candidate.id))
    except FirstNamesDifferError:
        # the preview again, the second box marked: the lawyer must say they are one person
        message = _("Tick the box to say they are one person although their first names differ.")
        return _merge_page(candidate, keep, names_error=message), 422
    except CaseStateError as exc:
        flash(localise_message(str(exc)))
        return redirect(url_for(".item", candidate_id=candidate.id))
    if kept is not None:
        # the page says "CB-… was merged into CB-…" with a link to the kept case (see
        # base/layout.html): the absorbed one is the pair's other case
        other = candidate.case_b if kept.id == candidate.case_a else candidate.case_a
        absorbed = db.session().get(Case, other)
        flash(f"{absorbed.reference if absorbed else ''} {kept.reference}", f"merged:{kept.id}")
    else:
        flash(_("Decision recorded."))
    return redirect(url_for(".queue"))


@bp.post("/<candidate_id>/reopen")
@requires(Permission.CASE_REVIEW)
def reopen(candidate_id: str) -> Any:
    """Take back a decision of different people: the item is open again."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    candidate = _candidate_or_404(candidate_id)
    try:
        candidate_reopen(db.session(), current_actor(), candidate)
    except LinkageInputError as exc:
        flash(localise_message("; ".join(m for ms in exc.fields.values() for m in ms)))
        return redirect(url_for(".item", candidate_id=candidate.id))
    except CaseStateError as exc:
        flash(localise_message(str(exc)))
        return redirect(url_for(".item", candidate_id=candidate.id))
    flash(_("The decision was taken back: the item is open again."))
    return redirect(url_for(".item", candidate_id=candidate.id))


@bp.get("/<candidate_id>/merge")
@requires(Permission.CASE_REVIEW)
def merge_preview(candidate_id: str) -> Any:
    """What a merge would do, before it is done: what comes over from the absorbed case
    (arrests, places, statuses, family actions, testimonies, attachments) and which of the
    person's fields differ (the kept case's values stay)."""
    candidate = _candidate_or_404(candidate_id)
    if candidate.case_b is None or candidate.status != OPEN:
        flash(_("This item cannot be merged."))
        return redirect(url_for(".item", candidate_id=candidate.id))
    return _merge_page(candidate, request.args.get("keep", "a"))


def _merge_page(
    candidate: MatchCandidate,
    keep: str,
    confirm_error: str | None = None,
    names_error: str | None = None,
) -> str:
    from casebook.cases.services import case_viewed

    keep = "b" if keep == "b" else "a"
    s = db.session()
    ids = (
        (candidate.case_a, candidate.case_b)
        if keep == "a"
        else (candidate.case_b, candidate.case_a)
    )
    kept_case, absorbed_case = (selectors.case_or_404(s, current_user, str(i)) for i in ids)
    kept, absorbed = _side(kept_case), _side(absorbed_case)
    for case, doc in ((kept_case, kept), (absorbed_case, absorbed)):
        case_viewed(s, current_actor(), case, source="source" in doc, legal="legal_notes" in doc)
    return render_template(
        "linkage/merge.html",
        candidate=candidate,
        keep=keep,
        kept=kept,
        absorbed=absorbed,
        fields=COMPARED,
        differ=sorted(_differences(kept["person"], absorbed["person"]), key=COMPARED.index),
        confirm_error=confirm_error,
        names_differ=first_names_differ(kept_case, absorbed_case),
        names_error=names_error,
        held_for_births=candidate.kind == HELD
        and _births_say_two(kept["person"], absorbed["person"]),
        form=EmptyForm(),
    )


@bp.post("/merges/<case_id>/undo")
@requires(Permission.CASE_REVIEW)
def merge_undo(case_id: str) -> Any:
    """A lawyer undoes a merge from the absorbed case's page (after confirming there)."""
    if not EmptyForm().validate_on_submit():
        abort(400)
    s = db.session()
    absorbed = selectors.case_or_404(s, current_user, case_id)
    if request.form.get("confirm") != "yes":
        # the page again, the message beside the box (not only the browser's own tooltip)
        from casebook.cases.views import show_page

        return show_page(str(absorbed.id), undo_error=_("Tick the box to confirm the undo.")), 422
    try:
        kept = case_merge_undo(s, current_actor(), absorbed, _attachments_dir())
    except CaseStateError as exc:
        flash(localise_message(str(exc)))
        return redirect(url_for("cases.show", case_id=absorbed.id), 303)
    flash(
        _(
            "The merge was undone: %(reference)s is a case of its own again, and what it had "
            "added to %(kept)s was removed.",
            reference=absorbed.reference,
            kept=kept.reference,
        )
    )
    return redirect(url_for("cases.show", case_id=absorbed.id), 303)


def _threshold() -> float | None:
    try:
        value = float(decimal_text(request.form.get("threshold") or "") or 0.9)
    except ValueError:
        return None
    return value if 0.5 <= value <= 0.999 else None


@bp.route("/match", methods=["GET", "POST"])
@requires(Permission.CASE_REVIEW)
def match() -> Any:
    form = EmptyForm()
    errors: dict[str, list[str]] = {}
    result = None
    read: ListRead | None = None
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        uploaded = uploaded_bytes()
        threshold = _threshold()
        if threshold is None:
            errors["threshold"] = [_("A number between 0.5 and 0.999.")]
        if uploaded is None or not uploaded[0]:
            errors["file"] = [_("Choose a CSV or XLSX file.")]
        else:
            try:
                read = read_list_report(*uploaded)
                rows = read.rows
            except ImportFileError as exc:
                errors["file"] = exc.problems
        live = select(func.count()).where(Case.erased_at.is_(None))
        if not errors and not db.session().scalar(live):
            # "0 possible matches" would read as none of the rows found
            errors["file"] = [_("There are no cases yet to match the list's rows to.")]
        if not errors and uploaded is not None and threshold is not None:
            settings = current_app.config["CASEBOOK"]
            result = list_match(
                db.session(),
                current_actor(),
                rows,
                label=Path(uploaded[1]).name,
                created_by=current_user.id,
                threshold=threshold,
                memory_limit=settings.linkage_memory,
            )
    status = 422 if errors else 200
    return render_template(
        "linkage/match.html", form=form, errors=errors, result=result, read=read
    ), status


# -- JSON -------------------------------------------------------------------------------------


@api.get("/candidates")
@requires(Permission.CASE_REVIEW)
def api_candidates() -> Any:
    page = _page()
    asked = request.args.get("kind")
    if asked is not None and asked not in KINDS:  # a script filtering must not get every kind
        return error_response(422, fields={"kind": [f"Choose one of: {', '.join(KINDS)}."]})
    items, total = _open_items(page, _kind())
    references = _references(items)
    return {
        "items": [
            {
                "id": str(i.id),
                "kind": i.kind,
                "score": round(i.score, 4),
                "a": references.get(i.case_a),
                "b": references.get(i.case_b) if i.case_b else None,
                "list_row": _list_row(i) if i.kind == "list" else None,
            }
            for i in items
        ],
        "page": page,
        "per_page": PER_PAGE,
        "total": total,
    }


@api.post("/candidates/<candidate_id>/decision")
@requires(Permission.CASE_REVIEW)
def api_decide(candidate_id: str) -> Any:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error_response(400, "Send a JSON object (Content-Type: application/json).")
    candidate = _candidate_or_404(candidate_id)
    try:
        kept = candidate_decide(
            db.session(),
            current_actor(),
            candidate,
            str(data.get("decision") or ""),
            keep=str(data.get("keep") or "a"),
            attachments_dir=_attachments_dir(),
            different_first_names=data.get("different_first_names") is True,
        )
    except LinkageInputError as exc:
        return error_response(422, fields=exc.fields)
    except CaseStateError as exc:
        return error_response(409, str(exc))
    return {"status": candidate.status, "kept": kept.reference if kept else None}


@api.post("/candidates/<candidate_id>/reopen")
@requires(Permission.CASE_REVIEW)
def api_reopen(candidate_id: str) -> Any:
    """Take back a decision of different people (not_duplicate, no_match)."""
    candidate = _candidate_or_404(candidate_id)
    try:
        candidate_reopen(db.session(), current_actor(), candidate)
    except LinkageInputError as exc:
        return error_response(422, fields=exc.fields)
    except CaseStateError as exc:
        return error_response(409, str(exc))
    return {"status": candidate.status, "kept": None}


def _run_json(run: LinkageRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": str(run.id),
        "state": run.state,
        "started_at": run.started_at.isoformat(timespec="seconds"),
        "finished_at": run.finished_at.isoformat(timespec="seconds") if run.finished_at else None,
        "threshold": run.threshold,
        "cases": run.cases,
        "read": run.read,
        "model": run.model,
        "compared": run.compared,
        "expected_pairs": run.expected_pairs,
        "pairs": run.pairs,
        "queued": run.queued,
        "held": run.held,
        "decided": run.decided,
        "summary": run.summary,
        "error": run.error,
    }


@api.get("/runs/latest")
@requires(Permission.CASE_REVIEW)
def api_run_latest() -> Any:
    """The running dedupe run, or else the last one (its progress and summary)."""
    return {"run": _run_json(_latest_run())}


@api.post("/runs")
@requires(Permission.CASE_REVIEW)
def api_run() -> Any:
    """Start a dedupe run in the background: 202 with the run, 409 while another runs."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error_response(400, "Send a JSON object (Content-Type: application/json).")
    try:
        threshold = float(data.get("threshold", 0.9))
    except (TypeError, ValueError):
        threshold = -1.0
    if not 0.5 <= threshold <= 0.999:
        return error_response(422, fields={"threshold": ["A number between 0.5 and 0.999."]})
    outcome = _begin_run(threshold)
    if outcome == "few":
        return {"run": None, "message": "nothing to compare: fewer than two cases"}
    if outcome == "busy":
        return error_response(409, "A deduplication run is already going. Wait for it to finish.")
    assert isinstance(outcome, LinkageRun)
    return {"run": _run_json(outcome)}, 202


@api.post("/merges/<case_id>/undo")
@requires(Permission.CASE_REVIEW)
def api_merge_undo(case_id: str) -> Any:
    """Undo the merge of this (absorbed) case; {"confirm": true} is required."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error_response(400, "Send a JSON object (Content-Type: application/json).")
    s = db.session()
    absorbed = selectors.case_or_404(s, current_user, case_id)
    if data.get("confirm") is not True:
        return error_response(422, fields={"confirm": ["Confirm the undo with true."]})
    try:
        kept = case_merge_undo(s, current_actor(), absorbed, _attachments_dir())
    except CaseStateError as exc:
        return error_response(409, str(exc))
    return {"restored": absorbed.reference, "kept": kept.reference}

"""Case packets for UN mechanisms (WGEID, IIMP) and the record of submissions and replies.

The WGEID minimum (design.md §3): full name (and an ID or photo if any), date of arrest (a year
at least), place of arrest or last seen, forces believed responsible, steps taken by the family,
the submitting source (confidential unless it agreed), and the family's consent to UN
mechanisms. A packet is built only when all of it is there; otherwise the lawyer gets the list of
what is missing. The IIMP packet uses the same elements: the Institution asks for the same facts
and any record that meets the WGEID minimum is useful to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from casebook.audit.services import Actor, audit_record
from casebook.cases import derived
from casebook.cases.models import Case
from casebook.cases.records import Arrest, CaseRecord, Detention, FamilyAction, Person, StatusEntry
from casebook.names.matching import is_unknown

MECHANISMS = ("wgeid", "iimp")
FAMILY_STEPS = ("inquiry", "habeas_corpus", "payment_demanded", "submission", "other")

ELEMENT_LABELS = {
    "identity": _l(
        "Full name of the person (first and family name, or first, father's and grandfather's)"
    ),
    "arrest_date": _l("Date of arrest (a year at least)"),
    "place": _l("Place of arrest or where last seen"),
    "perpetrator": _l("Forces believed responsible"),
    "family_steps": _l("Steps taken by the family"),
    "source": _l("The submitting source"),
    "consent": _l("The family's consent to UN mechanisms"),
}


@dataclass
class Packet:
    """The facts of a packet, or what is missing (codes of ELEMENT_LABELS)."""

    mechanism: str
    reference: str
    missing: list[str] = field(default_factory=list)
    person: Person | None = None  # None: no person in the record (`missing` has "identity")
    arrest: Arrest = field(default_factory=Arrest)
    arrests: list[Arrest] = field(default_factory=list)
    preceding: int | None = None  # index in `arrests` of the one before the disappearance
    detention: Detention = field(default_factory=Detention)
    status: list[StatusEntry] = field(default_factory=list)
    current_status: str | None = None
    family_steps: list[FamilyAction] = field(default_factory=list)
    # what the packet says of its source: the relationship only, unless it may be named
    source: dict[str, str | None] = field(default_factory=dict)
    source_confidential: bool = True
    photo_attached: bool = False

    @property
    def complete(self) -> bool:
        return not self.missing


def _arrest(record: CaseRecord | None) -> Arrest:
    """The arrest the submission is about: the first with a date, else the first."""
    arrests = (record.get("arrests") if record else None) or []
    dated = [a for a in arrests if a.get("date")]
    chosen: Arrest = (dated or arrests or [{}])[0]
    return chosen


def _preceding(record: CaseRecord | None) -> int | None:
    """The index of the arrest that preceded the disappearance: the latest arrest dated no
    later than the first "forcibly disappeared" status; None when either date is unknown."""
    from casebook.cases.schemas import partial_bounds

    if not record:
        return None
    gone = [
        partial_bounds(st["date"])[1]
        for st in record.get("status") or []
        if st.get("status") == "forcibly_disappeared" and st.get("date")
    ]
    if not gone:
        return None
    disappeared = min(gone)
    before = [
        (partial_bounds(a["date"])[0], i)
        for i, a in enumerate(record.get("arrests") or [])
        if a.get("date") and partial_bounds(a["date"])[0] <= disappeared
    ]
    return max(before)[1] if before else None


def _full_name(person: Person | None) -> bool:
    """A full name as Syrian records give one: the first and family name, or, where the family
    name is not known, the three-part name (first, father's and grandfather's)."""
    if not person or is_unknown(str(person.get("first_name") or "")):
        return False
    if derived.family_name_known(person):
        return True
    return bool(person.get("father_name") and person.get("grandfather_name"))


def packet_build(case: Case, mechanism: str, *, photo_attached: bool = False) -> Packet:
    """The packet for `mechanism`, checked element by element; never raises for gaps."""
    record = case.record  # None only for an erased case
    person = derived.record_person(record) or None
    preceding = _preceding(record)
    arrest = record["arrests"][preceding] if record and preceding is not None else _arrest(record)
    source = case.source or {}
    consent = (case.consent or {}).get("un_mechanisms")
    packet = Packet(mechanism, case.reference, photo_attached=photo_attached)
    if not _full_name(person):
        packet.missing.append("identity")
    if not arrest.get("date"):
        packet.missing.append("arrest_date")
    if not (arrest.get("place") or arrest.get("governorate")):
        packet.missing.append("place")
    if arrest.get("perpetrator") in (None, "", "unknown") and not arrest.get("unit"):
        packet.missing.append("perpetrator")
    steps = [
        a
        for a in (record.get("family_actions") if record else None) or []
        if a.get("type") in FAMILY_STEPS
    ]
    if not steps:
        packet.missing.append("family_steps")
    if not (source.get("name") or source.get("relationship")):
        packet.missing.append("source")
    if not (consent and consent.get("granted")):
        packet.missing.append("consent")
    packet.person = person
    packet.arrest = arrest
    packet.arrests = list((record.get("arrests") if record else None) or [])
    packet.preceding = preceding
    packet.detention = (record.get("detention") if record else None) or {}
    packet.status = (record.get("status") if record else None) or []
    packet.current_status = derived.current_status(record) if record else "unknown"
    packet.family_steps = steps
    packet.source_confidential = source.get("confidential", True) is not False
    # a confidential source is described by relationship only; its name and contact stay here
    packet.source = (
        {"relationship": source.get("relationship")}
        if packet.source_confidential
        else {
            "name": source.get("name"),
            "relationship": source.get("relationship"),
            "contact": source.get("contact"),
        }
    )
    return packet


def packet_issued(session: Session, actor: Actor, case: Case, packet: Packet) -> None:
    """Issuing (or refusing) a packet is recorded, with the codes of what was missing."""
    audit_record(
        session,
        actor,
        f"packet.{packet.mechanism}" if packet.complete else "packet.refused",
        object_type="case",
        object_id=case.id,
        details={"mechanism": packet.mechanism, "missing": packet.missing},
    )

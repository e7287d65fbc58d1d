"""Partner matching: export our consenting cases as keyed encodings, compare files of several
organisations, and mark our cases another organisation also documents. Writes flush and audit;
none commits. Audit details carry counts only: no name, label or record id.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import random
import re
import secrets
import stat
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from casebook.audit.services import Actor, audit_record
from casebook.cases.derived import consents_to, record_person
from casebook.cases.models import Case
from casebook.cases.records import CaseRecord, Consent
from casebook.db import new_id, utcnow
from casebook.encrypted import EncryptedValueError, Vault
from casebook.inputs import clean_text
from casebook.keys.models import CaseKey
from casebook.partners.compare import (
    CROWDED,
    CROWDED_WARN,
    DEFAULT_THRESHOLD,
    NEAR_BAND,
    Overlap,
    link,
)
from casebook.partners.encoding import (
    FORMAT,
    MIN_SECRET_BYTES,
    SCHEMA,
    VERSION,
    Encoder,
    ExportNames,
)
from casebook.partners.models import CONSENT_SCOPE, PartnerExport, PartnerMark, PartnerRecord

READ_BATCH = 2000
TAG_PURPOSE = "partners-record"
EXCLUDED_VERIFICATION = ("rejected", "duplicate")
TAG_BATCH = 10_000  # record tags looked up per query
RECORD_ID = re.compile(r"[0-9a-f]{32}")  # secrets.token_hex(16), as partners_export writes
EXPORT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")  # str(UUID)
MAX_LABEL = 100  # an organisation's name; longer labels are cut
# a list this large of which this share encode exactly as another list's records is warned of
COPY_MIN_RECORDS = 10
COPY_SHARE = 0.9


def clean_label(value: object) -> str:
    """A list's label as printed and sealed into lawyers' marks: it comes from another
    organisation's file, so without control or bidi characters (which could disguise it or
    break a terminal) and of bounded length."""
    return " ".join(clean_text(str(value or "")).split())[:MAX_LABEL].strip()


class PartnerInputError(Exception):
    """A secret file or an encoded file that cannot be used; the message says why, `reason`
    is its code for the audit log (no file name, label or record; words in casebook.ui)."""

    def __init__(self, message: str, reason: str = "unusable_file") -> None:
        super().__init__(message)
        self.reason = reason


def read_secret(path: Path) -> bytes:
    """The shared secret; refused when group- or world-readable or shorter than 32 bytes."""
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as exc:
        raise PartnerInputError(f"the secret file cannot be read ({exc.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PartnerInputError(
            "the secret file is readable by other users: make it private (chmod 600) and "
            "consider the secret exposed if others could have read it"
        )
    secret = data.strip()
    if len(secret) < MIN_SECRET_BYTES:
        raise PartnerInputError(
            f"the secret file holds {len(secret)} bytes; at least {MIN_SECRET_BYTES} are needed "
            "(for example 64 random hexadecimal characters agreed with the partners)"
        )
    if _guessable(secret):
        raise PartnerInputError(
            "the secret repeats too few characters to be secret (like 64 times the same "
            "letter): agree on a random one with the partners, for example 64 random "
            "hexadecimal characters (openssl rand -hex 32)"
        )
    return secret


SECRET_MIN_BITS = 80  # 32 random hexadecimal characters estimated 98 bits or more in 2,000 draws


def _guessable(secret: bytes) -> bool:
    """Whether the secret's characters, counted, carry fewer than SECRET_MIN_BITS (its length
    times the entropy of its own character frequencies). A rough floor, not a measure of
    randomness: it refuses a row of zeros or a repeated word, which a length check lets by,
    and no passphrase or random string of the required length."""
    counts = Counter(secret)
    bits = -sum(n * math.log2(n / len(secret)) for n in counts.values())
    return bits < SECRET_MIN_BITS


def _vault(session: Session) -> Vault:
    vault = session.info["vault"]
    assert isinstance(vault, Vault)
    return vault


def _consents(consent: Consent | None) -> bool:
    return consents_to(consent, CONSENT_SCOPE)


def _consent(
    vault: Vault, case_id: uuid.UUID, blob: Any, wrapped: Any, version: Any
) -> Consent | None:
    """A case's consent, opened (EncryptedValueError when it cannot be)."""
    if blob is None:
        return None
    return Case.consent.open_owned(vault, "cases", case_id, wrapped, version, blob)


def _cases(session: Session) -> Iterator[tuple[uuid.UUID, Any, Any, Any, Any]]:
    last: uuid.UUID | None = None
    while True:
        query = (
            select(Case.id, Case.record_enc, Case.consent_enc, CaseKey.wrapped, CaseKey.dek_version)
            .outerjoin(CaseKey, CaseKey.owner_id == Case.id)
            .where(Case.erased_at.is_(None), Case.verification.not_in(EXCLUDED_VERIFICATION))
            .order_by(Case.id)
            .limit(READ_BATCH)
        )
        if last is not None:
            query = query.where(Case.id > last)
        batch = session.execute(query).all()
        if not batch:
            return
        yield from batch
        last = batch[-1][0]


@dataclass
class ExportResult:
    document: dict[str, Any]
    exported: int
    no_consent: int
    unreadable: int


def partners_export(
    session: Session,
    actor: Actor,
    secret: bytes,
    label: str | None,
    progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """One encoding per live, not rejected or duplicate case whose family consented to partner
    matching. Each record gets a fresh random id; the link to its case is kept only here as a
    keyed tag. The records are shuffled so their order says nothing about the cases'."""
    vault = _vault(session)
    encoder = Encoder(secret)
    export = PartnerExport(id=new_id(), created_at=utcnow(), fingerprint=encoder.fingerprint)
    session.add(export)
    label = clean_label(label) or None
    if label:
        export.label = label
    session.flush()
    records: list[dict[str, str]] = []
    tags: list[dict[str, Any]] = []
    people: list[tuple[Any, Mapping[str, Any], str | None, str | None]] = []
    no_consent = unreadable = 0
    for case_id, record_blob, consent_blob, wrapped, version in _cases(session):
        try:
            if not _consents(_consent(vault, case_id, consent_blob, wrapped, version)):
                no_consent += 1
                continue
            record: CaseRecord | None = (
                Case.record.open_owned(vault, "cases", case_id, wrapped, version, record_blob)
                if record_blob is not None
                else None
            ) or None
        except EncryptedValueError:
            unreadable += 1  # counted and audited, never guessed at
            continue
        finally:
            if progress is not None:
                progress(1)
        arrests = (record.get("arrests") if record else None) or []
        people.append(
            (
                case_id,
                record_person(record) or {},
                next((a.get("governorate") for a in arrests if a.get("governorate")), None),
                next((str(a["date"]) for a in arrests if a.get("date")), None),
            )
        )
    # A second pass: how common each name is, and which Latin spellings are this caseload's
    # Arabic names, are known only once every person has been read.
    names = ExportNames(person for _, person, _, _ in people)
    for case_id, person, governorate, arrest_date in people:
        record_id = secrets.token_hex(16)
        clk = encoder.encode(person, governorate, arrest_date, names)
        records.append({"id": record_id, "clk": base64.b64encode(clk).decode()})
        tags.append(
            {
                "tag": vault.keyed_hash(TAG_PURPOSE, record_id),
                "export_id": export.id,
                "case_id": case_id,
            }
        )
    del people, names
    random.SystemRandom().shuffle(records)
    if tags:
        session.execute(insert(PartnerRecord), tags)
    export.records = len(records)
    audit_record(
        session,
        actor,
        "partners.export",
        object_type="partner_export",
        object_id=export.id,
        outcome="success" if not unreadable else "partial",
        details={"exported": len(records), "no_consent": no_consent, "unreadable": unreadable},
    )
    document = {
        "format": FORMAT,
        "version": VERSION,
        "export": str(export.id),
        "label": label or "",
        "schema": SCHEMA,
        "fingerprint": encoder.fingerprint,
        "count": len(records),
        "records": records,
    }
    return ExportResult(document, len(records), no_consent, unreadable)


@dataclass
class PartnerFile:
    name: str
    label: str
    export: str | None
    schema: dict[str, Any]
    fingerprint: str
    ids: list[str]
    bits: npt.NDArray[np.uint8] = field(repr=False)
    repeated: int = 0  # records whose encoding another record of the file already has


def load_file(path: Path) -> PartnerFile:
    """Read and check one encoded file; PartnerInputError names the file and the problem."""
    where = path.name
    try:
        doc = json.loads(path.read_bytes())
    except OSError as exc:
        raise PartnerInputError(f"{where}: cannot be read ({exc.strerror})") from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise PartnerInputError(f"{where}: not a partner-matching file (not JSON)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise PartnerInputError(f"{where}: not a partner-matching file")
    if doc.get("version") != VERSION:
        raise PartnerInputError(f"{where}: format version {doc.get('version')!r} is not {VERSION}")
    schema, fp, records = doc.get("schema"), doc.get("fingerprint"), doc.get("records")
    if not isinstance(schema, dict) or not isinstance(fp, str) or not isinstance(records, list):
        raise PartnerInputError(f"{where}: schema, fingerprint or records missing")
    try:
        width = int(schema["bits"]) >> int(schema["fold"])
    except (KeyError, TypeError, ValueError):
        raise PartnerInputError(f"{where}: the schema has no valid size") from None
    if not records:
        raise PartnerInputError(f"{where}: holds no records: there is nothing to compare")
    count = doc.get("count")  # every export writes it: a file without it was edited
    if not isinstance(count, int) or isinstance(count, bool) or not 0 < count < 10**9:
        raise PartnerInputError(f"{where}: its record count is missing or not a number of records")
    if count != len(records):
        raise PartnerInputError(
            f"{where}: says it holds {count} records but holds {len(records)}: the file was "
            "cut short or edited; ask for it again"
        )
    nbytes = width // 8
    raw = bytearray()
    ids: list[str] = []
    numbers: dict[str, int] = {}
    for number, item in enumerate(records, start=1):
        try:
            clk = base64.b64decode(item["clk"], validate=True)
            record_id = item["id"]
        except (KeyError, TypeError, binascii.Error):
            raise PartnerInputError(f"{where}: record {number} is malformed") from None
        if not isinstance(record_id, str) or not record_id.strip():
            raise PartnerInputError(f"{where}: record {number} has no id, or one that is not text")
        if not RECORD_ID.fullmatch(record_id):
            # Every export writes 32 lowercase hexadecimal digits; another form of one id
            # (upper case, dashes, braces) would escape the lookup of our own records' tags.
            raise PartnerInputError(
                f"{where}: record {number}'s id is not one casebook writes (32 lowercase "
                "hexadecimal digits): the file was edited; ask for it again"
            )
        if record_id in numbers:
            raise PartnerInputError(
                f"{where}: record {number} has the id of record {numbers[record_id]}: each "
                "record of an export has its own"
            )
        if len(clk) != nbytes:
            raise PartnerInputError(f"{where}: record {number} is not {width} bits long")
        numbers[record_id] = number
        ids.append(record_id)
        raw += clk
    bits = np.frombuffer(bytes(raw), dtype=np.uint8).reshape(len(ids), nbytes)
    given = doc.get("label")
    # a label that reads as nothing (fillers, joiners, dots) would show blank on lawyers' marks
    label = next(
        (
            text
            for text in (
                clean_label(given) if isinstance(given, str) else "",
                clean_label(path.stem),
            )
            if label_key(text)
        ),
        "?",
    )
    export = doc.get("export")
    if not isinstance(export, str) or not EXPORT_ID.fullmatch(export):
        # Every export writes its random id as a UUID: marks remember a partner's export by
        # it, and the audit log names it, so nothing else is taken from the file there.
        raise PartnerInputError(
            f"{where}: its export id is missing or not one casebook writes: the file was "
            "edited; ask for it again"
        )
    repeated = len(ids) - len({bytes(row) for row in bits})
    return PartnerFile(where, label, export, schema, fp, ids, bits, repeated)


def check_compatible(files: list[PartnerFile]) -> None:
    """Files made with another schema or secret would silently match nobody, and a file given
    twice (or a copy of one) would match itself and mark every case: refuse them."""
    first = files[0]
    for other in files[1:]:
        if other.schema != first.schema:
            ours_id, theirs_id = first.schema.get("id"), other.schema.get("id")
            which = (
                f"other settings under the same name {ours_id!r}"
                if ours_id == theirs_id
                else f"{theirs_id!r} against {ours_id!r}"
            )
            raise PartnerInputError(
                f"{other.name} was encoded with a different schema than {first.name} "
                f"({which}): every partner must export with the same casebook "
                "partner-matching schema",
                reason="schemas_differ",
            )
        if other.fingerprint != first.fingerprint:
            raise PartnerInputError(
                f"{other.name} was encoded with a different secret than {first.name}: the "
                "files cannot be compared; agree one secret and export again",
                reason="secrets_differ",
            )
    # A file is known by its export id and, for a copy whose id was changed, by its records.
    seen: dict[object, str] = {}
    for f in files:
        keys: list[object] = [frozenset(zip(f.ids, map(bytes, f.bits), strict=True))]
        if f.export is not None:
            keys.append(f.export)
        earlier = next((seen[k] for k in keys if k in seen), None)
        if earlier is not None:
            raise PartnerInputError(
                f"{f.name} is {'given twice' if earlier == f.name else 'the same export as '}"
                f"{'' if earlier == f.name else earlier}: each list can be compared only "
                "once; give our export and each partner's file one time",
                reason="list_given_twice",
            )
        seen.update(dict.fromkeys(keys, f.name))


@dataclass
class CompareResult:
    lists: list[str]
    patterns: dict[str, int]  # estimated where every pair of lists could be; else as matched
    ours_known: bool
    matched_patterns: dict[str, int] = field(default_factory=dict)
    estimated: bool = False
    overlaps: list[Overlap] = field(default_factory=list)
    ours_matched: int = 0
    marks_added: int = 0
    warnings: list[str] = field(default_factory=list)
    left_out: int = 0  # our records whose case was erased or lost its consent since the export


def copied_records(files: list[PartnerFile]) -> list[str]:
    """Warnings for a list most of whose records are exact copies of another list's encodings.
    Said, not refused: two organisations that wrote every field of their shared people alike
    encode them identically, and a copy with a bit changed would pass any such test anyway."""
    encodings = [{bytes(row) for row in f.bits} for f in files]
    out: list[str] = []
    for i, f in enumerate(files):
        for j, g in enumerate(files):
            smaller = len(f.ids) < len(g.ids) or (len(f.ids) == len(g.ids) and i > j)
            if i == j or len(f.ids) < COPY_MIN_RECORDS or not smaller:
                continue
            copied = sum(bytes(row) in encodings[j] for row in f.bits)
            if copied >= COPY_SHARE * len(f.ids):
                out.append(
                    f"{copied} of the {len(f.ids)} records of {f.name} encode exactly as records "
                    f"of {g.name} do: if it was made from that list rather than kept on its own, "
                    "its people are counted twice and the marks it gives mean nothing"
                )
                break
    return out


def unsure_estimates(files: list[PartnerFile], overlaps: list[Overlap]) -> list[str]:
    """Warnings for a pair of lists whose overlap estimate broke its premise: the two lists'
    sides far apart, or fewer shared people than were matched one to one. Their records do not
    look drawn from one population (one list from one region, say), so the matched count was
    given instead; an estimate of the undocumented from such lists is as unsure."""
    out: list[str] = []
    for o in overlaps:
        if o.why not in ("sides_apart", "below_matched") or o.sides is None:
            continue
        x, y = o.lists
        reads = (
            f"from each list's side it reads {max(o.sides[0], 0):.0f} and {max(o.sides[1], 0):.0f}"
            if o.why == "sides_apart"
            else f"it reads {o.estimate or 0:.0f}, fewer than the {o.matched} matched one to one"
        )
        out.append(
            f"the overlap of {files[x].name} and {files[y].name} could not be estimated: {reads}. "
            "The estimate takes a record to find look-alikes on the other list as often as "
            "among its own list's records; lists of different regions or periods, relatives "
            "listed together on one list, or two organisations that write names differently "
            "break that. The counts are the people matched one to one, a floor"
        )
    return out


def distant_copies(
    files: list[PartnerFile], overlaps: list[Overlap], threshold: float
) -> list[str]:
    """A warning for each pair of lists whose matched people are often only just alike enough:
    their copies of one person differ much, and the people below the threshold (whom neither
    the matching nor the estimate sees) are then many. Without it the counts would read as
    near the truth where, in casebook's outside checks, they were a quarter to a half below."""
    out: list[str] = []
    for o in overlaps:
        if o.below_truth is None or o.near_threshold is None:
            continue
        pair = f"{files[o.lists[0]].name} and {files[o.lists[1]].name}"
        how = (
            "many of the people they share are likely below the threshold, unmatched: read "
            "these counts as floors well below the truth"
            if o.below_truth == "likely_far_below"
            else "some of the people they share may be below the threshold, unmatched: read "
            "these counts as floors, possibly a tenth or more below the truth"
        )
        out.append(
            f"{o.near_threshold:.0%} of the people matched between {pair} are only just alike "
            f"enough (similarity within {NEAR_BAND} of the threshold {threshold}): the two "
            "lists' records of one person often differ (a missing grandfather, mother or birth "
            f"date, another governorate or spelling), so {how}. On test lists with 20-35% this "
            "close the counts were 27-48% below the truth, with 13% this close 10% below, and "
            "on casebook's benchmark lists (5-6% this close) within 3%; a sign from two "
            "generators, not a correction factor"
        )
    return out


def crowded_lists(files: list[PartnerFile], crowded: list[float], estimated: bool) -> list[str]:
    """A warning for each list with many records of names so common that the comparison
    tells few of their people apart: the matched people are then fewer than the shared ones,
    by as much as a fifth in the benchmark, and without this it would say so nowhere."""
    then = (
        "the counts are estimated to take them in, but fewer of our cases are marked"
        if estimated
        else "so the counts of people on several lists are likely low"
    )
    return [
        f"{share:.0%} of the records of {f.name} have {CROWDED} or more look-alikes on another "
        "list (the same very common names, birth year and place): many of their shared people "
        f"cannot be matched one to one; {then} (in casebook's benchmark, lists this crowded "
        "matched four in five of their shared people; the same names compared in the clear "
        "no more)"
        for f, share in zip(files, crowded, strict=True)
        if share >= CROWDED_WARN
    ]


def _our_export(session: Session, f: PartnerFile) -> PartnerExport | None:
    """The export of this casebook a file names, if any (a file's export id is its word only)."""
    if f.export is None:
        return None
    try:
        return session.get(PartnerExport, uuid.UUID(f.export))
    except ValueError:
        return None


# Lower-case letters of other scripts drawn like Latin ones (after case folding, so the
# capitals they come from too), Persian forms of Arabic letters, and the Arabic letters
# written for one another (ة and ه, ى and ي; alif's hamza seats are accents, left out): two
# labels that differ only by these read as one name on a lawyer's page. Hand-written: the
# Unicode confusables table is large and its Python packages unmaintained; these are the
# look-alikes of the scripts organisations' names come in here.
_LOOKALIKES = str.maketrans(
    "авекмнорстхуіјѕԁӏɡαβεζηικμνορτυχıᴀʙᴄᴅᴇꜰɢʜɪᴊᴋʟᴍɴᴏᴘʀꜱᴛᴜᴠᴡʏᴢօսհոⲟⲁکیەہةۃھىےٱ",
    "abekmhopctxyijsdlgabezhikmnoptyxiabcdefghijklmnoprstuvwyzouhnoaكيهههههييا",
)
# Letters drawn as nothing (Hangul fillers), left out with the invisible characters.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u0640")  # and the tatweel


def label_key(label: str) -> str:
    """What a label reads as: case ignored, compatibility forms and accents taken apart
    (fullwidth and mathematical letters, é), look-alike letters of other scripts and small
    capitals read as the letters they imitate, digits of every script as ASCII digits, and
    everything that is not a letter or digit (spaces, dots, invisible joiners and fillers,
    accents, Arabic diacritics and the tatweel) left out."""
    folded = unicodedata.normalize("NFKD", label.casefold()).casefold().translate(_LOOKALIKES)
    return "".join(
        str(unicodedata.decimal(c, "")) or c  # ١ and ۱ read as 1
        for c in folded
        if unicodedata.category(c)[0] in "LN" and c not in _BLANK_LETTERS
    )


def _refuse_shared_labels(files: list[PartnerFile]) -> None:
    """Lawyers' marks and the pattern counts name each list by its label: two files under one
    label (a file relabelled as another partner's, or two unlabelled files of one name) would
    leave a mark that cannot say which list it came from, so the operator is asked to choose."""
    seen: dict[str, str] = {}
    for f in files:
        key = label_key(f.label)
        if key in seen:
            raise PartnerInputError(
                f"{seen[key]} and {f.name} are labelled alike ({f.label!r}): lawyers' marks could "
                "not say which list a person is on; if they are two organisations' lists, set "
                'another "label" in one file (or ask its organisation to export with --label)',
                reason="labels_alike",
            )
        seen[key] = f.name


def _refuse_our_exports_as_partners(session: Session, others: list[PartnerFile]) -> None:
    """Another export of ours given as a partner's list (last month's file picked by mistake)
    would match every case with itself: known by its export id, or by its records' tags."""
    vault = _vault(session)
    for f in others:
        ours = _our_export(session, f) is not None
        # Every record is looked up, so a partner's list with a few of our records pasted
        # in is refused too; a keyed hash is a few microseconds, 100,000 ids well under a second.
        for start in range(0, len(f.ids) if not ours else 0, TAG_BATCH):
            tags = [vault.keyed_hash(TAG_PURPOSE, i) for i in f.ids[start : start + TAG_BATCH]]
            hit = select(PartnerRecord.tag).where(PartnerRecord.tag.in_(tags)).limit(1)
            if session.scalar(hit) is not None:
                ours = True
                break
        if ours:
            raise PartnerInputError(
                f"{f.name} is, or holds records of, an export of this casebook, not a partner's "
                "own list: give our export first and then only files other organisations made",
                reason="our_export_as_partner",
            )


def _live_records(session: Session, export: PartnerExport, ours: PartnerFile) -> PartnerFile:
    """Our file without the records whose case was erased, rejected or found a duplicate, or
    whose family withdrew consent to partner matching, since the export: a comparison is a use
    of the record, and the file cannot know what changed after it was written."""
    vault = _vault(session)
    case_of: dict[str, uuid.UUID] = dict(
        session.execute(  # an erased case's tags are deleted with it
            select(PartnerRecord.tag, PartnerRecord.case_id).where(
                PartnerRecord.export_id == export.id
            )
        ).all()
    )
    exported = set(case_of.values())
    live: set[uuid.UUID] = set()
    for case_id, _, consent_blob, wrapped, version in _cases(session):
        if case_id not in exported:
            continue
        try:
            if _consents(_consent(vault, case_id, consent_blob, wrapped, version)):
                live.add(case_id)
        except EncryptedValueError:
            continue  # unreadable: left out, as the export leaves it out
    keep = [case_of.get(vault.keyed_hash(TAG_PURPOSE, i)) in live for i in ours.ids]
    if all(keep):
        return ours
    rows = np.flatnonzero(keep)
    return PartnerFile(
        ours.name,
        ours.label,
        ours.export,
        ours.schema,
        ours.fingerprint,
        [ours.ids[i] for i in rows.tolist()],
        ours.bits[rows],
        ours.repeated,
    )


def partners_compare(
    session: Session,
    actor: Actor,
    files: list[PartnerFile],
    threshold: float = DEFAULT_THRESHOLD,
) -> CompareResult:
    """Membership-pattern counts over all files; when the first file is one of our exports,
    each of our matched cases gets a sealed "also documented by" mark per other list."""
    if len(files) < 2:
        raise PartnerInputError("compare needs at least two files")
    check_compatible(files)
    _refuse_our_exports_as_partners(session, files[1:])
    _refuse_shared_labels(files)
    ours = files[0]
    export = _our_export(session, ours)
    known = export is not None and export.fingerprint == ours.fingerprint
    left_out = 0
    if export is not None and known:
        live = _live_records(session, export, ours)
        left_out = len(ours.ids) - len(live.ids)
        files = [live, *files[1:]]
        ours = live
    linkage = link([f.bits for f in files], threshold)
    labels = [f.label for f in files]
    result = CompareResult(
        labels,
        linkage.estimated_patterns(),
        ours_known=False,
        matched_patterns=linkage.patterns(),
        estimated=linkage.estimated,
        overlaps=linkage.overlaps,
        warnings=copied_records(files)
        + distant_copies(files, linkage.overlaps, threshold)
        + crowded_lists(files, linkage.crowded, linkage.estimated)
        + unsure_estimates(files, linkage.overlaps),
    )
    result.left_out = left_out
    if export is not None and known:
        result.ours_known = True
        vault = _vault(session)
        matched = linkage.matched(0)
        result.ours_matched = len(matched)
        tags = {vault.keyed_hash(TAG_PURPOSE, ours.ids[i]): others for i, others in matched.items()}
        rows: list[Any] = []
        tag_list = list(tags)
        for start in range(0, len(tag_list), TAG_BATCH):
            rows += session.execute(
                select(PartnerRecord.tag, PartnerRecord.case_id).where(
                    PartnerRecord.export_id == export.id,
                    PartnerRecord.tag.in_(tag_list[start : start + TAG_BATCH]),
                )
            ).all()
        exports = [f.export for f in files]
        for tag, case_id in rows:
            case = session.get(Case, case_id)
            if case is None or case.erased_at is not None:
                continue
            bodies = [
                m.body or {}
                for m in session.scalars(select(PartnerMark).where(PartnerMark.case_id == case_id))
            ]
            # A list marks a case once, under one label: the same export given again under
            # another label adds nothing.
            existing = {b.get("label") for b in bodies} | {b.get("export") for b in bodies}
            for d in tags[tag]:
                their = exports[d]
                if labels[d] in existing or (their is not None and their in existing):
                    continue
                mark = PartnerMark(id=new_id(), case_id=case_id, created_at=utcnow())
                # Sealing looks up the case's data key; a query that autoflushed the pending
                # mark would insert it with no body (NOT NULL) whenever the key is not cached.
                with session.no_autoflush:
                    session.add(mark)
                    body = {"label": labels[d], "date": utcnow().date().isoformat()}
                    if their is not None:
                        body["export"] = their
                    mark.body = body
                existing |= {labels[d], their}
                result.marks_added += 1
    audit_record(
        session,
        actor,
        "partners.compare",
        object_type="partner_export",
        object_id=export.id if result.ours_known and export is not None else None,
        details={
            "lists": len(files),
            "records": [len(f.ids) for f in files],
            "threshold": threshold,
            "ours_matched": result.ours_matched,
            "marks_added": result.marks_added,
            "estimated": result.estimated,
            "overlaps_matched": [o.matched for o in result.overlaps],
            "overlaps_counted": [round(o.counted) for o in result.overlaps],
            "left_out": left_out,
            "warnings": len(result.warnings),
            # the partners' own random export ids: which of their files was compared
            "partner_exports": [f.export or "" for f in files[1:]],
        },
    )
    session.flush()
    return result


def partners_compare_refused(session: Session, actor: Actor, lists: int, reason: str) -> None:
    """A refused comparison is audited as a failure (how many files, and why in a few words):
    a file of ours passed off as a partner's, say, is an attempt someone should see."""
    audit_record(
        session,
        actor,
        "partners.compare",
        object_type="partner_export",
        outcome="failure",
        details={"lists": lists, "refused": reason},
    )
    session.flush()


def marks_of(session: Session, case_id: uuid.UUID, consent: Consent | None) -> list[dict[str, str]]:
    """The case's "also documented by" marks, oldest first (for lawyers' case page); none
    while the family's consent to partner matching is withdrawn (they stay sealed, and show
    again if it is given again: a comparison made with consent is not undone, but its result
    is not used without it)."""
    if not _consents(consent):
        return []
    marks = session.scalars(
        select(PartnerMark).where(PartnerMark.case_id == case_id).order_by(PartnerMark.created_at)
    )
    withdrawn = _last_withdrawal(consent)
    out = []
    for mark in marks:
        body = dict(mark.body or {})
        if withdrawn and str(body.get("date") or "") <= str(withdrawn["given"]):
            # made before the family withdrew its consent and shown again since it gave it
            # again: said beside the mark, which came back without a word before
            body["consent_withdrawn"] = withdrawn["withdrawn"]
            body["consent_given_again"] = withdrawn["given"]
        out.append(body)
    return out


def _last_withdrawal(consent: Consent | None) -> dict[str, str] | None:
    """When the family last withdrew its consent to partner matching and when it gave it
    again (the current grant), if it ever withdrew it."""
    scope = (consent or {}).get(CONSENT_SCOPE)
    if not scope or not scope.get("granted"):
        return None
    withdrawals = [h for h in scope.get("history") or [] if h.get("granted") is False]
    if not withdrawals:
        return None
    return {
        "withdrawn": str(withdrawals[-1].get("date") or ""),
        "given": str(scope.get("date") or ""),
    }


def partner_rows_drop_for_case(session: Session, *, case_id: uuid.UUID, **_: object) -> None:
    """On `case_erased`: the case's exported-record tags and its "also documented by" marks."""
    session.execute(delete(PartnerRecord).where(PartnerRecord.case_id == case_id))
    session.execute(delete(PartnerMark).where(PartnerMark.case_id == case_id))

"""Writes of field collection: devices, the form's key pair, received submissions, and the
inbox's save and discard. Each flushes and writes its audit entry; none commits.

A submission is decrypted in memory as it arrives: media parts stream from the request's
encrypted spool through AES-CFB into casebook's own attachment encryption (under the
submission's data key), and the submission XML never leaves memory. Nothing readable is written.
"""

from __future__ import annotations

import base64
import io
import os
import secrets
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from xml.etree.ElementTree import Element  # nosec B405 - a type; defusedxml parses

from defusedxml import ElementTree as SafeXML
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from casebook.audit.services import Actor, Detail, audit_record
from casebook.auth.models import User
from casebook.cases.attachments import attachment_store, sniff
from casebook.cases.models import Case
from casebook.cases.services import _shred_attachments, case_validate
from casebook.db import after_commit, utcnow
from casebook.encrypted import (
    DecryptionError,
    EncryptedValueError,
    Vault,
    field_media_decryptor,
    field_media_encryptor,
)
from casebook.encrypted import odk_protocol as odk
from casebook.field import xlsform
from casebook.field.models import FieldDevice, FieldKey, FieldMedia, FieldSubmission
from casebook.inputs import clean_text
from casebook.keys.models import CaseKey
from casebook.keys.services import data_key_destroy
from casebook.uploads import EncryptedSpool

DEVICE_TOKEN_PREFIX = "cbf_"  # noqa: S105  # nosec B105 - a prefix, not a secret
ENCRYPTED_NS = "http://www.opendatakit.org/xforms/encrypted"
OPENROSA_NS = "http://openrosa.org/xforms"
SCALAR_PERSON = (
    "first_name",
    "father_name",
    "grandfather_name",
    "family_name",
    "mother_name",
    "latin_name",
    "sex",
    "birth_date",
    "birth_place",
    "nationality",
    "national_id",
    "occupation",
    "civil_status",
    "address",
    "description",
)


class FieldInputError(Exception):
    """A form post refused whole; `fields` maps a field to its messages."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__(f"{len(fields)} fields need attention")
        self.fields = fields


class SubmissionError(Exception):
    """A submission the server will not take: `status` and `reason` (a code for the audit
    log) with a sentence for the person holding the phone."""

    def __init__(
        self, status: int, reason: str, message: str, *, fields: list[str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.message = message
        self.fields = fields or []  # the case fields that fail (paths, never values)


def _vault(session: Session) -> Vault:
    vault = session.info["vault"]
    assert isinstance(vault, Vault)
    return vault


def _field_dir(attachments_dir: Path) -> Path:
    return attachments_dir / "field"


# -- devices -------------------------------------------------------------------------------------


def device_token_hash(session: Session, raw: str) -> str:
    return _vault(session).keyed_hash("field-device", raw)


def device_create(
    session: Session, actor: Actor, owner: User, label: str
) -> tuple[FieldDevice, str]:
    """A device credential for `owner` (the raw token is returned once, never stored)."""
    label = clean_text(label or "").strip()
    if not label or len(label) > 100:
        raise FieldInputError({"label": ["Give the device a name of 1 to 100 characters."]})
    if owner.disabled:
        raise FieldInputError({"label": ["This account is disabled."]})
    field_key_current(session, actor)
    raw = DEVICE_TOKEN_PREFIX + secrets.token_urlsafe(32)
    device = FieldDevice(
        id=uuid.uuid4(), owner_id=owner.id, token_hash=device_token_hash(session, raw)
    )
    session.add(device)
    device.label = label
    session.flush()
    audit_record(
        session, actor, "field.device_create", object_type="field_device", object_id=device.id
    )
    return device, raw


def device_revoke(
    session: Session,
    actor: Actor,
    device: FieldDevice,
    attachments_dir: Path,
    ledger: Path | None,
) -> int:
    """Revoke a device; the parts of split submissions it had started are shredded at once
    (it can never send the rest). Returns how many were shredded."""
    if device.revoked_at is None:
        device.revoked_at = utcnow()
    session.flush()
    audit_record(
        session, actor, "field.device_revoke", object_type="field_device", object_id=device.id
    )
    partials = session.scalars(
        select(FieldSubmission)
        .where(FieldSubmission.device_id == device.id, FieldSubmission.state == "partial")
        .order_by(FieldSubmission.received_at, FieldSubmission.id)
    ).all()
    return _expire(session, actor, partials, attachments_dir, ledger, {"revoked": True})


def device_lookup(session: Session, raw: str) -> tuple[FieldDevice, User] | None:
    """The live device a token stands for and its owner (unrevoked, owner enabled)."""
    if not raw.startswith(DEVICE_TOKEN_PREFIX) or len(raw) > 100:
        return None
    found = session.execute(
        select(FieldDevice, User)
        .join(User, User.id == FieldDevice.owner_id)
        .where(FieldDevice.token_hash == device_token_hash(session, raw))
    ).first()
    if found is None:
        return None
    device, user = found
    if device.revoked_at is not None or user.disabled:
        return None
    now = datetime.now(UTC)
    if device.last_used_at is None or (now - device.last_used_at).total_seconds() > 300:
        device.last_used_at = now
    return device, user


# Refused submissions a device may send per window (seconds, most), counted in the database from
# the audit log's refusal entries, as wrong sign-in codes are (auth.services): a phone whose
# submissions keep being refused is probing, or broken, and either way waits.
DEVICE_REFUSAL_WINDOWS = ((3600, 10), (86400, 30))


def device_throttled(session: Session, device: FieldDevice, *, lock: bool = False) -> bool:
    """Whether any window of the device's refusal throttle is full. With `lock`, the device's
    row is locked first (PostgreSQL; SQLite's writing transaction holds the write lock already)
    so parallel requests from one device each see the refusals of the ones before."""
    from casebook.audit.models import AuditEntry

    if lock:
        session.execute(select(FieldDevice.id).where(FieldDevice.id == device.id).with_for_update())
    now = datetime.now(UTC)
    longest = max(seconds for seconds, _ in DEVICE_REFUSAL_WINDOWS)
    start = (now - timedelta(seconds=longest)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stamps = [
        datetime.strptime(at, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        for at in session.scalars(
            select(AuditEntry.occurred_at).where(
                AuditEntry.action == "field.submission_receive",
                AuditEntry.object_type == "field_device",
                AuditEntry.object_id == str(device.id),
                AuditEntry.outcome == "failure",
                AuditEntry.occurred_at >= start,
            )
        )
    ]
    return any(
        sum(1 for at in stamps if at > now - timedelta(seconds=seconds)) >= most
        for seconds, most in DEVICE_REFUSAL_WINDOWS
    )


# -- the form's key pair -------------------------------------------------------------------------


def field_key_current(session: Session, actor: Actor) -> FieldKey:
    """The newest key pair, made (and audited) the first time a form needs one."""
    key = session.scalars(
        select(FieldKey).order_by(FieldKey.created_at.desc(), FieldKey.id).limit(1)
    ).first()
    if key is not None:
        return key
    return field_key_create(session, actor)


def field_key_create(session: Session, actor: Actor) -> FieldKey:
    """A new RSA key pair: the form served from now on carries its public key (a new form
    version); the older private keys stay to read what phones encrypted before."""
    private_der, public_b64 = odk.generate_key_pair()
    key = FieldKey(id=uuid.uuid4(), public_key=public_b64)
    _vault(session).create_data_key(session, key.id)
    session.add(key)
    key.private = base64.b64encode(private_der).decode("ascii")
    session.flush()
    audit_record(session, actor, "field.key_create", object_type="field_key", object_id=key.id)
    return key


def _key_serial(session: Session, key: FieldKey) -> int:
    return len(
        session.scalars(select(FieldKey.id).where(FieldKey.created_at <= key.created_at)).all()
    )


def current_form(session: Session, actor: Actor) -> xlsform.BuiltForm:
    key = field_key_current(session, actor)
    return _built(xlsform.form_version(_key_serial(session, key)), key.public_key)


_FORMS: dict[tuple[str, str], xlsform.BuiltForm] = {}


def _built(version: str, public_key: str) -> xlsform.BuiltForm:
    """pyxform runs once per form version and key (about a tenth of a second)."""
    cache_key = (version, public_key)
    form = _FORMS.get(cache_key)
    if form is None:
        form = xlsform.build(version, public_key)
        _FORMS.clear()
        _FORMS[cache_key] = form
    return form


def field_keys_rewrap(session: Session, *, vault: Vault, **_: Any) -> int:
    """On `keys rotate`: rewrap the data keys sealing the form's private keys under the new
    primary KEK at once (a handful of rows; `keys rewrap` would reach them too)."""
    primary = vault.keyring.primary_id
    rows = session.execute(
        select(CaseKey.owner_id, CaseKey.wrapped).where(
            CaseKey.owner_id.in_(select(FieldKey.id)), CaseKey.kek_id != primary
        )
    ).all()
    for owner_id, wrapped in rows:
        session.execute(
            update(CaseKey)
            .where(CaseKey.owner_id == owner_id)
            .values(wrapped=vault.envelope.rewrap(str(owner_id), wrapped), kek_id=primary)
        )
    return len(rows)


def submissions_unlink_case(session: Session, *, case_id: uuid.UUID, **_: Any) -> None:
    """A case was erased: the submission it was saved from no longer names it."""
    session.execute(
        update(FieldSubmission).where(FieldSubmission.case_id == case_id).values(case_id=None)
    )


# -- receiving -----------------------------------------------------------------------------------


@dataclass
class Received:
    status: int  # 201 stored, 202 already received
    submission: FieldSubmission


@dataclass
class _Manifest:
    form_id: str
    version: str | None
    encrypted_key: str
    instance_id: str
    media: list[str]
    xml_file: str
    signature: str


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _refuse(reason: str, message: str, status: int = 400) -> SubmissionError:
    return SubmissionError(status, reason, message)


UNREADABLE = (
    "The submission could not be read: it was damaged on the way or encrypted for another "
    "server. Send it again; if this keeps happening, download the form again."
)


def _unreadable() -> SubmissionError:
    """The one refusal for every decryption, padding, digest and signature failure."""
    return _refuse("unreadable", UNREADABLE)


# No form nests its answers more than a few groups deep; a manifest or instance nested deeper
# is refused while it is parsed, before anything walks it (a deep tree makes recursive walks
# fail and searches slow).
MAX_XML_DEPTH = 50


def _parse_xml(raw: bytes) -> Element:
    root: Element | None = None
    depth = 0
    try:
        for event, node in SafeXML.iterparse(io.BytesIO(raw), events=("start", "end")):
            if event == "end":
                depth -= 1
                continue
            depth += 1
            if depth > MAX_XML_DEPTH:
                raise _refuse("xml_depth", "The submission is nested too deeply to be a form.")
            if root is None:
                root = node
    except SubmissionError:
        raise
    except Exception:  # defusedxml's refusals and expat's errors alike
        raise _refuse("xml", "The submission is not well-formed XML.") from None
    if root is None:
        raise _refuse("xml", "The submission is not well-formed XML.")
    return root


def _manifest(raw: bytes) -> _Manifest:
    root = _parse_xml(raw)
    if root.tag != f"{{{ENCRYPTED_NS}}}data" or (root.get("encrypted") or "").lower() != "yes":
        raise _refuse(
            "unencrypted",
            "This server accepts only encrypted submissions. Download the form again.",
        )

    def text(name: str, ns: str = ENCRYPTED_NS) -> str:
        node = root.find(f".//{{{ns}}}{name}")
        return (node.text or "").strip() if node is not None else ""

    media = [
        (node.text or "").strip()
        for node in root.iterfind(f"{{{ENCRYPTED_NS}}}media/{{{ENCRYPTED_NS}}}file")
    ]
    manifest = _Manifest(
        form_id=root.get("id") or "",
        version=root.get("version") or None,
        encrypted_key=text("base64EncryptedKey"),
        instance_id=text("instanceID", OPENROSA_NS),
        media=[m for m in media if m],
        xml_file=text("encryptedXmlFile"),
        signature=text("base64EncryptedElementSignature"),
    )
    if not (
        manifest.encrypted_key and manifest.instance_id and manifest.xml_file and manifest.signature
    ):
        raise _refuse("manifest", "The submission's manifest is incomplete.")
    if len(manifest.instance_id) > 200:
        raise _refuse("manifest", "The submission's instance ID is too long.")
    names = [*manifest.media, manifest.xml_file]
    if len(set(names)) != len(names) or any(not n.endswith(".enc") for n in names):
        raise _refuse("manifest", "The submission's manifest is incomplete.")
    return manifest


def instance_hash_of(session: Session, owner_id: uuid.UUID, instance_id: str) -> str:
    """The keyed hash of an instance ID within one documenter's submissions (its own purpose,
    so it never equals the global hash older rows carry)."""
    return _vault(session).keyed_hash("field-instance-owner", f"{owner_id}:{instance_id}")


def _private_keys(session: Session) -> list[bytes]:
    keys = session.scalars(select(FieldKey).order_by(FieldKey.created_at.desc())).all()
    return [base64.b64decode(k.private or "") for k in keys]


def submission_receive(
    session: Session,
    device: FieldDevice,
    manifest_xml: bytes,
    parts: Mapping[str, Chunked],
    attachments_dir: Path,
    *,
    incomplete: bool = False,
) -> Received:
    """Decrypt, check and keep one submission in the device owner's inbox, or refuse it with
    SubmissionError (nothing kept). A resent submission (same instance, same content) is
    answered 202 and stores nothing."""
    vault = _vault(session)
    actor = Actor(label=f"device:{device.id}", user_id=str(device.owner_id), role=None)
    manifest = _manifest(manifest_xml)
    if manifest.form_id != xlsform.FORM_ID:
        raise _refuse("form", "This server does not serve that form.", 404)
    instance_hash = instance_hash_of(session, device.owner_id, manifest.instance_id)
    content_hash = vault.keyed_hash(
        "field-content", manifest.encrypted_key + "\n" + manifest.signature
    )
    # Idempotency is per documenter: another documenter's submissions are never found here
    # (a device can neither learn that an instance ID exists elsewhere nor claim one to block
    # it). Rows received before the hash included the owner carry the global hash.
    existing = session.scalars(
        select(FieldSubmission)
        .where(
            FieldSubmission.owner_id == device.owner_id,
            FieldSubmission.instance_hash.in_(
                [instance_hash, vault.keyed_hash("field-instance", manifest.instance_id)]
            ),
        )
        .order_by(FieldSubmission.received_at.desc())
    ).first()
    if (
        existing is None
        and session.scalars(
            select(FieldSubmission.id).where(
                FieldSubmission.content_hash == content_hash,
                FieldSubmission.owner_id != device.owner_id,
            )
        ).first()
    ):
        # the very ciphertext another documenter's phone sent: never decrypted a second time
        raise _refuse("conflict", "This submission was already received from another device.", 409)
    restart = existing is not None and existing.state == "expired"
    if existing is not None and restart:
        # A split submission expired before its last part came; the phone now sends it whole
        # again: it starts afresh (the expired row's key and files are already gone).
        session.delete(existing)
        session.flush()
        existing = None
    if existing is not None:
        if existing.content_hash != content_hash:
            raise _refuse(
                "conflict",
                "A different submission with this instance ID was already received.",
                409,
            )
        if existing.state != "partial":
            audit_record(
                session,
                actor,
                "field.submission_receive",
                object_type="field_submission",
                object_id=existing.id,
                details={"device": str(device.id), "duplicate": True},
            )
            return Received(202, existing)
    partial = existing if existing is not None and existing.state == "partial" else None
    listed = {*manifest.media, manifest.xml_file}
    if incomplete:
        # ODK Collect splits a submission larger than X-OpenRosa-Accept-Content-Length into
        # several requests: their files wait, still encrypted by the phone and sealed again
        # under a data key of the submission, until the last request arrives.
        return _partial_keep(
            session,
            actor,
            device,
            partial,
            parts,
            listed,
            attachments_dir,
            instance_hash,
            content_hash,
        )
    pending: dict[str, PendingPart] = {}
    if partial is not None:
        pending = _pending_parts(session, partial, attachments_dir)
    parts = {**pending, **{n: p for n, p in parts.items() if n in listed}}
    missing = [n for n in [*manifest.media, manifest.xml_file] if n not in parts]
    if missing:
        raise _refuse("missing_part", "The submission is missing some of its files.")

    # Every way a submission can fail to decrypt (a key wrapped for another server, a file cut
    # short, a wrong padding, a wrong digest or signature) does the same work and ends in the
    # same refusal, decided once after everything was checked: an answer that told a bad
    # padding from a bad signature would be a padding oracle on any submission's ciphertext.
    keys = _private_keys(session)
    if not keys:  # no form was ever served: nothing can have been encrypted for this server
        raise _unreadable()
    symmetric: bytes | None = None
    private_used = keys[0]
    for private in keys:
        try:
            symmetric = odk.unwrap_symmetric_key(private, manifest.encrypted_key)
        except DecryptionError:
            continue
        private_used = private
        break
    readable = symmetric is not None
    if symmetric is None:
        symmetric = os.urandom(32)  # decrypt to noise, as much work, then refuse

    submission_id = partial.id if partial is not None else uuid.uuid4()
    ivs = odk.file_ivs(manifest.instance_id, symmetric)
    field_dir = _field_dir(attachments_dir)
    written: list[uuid.UUID] = []
    media_meta: list[FieldMedia] = []
    digests: list[tuple[str, str]] = []
    problems: dict[str, list[str]] = {}
    try:
        if partial is None:
            vault.create_data_key(session, submission_id)
        stream_key = vault.attachment_key(session, submission_id)
        for name in manifest.media:
            media_id = uuid.uuid4()
            written.append(media_id)
            whole, md5, sha256, size, content_type = _store_media(
                symmetric, next(ivs), stream_key, parts[name], field_dir, media_id
            )
            readable = whole and readable
            plain_name = clean_text(name.removesuffix(".enc"))
            digests.append((name.removesuffix(".enc"), md5))
            media_meta.append(
                {
                    "sha256": sha256,
                    "size": size,
                    "content_type": content_type,
                    "id": str(media_id),
                    "name": plain_name,
                }
            )
        xml_part = b"".join(parts[manifest.xml_file].chunks())
        plain_xml, xml_md5, whole = odk.decrypt_file_checked(symmetric, next(ivs), xml_part)
        lines = odk.signature_lines(
            manifest.form_id,
            manifest.version,
            manifest.encrypted_key,
            manifest.instance_id,
            digests,
            xml_md5,
        )
        signed = odk.signature_matches(private_used, manifest.signature, lines)
        if not (readable and whole and signed):
            raise _unreadable()
        root = _parse_xml(plain_xml)
        inner_id = _find_text(root, "instanceID")
        if inner_id != manifest.instance_id or root.get("id") != manifest.form_id:
            raise _unreadable()
        data, media_names = case_from_instance(root)
        for meta in media_meta:
            if meta["name"] not in media_names:
                meta["unused"] = True
            if meta.get("content_type") is None:
                problems.setdefault("attachments", []).append(
                    "Only images, PDF documents and audio recordings can be attached."
                )
        _clean, case_problems = case_validate(data)
        problems.update(case_problems)
        current = current_form(session, actor)
        note = None
        if manifest.version != current.version:
            serial = xlsform.version_serial(manifest.version)
            older = serial is not None and serial <= (xlsform.version_serial(current.version) or 0)
            if problems:
                # a form the server no longer serves is kept only if it still passes the rules
                reason = "old_version" if older else "unknown_version"
                raise SubmissionError(422, reason, reason, fields=sorted(problems))
            note = (
                "Sent with an older version of the form."
                if older
                else "Sent with an unknown form version."
            )
    except SubmissionError:
        _discard_files(field_dir, written)
        raise
    except DecryptionError:
        _discard_files(field_dir, written)
        raise _unreadable() from None
    except BaseException:
        _discard_files(field_dir, written)
        raise
    if partial is not None:
        submission = partial
        submission.state = "inbox"
        submission.received_at = datetime.now(UTC)
        done = [p.file_id for p in pending.values()]
        after_commit(session, lambda: _discard_files(field_dir, done))
    else:
        submission = FieldSubmission(
            id=submission_id,
            owner_id=device.owner_id,
            device_id=device.id,
            instance_hash=instance_hash,
            content_hash=content_hash,
            state="inbox",
        )
        session.add(submission)
    submission.body = {
        "data": data,
        "problems": problems,
        "note": note,
        "form_version": manifest.version,
        "media": media_meta,
    }
    session.flush()
    # Should the request fail after this point, the files stay encrypted under a data key that
    # was never committed: noise, like any file whose key is gone.
    audit_record(
        session,
        actor,
        "field.submission_receive",
        object_type="field_submission",
        object_id=submission.id,
        details={
            "device": str(device.id),
            "media": len(media_meta),
            "problems": len(problems),
            "older_version": note is not None,
        },
    )
    return Received(201, submission)


class Chunked(Protocol):
    def chunks(self) -> Iterator[bytes]: ...


@dataclass
class PendingPart:
    """A file of a split submission kept from an earlier request (the phone's ciphertext,
    sealed again under the submission's data key)."""

    file_id: uuid.UUID
    path: Path
    key: bytes | bytearray

    def chunks(self) -> Iterator[bytes]:
        try:
            with self.path.open("rb") as fh:
                yield from field_media_decryptor(self.key, str(self.file_id)).decrypt(fh)
        except (DecryptionError, OSError):
            raise EncryptedValueError("field_media", "blob", str(self.file_id)) from None


def _pending_parts(
    session: Session, partial: FieldSubmission, attachments_dir: Path
) -> dict[str, PendingPart]:
    key = _vault(session).attachment_key(session, partial.id)
    field_dir = _field_dir(attachments_dir)
    return {
        name: PendingPart(uuid.UUID(fid), field_dir / f"{fid}.bin", key)
        for name, fid in ((partial.body or {}).get("pending") or {}).items()
    }


def _partial_keep(
    session: Session,
    actor: Actor,
    device: FieldDevice,
    partial: FieldSubmission | None,
    parts: Mapping[str, Chunked],
    listed: set[str],
    attachments_dir: Path,
    instance_hash: str,
    content_hash: str,
) -> Received:
    """Keep the files of one request of a split submission (201, as OpenRosa asks)."""
    if partial is None:
        partial = FieldSubmission(
            id=uuid.uuid4(),
            owner_id=device.owner_id,
            device_id=device.id,
            instance_hash=instance_hash,
            content_hash=content_hash,
            state="partial",
        )
        _vault(session).create_data_key(session, partial.id)
        session.add(partial)
        partial.body = {"pending": {}}
    body = partial.body or {"pending": {}}
    pending: dict[str, str] = dict(body.get("pending") or {})
    key = _vault(session).attachment_key(session, partial.id)
    field_dir = _field_dir(attachments_dir)
    field_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name, part in parts.items():
        if name not in listed or name in pending:
            continue
        file_id = uuid.uuid4()
        fd = os.open(field_dir / f"{file_id}.bin", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            enc = field_media_encryptor(key, str(file_id), out)
            for chunk in part.chunks():
                enc.update(chunk)
            enc.finalize()
            out.flush()
            os.fsync(out.fileno())
        pending[name] = str(file_id)
    partial.body = {"pending": pending}
    partial.received_at = utcnow()  # the time of the latest part: expiry counts from it
    session.flush()
    audit_record(
        session,
        actor,
        "field.submission_receive",
        object_type="field_submission",
        object_id=partial.id,
        details={"device": str(device.id), "partial": True, "files": len(pending)},
    )
    return Received(201, partial)


def _store_media(
    symmetric: bytes,
    iv: bytes,
    stream_key: bytes | bytearray,
    spool: Chunked,
    field_dir: Path,
    media_id: uuid.UUID,
) -> tuple[bool, str, str, int, str | None]:
    """Decrypt one media part chunk by chunk straight into casebook's attachment encryption
    (the plaintext exists only in memory, a chunk at a time). Returns whether it decrypted
    whole (padding intact: decided later, with every other check, so that no failure is told
    apart), the MD5 the device signed, the SHA-256, the size and the content type."""
    field_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = field_dir / f"{media_id}.bin"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        enc = field_media_encryptor(stream_key, str(media_id), out)
        cfb = odk.CfbFileDecryptor(symmetric, iv)
        for chunk in spool.chunks():
            enc.update(cfb.update(chunk))
        tail, whole = cfb.finish()
        enc.update(tail)
        sha256 = enc.finalize()
        out.flush()
        os.fsync(out.fileno())
    return whole, cfb.md5_hex, sha256, enc.size, sniff(enc.head)


def _discard_files(field_dir: Path, ids: Iterable[uuid.UUID]) -> None:
    _shred_attachments(field_dir, list(ids))


def _find_text(root: Element, name: str) -> str:
    for node in root.iter():
        if _local(node.tag) == name and len(node) == 0:
            return (node.text or "").strip()
    return ""


def _scalar(root: Element, name: str, repeats: set[str]) -> str:
    """The first leaf named `name` outside the repeats."""

    def walk(node: Element) -> Iterator[Element]:
        for child in node:
            if _local(child.tag) in repeats:
                continue
            yield child
            yield from walk(child)

    for node in walk(root):
        if _local(node.tag) == name and len(node) == 0:
            return (node.text or "").strip()
    return ""


def case_from_instance(root: Element) -> tuple[dict[str, Any], set[str]]:
    """The field form's answers as a case object (design.md §3) and the media file names the
    answers refer to. Blank answers are left out; the case schema judges the rest."""
    repeats = {"arrest", "photo"}

    def get(name: str) -> str:
        return _scalar(root, name, repeats)

    def compact(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if v not in ("", None, [], {})}

    person = compact({name: get(name) for name in SCALAR_PERSON})
    arrests = []
    for node in root.iter():
        if _local(node.tag) != "arrest":
            continue
        values = {_local(c.tag): (c.text or "").strip() for c in node}
        row = compact(
            {
                "date": values.get("arrest_date", ""),
                "governorate": values.get("arrest_governorate", ""),
                "place": values.get("arrest_place", ""),
                "perpetrator": values.get("arrest_perpetrator", ""),
                "unit": values.get("arrest_unit", ""),
                "circumstances": values.get("arrest_circumstances", ""),
            }
        )
        if row:
            arrests.append(row)
    consent_date = get("consent_date")
    consent = {}
    for term in _consent_scopes():
        answer = get(f"consent_{term}")
        if answer in ("yes", "no"):
            consent[term] = {"granted": answer == "yes", "date": consent_date}
    data: dict[str, Any] = {"person": person, "arrests": arrests, "consent": consent}
    status = compact(
        {"status": get("status"), "date": get("status_date"), "source": get("status_source")}
    )
    if status:
        data["status"] = [status]
    source = compact(
        {
            "name": get("source_name"),
            "relationship": get("source_relationship"),
            "contact": get("source_contact"),
        }
    )
    confidential = get("source_confidential")
    source["confidential"] = confidential != "no"
    data["source"] = source
    testimony = get("testimony")
    if testimony:
        data["testimonies"] = [
            compact(
                {
                    "text": testimony,
                    "date": consent_date,
                    "language": get("testimony_language") or "ar",
                }
            )
        ]
    media = {get("audio_file")} | {
        _find_text(node, "photo_file") for node in root.iter() if _local(node.tag) == "photo"
    }
    return data, {clean_text(m) for m in media if m}


def _consent_scopes() -> list[str]:
    from casebook import vocab

    return [t.code for t in vocab.CONSENT_SCOPES.terms]


# -- the inbox -----------------------------------------------------------------------------------


def _close(
    session: Session,
    actor: Actor,
    submission: FieldSubmission,
    state: str,
    attachments_dir: Path,
    ledger: Path | None,
) -> None:
    """Close a submission: its data key is destroyed (its ciphertext becomes noise) and its
    media files are overwritten once the change has committed."""
    body = submission.body or {}
    media_ids = [uuid.UUID(m["id"]) for m in body.get("media", [])]
    media_ids += [uuid.UUID(fid) for fid in (body.get("pending") or {}).values()]
    submission.state = state
    submission.closed_at = utcnow()
    submission.body_enc = None
    session.flush()
    data_key_destroy(session, actor, _vault(session), submission.id, ledger)
    field_dir = _field_dir(attachments_dir)
    after_commit(session, lambda: _discard_files(field_dir, media_ids))


def submission_discard(
    session: Session,
    actor: Actor,
    submission: FieldSubmission,
    attachments_dir: Path,
    ledger: Path | None,
) -> None:
    if submission.state != "inbox":
        raise FieldInputError({"submission": ["This submission is no longer in the inbox."]})
    _close(session, actor, submission, "discarded", attachments_dir, ledger)
    audit_record(
        session,
        actor,
        "field.submission_discard",
        object_type="field_submission",
        object_id=submission.id,
    )


PARTIAL_KEPT_FOR = timedelta(hours=48)


def submissions_expire_partial(
    session: Session,
    actor: Actor,
    attachments_dir: Path,
    ledger: Path | None,
    *,
    older_than: timedelta = PARTIAL_KEPT_FOR,
) -> int:
    """Close split submissions whose last part never came: their files are shredded and their
    key destroyed. A phone that failed mid-way sends the whole submission again when it next
    tries, so nothing a documenter still needs is lost; without this the stored first parts
    (encrypted, but testimony all the same) would stay on the server for ever."""
    cutoff = utcnow() - older_than
    stale = session.scalars(
        select(FieldSubmission)
        .where(FieldSubmission.state == "partial", FieldSubmission.received_at < cutoff)
        .order_by(FieldSubmission.received_at, FieldSubmission.id)
    ).all()
    return _expire(session, actor, stale, attachments_dir, ledger)


def _expire(
    session: Session,
    actor: Actor,
    partials: Sequence[FieldSubmission],
    attachments_dir: Path,
    ledger: Path | None,
    details: dict[str, Detail] | None = None,
) -> int:
    """Shred split submissions that will never be completed, each audited."""
    for submission in partials:
        _close(session, actor, submission, "expired", attachments_dir, ledger)
        audit_record(
            session,
            actor,
            "field.submission_expire",
            object_type="field_submission",
            object_id=submission.id,
            details=details,
        )
    return len(partials)


def media_chunks(
    session: Session, submission: FieldSubmission, media: FieldMedia, attachments_dir: Path
) -> Iterator[bytes]:
    key = _vault(session).attachment_key(session, submission.id)
    path = _field_dir(attachments_dir) / f"{media['id']}.bin"
    try:
        with path.open("rb") as fh:
            yield from field_media_decryptor(key, media["id"]).decrypt(fh)
    except (DecryptionError, OSError):
        raise EncryptedValueError("field_media", "blob", str(media["id"])) from None


def submission_to_case(
    session: Session,
    actor: Actor,
    submission: FieldSubmission,
    case: Case,
    attachments_dir: Path,
    ledger: Path | None,
    limit: int,
    spool_dir: Path,
    created_by: uuid.UUID | None,
) -> int:
    """After the documenter saved the case: its media become the case's attachments
    (re-encrypted under the case's key, custody starting at intake) and the submission is
    closed. Returns how many attachments were kept."""
    if submission.state != "inbox":
        raise FieldInputError({"submission": ["This submission is no longer in the inbox."]})
    body = submission.body or {}
    kept = 0
    for media in body.get("media", []):
        if media.get("content_type") is None:
            continue
        spool = EncryptedSpool(spool_dir)
        try:
            for chunk in media_chunks(session, submission, media, attachments_dir):
                spool.write(chunk)
            stored = attachment_store(
                session,
                actor,
                case,
                spool,
                media.get("name") or "attachment",
                attachments_dir,
                limit,
                created_by,
            )
        finally:
            spool.close()
        if not isinstance(stored, str):
            kept += 1
    submission.case_id = case.id
    _close(session, actor, submission, "saved", attachments_dir, ledger)
    audit_record(
        session,
        actor,
        "field.submission_save",
        object_type="field_submission",
        object_id=submission.id,
        details={"case": str(case.id), "attachments": kept},
    )
    return kept

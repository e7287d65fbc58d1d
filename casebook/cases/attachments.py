"""Attachments: encrypted as the upload is parsed, so plaintext never reaches a temporary file
(Werkzeug would otherwise spill uploads over 500 KB to one), and checked by content.

Uploads arrive in an `EncryptedSpool` (see casebook.uploads); once the view has authorised the
case and checked the type, the file is re-encrypted under the case's attachment key into
`instance/attachments/<id>.part`, renamed to `.bin` when complete.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from casebook.audit.services import Actor, audit_record
from casebook.cases.models import Attachment, Case
from casebook.encrypted import DecryptionError, EncryptedValueError, StreamDecryptor, Vault
from casebook.inputs import clean_text
from casebook.uploads import EncryptedSpool

# Allowed types, recognised by their first bytes (never by the name or the declared type).
SIGNATURES: tuple[tuple[str, bytes, int], ...] = (
    ("image/jpeg", b"\xff\xd8\xff", 0),
    ("image/png", b"\x89PNG\r\n\x1a\n", 0),
    ("image/gif", b"GIF8", 0),
    ("application/pdf", b"%PDF-", 0),
    ("audio/mpeg", b"ID3", 0),
    ("audio/ogg", b"OggS", 0),
    ("audio/amr", b"#!AMR", 0),
    ("audio/flac", b"fLaC", 0),
)


def sniff(head: bytes) -> str | None:
    """The content type of a file from its first bytes, if it is on the allowlist."""
    for kind, magic, offset in SIGNATURES:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"M4A ", b"M4B ", b"mp42", b"isom", b"3gp4", b"3gp5"):
            return "audio/mp4"
        if brand in (b"heic", b"heix", b"mif1"):
            return "image/heic"
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        return "audio/mpeg"  # MPEG audio frame without an ID3 tag
    return None


EXTENSIONS = {
    "image/jpeg": (".jpg", ".jpeg", ".jpe", ".jfif"),
    "image/png": (".png",),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/heic": (".heic", ".heif"),
    "application/pdf": (".pdf",),
    "audio/mpeg": (".mp3", ".mpeg", ".mpga"),
    "audio/ogg": (".ogg", ".oga", ".opus"),
    "audio/amr": (".amr",),
    "audio/flac": (".flac",),
    "audio/wav": (".wav",),
    "audio/mp4": (".m4a", ".m4b", ".mp4", ".3gp", ".aac"),
}
MAX_FILENAME = 200


def clean_filename(name: str, content_type: str | None = None) -> str:
    """The name an attachment is shown and downloaded under. It is the uploader's text: without
    control or bidi characters (a right-to-left override makes "inv\\u202efdp.exe" display as
    "invexe.pdf"), without folders, at most 200 characters with the extension kept; and when
    its extension does not fit the type found in the content, that type's extension is added,
    so the name saved on disk says what the file is."""
    text = clean_text(name or "")
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = " ".join(text.split()).strip(" .")
    stem, dot, ext = text.rpartition(".")
    if not dot:
        stem, ext = text, ""
    suffix = f".{ext}" if dot else ""
    wanted = EXTENSIONS.get(content_type or "")
    if wanted and suffix.lower() not in wanted:
        stem, suffix = text, wanted[0]
    stem = stem.strip(" .") or "attachment"
    return stem[: MAX_FILENAME - len(suffix)].rstrip(" .") + suffix


def attachment_store(
    session: Session,
    actor: Actor,
    case: Case,
    spool: EncryptedSpool,
    filename: str,
    directory: Path,
    limit: int,
    created_by: uuid.UUID | None,
) -> Attachment | str:
    """Keep an uploaded file under the case's key, or return why it was refused.

    The type is checked from the first bytes before anything is kept; the SHA-256 of the
    original is computed while re-encrypting, and recorded as the first custody event.
    """
    spool.seek(0)
    kind = sniff(spool.head)
    if kind is None or spool.size == 0:
        audit_record(
            session,
            actor,
            "case.attachment_add",
            object_type="case",
            object_id=case.id,
            outcome="failure",
            details={"reason": "type"},
        )
        return "Only images, PDF documents and audio recordings can be attached."
    vault = session.info["vault"]
    attachment_id = uuid.uuid4()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    part = directory / f"{attachment_id}.part"
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            enc = vault.attachment_encryptor(session, case.id, attachment_id, out, limit=limit)
            for chunk in spool.chunks():
                enc.update(chunk)
            sha256 = enc.finalize()
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    attachment = Attachment(id=attachment_id, case_id=case.id, created_by=created_by, meta_enc=b"")
    session.add(attachment)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    attachment.meta = {
        "filename": clean_filename(filename, kind),
        "content_type": kind,
        "size": enc.size,
        "sha256": sha256,
        "custody": [
            {"event": "received", "at": now, "by": actor.user_id or actor.label, "sha256": sha256}
        ],
    }
    part.rename(part.with_suffix(".bin"))
    session.flush()
    audit_record(
        session,
        actor,
        "case.attachment_add",
        object_type="case",
        object_id=case.id,
        details={"attachment": str(attachment.id), "content_type": kind, "size": enc.size},
    )
    return attachment


def attachment_chunks(
    vault: Vault, session: Session, attachment: Attachment, directory: Path
) -> Iterator[bytes]:
    """Decrypt an attachment chunk by chunk, after a first pass has authenticated every chunk:
    a tampered or truncated file is refused before a single byte is sent (a failure halfway
    through a streamed body could not change the response status any more)."""
    path = directory / f"{attachment.id}.bin"
    decryptor = vault.attachment_decryptor(session, attachment.case_id, attachment.id)
    try:
        with path.open("rb") as fh:
            for _ in decryptor.decrypt(fh):
                pass
    except (DecryptionError, OSError):
        raise EncryptedValueError("attachments", "blob", str(attachment.id)) from None
    return _stream(path, decryptor)


def _stream(path: Path, decryptor: StreamDecryptor) -> Iterator[bytes]:
    with path.open("rb") as fh:
        yield from decryptor.decrypt(fh)


def attachment_move(
    session: Session,
    actor: Actor,
    attachment: Attachment,
    target: Case,
    from_reference: str,
    directory: Path,
) -> None:
    """Move an attachment to another case (a merge): the file is re-encrypted under the target
    case's key and its custody log records the move, so the chain of custody stays whole."""
    vault: Vault = session.info["vault"]
    meta = attachment.meta or {}
    source = vault.attachment_decryptor(session, attachment.case_id, attachment.id)
    path = directory / f"{attachment.id}.bin"
    part = directory / f"{attachment.id}.moving"
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, path.open("rb") as src:
            enc = vault.attachment_encryptor(session, target.id, attachment.id, out)
            for chunk in source.decrypt(src):
                enc.update(chunk)
            digest = enc.finalize()
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    if digest != meta.get("sha256"):
        part.unlink(missing_ok=True)
        raise EncryptedValueError("attachments", "blob", str(attachment.id))
    attachment.case_id = target.id
    custody = list(meta.get("custody") or [])
    custody.append(
        {
            "event": "moved",
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "by": actor.user_id or actor.label,
            "from": from_reference,
            "sha256": digest,
        }
    )
    attachment.meta = {**meta, "custody": custody, "merged_from": from_reference}
    session.flush()
    os.replace(part, path)


def attachment_downloaded(session: Session, actor: Actor, attachment: Attachment) -> None:
    audit_record(
        session,
        actor,
        "case.attachment_download",
        object_type="case",
        object_id=attachment.case_id,
        details={"attachment": str(attachment.id)},
    )

"""Field devices, the instance's RSA key pairs for encrypted forms, and inbox submissions.

A device is a bearer credential: only a keyed hash of its token is stored. The RSA private key
is sealed under a data key of its own in `case_keys` (wrapped by the KEK, rewrapped by `keys
rewrap` like every data key). A submission's content is sealed under its own data key too, so
discarding or saving it destroys that key and the ciphertext left behind is noise.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NotRequired, TypedDict

from sqlalchemy import ForeignKey, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from casebook.db import Base, UTCDateTime, new_id, utcnow
from casebook.encrypted import Sealed


class FieldDevice(Base):
    __tablename__ = "field_devices"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    label_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    label = Sealed[str]("label_enc", key="system")


class FieldKey(Base):
    """An RSA key pair of the encrypted form. The newest one is served; older ones stay to
    read what phones encrypted with them."""

    __tablename__ = "field_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    public_key: Mapped[str] = mapped_column(Text)  # base64 DER, as the form carries it
    private_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    private = Sealed[str]("private_enc", owner="id")  # base64 PKCS#8 DER


class FieldMedia(TypedDict):
    """A file of a submission, sealed in its body: stored under the submission's own key
    (field_media_encryptor) until it becomes a case's attachment or is shredded."""

    sha256: str
    size: int
    content_type: str | None  # None: not an allowed kind of file (never attached)
    id: str
    name: str
    unused: NotRequired[bool]  # no answer of the form names it


class FieldSubmissionBody(TypedDict, total=False):
    """The sealed body of a submission: a split submission's files while it is `partial`
    (`pending`: file name -> file id), then the answers and files of the whole one."""

    # the answers as a case object, as the device sent them: not a record until the documenter
    # saves the case and the case schema loads it (so any JSON object)
    data: dict[str, Any]
    problems: dict[str, list[str]]  # what the case schema said of `data`, by field path
    note: str | None
    form_version: str | None
    media: list[FieldMedia]
    pending: dict[str, str]


class FieldSubmission(Base):
    """One received instance. `instance_hash` (keyed hash of the owner and the instanceID) makes
    a resent submission idempotent within one documenter's submissions; `content_hash` (keyed
    hash of the wrapped key and signature) keeps one encryption out of a second inbox; `state`
    is partial, inbox, saved, discarded or expired."""

    __tablename__ = "field_submissions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("field_devices.id", ondelete="SET NULL"), nullable=True
    )
    instance_hash: Mapped[str] = mapped_column(String(64), unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    state: Mapped[str] = mapped_column(String(12), default="inbox", index=True)
    case_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), nullable=True
    )
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    body_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)

    body = Sealed[FieldSubmissionBody]("body_enc", owner="id")

"""The one bridge between models and crypto/.

`Vault` holds the loaded keyring, derived sub-keys, blind indexes and a bounded cache of
unwrapped data keys (a 50-row page costs one unwrap per case, then one AES-GCM per field).
Every key it holds is a bytearray that `Vault.seal` overwrites with zeros; a sealed vault
refuses every key operation (and does not reload its keys by itself) until `Vault.unseal`.
`Sealed` is a descriptor for model attributes: reading decrypts, writing encrypts, and the
associated data binds every ciphertext to its table, column, row id and key version.

This is the only module of casebook that imports `crypto` (key management in
`casebook.keys.services` excepted): every seal and open of a field, an attachment stream, an
upload spool or a backup archive goes through the functions and `Vault` methods below, and the
associated data of a field ciphertext is built by `field_aad` alone. An import-linter contract
(pyproject) and tests/security/test_crypto_bridge.py keep it that way.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import json
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, Generic, Literal, TypeVar, overload

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import Session, object_session

from crypto import (
    BlindIndex,
    CheckpointSigner,
    CryptoError,
    DecryptionError,
    Envelope,
    FieldCipher,
    FileKeySource,
    IncrementalStreamEncryptor,
    KeyRing,
    KeySource,
    KeySourceError,
    PassphraseKeySource,
    StreamDecryptor,
    associated_data,
    blind_index_bits,
)
from crypto import odk as odk_protocol
from crypto.archive import archive_header, archive_read, archive_verify, archive_write
from crypto.memory import wipe

__all__ = [
    "CheckpointSigner",
    "CryptoError",
    "DecryptionError",
    "EncryptedValueError",
    "FieldCipher",
    "IncrementalStreamEncryptor",
    "KeyRing",
    "KeySourceError",
    "PassphraseKeySource",
    "Sealed",
    "StreamDecryptor",
    "Vault",
    "column_opener",
    "field_aad",
    "field_media_decryptor",
    "field_media_encryptor",
    "key_source_from_setting",
    "odk_protocol",
    "open_json",
    "seal_json",
    "spool_decryptor",
    "spool_encryptor",
    "vault_of",
    "wipe",
]

SYSTEM_KEY_VERSION = 1
ATTACHMENT_KEY_VERSION = 1
_DEK_CACHE_SIZE = 8192
_UPLOAD_SPOOL_AAD = b"casebook-upload-spool"


def field_aad(table: str, column: str, row_id: str, key_version: int) -> bytes:
    """The associated data of a field ciphertext (``cb1|table|column|row id|key version``): the
    one place casebook builds it, so that a value sealed anywhere opens everywhere."""
    return associated_data(table, column, row_id, key_version)


class EncryptedValueError(DecryptionError):
    """A stored ciphertext failed to decrypt; carries where, never what."""

    def __init__(self, table: str, column: str, row_id: str) -> None:
        super().__init__("a stored value could not be decrypted")
        self.table = table
        self.column = column
        self.row_id = row_id


class VaultSealedError(KeySourceError):
    """The keys were dropped from memory (the service is sealed): nothing can be decrypted."""

    def __init__(self) -> None:
        super().__init__("casebook is sealed: its keys are not in memory")


def key_source_from_setting(
    setting: str, instance: Path, passphrase: Callable[[], str]
) -> KeySource:
    """`file:PATH` or `passphrase` (the sealed keyring lives in the instance folder)."""
    if setting.startswith("file:"):
        return FileKeySource(Path(setting.removeprefix("file:")))
    return PassphraseKeySource(instance / "keyring.sealed", passphrase)


class Vault:
    """Keys of one running app. Load once at start; every crypto call of the app goes here."""

    def __init__(self, source: KeySource, expected_records: int) -> None:
        self.source = source
        self.expected_records = expected_records
        self.index_bits = blind_index_bits(expected_records)
        self._lock = threading.Lock()
        self._keyring: KeyRing | None = None
        self._envelope: Envelope | None = None
        self._deks: OrderedDict[uuid.UUID, FieldCipher] = OrderedDict()
        self._derived: dict[str, Any] = {}
        self._sealed = False

    # -- loading -----------------------------------------------------------------------------
    def load(self) -> None:
        """Load the keyring now; raises KeySourceError with an operator-facing sentence."""
        if self._sealed:
            raise VaultSealedError()
        keyring = self.source.load()
        with self._lock:
            old, self._keyring = self._keyring, keyring
            self._envelope = Envelope(keyring)
            self._derived.clear()
        if old is not None and old is not keyring:
            old.wipe()

    def reload(self) -> None:
        """Pick up a keyring changed by `casebook keys rotate` in another process."""
        if self._sealed:
            raise VaultSealedError()
        keyring = self.source.load()
        with self._lock:
            old, self._keyring = self._keyring, keyring
            if self._envelope is None:
                self._envelope = Envelope(keyring)
            else:
                self._envelope.replace_keyring(keyring)
        if old is not None and old is not keyring:
            old.wipe()

    @property
    def loaded(self) -> bool:
        return self._keyring is not None

    @property
    def sealed(self) -> bool:
        return self._sealed

    def seal(self) -> None:
        """Drop every key from memory, overwriting what casebook holds: the KEKs and the root
        (the keyring), the derived keys (system, TOTP, blind indexes, keyed hashes, checkpoint
        seed), every cached data key, and the source's unlock key (passphrase). Until `unseal`
        every key operation raises VaultSealedError; nothing reloads the keys by itself."""
        with self._lock:
            self._sealed = True
            keyring, self._keyring = self._keyring, None
            envelope, self._envelope = self._envelope, None
            ciphers = list(self._deks.values())
            self._deks.clear()
            derived = list(self._derived.values())
            self._derived.clear()
        if envelope is not None:
            envelope.forget()
        for cipher in ciphers:
            cipher.wipe()
        for value in derived:
            if isinstance(value, FieldCipher):
                value.wipe()
            elif isinstance(value, bytearray):
                wipe(value)
        if keyring is not None:
            keyring.wipe()
        forget = getattr(self.source, "forget", None)
        if callable(forget):
            forget()

    def unseal(self, passphrase: str | None = None, unlock_key: bytearray | None = None) -> None:
        """Load the keys again from the source (with `passphrase`, or with an `unlock_key`
        another local process derived from it, for a passphrase source, when one is given); the
        vault stays sealed if that fails (KeySourceError). The source keeps `unlock_key` itself
        (no copy) and overwrites it when it forgets (at the next seal, or when it is wrong)."""
        if unlock_key is not None:
            if not isinstance(self.source, PassphraseKeySource):
                wipe(unlock_key)
                raise KeySourceError("this key source takes no unlock key")
            keyring = self.source.load_with_key(unlock_key)
        elif passphrase is not None and isinstance(self.source, PassphraseKeySource):
            keyring = self.source.load_with(passphrase)
        else:
            keyring = self.source.load()
        with self._lock:
            old, self._keyring = self._keyring, keyring
            self._envelope = Envelope(keyring)
            self._derived.clear()
            self._sealed = False
        if old is not None and old is not keyring:
            old.wipe()

    def unlock_key(self) -> bytearray | None:
        """A passphrase source's unlock key as held now (the buffer itself: the unseal
        hand-off sends it from there to the server's master), or None."""
        if self._sealed or not isinstance(self.source, PassphraseKeySource):
            return None
        return self.source.unlock_key()

    @property
    def keyring(self) -> KeyRing:
        if self._keyring is None:
            self.load()
        keyring = self._keyring
        if keyring is None:
            raise VaultSealedError()
        return keyring

    @property
    def envelope(self) -> Envelope:
        if self._envelope is None:
            self.load()
        envelope = self._envelope
        if envelope is None:
            raise VaultSealedError()
        return envelope

    def _derive(self, purpose: str) -> bytearray:
        slot = f"raw:{purpose}"  # the objects built on a key are cached under other names
        value = self._derived.get(slot)
        if value is None:
            value = self.keyring.derive(purpose)
            with self._lock:
                if self._sealed:
                    wipe(value)
                    raise VaultSealedError()
                existing = self._derived.setdefault(slot, value)
            if existing is not value:
                wipe(value)
                value = existing
        assert isinstance(value, bytearray)
        return value

    # -- derived keys --------------------------------------------------------------------------
    def system_cipher(self, purpose: Literal["system", "totp", "facets"]) -> FieldCipher:
        """Cipher for values that belong to no case (staff emails, TOTP secrets)."""
        key = f"cipher:{purpose}"
        cipher = self._derived.get(key)
        if cipher is None:
            cipher = FieldCipher(self._derive(purpose), SYSTEM_KEY_VERSION)
            with self._lock:
                if self._sealed:
                    raise VaultSealedError()
                cipher = self._derived.setdefault(key, cipher)
        assert isinstance(cipher, FieldCipher)
        return cipher

    def keyed_hash(self, purpose: str, value: str) -> str:
        """Full-length HMAC for exact lookups of unique values (login email, token, codes)."""
        index = BlindIndex(purpose, self._derive(f"hmac:{purpose}"), 256)
        return f"{index.value(value):064x}"

    def blind_index(self, name: str) -> BlindIndex:
        key = f"bidx:{name}"
        index = self._derived.get(key)
        if index is None:
            index = BlindIndex(name, self._derive(key), self.index_bits)
            with self._lock:
                index = self._derived.setdefault(key, index)
        assert isinstance(index, BlindIndex)
        return index

    def checkpoint_signer(self) -> CheckpointSigner:
        return CheckpointSigner(self._derive("audit-checkpoint"))

    # -- data keys -----------------------------------------------------------------------------
    def new_wrapped_key(self, owner_id: uuid.UUID) -> tuple[FieldCipher, dict[str, Any]]:
        """A fresh data key and the `case_keys` row that stores it wrapped (batch writers)."""
        dek = self.envelope.new_data_key()
        wrapped = self.envelope.wrap(str(owner_id), dek)
        row = {
            "owner_id": owner_id,
            "dek_version": 1,
            "kek_id": self.envelope.kek_id_of(wrapped),
            "wrapped": wrapped,
        }
        return FieldCipher(dek, 1), row

    def create_data_key(self, session: Session, owner_id: uuid.UUID) -> FieldCipher:
        from casebook.keys.models import CaseKey

        dek = self.envelope.new_data_key()
        wrapped = self.envelope.wrap(str(owner_id), dek)
        session.add(
            CaseKey(
                owner_id=owner_id,
                dek_version=1,
                kek_id=self.envelope.kek_id_of(wrapped),
                wrapped=wrapped,
            )
        )
        return self._remember(owner_id, FieldCipher(dek, 1))

    def data_cipher(self, session: Session, owner_id: uuid.UUID) -> FieldCipher:
        with self._lock:
            cipher = self._deks.get(owner_id)
            if cipher is not None:
                self._deks.move_to_end(owner_id)
                return cipher
        row = session.execute(_wrapped_key_query(), {"owner_id": owner_id}).first()
        if row is None:
            raise EncryptedValueError("case_keys", "wrapped", str(owner_id))
        try:
            data_key = self._unwrap(str(owner_id), row.wrapped)
        except DecryptionError:
            raise EncryptedValueError("case_keys", "wrapped", str(owner_id)) from None
        return self._remember(owner_id, FieldCipher(data_key, row.dek_version))

    def attachment_key(self, session: Session, owner_id: uuid.UUID) -> bytearray:
        """A key for the owner's attachment streams, derived from its data key with HKDF so
        that field nonces and stream nonces never share a key (and shredding covers both)."""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        data_key = self._data_key(session, owner_id)
        out = bytearray(32)
        try:
            HKDF(
                algorithm=hashes.SHA256(), length=32, salt=None, info=b"casebook:attachment-stream"
            ).derive_into(data_key, out)
        finally:
            wipe(data_key)
        return out

    def attachment_encryptor(
        self,
        session: Session,
        owner_id: uuid.UUID,
        attachment_id: uuid.UUID,
        out: BinaryIO,
        limit: int | None = None,
    ) -> IncrementalStreamEncryptor:
        """Seal an attachment's bytes into `out` under its owner's attachment key, bound to the
        attachment's id (a file copied under another attachment's name does not open)."""
        return IncrementalStreamEncryptor(
            self.attachment_key(session, owner_id),
            ATTACHMENT_KEY_VERSION,
            _attachment_aad(attachment_id),
            out,
            limit=limit,
        )

    def attachment_decryptor(
        self, session: Session, owner_id: uuid.UUID, attachment_id: uuid.UUID
    ) -> StreamDecryptor:
        return StreamDecryptor(
            self.attachment_key(session, owner_id), _attachment_aad(attachment_id)
        )

    # -- backup archives -------------------------------------------------------------------------
    def seal_archive(self, fmt: int, created_at: str, engine: str, body: bytes) -> bytes:
        """A signed archive of `body` under a fresh key, wrapped by the primary KEK and bound to
        the archive's random id; the plain header names the format, time and engine."""
        archive_id = str(uuid.uuid4())
        key = os.urandom(32)
        wrapped = self.envelope.wrap(f"backup:{archive_id}", key)
        header = {
            "format": fmt,
            "archive_id": archive_id,
            "created_at": created_at,
            "engine": engine,
            "kek_id": self.keyring.primary_id,
            "wrapped_key": base64.b64encode(wrapped).decode(),
        }
        return archive_write(header, key, self.checkpoint_signer(), body)

    def open_archive(self, data: bytes) -> tuple[dict[str, Any], bytes]:
        """The header and body of an archive, after its signature and every chunk are checked;
        raises DecryptionError, KeyError or ValueError on anything else."""
        header = archive_header(data)
        public_key = self.checkpoint_signer().public_key
        archive_verify(data, public_key)
        key = self.envelope.unwrap(
            f"backup:{header['archive_id']}", base64.b64decode(header["wrapped_key"])
        ).key
        return header, archive_read(data, public_key, key)

    def _data_key(self, session: Session, owner_id: uuid.UUID) -> bytearray:
        from casebook.keys.models import CaseKey

        wrapped = session.execute(
            select(CaseKey.wrapped).where(CaseKey.owner_id == owner_id)
        ).scalar()
        if wrapped is None:
            raise EncryptedValueError("case_keys", "wrapped", str(owner_id))
        try:
            return self._unwrap(str(owner_id), wrapped)
        except DecryptionError:
            raise EncryptedValueError("case_keys", "wrapped", str(owner_id)) from None

    def prefetch(self, session: Session, owner_ids: list[uuid.UUID]) -> None:
        """Unwrap the data keys of a whole page with one query instead of one per row."""
        from casebook.keys.models import CaseKey

        with self._lock:
            missing = [o for o in owner_ids if o not in self._deks]
        if not missing:
            return
        rows = session.execute(
            select(CaseKey.owner_id, CaseKey.wrapped, CaseKey.dek_version).where(
                CaseKey.owner_id.in_(missing)
            )
        ).all()
        for owner_id, wrapped, version in rows:
            self.take_wrapped(owner_id, wrapped, version)

    def take_wrapped(self, owner_id: uuid.UUID, wrapped: bytes | None, version: int | None) -> None:
        """Unwrap and cache a data key read alongside its owner's row (the case page joins it
        to the case lookup: one round trip fewer than data_cipher's own query)."""
        if wrapped is None or version is None:
            return  # no key: data_cipher reports it when a field is read
        with self._lock:
            if owner_id in self._deks:
                return
        try:
            key = self._unwrap(str(owner_id), wrapped)
        except DecryptionError:
            return  # reported when a field is read
        self._remember(owner_id, FieldCipher(key, version))

    def open_sealed(
        self,
        owner_id: uuid.UUID,
        wrapped: bytes | None,
        version: int | None,
        where: tuple[str, str, str],
        blob: bytes,
    ) -> Any:
        """A sealed value read with its owner's wrapped key in the same row, decrypted without
        ORM objects or the key cache: for readers of every case in turn (linkage), where
        building objects and caching a million keys cost more than the decryption itself.
        `where` is (table, column, row id), as bound into the value's associated data."""
        table, column, row_id = where
        if wrapped is None or version is None:
            raise EncryptedValueError("case_keys", "wrapped", str(owner_id))
        try:
            cipher = FieldCipher(self._unwrap(str(owner_id), wrapped), version)
        except DecryptionError:
            raise EncryptedValueError("case_keys", "wrapped", str(owner_id)) from None
        try:
            raw = cipher.decrypt(blob, field_aad(table, column, row_id, version))
        except DecryptionError:
            raise EncryptedValueError(table, column, row_id) from None
        finally:
            cipher.wipe()  # used once: not cached, so overwritten now
        return json.loads(raw)

    def _unwrap(self, owner: str, wrapped: bytes) -> bytearray:
        kek_id = Envelope.kek_id_of(wrapped)
        if not self.keyring.has(kek_id):
            # rotated by another process since this one loaded its keyring
            with contextlib.suppress(KeySourceError):
                self.reload()
        return self.envelope.unwrap(owner, wrapped).key

    def _remember(self, owner_id: uuid.UUID, cipher: FieldCipher) -> FieldCipher:
        """Cache a data key's cipher and return the one to use: a cipher another thread cached
        meanwhile wins (the newcomer is wiped); keys pushed out of the cache are wiped."""
        evicted: list[FieldCipher] = []
        with self._lock:
            if self._sealed:
                cipher.wipe()
                raise VaultSealedError()
            current = self._deks.get(owner_id)
            if current is not None:
                self._deks.move_to_end(owner_id)
                evicted.append(cipher)
                cipher = current
            else:
                self._deks[owner_id] = cipher
                while len(self._deks) > _DEK_CACHE_SIZE:
                    evicted.append(self._deks.popitem(last=False)[1])
        for old in evicted:
            old.wipe()
        return cipher

    def forget(self, owner_id: uuid.UUID) -> None:
        with self._lock:
            cipher = self._deks.pop(owner_id, None)
        if cipher is not None:
            cipher.wipe()

    def forget_all(self) -> None:
        with self._lock:
            ciphers = list(self._deks.values())
            self._deks.clear()
        for cipher in ciphers:
            cipher.wipe()


def encode_json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def seal_json(cipher: FieldCipher, table: str, column: str, row_id: str, value: object) -> bytes:
    """The one encoding of an encrypted attribute: compact UTF-8 JSON under AES-GCM, bound to
    its table, column, row and key version. `Sealed` and the batch writers both use it."""
    return cipher.encrypt(encode_json(value), field_aad(table, column, row_id, cipher.version))


def open_json(cipher: FieldCipher, table: str, column: str, row_id: str, blob: bytes) -> Any:
    """The inverse of `seal_json`, for values read as bare columns (no ORM object); a value
    that fails to open raises EncryptedValueError, which names where, never what."""
    try:
        raw = cipher.decrypt(blob, field_aad(table, column, row_id, cipher.version))
    except DecryptionError:
        raise EncryptedValueError(table, column, row_id) from None
    return json.loads(raw)


def column_opener(cipher: FieldCipher, table: str, column: str) -> Callable[[str, bytes], Any]:
    """`open_json` for one column of many rows (scans that run once per case): the associated
    data around the row id is built once by `field_aad`, then only the id changes per row."""
    head, tail = field_aad(table, column, "\x00", cipher.version).split(b"\x00")
    decrypt, loads = cipher.decrypt, json.loads

    def open_row(row_id: str, blob: bytes) -> Any:
        try:
            raw = decrypt(blob, head + row_id.encode() + tail)
        except DecryptionError:
            raise EncryptedValueError(table, column, row_id) from None
        return loads(raw)

    return open_row


def _attachment_aad(attachment_id: uuid.UUID) -> bytes:
    return field_aad("attachments", "blob", str(attachment_id), ATTACHMENT_KEY_VERSION)


def spool_encryptor(key: bytes, out: BinaryIO, limit: int | None) -> IncrementalStreamEncryptor:
    """An upload spool's stream, under a key that exists only in the request's memory."""
    return IncrementalStreamEncryptor(key, 0, _UPLOAD_SPOOL_AAD, out, limit=limit)


def spool_decryptor(key: bytes) -> StreamDecryptor:
    return StreamDecryptor(key, _UPLOAD_SPOOL_AAD)


def _field_media_aad(media_id: str) -> bytes:
    return field_aad("field_media", "blob", media_id, 1)


def field_media_encryptor(
    key: bytes | bytearray, media_id: str, out: BinaryIO
) -> IncrementalStreamEncryptor:
    """A field submission's file, sealed as it streams in under the submission's own key (what
    a device sends is never on disk in plaintext). ODK's own submission encryption, which the
    device applies and the server removes, is `odk_protocol` (crypto.odk)."""
    return IncrementalStreamEncryptor(key, 1, _field_media_aad(media_id), out)


def field_media_decryptor(key: bytes | bytearray, media_id: str) -> StreamDecryptor:
    return StreamDecryptor(key, _field_media_aad(media_id))


@functools.cache
def _wrapped_key_query() -> Select[bytes, int]:
    """Built once, on first use (the keys model imports this module)."""
    from casebook.keys.models import CaseKey

    return select(CaseKey.wrapped, CaseKey.dek_version).where(
        CaseKey.owner_id == bindparam("owner_id")
    )


def vault_of(obj: object) -> tuple[Vault, Session]:
    session = object_session(obj)
    if session is None:
        raise RuntimeError("encrypted attributes need the object to be in a session")
    vault = session.info.get("vault")
    if not isinstance(vault, Vault):
        raise RuntimeError("this session has no vault")
    return vault, session


T = TypeVar("T")
_MISSING = object()


class Sealed(Generic[T]):
    """An encrypted attribute stored in the LargeBinary column `column`.

    ``key="case"`` uses the DEK of the row's ``owner`` attribute (the case id); ``key="system"``
    or ``"totp"`` a derived key for rows that belong to no case. Values are JSON; a read returns
    a fresh copy, so change a value by assigning it again.
    """

    def __init__(
        self,
        column: str,
        *,
        key: Literal["case", "system", "totp", "facets"] = "case",
        owner: str = "case_id",
    ) -> None:
        self.column = column
        self.key = key
        self.owner = owner
        self.name = column

    def __set_name__(self, owner_cls: type, name: str) -> None:
        self.name = name

    def _cipher(self, obj: Any) -> tuple[FieldCipher, Any]:
        vault, session = vault_of(obj)
        if self.key == "case":
            return vault.data_cipher(session, getattr(obj, self.owner)), obj
        return vault.system_cipher(self.key), obj

    def _aad(self, obj: Any, version: int) -> bytes:
        return field_aad(obj.__tablename__, self.column, str(obj.id), version)

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> Sealed[T]: ...
    @overload
    def __get__(self, obj: object, objtype: type | None = None) -> T | None: ...

    def __get__(self, obj: object | None, objtype: type | None = None) -> Sealed[T] | T | None:
        if obj is None:
            return self
        blob = getattr(obj, self.column)
        if blob is None:
            return None
        cache_key = f"_sealed_{self.name}"
        cached = obj.__dict__.get(cache_key, _MISSING)
        if isinstance(cached, tuple) and cached[0] is blob:
            return json.loads(cached[1])  # type: ignore[no-any-return]
        cipher, _ = self._cipher(obj)
        try:
            raw = cipher.decrypt(blob, self._aad(obj, cipher.version))
        except DecryptionError:
            raise EncryptedValueError(
                getattr(obj, "__tablename__", "?"), self.column, str(getattr(obj, "id", "?"))
            ) from None
        obj.__dict__[cache_key] = (blob, raw)
        return json.loads(raw)  # type: ignore[no-any-return]

    def open_system(self, vault: Vault, table: str, row_id: object, blob: bytes) -> T:
        """A system-keyed value read as a bare column, without its ORM object: for scans that
        check one field of many rows (the case list's status filter), where building objects
        costs more than the decryption."""
        if self.key == "case":
            raise TypeError("a case-keyed value needs its data key")
        opened: T = open_json(vault.system_cipher(self.key), table, self.column, str(row_id), blob)
        return opened

    def column_opener(self, vault: Vault, table: str) -> Callable[[str, bytes], T]:
        """`column_opener` for a system-keyed value, typed as the attribute's value: for scans
        that read it from every row in turn (statistics read every case's facets)."""
        if self.key == "case":
            raise TypeError("a case-keyed value needs its data key")
        open_row: Callable[[str, bytes], T] = column_opener(
            vault.system_cipher(self.key), table, self.column
        )
        return open_row

    def open_owned(
        self,
        vault: Vault,
        table: str,
        owner_id: uuid.UUID,
        wrapped: bytes | None,
        version: int | None,
        blob: bytes,
    ) -> T:
        """`Vault.open_sealed` for a case-keyed value read as a bare column with its owner's
        wrapped key (the owner's row: the row id is the owner id), typed as the attribute's
        value: for readers of every case in turn (linkage, partner exports)."""
        if self.key != "case":
            raise TypeError("a system-keyed value has no data key")
        where = (table, self.column, str(owner_id))
        opened: T = vault.open_sealed(owner_id, wrapped, version, where, blob)
        return opened

    def __set__(self, obj: object, value: T | None) -> None:
        if value is None:
            setattr(obj, self.column, None)
            return
        if getattr(obj, "id", None) is None:
            raise RuntimeError("set the row id before an encrypted attribute")
        cipher, _ = self._cipher(obj)
        raw = encode_json(value)
        blob = cipher.encrypt(raw, self._aad(obj, cipher.version))
        setattr(obj, self.column, blob)
        obj.__dict__[f"_sealed_{self.name}"] = (blob, raw)

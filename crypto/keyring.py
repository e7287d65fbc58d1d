"""The keyring: versioned key-encryption keys plus one root for derived sub-keys.

A keyring holds KEK versions (one primary, others active or retired) and a separate derivation
root. Blind-index, TOTP, system and audit-signing keys are derived from the root with HKDF, so
rotating the KEK does not force a rebuild of blind indexes or TOTP secrets.

Key sources (where the keyring lives) implement `KeySource`:

- `FileKeySource` (``file:PATH``, development): plain JSON, refused unless mode 0600.
- `PassphraseKeySource` (``passphrase``, production): the keyring sealed with AES-256-GCM under
  a key derived from the operator's unlock passphrase with Argon2id; the passphrase is held
  in memory only, never stored.
- An external KMS implements the same two methods: ``load()`` fetches and unwraps the keyring,
  ``save(keyring)`` wraps and stores it (for example with a KMS ``Encrypt`` call whose
  encryption context is ``casebook-keyring``).
"""

from __future__ import annotations

import base64
import enum
import json
import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.errors import KeySourceError
from crypto.memory import random_secret, secret_from_b64_buffer, wipe

KEYRING_FORMAT = "casebook-keyring/1"
# a key's value in the keyring's JSON (`"root": "…"`, `"key": "…"`; a retired KEK's key is null)
_SECRET_VALUE = re.compile(rb'"(root|key)"\s*:\s*"([A-Za-z0-9+/=]*)"')
SEALED_FORMAT = "casebook-sealed-keyring/1"


class KekStatus(enum.StrEnum):
    PRIMARY = "primary"  # wraps new data keys
    ACTIVE = "active"  # still unwraps, wraps nothing new
    RETIRED = "retired"  # kept only as a record; its key bytes are erased


@dataclass(frozen=True, slots=True)
class Kek:
    id: int
    status: KekStatus
    created: str
    key: bytearray | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class KeyRing:
    """A keyring; every change returns a new one for the source to save.

    Key bytes are held in bytearrays (`wipe` overwrites them with zeros); a changed keyring
    shares the buffers of the one it was made from.
    """

    root: bytearray = field(repr=False)
    keks: tuple[Kek, ...]

    @classmethod
    def generate(cls) -> KeyRing:
        return cls(root=random_secret(32), keks=(_new_kek(1, KekStatus.PRIMARY),))

    def wipe(self) -> None:
        """Overwrite the root and every KEK with zeros (sealing); the keyring is then useless."""
        wipe(self.root)
        for k in self.keks:
            wipe(k.key)

    @property
    def primary_id(self) -> int:
        return next(k.id for k in self.keks if k.status is KekStatus.PRIMARY)

    def has(self, kek_id: int) -> bool:
        return any(k.id == kek_id and k.key is not None for k in self.keks)

    def kek(self, kek_id: int) -> bytearray:
        for k in self.keks:
            if k.id == kek_id and k.key is not None:
                return k.key
        raise KeySourceError(f"KEK {kek_id} is not available")

    def derive(self, purpose: str, length: int = 32) -> bytearray:
        """A sub-key for one purpose (``bidx:…``, ``totp``, ``audit-checkpoint``, …), made
        straight into a bytearray its holder can wipe."""
        out = bytearray(length)
        HKDF(
            algorithm=hashes.SHA256(), length=length, salt=None, info=f"casebook:{purpose}".encode()
        ).derive_into(self.root, out)
        return out

    def rotated(self) -> KeyRing:
        """Add a new KEK as primary; the old primary stays active for unwrapping."""
        new_id = max(k.id for k in self.keks) + 1
        keks = tuple(
            replace(k, status=KekStatus.ACTIVE) if k.status is KekStatus.PRIMARY else k
            for k in self.keks
        )
        return replace(self, keks=(*keks, _new_kek(new_id, KekStatus.PRIMARY)))

    def retired(self, kek_id: int) -> KeyRing:
        """Retire an active KEK: its key bytes are dropped from the keyring for good."""
        target = next((k for k in self.keks if k.id == kek_id), None)
        if target is None:
            raise KeySourceError(f"there is no KEK {kek_id}")
        if target.status is KekStatus.PRIMARY:
            raise KeySourceError("the primary KEK cannot be retired; rotate first")
        keks = tuple(
            replace(k, status=KekStatus.RETIRED, key=None) if k.id == kek_id else k
            for k in self.keks
        )
        return replace(self, keks=keks)

    def to_json(self) -> bytes:
        doc = {
            "format": KEYRING_FORMAT,
            "root": _b64(self.root),
            "keks": [
                {
                    "id": k.id,
                    "status": k.status.value,
                    "created": k.created,
                    "key": _b64(k.key) if k.key is not None else None,
                }
                for k in self.keks
            ],
        }
        return json.dumps(doc, indent=1).encode()

    @classmethod
    def from_buffer(cls, buf: bytearray) -> KeyRing:
        """Read a keyring held in a bytearray without leaving its keys in immutable memory:
        each key's base64 text is decoded straight from the buffer into its own bytearray and
        overwritten in the buffer before the rest is parsed as JSON; the buffer is wiped.
        (`json.loads` would make a `str` of every key, which Python frees without clearing: a
        sealed server would still hold its KEK as base64 text.)"""
        try:
            secrets: list[bytearray] = []
            names: list[bytes] = []
            for match in _SECRET_VALUE.finditer(buf):
                start, end = match.span(2)
                names.append(match.group(1))
                secrets.append(secret_from_b64_buffer(memoryview(buf)[start:end]))
                buf[start:end] = b"A" * (end - start)
            ring = cls._from_doc(json.loads(bytes(buf)), names, secrets)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            for secret in secrets:
                wipe(secret)
            raise KeySourceError("the keyring file is damaged") from exc
        finally:
            wipe(buf)
        return ring

    @classmethod
    def _from_doc(cls, doc: Any, names: list[bytes], secrets: list[bytearray]) -> KeyRing:
        if doc.get("format") != KEYRING_FORMAT:
            raise KeySourceError("the keyring file has an unknown format")
        if names.count(b"root") != 1:
            raise ValueError("one root")
        root = secrets[names.index(b"root")]
        kek_keys = iter(s for n, s in zip(names, secrets, strict=True) if n == b"key")
        keks = tuple(
            Kek(
                id=int(k["id"]),
                status=KekStatus(k["status"]),
                created=str(k["created"]),
                key=next(kek_keys) if k["key"] is not None else None,
            )
            for k in doc["keks"]
        )
        if next(kek_keys, None) is not None:
            raise ValueError("a key outside the KEK list")
        ring = cls(root=root, keks=keks)
        if len(ring.root) != 32 or sum(k.status is KekStatus.PRIMARY for k in keks) != 1:
            raise KeySourceError("the keyring file is damaged")
        return ring

    @classmethod
    def from_json(cls, raw: bytes) -> KeyRing:
        """A keyring from JSON text given as bytes (tests, tools); keys go through the buffer."""
        return cls.from_buffer(bytearray(raw))


def _new_kek(kek_id: int, status: KekStatus) -> Kek:
    return Kek(
        id=kek_id,
        status=status,
        created=datetime.now(UTC).replace(microsecond=0).isoformat(),
        key=random_secret(32),
    )


def _b64(data: bytes | bytearray) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)


class KeySource(Protocol):
    """Where a keyring is kept. Implementations never write key bytes anywhere else."""

    def describe(self) -> str: ...

    def exists(self) -> bool: ...

    def load(self) -> KeyRing: ...

    def save(self, keyring: KeyRing) -> None: ...


def _write_private(path: Path, data: bytes) -> None:
    """Write atomically with mode 0600 from the start (never world-readable, even briefly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def _read_private(path: Path) -> bytearray:
    """The file's bytes, read into a bytearray the caller can wipe."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise KeySourceError(f"no keyring at {path}; run 'casebook init' first") from None
    if stat.S_IMODE(mode) & 0o077:
        raise KeySourceError(
            f"{path} is readable by other users (mode {stat.S_IMODE(mode):o}); chmod 600 it"
        )
    size = path.stat().st_size
    buf = bytearray(size)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        got = 0
        view = memoryview(buf)
        while got < size:
            n = os.readv(fd, [view[got:]])
            if n <= 0:
                break
            got += n
        view.release()
    finally:
        os.close(fd)
    del buf[got:]
    return buf


class FileKeySource:
    """Development key source: the keyring as a 0600 JSON file in the instance folder."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def describe(self) -> str:
        return f"file:{self.path}"

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> KeyRing:
        return KeyRing.from_buffer(_read_private(self.path))

    def save(self, keyring: KeyRing) -> None:
        _write_private(self.path, keyring.to_json())


@dataclass(frozen=True)
class Argon2Params:
    iterations: int = 3
    memory_kib: int = 65536
    lanes: int = 4


class PassphraseKeySource:
    """Production key source: the keyring sealed under an Argon2id-derived unlock key.

    The passphrase is asked for once (``passphrase()``); the derived unlock key is held in memory
    so that the keyring can be reloaded after a rotation without asking again.
    """

    def __init__(
        self,
        path: Path,
        passphrase: Callable[[], str],
        params: Argon2Params | None = None,
    ) -> None:
        self.path = path
        self._passphrase = passphrase
        self._params = params or Argon2Params()
        self._unlock: tuple[bytes, bytearray, Argon2Params] | None = None  # (salt, key, params)

    def describe(self) -> str:
        return f"passphrase:{self.path}"

    def exists(self) -> bool:
        return self.path.exists()

    def forget(self) -> None:
        """Overwrite the derived unlock key: the next load needs the passphrase again."""
        if self._unlock is not None:
            wipe(self._unlock[1])
        self._unlock = None

    def _derive(self, salt: bytes, params: Argon2Params, phrase: str | None = None) -> bytearray:
        phrase = self._passphrase() if phrase is None else phrase
        if len(phrase) < 12:
            raise KeySourceError("the unlock passphrase must have at least 12 characters")
        out = bytearray(32)
        Argon2id(
            salt=salt,
            length=32,
            iterations=params.iterations,
            lanes=params.lanes,
            memory_cost=params.memory_kib,
        ).derive_into(phrase.encode(), out)
        return out

    def load(self) -> KeyRing:
        return self._load(None)

    def load_with(self, passphrase: str) -> KeyRing:
        """Load with a passphrase given now (unsealing), not the one this source was made with;
        a wrong one raises KeySourceError and leaves no unlock key behind."""
        self.forget()
        return self._load(passphrase)

    def load_with_key(self, key: bytearray) -> KeyRing:
        """Load with an unlock key derived elsewhere: the one another process of this server
        derived from the passphrase and handed over after checking it (casebook's unseal
        hand-off). The source takes the buffer itself (no copy) and overwrites it when it
        forgets; a wrong key raises KeySourceError and is overwritten at once."""
        self.forget()
        try:
            salt, params, nonce, sealed = self._read()
        except KeySourceError:
            wipe(key)
            raise
        if len(key) != 32:
            wipe(key)
            raise KeySourceError("an unlock key has 32 bytes")
        self._unlock = (salt, key, params)
        return self._open(key, nonce, sealed)

    def unlock_key(self) -> bytearray | None:
        """The unlock key held now (the buffer itself, for the hand-off; never a copy), or None
        when none is held (before the first load, or after `forget`)."""
        return None if self._unlock is None else self._unlock[1]

    def _read(self) -> tuple[bytes, Argon2Params, bytes, bytes]:
        try:
            doc: dict[str, Any] = json.loads(_read_private(self.path))
            if doc.get("format") != SEALED_FORMAT:
                raise KeySourceError("the sealed keyring has an unknown format")
            kdf = doc["kdf"]
            salt = _unb64(kdf["salt"])
            params = Argon2Params(int(kdf["t"]), int(kdf["m"]), int(kdf["p"]))
            nonce, sealed = _unb64(doc["nonce"]), _unb64(doc["ciphertext"])
        except (ValueError, KeyError, TypeError) as exc:
            raise KeySourceError("the sealed keyring is damaged") from exc
        return salt, params, nonce, sealed

    def _load(self, phrase: str | None) -> KeyRing:
        salt, params, nonce, sealed = self._read()
        if self._unlock is None or self._unlock[0] != salt:
            self.forget()
            self._unlock = (salt, self._derive(salt, params, phrase), params)
        return self._open(self._unlock[1], nonce, sealed)

    def _open(self, key: bytearray, nonce: bytes, sealed: bytes) -> KeyRing:
        """Decrypt into a bytearray (AESGCM.decrypt would return the plaintext keyring as
        immutable `bytes`); GCM's tag is checked at `finalize`, before anything is parsed."""
        if len(sealed) < 16:
            self.forget()
            raise KeySourceError("the sealed keyring is damaged")
        decryptor = Cipher(algorithms.AES(key), modes.GCM(nonce, sealed[-16:])).decryptor()
        decryptor.authenticate_additional_data(SEALED_FORMAT.encode())
        body = sealed[:-16]
        buf = bytearray(len(body) + 15)
        try:
            size = decryptor.update_into(body, buf)
            decryptor.finalize()
        except InvalidTag:
            wipe(buf)
            self.forget()
            raise KeySourceError(
                "wrong unlock passphrase, or the sealed keyring is damaged"
            ) from None
        plain = buf[:size]
        wipe(buf)
        return KeyRing.from_buffer(plain)

    def save(self, keyring: KeyRing) -> None:
        if self._unlock is None:
            salt = os.urandom(16)
            self._unlock = (salt, self._derive(salt, self._params), self._params)
        salt, key, params = self._unlock
        nonce = os.urandom(12)
        doc = {
            "format": SEALED_FORMAT,
            "kdf": {
                "alg": "argon2id",
                "salt": _b64(salt),
                "t": params.iterations,
                "m": params.memory_kib,
                "p": params.lanes,
            },
            "nonce": _b64(nonce),
            "ciphertext": _b64(
                AESGCM(key).encrypt(nonce, keyring.to_json(), SEALED_FORMAT.encode())
            ),
        }
        _write_private(self.path, json.dumps(doc, indent=1).encode())

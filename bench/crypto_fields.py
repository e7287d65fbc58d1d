"""Per-field encryption cost and the cost of a 50-row page, next to bare AESGCM.

Run: .venv/bin/python -m bench.crypto_fields
Goal: at most 2x bare AESGCM per field.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench._timing import per_call, row
from casebook.db import make_engine
from casebook.encrypted import Vault
from casebook.migrate import upgrade
from crypto import FieldCipher, FileKeySource, KeyRing, associated_data

FIELDS_PER_ROW = 13
PAGE = 50


def main() -> None:
    key = os.urandom(32)
    aad = associated_data("cases", "record", str(uuid.uuid4()), 1)
    print("per field: encrypt + decrypt, 32-byte associated data")
    for size in (50, 2048):
        data = os.urandom(size)
        bare = AESGCM(key)

        def bare_round(bare: AESGCM = bare, data: bytes = data) -> None:
            nonce = os.urandom(12)
            bare.decrypt(nonce, bare.encrypt(nonce, data, aad), aad)

        cipher = FieldCipher(key, 1)

        def field_round(cipher: FieldCipher = cipher, data: bytes = data) -> None:
            cipher.decrypt(cipher.encrypt(data, aad), aad)

        def field_round_with_context(cipher: FieldCipher = cipher, data: bytes = data) -> None:
            # what a model attribute does per value
            ad = associated_data("cases", "record", "0b7c7c0e-0000-4000-8000-000000000001", 1)
            cipher.decrypt(cipher.encrypt(data, ad), ad)

        base = per_call(bare_round, 20000)
        print(row(f"  bare AESGCM, {size} B (baseline)", base))
        print(row(f"  crypto.FieldCipher, {size} B", per_call(field_round, 20000), base))
        print(
            row(
                f"  FieldCipher + building associated data, {size} B",
                per_call(field_round_with_context, 20000),
                base,
            )
        )

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        upgrade(url)
        source = FileKeySource(Path(tmp) / "keyring.json")
        source.save(KeyRing.generate())
        vault = Vault(source, 200_000)
        vault.load()
        from sqlalchemy.orm import Session

        engine = make_engine(url)
        owners = [uuid.uuid4() for _ in range(PAGE)]
        blobs: dict[uuid.UUID, list[bytes]] = {}
        with Session(engine) as s, s.begin():
            for owner in owners:
                c = vault.create_data_key(s, owner)
                blobs[owner] = [
                    c.encrypt(os.urandom(60), associated_data("cases", f"f{i}", str(owner), 1))
                    for i in range(FIELDS_PER_ROW)
                ]
        bare = AESGCM(key)
        sealed = [
            [
                (n := os.urandom(12), bare.encrypt(n, os.urandom(60), aad))
                for _ in range(FIELDS_PER_ROW)
            ]
            for _ in range(PAGE)
        ]

        def bare_page() -> None:
            for fields in sealed:
                for nonce, ct in fields:
                    bare.decrypt(nonce, ct, aad)

        def page(session: Session, cold: bool) -> None:
            if cold:
                vault.forget_all()
                vault.prefetch(session, owners)
            for owner in owners:
                c = vault.data_cipher(session, owner)
                for i, blob in enumerate(blobs[owner]):
                    c.decrypt(blob, associated_data("cases", f"f{i}", str(owner), 1))

        print(f"\n{PAGE}-row page, {FIELDS_PER_ROW} encrypted fields per row (SQLite)")
        base = per_call(bare_page, 200)
        print(row("  bare AESGCM decrypts only (baseline)", base, unit="ms"))
        with Session(engine) as s:
            print(
                row(
                    "  casebook, data keys cached",
                    per_call(lambda: page(s, False), 200),
                    base,
                    "ms",
                )
            )
            print(
                row(
                    "  casebook, cold: unwrap 50 data keys (one query)",
                    per_call(lambda: page(s, True), 50),
                    base,
                    "ms",
                )
            )
        engine.dispose()


if __name__ == "__main__":
    main()

"""Sealing overwrites key material in this process's own memory (read through /proc/self/mem):
dropping references alone would leave the second half of every freed key behind (CPython's
allocator overwrites only the first 8 bytes of a block it frees)."""

from __future__ import annotations

import gc
import os
import uuid

from flask import Flask

from tests.conftest import UserFixture, bearer, minimal_case, vault_of
from tests.seal.test_server import memory_hits, scan_memory


def _copy(data: bytes | bytearray) -> bytes:
    """A needle made without leaving another copy of it (the reversed text never matches)."""
    return bytes(reversed(bytes(reversed(data))))


def test_sealing_overwrites_every_key_the_vault_held(
    app: Flask, users: dict[str, UserFixture]
) -> None:
    headers = bearer(app, users["lawyer"])
    client = app.test_client()
    ids = []
    for _ in range(3):
        resp = client.post("/api/v1/cases", json=minimal_case(), headers=headers)
        assert resp.status_code == 201
        ids.append(resp.get_json()["id"])
        assert client.get(f"/api/v1/cases/{ids[-1]}", headers=headers).status_code == 200
    vault = vault_of(app)
    ring = vault.keyring
    needles = {
        "KEK": _copy(ring.kek(ring.primary_id)[16:]),
        "root": _copy(ring.root[16:]),
        "hmac key": _copy(vault._derive("hmac:token")[16:]),
        **{f"data key {i}": _copy(vault._deks[uuid.UUID(i)]._key[16:]) for i in ids},
    }
    del ring
    before = scan_memory(os.getpid(), needles)
    assert all(n >= 2 for n in before.values()), before  # the needle, and the vault's key

    app.extensions["casebook.seal"].mark_sealed()
    gc.collect()
    after = memory_hits(os.getpid(), needles)
    left = {name: where for name, where in after.items() if len(where) != 1}
    assert not left, left  # only the needles themselves; else where the copies are

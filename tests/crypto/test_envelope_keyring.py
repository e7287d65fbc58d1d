"""Envelope keys, keyring rotation and the two key sources."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from crypto import (
    DecryptionError,
    Envelope,
    FileKeySource,
    KeyRing,
    KeySourceError,
    PassphraseKeySource,
)
from crypto.keyring import Argon2Params, KekStatus

FAST = Argon2Params(iterations=1, memory_kib=8192, lanes=1)


def test_wrapped_key_unwraps_only_for_its_owner() -> None:
    env = Envelope(KeyRing.generate())
    dek = env.new_data_key()
    wrapped = env.wrap("case-1", dek)
    assert env.unwrap("case-1", wrapped).key == dek
    with pytest.raises(DecryptionError):
        env.unwrap("case-2", wrapped)
    assert dek not in wrapped


def test_rotate_rewrap_retire_keeps_everything_readable() -> None:
    ring = KeyRing.generate()
    env = Envelope(ring)
    deks = {f"case-{i}": env.new_data_key() for i in range(20)}
    wrapped = {owner: env.wrap(owner, dek) for owner, dek in deks.items()}
    assert {Envelope.kek_id_of(w) for w in wrapped.values()} == {1}

    ring2 = ring.rotated()
    env.replace_keyring(ring2)
    assert ring2.primary_id == 2
    assert [k.status for k in ring2.keks] == [KekStatus.ACTIVE, KekStatus.PRIMARY]
    # old keys still unwrap; new wraps carry KEK 2
    assert all(env.unwrap(o, w).key == deks[o] for o, w in wrapped.items())
    assert Envelope.kek_id_of(env.wrap("new", env.new_data_key())) == 2

    rewrapped = {o: env.rewrap(o, w) for o, w in wrapped.items()}
    assert {Envelope.kek_id_of(w) for w in rewrapped.values()} == {2}
    ring3 = ring2.retired(1)
    env.replace_keyring(ring3)
    assert not ring3.has(1)
    assert all(env.unwrap(o, w).key == deks[o] for o, w in rewrapped.items())
    with pytest.raises(DecryptionError):
        env.unwrap("case-0", wrapped["case-0"])  # the KEK 1 copy is now dead


def test_primary_cannot_be_retired() -> None:
    with pytest.raises(KeySourceError):
        KeyRing.generate().retired(1)


def test_derived_keys_differ_per_purpose_and_survive_rotation() -> None:
    ring = KeyRing.generate()
    purposes = ["bidx:name", "bidx:family", "totp", "system", "audit-checkpoint"]
    keys = [ring.derive(p) for p in purposes]
    assert len({bytes(k) for k in keys}) == len(purposes)
    assert ring.rotated().derive("totp") == ring.derive("totp")


def test_file_source_round_trip_with_0600(tmp_path: Path) -> None:
    src = FileKeySource(tmp_path / "keys" / "keyring.json")
    ring = KeyRing.generate()
    src.save(ring)
    assert stat.S_IMODE(src.path.stat().st_mode) == 0o600
    loaded = src.load()
    assert loaded.kek(1) == ring.kek(1)
    assert loaded.root == ring.root


def test_file_source_refuses_loose_permissions(tmp_path: Path) -> None:
    src = FileKeySource(tmp_path / "keyring.json")
    src.save(KeyRing.generate())
    os.chmod(src.path, 0o644)
    with pytest.raises(KeySourceError, match="chmod 600"):
        src.load()


def test_missing_and_damaged_keyrings_give_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(KeySourceError, match="casebook init"):
        FileKeySource(tmp_path / "nope.json").load()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    os.chmod(bad, 0o600)
    with pytest.raises(KeySourceError, match="damaged"):
        FileKeySource(bad).load()


def test_passphrase_source_seals_and_needs_the_passphrase(tmp_path: Path) -> None:
    path = tmp_path / "keyring.sealed"
    phrase = "olive harbour lantern morning"
    src = PassphraseKeySource(path, lambda: phrase, FAST)
    ring = KeyRing.generate()
    src.save(ring)
    raw = path.read_bytes()
    assert ring.kek(1) not in raw and ring.root not in raw
    assert PassphraseKeySource(path, lambda: phrase, FAST).load().kek(1) == ring.kek(1)
    with pytest.raises(KeySourceError, match="wrong unlock passphrase"):
        PassphraseKeySource(path, lambda: "another long passphrase", FAST).load()


def test_passphrase_source_reloads_after_rotation_without_asking_again(tmp_path: Path) -> None:
    asked = []

    def phrase() -> str:
        asked.append(1)
        return "olive harbour lantern morning"

    path = tmp_path / "keyring.sealed"
    src = PassphraseKeySource(path, phrase, FAST)
    src.save(KeyRing.generate())
    src.save(src.load().rotated())
    assert src.load().primary_id == 2
    assert len(asked) == 1


def test_short_passphrase_is_refused(tmp_path: Path) -> None:
    with pytest.raises(KeySourceError, match="12 characters"):
        PassphraseKeySource(tmp_path / "k", lambda: "short", FAST).save(KeyRing.generate())


def test_key_bytes_never_appear_in_repr() -> None:
    ring = KeyRing.generate()
    assert ring.kek(1).hex() not in repr(ring)
    assert repr(ring.kek(1)) not in repr(ring)

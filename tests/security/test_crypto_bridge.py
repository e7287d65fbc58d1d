"""Every seal and open of casebook goes through one bridge, casebook.encrypted.

The import-linter contract in pyproject.toml forbids casebook modules other than the bridge and
key management (casebook.keys.services, which rotates and rewraps keys) to import `crypto`;
this test adds what a module-level contract cannot see: key management imports no sealing
primitive, no module outside the bridge constructs a cipher or builds associated data, and the
bytes of the associated data are those every stored ciphertext was sealed with.
"""

from __future__ import annotations

import ast
import os
import subprocess  # nosec B404
import sys
import uuid
from pathlib import Path

import pytest

from casebook.encrypted import (
    EncryptedValueError,
    FieldCipher,
    column_opener,
    field_aad,
    open_json,
    seal_json,
)

ROOT = Path(__file__).resolve().parents[2]
BRIDGE = ROOT / "casebook" / "encrypted.py"
KEY_MANAGEMENT = {ROOT / "casebook" / "keys" / "services.py": {"KekStatus", "KeyRing"}}
SEALING = {
    "associated_data",
    "FieldCipher",
    "Envelope",
    "StreamEncryptor",
    "IncrementalStreamEncryptor",
    "StreamDecryptor",
    "archive_write",
    "archive_read",
}


def _crypto_imports(tree: ast.AST) -> list[tuple[int, str, set[str]]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "crypto":
            found.append((node.lineno, node.module or "", {a.name for a in node.names}))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "crypto":
                    found.append((node.lineno, alias.name, {"*"}))
    return found


def _constructions(tree: ast.AST) -> list[tuple[int, str]]:
    """Calls of a sealing primitive by name, however it was imported."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in SEALING:
                found.append((node.lineno, name))
    return found


AEAD_CALLS = {"encrypt", "decrypt", "encrypt_into", "decrypt_into"}


def _aead_calls(tree: ast.AST) -> list[tuple[int, str]]:
    """A cipher used with associated data of the caller's making: `cipher.encrypt(data, aad)`.
    (The bridge's stream decryptors take a file and build their associated data themselves.)"""
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in AEAD_CALLS
            and len(node.args) + len(node.keywords) >= 2
        ):
            found.append((node.lineno, node.func.attr))
    return found


def test_the_check_sees_a_cipher_used_with_home_made_associated_data() -> None:
    planted = ast.parse('blob = vault.system_cipher("system").encrypt(b"x", b"any aad")')
    assert _aead_calls(planted) == [(1, "encrypt")]
    assert _aead_calls(ast.parse("yield from decryptor.decrypt(fh)")) == []


def test_no_module_outside_the_bridge_seals_or_opens_with_crypto_directly() -> None:
    problems = []
    for path in sorted((ROOT / "casebook").rglob("*.py")):
        if path == BRIDGE:
            continue
        rel = path.relative_to(ROOT)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        allowed = KEY_MANAGEMENT.get(path, set())
        for line, module, names in _crypto_imports(tree):
            if module != "crypto.keyring" or not names <= allowed:
                problems.append(f"{rel}:{line} imports {sorted(names)} from {module}")
        for line, name in _constructions(tree):
            problems.append(f"{rel}:{line} calls {name} (seal and open through the bridge)")
        for line, name in _aead_calls(tree):
            problems.append(f"{rel}:{line} calls a cipher's {name} with its own associated data")
    assert problems == []


def test_the_import_contract_holds() -> None:
    linter = Path(sys.executable).parent / "lint-imports"
    if not linter.exists():
        pytest.skip("import-linter is not installed in this environment")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(  # nosec B603
        [str(linter)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-2000:]
    assert "only the bridge (casebook.encrypted) and key management import crypto KEPT" in (
        run.stdout
    )


def test_associated_data_keeps_the_bytes_stored_ciphertexts_were_sealed_with() -> None:
    row = "0b7c7c0e-0000-4000-8000-000000000001"
    assert field_aad("cases", "record_enc", row, 3) == f"cb1|cases|record_enc|{row}|3".encode()


def test_a_value_sealed_for_one_row_opens_there_and_nowhere_else() -> None:
    cipher = FieldCipher(os.urandom(32), 2)
    row, other = str(uuid.uuid4()), str(uuid.uuid4())
    blob = seal_json(cipher, "cases", "facets_enc", row, {"governorate": "Homs"})
    assert open_json(cipher, "cases", "facets_enc", row, blob) == {"governorate": "Homs"}
    opener = column_opener(cipher, "cases", "facets_enc")
    assert opener(row, blob) == {"governorate": "Homs"}
    for where in (("cases", "facets_enc", other), ("cases", "record_enc", row)):
        with pytest.raises(EncryptedValueError) as refused:
            open_json(cipher, *where, blob)
        assert "Homs" not in str(refused.value)
    with pytest.raises(EncryptedValueError):
        opener(other, blob)

"""Unsealing reads the keyring without leaving its keys as text: the decrypted keyring's JSON
holds every key in base64, and a `str` or `bytes` made of it is freed by Python without being
cleared, so a sealed server would still hold its KEK and root as base64 text (memory read
through /proc/PID/mem of a separate process that loads and then forgets the keyring)."""

from __future__ import annotations

import base64
import subprocess
import sys
import textwrap
from pathlib import Path

from crypto.keyring import Argon2Params, KeyRing, PassphraseKeySource
from tests.seal.test_server import scan_memory

CHILD = textwrap.dedent(
    """
    import gc, sys
    from pathlib import Path
    from crypto.keyring import Argon2Params, PassphraseKeySource
    source = PassphraseKeySource(Path(sys.argv[1]), lambda: "", Argon2Params(1, 1024, 1))
    ring = source.load_with(sys.stdin.readline().rstrip("\\n"))
    print("loaded", flush=True)
    sys.stdin.readline()
    ring.wipe()
    source.forget()
    del ring
    gc.collect()
    print("wiped", flush=True)
    sys.stdin.readline()
    """
)


def test_a_forgotten_keyring_leaves_no_key_as_base64_text(tmp_path: Path) -> None:
    path = tmp_path / "keyring.sealed"
    phrase = "correct horse battery staple"
    source = PassphraseKeySource(path, lambda: phrase, Argon2Params(1, 1024, 1))
    ring = KeyRing.generate()
    source.save(ring)
    kek, root = ring.kek(ring.primary_id), ring.root
    needles = {
        "KEK raw": bytes(kek[16:]),
        "root raw": bytes(root[16:]),
        "KEK base64": base64.b64encode(bytes(kek))[22:],
        "root base64": base64.b64encode(bytes(root))[22:],
    }
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert child.stdin is not None and child.stdout is not None
    try:
        child.stdin.write(phrase + "\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "loaded"
        loaded = scan_memory(child.pid, needles)
        assert loaded["KEK raw"] >= 1 and loaded["root raw"] >= 1, loaded  # the scan sees keys
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "wiped"
        assert scan_memory(child.pid, needles) == dict.fromkeys(needles, 0)
    finally:
        child.kill()
        child.wait()

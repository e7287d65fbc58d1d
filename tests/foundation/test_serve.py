"""`casebook serve` (gunicorn) serves the login page over real HTTP, as `make run` does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_answers_over_http(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CASEBOOK_ENV": "development",
        "CASEBOOK_INSTANCE": str(tmp_path / "i"),
        "DATABASE_URL": "",
        "CASEBOOK_KEK_SOURCE": "",
        "CASEBOOK_SECRET_KEY": "",
    }
    run = [sys.executable, "-c", "from casebook.cli import main; main()"]
    subprocess.run([*run, "init"], env=env, check=True, capture_output=True, timeout=120)
    demo = subprocess.run(
        [*run, "demo"], env=env, check=True, capture_output=True, text=True, timeout=120
    )
    assert "admin@demo.casebook.invalid" in demo.stdout
    port = _free_port()
    server = subprocess.Popen(
        [*run, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.time() + 60
        body = ""
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as resp:
                    body = resp.read().decode()
                    headers = resp.headers
                break
            except OSError:
                time.sleep(0.3)
        assert "csrf_token" in body
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert "gunicorn" not in headers.get("Server", "").lower()
    finally:
        server.terminate()
        server.wait(timeout=30)

"""Configuration and the `casebook` command as operators use it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from casebook.cli import cli
from casebook.config import ConfigError, Settings


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "CASEBOOK_ENV": "development",
        "CASEBOOK_INSTANCE": str(tmp_path / "instance"),
        "DATABASE_URL": "",
        "CASEBOOK_KEK_SOURCE": "",
        "CASEBOOK_SECRET_KEY": "",
        **extra,
    }


def _run(
    args: list[str], env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-c", "from casebook.cli import main; main()", *args],
        env=full,
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
    )


def test_production_without_secrets_refuses_with_one_sentence(tmp_path: Path) -> None:
    result = _run(["serve"], _env(tmp_path, CASEBOOK_ENV="production"))
    assert result.returncode != 0
    assert "CASEBOOK_SECRET_KEY must be set" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_database_that_cannot_be_reached_is_one_sentence_not_a_traceback(
    tmp_path: Path,
) -> None:
    """An outside review saw a command print the tail of the driver's error (a database
    locked while a server started): the operator gets one sentence and a failing status."""
    env = _env(tmp_path)
    assert _run(["init"], env).returncode == 0
    unreachable = "postgresql+psycopg://casebook@127.0.0.1:9/casebook?connect_timeout=2"
    result = _run(["stats", "--by", "sex"], {**env, "DATABASE_URL": unreachable})
    assert result.returncode == 1
    assert "the database could not be used" in result.stderr
    assert "Traceback" not in result.stderr and "sqlalche.me" not in result.stderr


def test_production_without_key_source_refuses(tmp_path: Path) -> None:
    result = _run(
        ["serve"], _env(tmp_path, CASEBOOK_ENV="production", CASEBOOK_SECRET_KEY="x" * 40)
    )
    assert result.returncode != 0 and "CASEBOOK_KEK_SOURCE must be set" in result.stderr


def test_server_without_its_key_refuses_to_start(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _run(["init"], env).returncode == 0
    (tmp_path / "instance" / "keyring.json").unlink()
    result = _run(["serve", "--port", "5999"], env)
    assert result.returncode == 2
    assert "no keyring" in result.stderr and "Traceback" not in result.stderr


def test_production_passphrase_without_passphrase_refuses(tmp_path: Path) -> None:
    env = _env(
        tmp_path,
        CASEBOOK_ENV="production",
        CASEBOOK_SECRET_KEY="x" * 40,
        CASEBOOK_KEK_SOURCE="passphrase",
    )
    result = _run(["serve"], env, stdin="")
    assert result.returncode != 0 and "Traceback" not in result.stderr


def test_init_is_idempotent_and_private(tmp_path: Path) -> None:
    env = _env(tmp_path)
    first = _run(["init"], env)
    assert first.returncode == 0, first.stderr
    instance = tmp_path / "instance"
    db = instance / "casebook.sqlite3"
    files = {
        p.name: p.read_bytes() for p in instance.iterdir() if p.is_file() and "sqlite" not in p.name
    }
    second = _run(["init"], env)
    assert second.returncode == 0 and "present" in second.stdout
    assert {
        p.name: p.read_bytes() for p in instance.iterdir() if p.is_file() and "sqlite" not in p.name
    } == files
    for name in ("keyring.json", "secret_key", "casebook.sqlite3"):
        assert stat.S_IMODE((instance / name).stat().st_mode) & 0o077 == 0, name
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    verify = _run(["audit", "verify"], env)
    assert verify.returncode == 0 and "1 entries" in verify.stdout  # keys.create, once
    assert db.exists()


def test_user_commands_and_audit_verify(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _run(["init"], env).returncode == 0
    weak = _run(
        ["user", "create", "a@example.org", "--role", "admin", "--password-stdin"],
        env,
        stdin="password\n",
    )
    assert weak.returncode != 0 and "at least 12" in weak.stderr and "too common" in weak.stderr
    made = _run(
        ["user", "create", "a@example.org", "--role", "admin", "--password-stdin"],
        env,
        stdin="lantern orchard compass\n",
    )
    assert made.returncode == 0, made.stderr
    assert "TOTP secret:" in made.stdout and "otpauth://totp/" in made.stdout
    assert len(made.stdout.split("recovery codes: ")[1].split()) == 10
    token = _run(["user", "token", "a@example.org", "--days", "7"], env)
    assert token.returncode == 0 and token.stdout.strip().splitlines()[-1].startswith("cbt_")
    otp = _run(["user", "otp", "a@example.org"], env)
    assert otp.returncode == 0 and otp.stdout.strip().isdigit()
    # every code the server takes now spent (two actions within one step): said, not printed
    import sqlite3
    import time

    con = sqlite3.connect(tmp_path / "instance" / "casebook.sqlite3")
    con.execute("UPDATE users SET totp_last_step = ?", (int(time.time()) // 30 + 3,))
    con.commit()
    con.close()
    spent = _run(["user", "otp", "a@example.org"], env)
    assert spent.returncode != 0 and not spent.stdout.strip()
    assert "run this again in" in spent.stderr
    assert _run(["user", "disable", "a@example.org"], env).returncode == 0
    missing = _run(["user", "disable", "nobody@example.org"], env)
    assert missing.returncode != 0 and "no such user" in missing.stderr
    checkpoint = tmp_path / "cp.json"
    assert _run(["audit", "checkpoint", "-o", str(checkpoint)], env).returncode == 0
    assert json.loads(checkpoint.read_text())["seq"] >= 4
    ok = _run(["audit", "verify", "--checkpoint", str(checkpoint)], env)
    assert ok.returncode == 0, ok.stderr
    # tamper: cut the tail after dropping the guard, as someone with the database file could
    con = sqlite3.connect(tmp_path / "instance" / "casebook.sqlite3")
    con.execute("DROP TRIGGER audit_log_no_delete")
    con.execute("DELETE FROM audit_log WHERE seq >= 3")
    con.commit()
    con.close()
    bad = _run(["audit", "verify", "--checkpoint", str(checkpoint)], env)
    assert bad.returncode == 1 and "entry 3" in bad.stderr


def test_otp_and_demo_are_refused_in_production(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _run(["init"], env).returncode == 0
    keyring = tmp_path / "instance" / "keyring.json"
    prod = _env(
        tmp_path,
        CASEBOOK_ENV="production",
        CASEBOOK_SECRET_KEY="y" * 40,
        CASEBOOK_KEK_SOURCE=f"file:{keyring}",
    )
    for args in (["demo"], ["user", "otp", "x@example.org"]):
        result = _run(args, prod)
        assert result.returncode != 0 and "production" in result.stderr


def test_keys_commands(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert _run(["init"], env).returncode == 0
    assert "primary KEK: 1" in _run(["keys", "status"], env).stdout
    assert "KEK 2 is now primary" in _run(["keys", "rotate"], env).stdout
    assert "rewrapped 0" in _run(["keys", "rewrap"], env).stdout
    assert _run(["keys", "retire", "1"], env).returncode == 0
    refused = _run(["keys", "retire", "2"], env)
    assert refused.returncode != 0 and "primary" in refused.stderr
    status = _run(["keys", "status"], env).stdout
    assert "KEK 1: retired" in status and "KEK 2: primary" in status


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("CASEBOOK_ENV", "staging", "CASEBOOK_ENV must be one of"),
        ("CASEBOOK_KEK_SOURCE", "vault:x", "must be 'passphrase' or 'file:PATH'"),
        ("CASEBOOK_EXPECTED_CASES", "ten", "CASEBOOK_EXPECTED_CASES"),
        ("CASEBOOK_MAX_ATTACHMENT_MB", "0", "CASEBOOK_MAX_ATTACHMENT_MB"),
    ],
)
def test_bad_settings_are_named(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env({"CASEBOOK_INSTANCE": str(tmp_path), name: value})


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = Settings.from_env({"CASEBOOK_INSTANCE": str(tmp_path)})
    with pytest.raises(AttributeError):
        s.env = "production"  # type: ignore[misc]
    assert "secret_key" not in repr(s) or s.secret_key not in repr(s)
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_cli_runner_in_process(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["--help"], env=_env(tmp_path))
    assert result.exit_code == 0
    for command in ("init", "demo", "serve", "user", "keys", "audit"):
        assert command in result.output


def test_production_with_an_unlock_passphrase(tmp_path: Path) -> None:
    """The sealed keyring: made by init, opened with the passphrase, refused with a wrong one."""
    phrase = tmp_path / "phrase"
    phrase.write_text("olive harbour lantern morning\n")
    env = _env(
        tmp_path,
        CASEBOOK_ENV="production",
        CASEBOOK_SECRET_KEY="z" * 40,
        CASEBOOK_KEK_SOURCE="passphrase",
        CASEBOOK_KEK_PASSPHRASE_FILE=str(phrase),
    )
    made = _run(["init"], env)
    assert made.returncode == 0, made.stderr
    sealed = tmp_path / "instance" / "keyring.sealed"
    assert sealed.exists() and b"olive" not in sealed.read_bytes()
    assert "primary KEK: 1" in _run(["keys", "status"], env).stdout
    assert "KEK 2 is now primary" in _run(["keys", "rotate"], env).stdout
    phrase.write_text("a different passphrase entirely\n")
    wrong = _run(["keys", "status"], env)
    assert wrong.returncode == 2 and "wrong unlock passphrase" in wrong.stderr
    assert "Traceback" not in wrong.stderr


CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def test_linkage_memory_defaults_to_three_quarters_of_the_machine(tmp_path: Path) -> None:
    """A fixed 8 GB stopped a million-case run on a 24 GB server: unset, a duplicate run may
    use three quarters of the machine's memory; set, exactly what the operator says."""
    base = {"CASEBOOK_INSTANCE": str(tmp_path)}
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    default = Settings.from_env(base).linkage_memory
    assert default.endswith("GB") and default[:-2].isdigit()
    assert 1 <= int(default[:-2]) * 1024**3 <= 0.75 * total
    if not any(Path(p).exists() for p in CGROUP_LIMITS):  # a container's limit may be lower
        assert int(default[:-2]) * 1024**3 > 0.75 * total - 1024**3
    assert Settings.from_env({**base, "CASEBOOK_LINKAGE_MEMORY": "512mb"}).linkage_memory == "512MB"
    with pytest.raises(ConfigError, match="CASEBOOK_LINKAGE_MEMORY"):
        Settings.from_env({**base, "CASEBOOK_LINKAGE_MEMORY": "lots"})

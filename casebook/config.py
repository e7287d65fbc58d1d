"""Frozen, typed settings read from the environment (design.md §8).

Production refuses to start without its secrets; development keeps its own secrets in the
instance folder (mode 0600), made by `casebook init`.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Literal

Env = Literal["development", "production", "testing"]
_ENVS: tuple[Env, ...] = ("development", "production", "testing")


class ConfigError(Exception):
    """A setting is missing or wrong; the message is one sentence an operator can act on."""


def _machine_memory() -> int | None:
    """Bytes of memory this process may use: the machine's, or its cgroup's limit if lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            limit = Path(path).read_text().strip()
        except OSError:
            continue
        if limit.isdigit() and 0 < int(limit) < total:
            total = int(limit)
    return total if total > 0 else None


def default_linkage_memory() -> str:
    """Three quarters of the machine's memory in whole gigabytes (DuckDB's own default is
    80%): a fixed 8 GB stopped a million-case run on a 24 GB server, and would overcommit a
    small one. 8GB when the machine's memory cannot be read."""
    total = _machine_memory()
    if total is None:
        return "8GB"
    return f"{max(1, int(total * 0.75) // 1024**3)}GB"


@dataclass(frozen=True)
class PasswordHashing:
    """Argon2id parameters; the defaults are RFC 9106's low-memory profile (argon2-cffi's)."""

    time_cost: int = 3
    memory_cost: int = 65536
    parallelism: int = 4


@dataclass(frozen=True)
class Settings:
    env: Env
    instance: Path
    database_url: str
    secret_key: str = field(repr=False)
    kek_source: str
    kek_passphrase_file: Path | None = None
    redis_url: str | None = None
    expected_cases: int = 200_000
    max_attachment_bytes: int = 50 * 1024 * 1024
    password_hashing: PasswordHashing = PasswordHashing()
    session_idle: timedelta = timedelta(minutes=30)
    session_absolute: timedelta = timedelta(hours=12)
    reauth_window: timedelta = timedelta(minutes=10)
    token_days: int = 90
    dp_budget: float = 4.0  # total epsilon of differentially private releases per month
    stats_k: int = 11  # smallest count a statistics release publishes (at least 5)
    release_min_changes: int = 25  # cases added, changed or removed before a new release
    # the release estimate's LCMCR schedule (LCMCR's defaults; tests run a short one)
    estimate_samples: int = 1000
    estimate_burn_in: int = 10_000
    estimate_thin: int = 100
    # DuckDB's ceiling for deduplication (it may not spill names to disk); unset: three
    # quarters of the memory this machine (or its container) gives the process
    linkage_memory: str = field(default_factory=lambda: default_linkage_memory())
    csrf_enabled: bool = True
    ratelimit_enabled: bool = True
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-For/-Proto are believed
    web_unseal: bool = False  # the unseal page takes the passphrase (passphrase key source only)
    duress_hash: str | None = field(default=None, repr=False)  # Argon2id hash: sign-in seals

    @property
    def production(self) -> bool:
        return self.env == "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env_vars = os.environ if environ is None else environ
        env_name = env_vars.get("CASEBOOK_ENV", "development")
        if env_name not in _ENVS:
            raise ConfigError(f"CASEBOOK_ENV must be one of {', '.join(_ENVS)}.")
        env: Env = next(e for e in _ENVS if e == env_name)
        instance = Path(env_vars.get("CASEBOOK_INSTANCE", "instance")).resolve()
        database_url = env_vars.get("DATABASE_URL") or f"sqlite:///{instance / 'casebook.sqlite3'}"
        secret_key = env_vars.get("CASEBOOK_SECRET_KEY", "")
        kek_source = env_vars.get("CASEBOOK_KEK_SOURCE", "")
        passphrase_file = env_vars.get("CASEBOOK_KEK_PASSPHRASE_FILE")
        if env == "production":
            if len(secret_key) < 32:
                raise ConfigError(
                    "CASEBOOK_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production."
                )
            if not kek_source:
                raise ConfigError(
                    "CASEBOOK_KEK_SOURCE must be set in production ('passphrase', or 'file:PATH' "
                    "on a separate encrypted volume)."
                )
        else:
            secret_key = secret_key or development_secret(instance)
            kek_source = kek_source or f"file:{instance / 'keyring.json'}"
        if not (kek_source == "passphrase" or kek_source.startswith("file:")):
            raise ConfigError("CASEBOOK_KEK_SOURCE must be 'passphrase' or 'file:PATH'.")
        expected = env_vars.get("CASEBOOK_EXPECTED_CASES", "200000")
        max_mb = env_vars.get("CASEBOOK_MAX_ATTACHMENT_MB", "50")
        if not expected.isdigit() or int(expected) < 16:
            raise ConfigError("CASEBOOK_EXPECTED_CASES must be a whole number of at least 16.")
        budget = env_vars.get("CASEBOOK_DP_BUDGET", "4")
        try:
            dp_budget = float(budget)
        except ValueError:
            dp_budget = -1.0
        if not 0 < dp_budget <= 100:
            raise ConfigError("CASEBOOK_DP_BUDGET must be a number above 0 and at most 100.")
        linkage_memory = (
            env_vars.get("CASEBOOK_LINKAGE_MEMORY", "").strip().upper() or default_linkage_memory()
        )
        if not re.fullmatch(r"\d+(\.\d+)?\s*(MB|GB|TB)", linkage_memory):
            raise ConfigError("CASEBOOK_LINKAGE_MEMORY must be a size such as 8GB or 512MB.")
        if not max_mb.isdigit() or int(max_mb) < 1:
            raise ConfigError("CASEBOOK_MAX_ATTACHMENT_MB must be a whole number of at least 1.")
        proxies = env_vars.get("CASEBOOK_TRUSTED_PROXIES", "0").strip()
        if not proxies.isascii() or not proxies.isdigit() or int(proxies) > 5:
            raise ConfigError(
                "CASEBOOK_TRUSTED_PROXIES must be the number of reverse proxies in front of "
                "casebook, from 0 to 5 (1 behind the nginx of the deploy guide)."
            )
        stats_k = env_vars.get("CASEBOOK_STATS_K", "11")
        if not stats_k.isdigit() or not 5 <= int(stats_k) <= 1000:
            raise ConfigError("CASEBOOK_STATS_K must be a whole number from 5 to 1000.")
        min_changes = env_vars.get("CASEBOOK_RELEASE_MIN_CHANGES", "25")
        if not min_changes.isdigit() or int(min_changes) < 1:
            raise ConfigError("CASEBOOK_RELEASE_MIN_CHANGES must be a whole number of at least 1.")
        web_unseal = env_vars.get("CASEBOOK_WEB_UNSEAL", "off").strip().lower()
        if web_unseal not in ("on", "off", "1", "0", "true", "false", "yes", "no"):
            raise ConfigError("CASEBOOK_WEB_UNSEAL must be on or off.")
        duress = env_vars.get("CASEBOOK_DURESS_HASH", "").strip() or None
        if duress is not None and not duress.startswith("$argon2id$"):
            raise ConfigError(
                "CASEBOOK_DURESS_HASH must be an Argon2id hash ($argon2id$…), made with "
                "'casebook duress-hash'."
            )
        return cls(
            env=env,
            web_unseal=web_unseal in ("on", "1", "true", "yes"),
            duress_hash=duress,
            stats_k=int(stats_k),
            release_min_changes=int(min_changes),
            instance=instance,
            database_url=database_url,
            secret_key=secret_key,
            kek_source=kek_source,
            kek_passphrase_file=Path(passphrase_file) if passphrase_file else None,
            redis_url=env_vars.get("CASEBOOK_REDIS_URL") or None,
            expected_cases=int(expected),
            max_attachment_bytes=int(max_mb) * 1024 * 1024,
            dp_budget=dp_budget,
            linkage_memory=linkage_memory,
            trusted_proxies=int(proxies),
        )


def development_secret(instance: Path) -> str:
    """The development secret key, kept in the instance folder with mode 0600."""
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value

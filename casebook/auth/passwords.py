"""Password hashing (Argon2id, argon2-cffi) and the NIST SP 800-63B policy.

Policy: at least 12 characters, at most 256 and never truncated, no composition rules, refused
when it is (or is a common word padded with digits or symbols) on the shipped blocklist of
common passwords, or when it contains the service's name or the user's own email name.
"""

from __future__ import annotations

import functools
import re
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from casebook.config import PasswordHashing

MIN_LENGTH = 12
MAX_LENGTH = 256
_PADDING = re.compile(r"^(.*?)[\d\W_]*$")


@functools.cache
def _blocklist() -> frozenset[str]:
    """30,000 common passwords (zxcvbn's list, MIT licence), shipped in casebook/auth/data/."""
    text = resources.files("casebook.auth").joinpath("data/common-passwords.txt").read_text()
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def password_problems(password: str, email: str | None = None) -> list[str]:
    """Every reason a password is refused (empty when it is acceptable)."""
    problems: list[str] = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        problems.append(f"Use at most {MAX_LENGTH} characters.")
    folded = password.casefold()
    stem = _PADDING.sub(r"\1", folded)
    blocked = _blocklist()
    if folded in blocked or (len(stem) >= 4 and stem in blocked) or len(set(folded)) <= 2:
        problems.append("This password is too common; choose another.")
    context = ["casebook"]
    if email and "@" in email:
        local = email.split("@", 1)[0].casefold()
        if len(local) >= 4:
            context.append(local)
    if any(word in folded for word in context):
        problems.append("Do not use the service's name or your email address in the password.")
    return problems


class Passwords:
    """Hashes and verifies; `needs_rehash` tells login to upgrade outdated parameters."""

    def __init__(self, params: PasswordHashing) -> None:
        self._hasher = PasswordHasher(
            time_cost=params.time_cost,
            memory_cost=params.memory_cost,
            parallelism=params.parallelism,
        )
        # Verified for unknown accounts so that they cost the same time as known ones.
        self._dummy = self._hasher.hash("casebook-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)

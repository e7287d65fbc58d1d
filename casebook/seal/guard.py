"""The seal as each app process sees it: a per-process guard that reads the database flag and
drops or reloads the keys to match.

How a seal reaches every process within two seconds:

- every request asks the guard first; it reads the flag (one primary-key lookup) at most once
  per `CHECK_INTERVAL` and answers from memory in between;
- every gunicorn worker (and the master, which holds the keys it forks workers with) also reads
  it once a second by itself, so an idle process on another server drops its keys without
  waiting for a request;
- on the server where the seal was made, `casebook seal` and the seal page send SIGUSR1 to the
  gunicorn master, which passes it to its workers (gunicorn's own log-reopening signal, which
  casebook extends): each reads the flag at once.

A process that finds the flag cleared loads its keys again from its key source. With a key file
that is immediate. A passphrase source needs the passphrase again, which no process kept: the
unsealing process hands the unlock key to the local gunicorn master (`casebook.seal.handoff`),
which takes it here (`take_unlock_key`) and forks fresh workers with the keys (SECURITY.md,
"Sealing").
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from casebook.db import Database
from casebook.encrypted import KeySourceError, Vault, wipe
from casebook.events import service_sealed
from casebook.seal import handoff
from casebook.seal.selectors import seal_flag

log = logging.getLogger("casebook.seal")

CHECK_INTERVAL = 0.5  # seconds a request may answer from the last reading of the flag
WATCH_INTERVAL = 1.0  # seconds between the watcher's own readings in a server process
PIDFILE = "gunicorn.pid"


class SealGuard:
    """One per app: the process's view of the seal flag and the step that matches the keys."""

    def __init__(self, database: Database, vault: Vault) -> None:
        self.database = database
        self.vault = vault
        self._lock = threading.Lock()
        self._next_check = 0.0
        self._epoch: int | None = None
        self._flag = False
        self._watcher_pid: int | None = None
        self._reload_failed_epoch: int | None = None

    @property
    def sealed(self) -> bool:
        """Whether this process answers "sealed": the flag is set, or its keys are gone."""
        return self._flag or self.vault.sealed

    def sealed_now(self) -> bool:
        """For each request: the flag read at most once per CHECK_INTERVAL."""
        if time.monotonic() >= self._next_check:
            self.check()
        return self.sealed

    def check(self) -> None:
        """Read the flag now and make the keys match it (drop them, or load them again)."""
        with self._lock:
            with self.database.engine.connect() as conn:
                flag, epoch = seal_flag(conn)
                conn.rollback()
            self._next_check = time.monotonic() + CHECK_INTERVAL
            self._flag, self._epoch = flag, epoch
            if flag and not self.vault.sealed:
                self.drop_keys()
            elif not flag and self.vault.sealed:
                self._reload(epoch)

    def mark_sealed(self) -> None:
        """This process made the seal (its transaction has committed): drop the keys now."""
        with self._lock:
            self._flag = True
            self._next_check = time.monotonic() + CHECK_INTERVAL
            if not self.vault.sealed:
                self.drop_keys()

    def drop_keys(self) -> None:
        self.vault.seal()
        service_sealed.send(self.vault)
        log.warning(
            "sealed: keys dropped from memory", extra={"event": "sealed", "pid": os.getpid()}
        )

    def _reload(self, epoch: int) -> None:
        if self._reload_failed_epoch == epoch:
            return  # tried for this unseal already; the source needs what this process lacks
        try:
            self.vault.unseal()
        except KeySourceError:
            self._reload_failed_epoch = epoch
            log.warning(
                "unsealed in the database; this process cannot load its keys by itself and "
                "waits for them from 'casebook unseal' on this machine",
                extra={"event": "unseal_reload_waits", "pid": os.getpid()},
            )
            return
        log.warning("unsealed: keys loaded again", extra={"event": "unsealed", "pid": os.getpid()})

    def unsealed_here(self) -> None:
        """This process unsealed its own vault and cleared the flag."""
        with self._lock:
            self._flag = False
            self._reload_failed_epoch = None
            self._next_check = 0.0

    def take_unlock_key(self, key: bytearray) -> str:
        """In the gunicorn master: an unlock key handed over by a local unsealing process
        (`casebook.seal.handoff`). Refused (and overwritten) while the database says sealed;
        otherwise the keys are loaded with it, which checks it. The caller forks fresh workers
        when the answer is `UNSEALED`."""
        with self._lock:
            try:
                with self.database.engine.connect() as conn:
                    flag, epoch = seal_flag(conn)
                    conn.rollback()
            except Exception:
                wipe(key)
                raise
            self._flag, self._epoch = flag, epoch
            self._next_check = time.monotonic() + CHECK_INTERVAL
            if flag:
                wipe(key)
                return handoff.SEALED
            if not self.vault.sealed:
                wipe(key)
                return handoff.ALREADY
            try:
                self.vault.unseal(unlock_key=key)  # the vault's source owns the buffer now
            except KeySourceError:
                return handoff.WRONG_KEY
            self._reload_failed_epoch = None
        log.warning(
            "unsealed: keys loaded again from the unseal hand-off",
            extra={"event": "unsealed", "pid": os.getpid()},
        )
        return handoff.UNSEALED

    # -- server processes ----------------------------------------------------------------------
    def safe_check(self) -> None:
        try:
            self.check()
        except Exception as exc:  # the database may be briefly away; try again next time
            log.error(
                "seal flag unreadable",
                extra={"event": "seal_check_failed", "error": type(exc).__name__},
            )

    def start_watcher(self) -> None:
        """A daemon thread reading the flag once a second (one per process, started after fork)."""
        if self._watcher_pid == os.getpid():
            return
        self._watcher_pid = os.getpid()

        def watch() -> None:
            while True:
                time.sleep(WATCH_INTERVAL)
                self.safe_check()

        threading.Thread(target=watch, name="casebook-seal-watch", daemon=True).start()

    def install_signal(self, previous: Callable[[int, Any], Any] | None = None) -> None:
        """SIGUSR1 makes this process read the flag at once (in a thread: a signal handler
        must not wait on locks), after whatever the signal did before (gunicorn reopens logs)."""

        def on_usr1(signum: int, frame: Any) -> None:
            if previous is not None:
                previous(signum, frame)
            threading.Thread(
                target=self.safe_check, name="casebook-seal-nudge", daemon=True
            ).start()

        signal.signal(signal.SIGUSR1, on_usr1)


def guard_of(app: Any) -> SealGuard:
    guard: SealGuard = app.extensions["casebook.seal"]
    return guard


def hand_keys_to_local_server(instance: Path, vault: Vault) -> str:
    """After this process unsealed with a passphrase: give its unlock key to the local server's
    master (and wake it), which loads the keys and restarts its workers with them. Returns the
    master's answer; raises `handoff.HandoffError` when the key did not get there."""
    key = vault.unlock_key()
    if key is None:
        raise handoff.HandoffError("this process holds no unlock key to hand over")
    return handoff.hand_over(instance, key, wake=lambda: nudge_local_server(instance))


def nudge_local_server(instance: Path) -> bool:
    """SIGUSR1 to the gunicorn master of this instance (its pid file), which passes it to every
    worker. False when no server of this instance runs here."""
    try:
        pid = int((instance / PIDFILE).read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, signal.SIGUSR1)
    except (ProcessLookupError, PermissionError):
        return False
    return True

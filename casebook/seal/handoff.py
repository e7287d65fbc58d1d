"""The unseal hand-off: how the processes of a running server get their keys back after an
unseal when the keys come from a passphrase that no process kept.

`casebook unseal` (or the unseal page, in the worker that received it) checks the passphrase
by opening the sealed keyring with the unlock key derived from it, lifts the seal in the
database, and then hands that unlock key to the gunicorn master of the same instance on this
machine. The master opens the sealed keyring with it, and forks fresh workers that inherit the
keys the way the first workers did at start; the old, sealed workers finish their requests and
exit (gunicorn's own reload technique).

Why this design (the simplest that stays secure):

- **A Unix socket, not the network.** `instance/unseal.sock` is made by the master with mode
  0600 inside the 0700 instance folder, and every connection's peer is checked with
  SO_PEERCRED: only the server's own user (or root) is heard. Both can already read the
  master's memory, so the channel gives nobody a key they could not take anyway.
- **The derived key, not the passphrase.** What crosses is the 32-byte Argon2id unlock key,
  which opens this keyring and nothing else; the passphrase (an immutable `str` that cannot be
  overwritten) stays in the process it was typed into. The master checks the key against the
  sealed keyring (AES-GCM) before keeping it, refuses it while the database says sealed, and
  keeps it in a bytearray that the next seal overwrites with every other key.
- **No thread of ours in the master.** The master polls the socket from its own main loop (at
  least once a second; the sender wakes it at once with SIGUSR1), the loop that also forks the
  workers: the hand-off never runs beside a fork, so no child can inherit a vault or guard lock
  held halfway through it.
- **Workers by fork, not by pipe.** Fresh workers forked from the unsealed master need no
  channel to the workers at all, and the worker that received a typed passphrase on the unseal
  page is among those that exit.
- **This machine only.** App servers on other machines that share the database cannot be
  reached this way: they stay sealed until `casebook unseal` is run on each of them.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import struct
from collections.abc import Callable
from pathlib import Path

from casebook.encrypted import wipe

log = logging.getLogger("casebook.seal")

SOCKET_NAME = "unseal.sock"
MAGIC = b"casebook-unseal/1\n"
KEY_SIZE = 32
READ_TIMEOUT = 2.0  # seconds the master waits for a connected sender's 50 bytes
REPLY_TIMEOUT = 30.0  # seconds a sender waits for the master's answer

# The master's answers: one line each.
UNSEALED = "unsealed"  # the master has the keys again; fresh workers are being started
ALREADY = "already"  # the master already had its keys: nothing changed
SEALED = "sealed"  # the database is sealed (again): the key was refused and overwritten
WRONG_KEY = "wrong-key"  # the key does not open the sealed keyring
NOT_ALLOWED = "not-allowed"  # the peer is neither the server's user nor root
BAD_MESSAGE = "bad-message"  # not a hand-off, or cut short
FAILED = "failed"  # the master could not take it (its database unreachable, say): see its log


def socket_path(instance: Path) -> Path:
    return instance / SOCKET_NAME


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket, from the kernel."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def _recv_exactly(conn: socket.socket, buf: bytearray | memoryview) -> bool:
    view = memoryview(buf)
    got = 0
    while got < len(view):
        n = conn.recv_into(view[got:])
        if n == 0:
            return False
        got += n
    view.release()
    return True


class HandoffListener:
    """The master's end: a non-blocking listening socket, polled from the main loop."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock: socket.socket | None = None
        self.allowed_uids = frozenset({os.getuid(), 0})

    def open(self) -> None:
        """Bind `path` with mode 0600 from the start (a stale socket of a dead server is
        replaced). Called in the master before it has any thread."""
        with contextlib.suppress(FileNotFoundError):
            if self.path.is_socket():
                self.path.unlink()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)
        try:
            sock.bind(str(self.path))
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old)
        os.chmod(self.path, 0o600)
        sock.listen(4)
        sock.setblocking(False)
        self.sock = sock

    def close(self) -> None:
        """In the master at exit: close and remove the socket."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
            with contextlib.suppress(OSError):
                self.path.unlink()

    def close_in_child(self) -> None:
        """In a freshly forked worker: drop the inherited descriptor, keep the file."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def poll(self, take: Callable[[bytearray], str]) -> list[str]:
        """Answer every sender waiting now; `take` gets each well-formed key from an allowed
        peer (and owns the buffer) and returns the answer. Returns the answers given."""
        answers: list[str] = []
        if self.sock is None:
            return answers
        while True:
            try:
                conn, _addr = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return answers
            except OSError as exc:
                log.error(
                    "unseal hand-off socket failed",
                    extra={
                        "event": "unseal_handoff_failed",
                        "error": errno.errorcode.get(exc.errno or 0, type(exc).__name__),
                    },
                )
                return answers
            with conn:
                answers.append(self._serve(conn, take))

    def _serve(self, conn: socket.socket, take: Callable[[bytearray], str]) -> str:
        conn.setblocking(True)
        conn.settimeout(READ_TIMEOUT)
        uid = peer_uid(conn)
        if uid not in self.allowed_uids:
            answer = NOT_ALLOWED
        else:
            key = bytearray(KEY_SIZE)
            try:
                magic = bytearray(len(MAGIC))
                whole = _recv_exactly(conn, magic) and magic == MAGIC and _recv_exactly(conn, key)
            except OSError:
                whole = False
            if whole:
                try:
                    answer = take(key)  # `take` owns the buffer now (keeps it, or overwrites it)
                except Exception as exc:  # the master's loop must go on, whatever happened
                    wipe(key)
                    answer = FAILED
                    log.error(
                        "unseal hand-off: the key could not be taken",
                        extra={"event": "unseal_handoff_failed", "error": type(exc).__name__},
                    )
            else:
                wipe(key)
                answer = BAD_MESSAGE
        log.warning(
            "unseal hand-off: %s",
            answer,
            extra={"event": "unseal_handoff", "outcome": answer, "peer_uid": uid},
        )
        with contextlib.suppress(OSError):
            conn.sendall(answer.encode() + b"\n")
        return answer


class HandoffError(Exception):
    """The key did not reach the local server; `reason` is a sentence for the operator."""

    def __init__(self, reason: str, no_server: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.no_server = no_server


def hand_over(instance: Path, key: bytearray, wake: Callable[[], object] | None = None) -> str:
    """Send `key` (not copied, not changed) to the local server's master and return its
    answer (`UNSEALED` or `ALREADY`); any other outcome raises HandoffError."""
    path = socket_path(instance)
    if not path.exists():
        raise HandoffError(
            "no casebook server of this instance runs on this machine (no unseal socket in "
            f"{instance})",
            no_server=True,
        )
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    sock.settimeout(REPLY_TIMEOUT)
    try:
        try:
            sock.connect(str(path))
        except (ConnectionRefusedError, FileNotFoundError):
            raise HandoffError(
                "no casebook server of this instance runs on this machine (its unseal socket "
                "is left from one that stopped)",
                no_server=True,
            ) from None
        except PermissionError:
            raise HandoffError(
                "the server's unseal socket is not open to this user: run 'casebook unseal' "
                "as the user the server runs as"
            ) from None
        # The key goes only to a listener run by this user, root, or the user owning the
        # instance folder (the server's): a process that put its own socket in place of the
        # server's gets nothing (the server checks its peers the same way).
        listener = peer_uid(sock)
        if listener not in {os.getuid(), 0, instance.stat().st_uid}:
            raise HandoffError(
                "the unseal socket is held by a process of another user: the key was not "
                "sent (check who can write to the instance folder)"
            )
        sock.sendall(MAGIC)
        sock.sendall(key)
        if wake is not None:
            wake()
        reply = bytearray()
        while not reply.endswith(b"\n") and len(reply) < 64:
            chunk = sock.recv(64)
            if not chunk:
                break
            reply += chunk
    except TimeoutError:
        raise HandoffError("the server did not answer the unseal hand-off in time") from None
    except OSError as exc:
        raise HandoffError(f"the unseal hand-off failed ({type(exc).__name__})") from None
    finally:
        sock.close()
    answer = reply.decode("ascii", "replace").strip()
    if answer in (UNSEALED, ALREADY):
        return answer
    raise HandoffError(_REFUSALS.get(answer, "the server closed the unseal hand-off unanswered"))


_REFUSALS = {
    SEALED: "the server refused the key: the database says casebook is sealed (sealed again?)",
    WRONG_KEY: "the server refused the key: it does not open the server's sealed keyring "
    "(is the server using another instance folder?)",
    NOT_ALLOWED: "the server refused the key: run 'casebook unseal' as the user the server "
    "runs as (or root)",
    BAD_MESSAGE: "the server refused the hand-off as malformed",
    FAILED: "the server could not take the key (is its database reachable?); see its log",
}

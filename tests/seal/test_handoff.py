"""The unseal hand-off socket on its own: a key handed over arrives intact, and a process of
another user is kept out by the socket's mode and, when the mode is opened up, by the peer
check (SO_PEERCRED). The whole path through a real server: test_server.py."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from casebook.seal import handoff

NOBODY = 65534


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can pass through (pytest's own tmp folders are private)."""
    path = Path(tempfile.mkdtemp(prefix="cb-handoff-", dir="/tmp"))
    path.chmod(0o711)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def _serve_until(
    listener: handoff.HandoffListener, done: threading.Event, take: Callable[[bytearray], str]
) -> list[str]:
    answers: list[str] = []
    deadline = time.monotonic() + 20
    while not done.is_set() and time.monotonic() < deadline:
        answers += listener.poll(take)
        time.sleep(0.01)
    answers += listener.poll(take)
    return answers


def test_a_key_handed_over_arrives_whole_and_the_socket_is_private(shared_dir: Path) -> None:
    listener = handoff.HandoffListener(handoff.socket_path(shared_dir))
    listener.open()
    try:
        st = os.stat(listener.path)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
        sent = bytearray(os.urandom(32))
        taken: list[bytes] = []

        def take(key: bytearray) -> str:
            taken.append(bytes(key))
            return handoff.UNSEALED

        done = threading.Event()
        result: list[str] = []

        def send() -> None:
            result.append(handoff.hand_over(shared_dir, sent))
            done.set()

        sender = threading.Thread(target=send)
        sender.start()
        answers = _serve_until(listener, done, take)
        sender.join()
        assert answers == [handoff.UNSEALED] and result == [handoff.UNSEALED]
        assert taken == [bytes(sent)]

        # a refusal reaches the sender as an error it can print
        done.clear()
        errors: list[str] = []

        def send_refused() -> None:
            try:
                handoff.hand_over(shared_dir, sent)
            except handoff.HandoffError as exc:
                errors.append(str(exc))
            done.set()

        sender = threading.Thread(target=send_refused)
        sender.start()
        assert _serve_until(listener, done, lambda key: handoff.WRONG_KEY) == [handoff.WRONG_KEY]
        sender.join()
        assert errors and "does not open" in errors[0]
    finally:
        listener.close()
    assert not listener.path.exists()
    with pytest.raises(handoff.HandoffError) as missing:
        handoff.hand_over(shared_dir, bytearray(32))
    assert missing.value.no_server


def _as_nobody(path: Path) -> tuple[int, int]:
    """Fork a child that connects to `path` as another user and sends a key; its pid and
    the read end of a pipe on which it says what happened."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to another user, then try
        os.close(read_end)
        outcome = b"?"
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                sock.connect(str(path))
                sock.sendall(handoff.MAGIC + bytes(range(32)))
                outcome = b"reply:" + sock.recv(64).strip()
        except PermissionError:
            outcome = b"permission denied"
        except OSError as exc:
            outcome = type(exc).__name__.encode()
        finally:
            os.write(write_end, outcome)
            os._exit(0)
    os.close(write_end)
    return pid, read_end


@pytest.mark.skipif(os.getuid() != 0, reason="switching to another user needs root")
def test_another_user_is_kept_out_by_the_mode_and_by_the_peer_check(shared_dir: Path) -> None:
    listener = handoff.HandoffListener(handoff.socket_path(shared_dir))
    listener.open()
    taken: list[bytearray] = []

    def take(key: bytearray) -> str:
        taken.append(key)
        return handoff.UNSEALED

    try:
        for widened in (False, True):
            if widened:  # a mistaken chmod: the peer check still refuses
                listener.path.chmod(0o666)
            pid, fd = _as_nobody(listener.path)
            answers: list[str] = []
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                answers += listener.poll(take)
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
                time.sleep(0.01)
            answers += listener.poll(take)
            with os.fdopen(fd, "rb") as pipe:
                seen = pipe.read().decode()
            if widened:
                assert answers == [handoff.NOT_ALLOWED]
                assert seen == f"reply:{handoff.NOT_ALLOWED}"
            else:
                assert answers == [] and seen == "permission denied"
        assert taken == []  # no key from another user was ever taken
    finally:
        listener.close()


@pytest.mark.skipif(os.getuid() != 0, reason="switching to another user needs root")
def test_the_key_is_never_sent_to_a_socket_another_user_put_in_place(shared_dir: Path) -> None:
    """Someone able to write in the instance folder replaces the server's socket with their
    own, run by another user: `casebook unseal` refuses to send the key and says why."""
    path = handoff.socket_path(shared_dir)
    shared_dir.chmod(0o777)
    read_end, write_end = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the impostor: another user listening where the server's socket would be
        os.close(read_end)
        os.close(ready_r)
        got = b""
        try:
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
                server.bind(str(path))
                server.listen(1)
                os.write(ready_w, b"1")
                server.settimeout(20)
                conn, _ = server.accept()
                conn.settimeout(5)
                with conn:
                    while True:
                        chunk = conn.recv(64)
                        if not chunk:
                            break
                        got += chunk
        except OSError:
            pass
        finally:
            os.write(write_end, b"got:" + got)
            os._exit(0)
    os.close(write_end)
    os.close(ready_w)
    try:
        assert os.read(ready_r, 1) == b"1"
        with pytest.raises(handoff.HandoffError) as refused:
            handoff.hand_over(shared_dir, bytearray(os.urandom(32)))
        assert "another user" in str(refused.value) and not refused.value.no_server
        os.waitpid(pid, 0)
        with os.fdopen(read_end, "rb") as pipe:
            assert pipe.read() == b"got:"  # not even the greeting reached it
    finally:
        os.close(ready_r)
        shared_dir.chmod(0o711)

"""A real `casebook serve` (gunicorn master and two workers) sealed with `casebook seal` while a
light load runs: within two seconds every request answers sealed, and no process of the server
holds a copy of a KEK, the keyring root or a known data key in its memory. Then `casebook
unseal` brings the service back with nothing lost and the audit chain intact."""

from __future__ import annotations

import base64
import ctypes
import http.client
import json
import mmap
import os
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from bench import load
from crypto import Envelope, KeyRing
from tests.conftest import PG_URL

pytestmark = pytest.mark.slow
ENGINES = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]
SEAL_DEADLINE = 2.0


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*load.CLI, *args], env=env, text=True, capture_output=True, timeout=120)


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            text = (task / "children").read_text().split()
        except FileNotFoundError:  # the thread ended between the listing and the read
            continue
        out.extend(int(p) for p in text)
    return out


def memory_hits(pid: int, needles: dict[str, bytes]) -> dict[str, list[str]]:
    """Where each needle occurs in the readable memory of process `pid` (this process or the
    test's own descendant), read through /proc/PID/mem region by region (/proc/PID/maps): one
    region label ("[heap]", "[stack]", a file, "anon@<address>") per occurrence.

    What is read goes into one anonymous mapping of the scan's own, skipped by the scan and
    unmapped at its end: reading into ordinary Python objects would leave copies of whatever
    was read (keys included) in freed heap blocks, for a later scan of this process to count
    as keys the code under test failed to overwrite."""
    hits: dict[str, list[str]] = {name: [] for name in needles}
    overlap = max(len(n) for n in needles.values()) - 1
    chunk = 4 * 1024 * 1024
    buffer = mmap.mmap(-1, chunk + overlap)
    anchor = ctypes.c_char.from_buffer(buffer)
    own_address = ctypes.addressof(anchor)
    del anchor  # a live export would keep the mapping from closing
    view = memoryview(buffer)
    try:
        with open(f"/proc/{pid}/maps") as maps:
            regions = maps.read().splitlines()
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
        try:
            for line in regions:
                parts = line.split()
                if "r" not in parts[1] or (len(parts) > 5 and parts[5].startswith("[v")):
                    continue
                start, end = (int(x, 16) for x in parts[0].split("-"))
                if start <= own_address < end:
                    continue
                label = parts[5] if len(parts) > 5 else f"anon@{start:x}"
                kept = 0  # bytes of the previous read kept in front: a needle across reads
                at = start
                while at < end:
                    size = min(chunk, end - at)
                    try:
                        got = os.preadv(fd, [view[kept : kept + size]], at)
                    except OSError:
                        got = 0
                    filled = kept + got
                    for name, needle in needles.items():
                        pos = buffer.find(needle, 0, filled)
                        while pos != -1:
                            hits[name].append(label)
                            pos = buffer.find(needle, pos + 1, filled)
                    kept = min(overlap, filled) if got == size else 0
                    if kept:
                        view[:kept] = view[filled - kept : filled]
                    at += size
        finally:
            os.close(fd)
    finally:
        view.release()
        buffer.close()
    return hits


def scan_memory(pid: int, needles: dict[str, bytes]) -> dict[str, int]:
    """How many times each needle occurs in the readable memory of process `pid`."""
    return {name: len(where) for name, where in memory_hits(pid, needles).items()}


class Server(load.Server):
    """bench/load.py's server, given longer to start on a busy machine (a bounded wait)."""

    def start(self) -> None:
        with self.log.open("a") as log:
            self.proc = subprocess.Popen(
                [*load.CLI, "serve", "--port", str(self.port), "--workers", "2", "--threads", "4"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if _get(self.port, "/healthz")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("the server did not start")


class Load:
    """A few threads reading and writing through the API until told to stop (bounded)."""

    def __init__(self, port: int, keys: dict[str, str], case_ids: list[str]) -> None:
        self.port, self.keys, self.case_ids = port, keys, case_ids
        self.results: list[tuple[float, int, bytes, str]] = []  # (sent at, status, body, path)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(4)]

    def run(self, n: int) -> None:
        headers = {"Authorization": f"Bearer {self.keys['lawyer']}"}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        for i in range(400):  # at most 1,600 requests in all, ~40 a second
            if self.stop.is_set():
                break
            if i % 3 == 0:
                method, path, body = "GET", "/api/v1/cases?per_page=20", None
            elif i % 3 == 1:
                method, path, body = (
                    "GET",
                    f"/api/v1/cases/{self.case_ids[i % len(self.case_ids)]}",
                    None,
                )
            else:
                method, path = "GET", "/"
                body = None
            sent = time.monotonic()
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                payload = resp.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                continue
            with self.lock:
                self.results.append((sent, resp.status, payload, path))
            time.sleep(0.1)
        conn.close()

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def _get(port: int, path: str, token: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _seed(port: int, token: str, count: int) -> list[str]:
    import random

    rng = random.Random(99)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    ids = []
    try:
        for _ in range(count):
            body = json.dumps(load._case(rng), ensure_ascii=False).encode()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            conn.request("POST", "/api/v1/cases", body=body, headers=headers)
            resp = conn.getresponse()
            assert resp.status == 201
            ids.append(json.loads(resp.read())["id"])
    finally:
        conn.close()
    return ids


def _is_sealed(status: int, body: bytes) -> bool:
    if status != 503:
        return False
    try:
        return bool(json.loads(body)["error"]["code"] == "sealed")
    except ValueError:
        # the page, in English or (without Accept-Language) in Arabic
        return b"casebook is sealed" in body or "casebook مُقفَل".encode() in body


@pytest.mark.parametrize("engine", ENGINES)
def test_sealing_a_loaded_server_clears_every_worker_and_unsealing_restores_it(
    engine: str, tmp_path: Path
) -> None:
    env = load.make_env(tmp_path, PG_URL if engine == "postgresql" else None)
    keys = load.tokens(env)
    keyring_text = (tmp_path / "instance" / "keyring.json").read_bytes()
    ring = KeyRing.from_json(keyring_text)
    server = Server(env, load.free_port(), tmp_path / "server.log")
    server.start()
    try:
        case_ids = _seed(server.port, keys["lawyer"], 12)
        for case_id in case_ids:  # every worker has read (and cached) some data keys
            assert _get(server.port, f"/api/v1/cases/{case_id}", keys["lawyer"])[0] == 200

        # a data key the workers hold, unwrapped here from the database with the keyring
        from casebook.keys.models import CaseKey

        db = create_engine(env["DATABASE_URL"])
        with db.connect() as conn:
            wrapped = conn.execute(
                select(CaseKey.owner_id, CaseKey.wrapped).where(
                    CaseKey.owner_id == uuid.UUID(case_ids[0])
                )
            ).one()
        db.dispose()
        dek = bytes(Envelope(ring).unwrap(str(wrapped[0]), wrapped[1]).key)
        needles = {
            "KEK": bytes(ring.kek(ring.primary_id)),
            "root": bytes(ring.root),
            "data key": dek,
            "system key": bytes(ring.derive("system")),
        }
        # Python's allocator overwrites only the first 8 bytes of a block it frees: a key
        # dropped without being overwritten leaves its second half behind, so look for halves.
        needles |= {f"{name} (second half)": key[16:] for name, key in list(needles.items())}
        pids = [server.proc.pid, *_children(server.proc.pid)]  # type: ignore[union-attr]
        assert len(pids) == 3, pids  # master and two workers
        before = {pid: scan_memory(pid, needles) for pid in pids}
        assert all(before[pid]["KEK"] for pid in pids), before  # the scan does see keys

        with Load(server.port, keys, case_ids) as running:
            while len(running.results) < 40:
                time.sleep(0.02)
            seal_started = time.monotonic()
            sealed = _cli(env, "seal")
            sealed_at = time.monotonic()
            assert sealed.returncode == 0, sealed.stderr
            assert "told at once" in sealed.stdout
            deadline = sealed_at + SEAL_DEADLINE
            while time.monotonic() < deadline + 1.0:
                time.sleep(0.05)  # the load keeps going past the deadline
        late = [(s, b) for t, s, b, _p in running.results if t >= deadline]
        assert late, "no request was sent after the deadline"
        assert all(_is_sealed(s, b) for s, b in late), {s for s, _ in late}
        api_before = [
            s for t, s, _b, p in running.results if t < seal_started and p.startswith("/api/")
        ]
        assert api_before and all(s == 200 for s in api_before)
        # idle workers too: every fresh connection, HTML and JSON, answers sealed
        for path in ("/", "/api/v1/cases", "/login", "/healthz"):
            for _ in range(6):
                assert _is_sealed(*_get(server.port, path, keys["lawyer"])), path

        after = {pid: scan_memory(pid, needles) for pid in pids}
        print("key copies before sealing:", before, "after:", after)
        assert after == {pid: dict.fromkeys(needles, 0) for pid in pids}, after
        b64 = {"KEK (base64)": base64.b64encode(needles["KEK"])}
        residue = {pid: scan_memory(pid, b64) for pid in pids}
        print("base64 text of the KEK still in memory after sealing:", residue)

        unsealed = _cli(env, "unseal")
        assert unsealed.returncode == 0, unsealed.stderr
        new_token = _cli(env, "user", "token", "load-lawyer@example.org").stdout.split()[-1]
        back = time.monotonic() + 10
        while time.monotonic() < back:
            statuses = {
                _get(server.port, "/api/v1/cases?per_page=5", new_token)[0] for _ in range(6)
            }
            if statuses == {200}:
                break
            time.sleep(0.1)
        assert statuses == {200}
        for case_id in case_ids:
            status, body = _get(server.port, f"/api/v1/cases/{case_id}", new_token)
            assert status == 200 and json.loads(body)["person"]["first_name"]
        assert _get(server.port, "/api/v1/cases", keys["lawyer"])[0] == 401  # old token ended
    finally:
        server.stop()
    verify = _cli(env, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


PHRASE = "the unlock passphrase 2026"


def _csrf(html: bytes) -> str:
    import re

    found = re.search(rb'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1).decode()


def _web_unseal(port: int, passphrase: str) -> tuple[int, bytes]:
    """The unseal page as a browser uses it: the form (its CSRF token and session cookie),
    then the passphrase posted with them."""
    from urllib.parse import urlencode

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/unseal", headers={"Accept-Language": "en"})
        resp = conn.getresponse()
        page = resp.read()
        assert resp.status == 200, page[:300]
        cookie = resp.getheader("Set-Cookie", "").split(";")[0]
        body = urlencode({"passphrase": passphrase, "csrf_token": _csrf(page)})
        conn.request(
            "POST",
            "/unseal",
            body=body,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": cookie,
                "Accept-Language": "en",
            },
        )
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def _wait_sealed(port: int) -> None:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if all(_is_sealed(*_get(port, "/api/v1/cases")) for _ in range(6)):
            return
        time.sleep(0.1)
    raise AssertionError("the server did not answer sealed")


def _fresh_workers(master: int, old: set[int]) -> list[int]:
    """The master's workers once every one of them is new (forked after the unseal)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = _children(master)
        if len(now) == 2 and not set(now) & old:
            return now
        time.sleep(0.1)
    raise AssertionError(f"the workers were not replaced: {_children(master)} (old: {old})")


def _all_serve(port: int, token: str) -> list[int]:
    """Statuses of 24 requests, each on a new connection (the two workers share them)."""
    return [_get(port, "/api/v1/cases?per_page=5", token)[0] for _ in range(24)]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_passphrase_server_unsealed_from_the_command_line_and_the_web_serves_without_restart(
    engine: str, tmp_path: Path
) -> None:
    """Production mode: the keyring sealed under a passphrase that no process keeps after a
    seal. `casebook unseal` (passphrase on stdin) and the unseal page hand the unlock key to
    the running server's master; every worker serves again without a restart."""
    import os
    import stat

    from crypto import PassphraseKeySource
    from crypto.keyring import Argon2Params

    env = load.make_env(tmp_path, PG_URL if engine == "postgresql" else None)
    keys = load.tokens(env)
    instance = tmp_path / "instance"
    ring = KeyRing.from_json((instance / "keyring.json").read_bytes())
    sealed_ring = PassphraseKeySource(
        instance / "keyring.sealed", lambda: PHRASE, Argon2Params(1, 8192, 1)
    )
    sealed_ring.save(ring)
    (instance / "keyring.json").unlink()  # from now on only the passphrase opens the keys
    start_file, cli_file = tmp_path / "unlock", tmp_path / "cli-unlock"
    for f in (start_file, cli_file):
        f.write_text(PHRASE)
        f.chmod(0o600)
    base = {**env, "CASEBOOK_KEK_SOURCE": "passphrase", "CASEBOOK_WEB_UNSEAL": "on"}
    nothing = {k: v for k, v in base.items() if k != "CASEBOOK_KEK_PASSPHRASE_FILE"}
    with_file = {**base, "CASEBOOK_KEK_PASSPHRASE_FILE": str(cli_file)}  # never the server's

    server = Server(
        {**base, "CASEBOOK_KEK_PASSPHRASE_FILE": str(start_file)},
        load.free_port(),
        tmp_path / "server.log",
    )
    server.start()
    start_file.unlink()  # as the deploy guide says: nothing left for the server to read again
    master = server.proc.pid  # type: ignore[union-attr]
    try:
        sock = os.stat(instance / "unseal.sock")
        assert stat.S_ISSOCK(sock.st_mode) and stat.S_IMODE(sock.st_mode) == 0o600
        assert sock.st_uid == os.getuid()
        assert stat.S_IMODE(os.stat(instance).st_mode) == 0o700

        case_ids = _seed(server.port, keys["lawyer"], 8)
        for case_id in case_ids:
            assert _get(server.port, f"/api/v1/cases/{case_id}", keys["lawyer"])[0] == 200
        sealed_ring.load()
        unlock = sealed_ring.unlock_key()
        assert unlock is not None
        from casebook.keys.models import CaseKey

        db = create_engine(env["DATABASE_URL"])
        with db.connect() as conn:
            owner, wrapped = conn.execute(
                select(CaseKey.owner_id, CaseKey.wrapped).where(
                    CaseKey.owner_id == uuid.UUID(case_ids[0])
                )
            ).one()
        needles = {
            "KEK": bytes(ring.kek(ring.primary_id)),
            "root": bytes(ring.root),
            "data key": bytes(Envelope(ring).unwrap(str(owner), wrapped).key),
            "system key": bytes(ring.derive("system")),
            "unlock key": bytes(unlock),
        }
        needles |= {f"{name} (second half)": key[16:] for name, key in list(needles.items())}
        workers = set(_children(master))
        assert len(workers) == 2

        # 1. sealed, and a wrong passphrase leaves it sealed (audited)
        assert _cli(nothing, "seal").returncode == 0
        _wait_sealed(server.port)
        wrong = subprocess.run(
            [*load.CLI, "unseal", "--passphrase-stdin"],
            env=nothing,
            input="not the passphrase at all\n",
            text=True,
            capture_output=True,
            timeout=120,
        )
        assert wrong.returncode != 0 and "wrong unlock passphrase" in wrong.stderr
        time.sleep(1.5)
        _wait_sealed(server.port)
        assert set(_children(master)) == workers

        # 2. the right one, on stdin: every worker serves again, no restart
        right = subprocess.run(
            [*load.CLI, "unseal", "--passphrase-stdin"],
            env=nothing,
            input=PHRASE + "\n",
            text=True,
            capture_output=True,
            timeout=120,
        )
        unsealed_at = time.monotonic()
        assert right.returncode == 0, right.stdout + right.stderr
        assert "the server on this machine has its keys again" in right.stdout
        assert "other machines" in right.stderr
        assert server.proc.poll() is None and server.proc.pid == master  # type: ignore[union-attr]
        workers = set(_fresh_workers(master, workers))
        assert [_get(server.port, "/healthz")[0] for _ in range(24)] == [200] * 24
        print(f"both workers new and serving {time.monotonic() - unsealed_at:.1f} s after unseal")
        token = _cli(with_file, "user", "token", "load-lawyer@example.org").stdout.split()[-1]
        assert _all_serve(server.port, token) == [200] * 24
        for case_id in case_ids:
            status, body = _get(server.port, f"/api/v1/cases/{case_id}", token)
            assert status == 200 and json.loads(body)["person"]["first_name"]
        for pid in workers:  # each new worker holds the keys (forked from the unsealed master)
            assert scan_memory(pid, {"KEK": needles["KEK"]})["KEK"], pid

        # 3. the unseal page: the worker that takes the passphrase hands it to the master too
        assert _cli(nothing, "seal").returncode == 0
        _wait_sealed(server.port)
        status, page = _web_unseal(server.port, "not the passphrase at all")
        assert status == 400 and b"does not unlock" in page
        status, page = _web_unseal(server.port, PHRASE)
        assert status == 200 and b"Unsealed" in page and b"did not take" not in page
        workers = set(_fresh_workers(master, workers))
        token = _cli(with_file, "user", "token", "load-lawyer@example.org").stdout.split()[-1]
        assert _all_serve(server.port, token) == [200] * 24

        # 4. sealed again: no process of the server keeps a key, the unlock key included
        assert _cli(nothing, "seal").returncode == 0
        _wait_sealed(server.port)
        pids = [master, *_children(master)]
        assert len(pids) == 3
        after = {pid: scan_memory(pid, needles) for pid in pids}
        print("key copies after sealing again:", after)
        assert after == {pid: dict.fromkeys(needles, 0) for pid in pids}, after
    finally:
        server.stop()
    assert not (instance / "unseal.sock").exists()

    from casebook.audit.models import AuditEntry

    with db.connect() as conn:
        rows = conn.execute(
            select(AuditEntry.action, AuditEntry.outcome, AuditEntry.details)
            .where(AuditEntry.action.in_(["service.seal", "service.unseal"]))
            .order_by(AuditEntry.seq)
        ).all()
    db.dispose()
    assert [(a, o, json.loads(d or "{}")["via"]) for a, o, d in rows] == [
        ("service.seal", "success", "cli"),
        ("service.unseal", "failure", "cli"),
        ("service.unseal", "success", "cli"),
        ("service.seal", "success", "cli"),
        ("service.unseal", "failure", "web"),
        ("service.unseal", "success", "web"),
        ("service.seal", "success", "cli"),
    ]
    verify = _cli(with_file, "audit", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr

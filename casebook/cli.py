"""The `casebook` command (a Flask CLI group): init, demo, serve, stats, import, backup,
restore, user, keys, audit."""

from __future__ import annotations

import getpass
import json
import logging
import math
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from casebook import create_app
from casebook.audit.services import Actor, audit_record
from casebook.config import ConfigError, Settings
from casebook.db import Database
from casebook.encrypted import KeyRing, KeySourceError, Vault, key_source_from_setting
from casebook.spreadsheet import tsv_line

if TYPE_CHECKING:
    from casebook.partners.compare import Overlap

# A running server never prompts: after its start a sealed process that finds the seal lifted
# must not stop to wait for a terminal (it reads the passphrase file, or stays sealed).
_PROMPT = {"allowed": True}


def _cli_passphrase(settings: Settings) -> Callable[[], str]:
    """Read the unlock passphrase from CASEBOOK_KEK_PASSPHRASE_FILE, else ask on the terminal."""

    def read() -> str:
        if settings.kek_passphrase_file is not None:
            try:
                return settings.kek_passphrase_file.read_text().rstrip("\n")
            except OSError:
                raise KeySourceError(
                    f"the passphrase file {settings.kek_passphrase_file} cannot be read"
                ) from None
        if not sys.stdin.isatty() or not _PROMPT["allowed"]:
            raise KeySourceError(
                "the unlock passphrase is needed: set CASEBOOK_KEK_PASSPHRASE_FILE or run on a "
                "terminal"
            )
        return getpass.getpass("casebook unlock passphrase: ")

    return read


def _make_app() -> Flask:
    settings = Settings.from_env()
    source = key_source_from_setting(
        settings.kek_source, settings.instance, _cli_passphrase(settings)
    )
    return create_app(settings, Vault(source, settings.expected_cases))


cli = FlaskGroup(
    name="casebook",
    create_app=_make_app,
    add_default_commands=False,
    add_version_option=False,
    load_dotenv=False,
    help="casebook: encrypted case database. See README.md.",
)


def main() -> None:
    os.umask(0o077)  # every file casebook writes (database, keys, exports) is private to it
    try:
        cli.main(prog_name="casebook")
    except (ConfigError, KeySourceError) as exc:
        click.echo(f"casebook: {exc}", err=True)
        sys.exit(2)
    except OperationalError:
        # the driver's text can quote a statement and its values: never printed
        click.echo(
            "casebook: the database could not be used (unreachable, or locked by another "
            "process for longer than the wait); the command stopped: try again",
            err=True,
        )
        sys.exit(1)


def _settings() -> Settings:
    s: Settings = current_app.config["CASEBOOK"]
    return s


def _vault() -> Vault:
    v: Vault = current_app.extensions["casebook.vault"]
    return v


def _db() -> Database:
    d: Database = current_app.extensions["casebook.db"]
    return d


def _session() -> Session:
    return _db().sessionmaker()


def _passwords() -> Any:
    return current_app.extensions["casebook.passwords"]


# -- init ---------------------------------------------------------------------------------------


@cli.command("init")
def init_command() -> None:
    """Create the instance folder and keys (if missing) and migrate the database to head."""
    from casebook.migrate import upgrade

    settings = _settings()
    settings.instance.mkdir(parents=True, exist_ok=True)
    os.chmod(settings.instance, 0o700)
    vault = _vault()
    created = False
    if not vault.source.exists():
        if settings.kek_source == "passphrase" and settings.kek_passphrase_file is None:
            first = getpass.getpass("choose an unlock passphrase (12+ characters): ")
            if getpass.getpass("again: ") != first:
                raise click.ClickException("the two passphrases differ")
        vault.source.save(KeyRing.generate())
        created = True
    vault.load()
    upgrade(settings.database_url)
    if created:
        with _session() as s, s.begin():
            audit_record(
                s, Actor.cli(), "keys.create", object_type="kek", object_id=vault.keyring.primary_id
            )
    from casebook.auth.sessions import sessions_purge

    with _session() as s, s.begin():
        purged = sessions_purge(s, settings)
    click.echo(f"instance: {settings.instance}")
    click.echo(f"keys: {vault.source.describe()} ({'created' if created else 'present'})")
    click.echo("database: migrated to head")
    click.echo(f"sessions: {purged} expired removed")
    warn_if_role_controls_audit_log(_db())


def warn_if_role_controls_audit_log(database: Database) -> bool:
    """At init and at start: say so (log line and stderr) when casebook's database role owns
    the audit log. A warning, not a refusal: migrations run as the owner by design."""
    from casebook.audit.selectors import AUDIT_OWNER_WARNING, role_controls_audit_log

    with database.sessionmaker() as s:
        owner = role_controls_audit_log(s)
    if owner:
        logging.getLogger("casebook.db").warning(
            "database role owns audit_log", extra={"event": "audit_log_owner"}
        )
        click.echo(f"warning: {AUDIT_OWNER_WARNING}", err=True)
    return owner


def require_migrated() -> None:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from casebook.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(_settings().database_url)).get_current_head()
    with _db().engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current != head:
        raise click.ClickException("the database is not migrated to head: run 'casebook init'")


# -- demo ---------------------------------------------------------------------------------------

DEMO_USERS = (
    ("documenter@demo.casebook.invalid", "Demo documenter", "documenter", "quiet-olive-harbor-41"),
    ("lawyer@demo.casebook.invalid", "Demo lawyer", "lawyer", "amber-meadow-falcon-73"),
    ("advocate@demo.casebook.invalid", "Demo advocate", "advocate", "cedar-lantern-river-19"),
    ("admin@demo.casebook.invalid", "Demo admin", "admin", "saffron-pebble-willow-58"),
)


@cli.command("demo")
@click.option(
    "--cases",
    "case_count",
    default=200,
    show_default=True,
    type=int,
    help="Synthetic cases the instance should hold: adds the difference (made through the "
    "same services as real ones).",
)
@click.option("--seed", default=1, show_default=True, type=int)
def demo_command(case_count: int, seed: int) -> None:
    """Demo users (one per role) and synthetic cases; refused in production."""
    from sqlalchemy import func, select

    from casebook.auth.services import user_by_email, user_create
    from casebook.cases.demo import synthetic_cases
    from casebook.cases.models import Case
    from casebook.cases.services import case_create_many

    if _settings().production:
        raise click.ClickException("demo data is refused in production")
    require_migrated()
    click.echo("Demo accounts (development only):")
    with _session() as s, s.begin():
        for email, name, role, password in DEMO_USERS:
            user = user_by_email(s, email)
            if user is None:
                user, _ = user_create(
                    s,
                    Actor.cli(),
                    _passwords(),
                    email=email,
                    display_name=name,
                    role=role,
                    password=password,
                    language="ar",
                )
                user.totp_confirmed_at = datetime.now(UTC)
            click.echo(f"  {role:<11} {email}  password: {password}  2FA key: {user.totp_secret}")
        documenter = user_by_email(s, DEMO_USERS[0][0])
        documenter_id = documenter.id if documenter else None
        existing = s.scalar(select(func.count()).select_from(Case)) or 0
    todo = max(0, case_count - existing)
    if todo:
        actor = Actor.cli()
        cases = synthetic_cases(todo, seed + existing)
        with click.progressbar(length=todo, label="demo cases", file=sys.stderr) as bar:
            remaining = todo
            while remaining:
                batch = [next(cases) for _ in range(min(1000, remaining))]
                with _session() as s, s.begin():
                    case_create_many(s, actor, batch, created_by=documenter_id)
                remaining -= len(batch)
                bar.update(len(batch))
    click.echo(f"cases: {existing + todo} (added {todo})")
    click.echo("Get the current 2FA code with: casebook user otp EMAIL")


# -- serve --------------------------------------------------------------------------------------


def throttle_warning(settings: Settings, workers: int) -> str | None:
    """With several workers and no Redis each worker keeps its own limiter buckets (the
    wrong-code lockout is counted in the database and holds anyway): say so in every mode."""
    if workers > 1 and not settings.redis_url:
        return "warning: CASEBOOK_REDIS_URL is not set; login throttling is per worker"
    return None


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    default=lambda: int(os.environ.get("PORT", "5000")),
    type=int,
    show_default="$PORT or 5000",
)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def serve_command(host: str, port: int, workers: int, threads: int) -> None:
    """Serve with gunicorn. Loads the keys first: without them casebook refuses to start."""
    import gunicorn.http.wsgi
    from gunicorn.app.base import BaseApplication

    # gunicorn names itself in a Server header on every response; say nothing about the stack.
    gunicorn.http.wsgi.SERVER = "casebook"

    from gunicorn.arbiter import Arbiter

    from casebook.encrypted import PassphraseKeySource
    from casebook.seal import handoff
    from casebook.seal.guard import PIDFILE, WATCH_INTERVAL, guard_of
    from casebook.seal.selectors import seal_flag

    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    _vault().load()
    _PROMPT["allowed"] = False
    require_migrated()
    with _db().engine.connect() as conn:
        if seal_flag(conn)[0]:
            _vault().seal()
            raise click.ClickException("casebook is sealed: run 'casebook unseal' first")
    warn_if_role_controls_audit_log(_db())
    warning = throttle_warning(_settings(), workers)
    if warning:
        click.echo(warning, err=True)
    db = _db()
    # With a passphrase source no process keeps the passphrase after a seal: the master listens
    # for the unlock key from a local `casebook unseal` (casebook.seal.handoff says why so).
    listener = (
        handoff.HandoffListener(handoff.socket_path(_settings().instance))
        if isinstance(_vault().source, PassphraseKeySource)
        else None
    )

    def _post_fork(server: Any, worker: Any) -> None:
        db.engine.dispose(close=False)
        if listener is not None:
            listener.close_in_child()

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("accesslog", None)  # casebook logs its own request lines, without URLs
            self.cfg.set("errorlog", "-")
            self.cfg.set("timeout", 120)
            self.cfg.set("graceful_timeout", 20)
            self.cfg.set("limit_request_line", 8190)
            self.cfg.set("post_fork", _post_fork)
            # gunicorn 25.1+ opens a control socket, by default under the home folder; keep it
            # with the rest of the instance (mode 0600), where the deploy guide's backups and
            # permissions already reach.
            if "control_socket" in self.cfg.settings:
                self.cfg.set("control_socket", str(_settings().instance / "gunicorn.ctl"))
            # `casebook seal` finds the master here and sends it SIGUSR1 (see casebook.seal)
            self.cfg.set("pidfile", str(_settings().instance / PIDFILE))
            self.cfg.set("post_worker_init", _worker_watches_the_seal)

        def load(self) -> Flask:
            return app

        def run(self) -> None:
            SealingArbiter(self).run()

    guard = guard_of(app)

    def _worker_watches_the_seal(worker: Any) -> None:
        guard.install_signal(worker.handle_usr1)
        guard.start_watcher()

    class SealingArbiter(Arbiter):  # type: ignore[misc]
        """The master holds the keys it forks workers with: it drops them too. SIGUSR1 (which
        gunicorn passes on to the workers) makes it read the seal flag at once, and its main
        loop reads it once a second. With a passphrase source its main loop also answers the
        unseal hand-off, and forks fresh workers once it has the keys again."""

        next_check = 0.0

        def start(self) -> None:
            super().start()
            if listener is not None:
                try:
                    listener.open()
                except OSError as exc:
                    self.log.error(
                        "the unseal socket %s cannot be made (%s): after a seal, restart the "
                        "server to unseal it",
                        listener.path,
                        type(exc).__name__,
                    )

        def halt(self, reason: Any = None, exit_status: int = 0) -> None:
            if listener is not None:
                listener.close()
            super().halt(reason, exit_status)

        def handle_usr1(self) -> None:
            super().handle_usr1()
            guard.safe_check()

        def manage_workers(self) -> None:
            if listener is not None and handoff.UNSEALED in listener.poll(guard.take_unlock_key):
                # The old workers are sealed and cannot load the keys: fork as many fresh ones
                # from this process, which holds the keys again (as at start); gunicorn then
                # stops the oldest ones gracefully (its own reload technique).
                for _ in range(self.num_workers):
                    self.spawn_worker()
            super().manage_workers()
            now = time.monotonic()
            if now >= self.next_check:
                self.next_check = now + WATCH_INTERVAL
                guard.safe_check()

    click.echo(f"casebook serving on http://{host}:{port}")
    Server().run()


# -- seal ---------------------------------------------------------------------------------------


@cli.command("seal")
def seal_command() -> None:
    """Make every casebook process forget its keys now; end every session and API token.

    The flag is written to the database (with its audit entry) first; every app process that
    shares the database drops its keys within two seconds, and the server of this instance is
    told at once (SIGUSR1). Needs no key.
    """
    from casebook.seal.guard import guard_of, nudge_local_server
    from casebook.seal.services import service_seal

    with _session() as s, s.begin():
        outcome = service_seal(s, Actor.cli(), "cli")
    guard_of(current_app).mark_sealed()  # this process's own keys, if it had loaded any
    nudged = nudge_local_server(_settings().instance)
    click.echo(
        f"sealed{' (it already was)' if outcome.already else ''}: "
        f"{outcome.sessions_ended} sessions ended, {outcome.tokens_revoked} API tokens revoked"
    )
    click.echo(
        "the server on this machine was told at once"
        if nudged
        else "no running server of this instance found here; servers elsewhere read the flag"
    )


@cli.command("unseal")
@click.option(
    "--passphrase-stdin",
    is_flag=True,
    help="Read the unlock passphrase from standard input (one line) instead of the terminal.",
)
def unseal_command(passphrase_stdin: bool) -> None:
    """Check the unlock secret (the passphrase, or the key file), lift the seal, and give the
    keys back to the running server of this machine.

    With a key file every server reads it again by itself. With a passphrase the unlock key
    derived from it is handed to this machine's server, which restarts its workers with it;
    app servers on other machines stay sealed until this is run on each of them. Exits
    non-zero when the key did not reach a running server here.
    """
    from casebook.seal.guard import hand_keys_to_local_server, nudge_local_server
    from casebook.seal.handoff import ALREADY, HandoffError
    from casebook.seal.services import service_unseal

    settings, vault = _settings(), _vault()
    phrase = sys.stdin.readline().rstrip("\n") if passphrase_stdin else None
    try:
        vault.unseal(phrase)
    except KeySourceError:
        with _session() as s, s.begin():
            audit_record(
                s,
                Actor.cli(),
                "service.unseal",
                object_type="service",
                outcome="failure",
                details={"via": "cli"},
            )
        raise
    with _session() as s, s.begin():
        changed = service_unseal(s, Actor.cli(), "cli")
    if settings.kek_source != "passphrase":
        if not changed:
            click.echo("casebook is not sealed; nothing to do")
            return
        nudge_local_server(settings.instance)
        click.echo("unsealed: every server reads its key file again; everyone signs in again")
        return
    click.echo(
        "app servers on other machines sharing this database cannot be given the keys from "
        "here: they stay sealed until 'casebook unseal' is run on each of them",
        err=True,
    )
    try:
        answer = hand_keys_to_local_server(settings.instance, vault)
    except HandoffError as exc:
        if exc.no_server and not changed:
            click.echo("casebook is not sealed and no server runs here; nothing to do")
            return
        lifted = "unsealed in the database" if changed else "casebook is not sealed"
        raise click.ClickException(
            f"{lifted}, but the server on this machine did not get its keys: {exc}. "
            + (
                "Start it as at start ('casebook serve' asks for the passphrase)."
                if exc.no_server
                else "Restart it as at start ('casebook serve' asks for the passphrase)."
            )
        ) from None
    if answer == ALREADY:
        click.echo(
            ("unsealed; " if changed else "casebook is not sealed; ")
            + "the server on this machine already had its keys"
        )
    else:
        click.echo(
            ("unsealed: " if changed else "casebook was already unsealed in the database: ")
            + "the server on this machine has its keys again and restarts its workers "
            "with them; everyone signs in again"
        )


@cli.command("duress-hash")
def duress_hash_command() -> None:
    """Read a duress password on the terminal (or stdin) and print its Argon2id hash for
    CASEBOOK_DURESS_HASH: signing in with it, to any account, seals casebook silently."""
    if sys.stdin.isatty():
        first = getpass.getpass("duress password (12+ characters): ")
        if getpass.getpass("again: ") != first:
            raise click.ClickException("the two passwords differ")
    else:
        first = sys.stdin.readline().rstrip("\n")
    if len(first) < 12:
        raise click.ClickException("a duress password needs at least 12 characters")
    click.echo(_passwords().hash(first))


# -- statistics ---------------------------------------------------------------------------------


@cli.command("stats")
@click.option("--by", "by", required=True, help="One or two dimensions, comma-separated.")
@click.option("--k", "k", default=None, help="A larger k than the release's (never smaller).")
@click.option("--epsilon", default=None, help="Refused: releases are exact, with suppression.")
@click.option("--release", "number", type=int, default=None, help="Release number (latest).")
@click.option("--verified", is_flag=True, help="Count verified cases only.")
@click.option("--grouped", is_flag=True, help="One-way table with rare categories merged.")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None)
def stats_command(
    by: str,
    k: str | None,
    epsilon: str | None,
    number: int | None,
    verified: bool,
    grouped: bool,
    fmt: str,
    output: str | None,
) -> None:
    """A protected table of a statistics release; the export is audited."""
    from casebook.stats.services import (
        StatsInputError,
        TableCache,
        parse_params,
        release_get,
        stats_table,
    )
    from casebook.stats.views import _csv

    try:
        with _session() as s, s.begin():
            found = release_get(s, number)
            if found is None:
                raise click.ClickException("no statistics release has been published yet")
            latest = release_get(s, None)
            newer = (
                (latest.number, latest.created_at)
                if latest and latest.number > found.number
                else None
            )
            dims, k_value = parse_params(by, k, epsilon, found.k)
            release = stats_table(
                s,
                _vault(),
                Actor.cli(),
                TableCache(),
                release=found,
                dimensions=dims,
                k=k_value,
                verified_only=verified,
                grouped=grouped,
                export_format=fmt,
            )
    except StatsInputError as exc:
        for field, messages in exc.fields.items():
            for message in messages:
                click.echo(f"{field}: {message}", err=True)
        raise click.ClickException("no statistics were produced") from None
    text = (
        _csv(release, newer)
        if fmt == "csv"
        else json.dumps(release.as_json(), ensure_ascii=False, indent=1)
    )
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


@cli.group("release")
def release_group() -> None:
    """Statistics releases: frozen, dated, protected tables."""


@release_group.command("create")
@click.option("--note", default=None, help="A short note (no personal data).")
@click.option(
    "--estimate-lists",
    default="",
    help="Outside lists (labels or ids) of the same population, for the release's estimate.",
)
@click.option("--estimate-by", default=None, help="Estimate per group of this dimension too.")
def release_create_command(note: str | None, estimate_lists: str, estimate_by: str | None) -> None:
    """Cut a release (with its estimate); refused until enough cases changed since the last."""
    from casebook.estimate.histories import HistoryInputError
    from casebook.estimate.release import schedule_from
    from casebook.stats.cuts import release_cut
    from casebook.stats.services import ReleaseRefusedError

    settings = _settings()
    try:
        outcome = release_cut(
            _db(),
            _vault(),
            Actor.cli(),
            k=settings.stats_k,
            min_changes=settings.release_min_changes,
            note=note,
            estimate_lists=[n.strip() for n in estimate_lists.split(",") if n.strip()],
            estimate_by=estimate_by,
            schedule=schedule_from(settings),
        )
    except ReleaseRefusedError as exc:
        raise click.ClickException(f"no release was made: {exc}") from None
    except HistoryInputError as exc:
        raise click.ClickException("no release was made: " + "; ".join(exc.problems)) from None
    number, cases, changes, estimate = (
        outcome.number,
        outcome.cases,
        outcome.changes,
        outcome.estimate,
    )
    click.echo(f"release {number}: {cases} cases counted, {changes} changed since the last")
    if estimate["estimable"]:
        low, high = estimate["interval"]
        click.echo(
            f"estimated total {estimate['estimate']} ({low}–{high}), from "
            f"{estimate['sources']} lists ({estimate['method']})"
        )
    else:
        click.echo(f"no estimate: {estimate['reason_text']}")


@release_group.command("list")
def release_list_command() -> None:
    """The releases, newest first."""
    from casebook.stats.services import release_list

    with _session() as s:
        for r in release_list(s):
            click.echo(
                f"{r.number}\t{r.created_at:%Y-%m-%d %H:%M}\tk={r.k}\t{r.mode}\t"
                f"{r.cases} cases\t{r.changes} changes\t{r.scopes}"
            )


# -- import -------------------------------------------------------------------------------------


@cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check every row and report; store nothing.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows and report the others.")
@click.option(
    "--report",
    "report_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the rejected rows (row, field, reason) as CSV here (default: standard output).",
)
@click.option("--owner", default=None, help="A documenter's email: the cases become theirs.")
def import_command(
    file: str, dry_run: bool, skip_invalid: bool, report_path: str | None, owner: str | None
) -> None:
    """Import cases from CSV, XLSX or JSON lines: all or nothing unless --skip-invalid.

    Exit status: 0 when every row was imported or already present, 1 when rows were refused.
    """
    from casebook.imports.services import ImportFileError, import_file, report_csv

    require_migrated()
    data = Path(file).read_bytes()
    estimate = data.count(b"\n") + 1  # a bar needs a length, an empty file included
    try:
        with _session() as s, s.begin():
            owner_id = _user_or_fail(s, owner).id if owner else None
            bar: Any
            with click.progressbar(
                length=estimate,
                label="checking rows (a dry run: nothing is stored)"
                if dry_run
                else "checking and importing rows",
                file=sys.stderr,
            ) as bar:
                result = import_file(
                    s,
                    Actor.cli(),
                    data,
                    Path(file).name,
                    created_by=owner_id,
                    dry_run=dry_run,
                    skip_invalid=skip_invalid,
                    progress=bar.update,
                    # validation in worker processes pays off on large files only
                    workers=min(os.cpu_count() or 1, 4) if len(data) > 2_000_000 else 1,
                )
    except ImportFileError as exc:
        for problem in exc.problems:
            click.echo(f"casebook: {problem}", err=True)
        raise click.ClickException("nothing was imported: the file could not be read") from None
    summary = (
        f"{result.kind} ({result.encoding or 'xlsx'}): {result.rows} rows, "
        f"{result.imported} {'to import' if dry_run else 'imported'}, "
        f"{result.already} already imported, {result.rejected} refused"
    )
    click.echo(summary, err=True)
    if result.imported_before:
        click.echo(f"already imported before: {_row_list(result.imported_before)}", err=True)
    for row, first in result.repeats[:50]:
        click.echo(f"row {row} is the same case as row {first} of this file", err=True)
    if len(result.repeats) > 50:
        click.echo(f"and {len(result.repeats) - 50} more rows repeat earlier ones", err=True)
    if result.problems:
        text = report_csv(result.problems)
        if report_path:
            Path(report_path).write_text(text, encoding="utf-8")
            click.echo(f"report of refused rows: {report_path}", err=True)
        else:
            click.echo(text, nl=False)
    if result.outcome == "refused":
        click.echo("nothing was imported: correct the rows listed, or use --skip-invalid", err=True)
    if result.rejected:
        sys.exit(1)


def _a_number(value: float | None, name: str) -> float | None:
    """click's FloatRange lets "nan" through (every comparison with it is false)."""
    if value is not None and math.isnan(value):
        raise click.BadParameter("must be a number", param_hint=name)
    return value


def _counted(n: int, one: str, many: str) -> str:
    """ "1 case", "2 cases": a count with its noun (these lines are read by people)."""
    return f"{n} {one if n == 1 else many}"


def _row_list(rows: list[int], most: int = 50) -> str:
    """Row numbers for a message: "rows 4, 9 and 12", the first `most` of them."""
    shown = ", ".join(str(n) for n in rows[:most])
    more = f" and {len(rows) - most} more" if len(rows) > most else ""
    return f"row{'s' if len(rows) > 1 else ''} {shown}{more}"


# -- linkage ------------------------------------------------------------------------------------


def _case_count() -> int:
    from sqlalchemy import func, select

    from casebook.cases.models import Case

    with _session() as s:
        return int(s.scalar(select(func.count()).where(Case.erased_at.is_(None))) or 0)


@cli.command("dedupe")
@click.option("--threshold", default=0.9, show_default=True, type=click.FloatRange(0.5, 0.999))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def dedupe_command(threshold: float, fmt: str) -> None:
    """Score pairs of cases that may be one person (Splink on an in-memory DuckDB that never
    writes to disk); new pairs go to the lawyers' review queue. With --format json, one
    {"a": REFERENCE, "b": REFERENCE, "score": P} per line: the pairs no lawyer has decided.
    The pairs held back (each may join two brothers) are not among them: they are listed on
    standard error."""
    from casebook.linkage.scoring import LinkageError
    from casebook.linkage.services import dedupe_run

    require_migrated()
    total = _case_count()
    if total < 2:
        click.echo("nothing to compare: fewer than two cases", err=True)
        return
    bar: Any
    try:
        with (
            _session() as s,
            s.begin(),
            click.progressbar(
                length=total, label="reading and normalising cases", file=sys.stderr
            ) as bar,
        ):
            result = dedupe_run(
                s,
                Actor.cli(),
                threshold=threshold,
                memory_limit=_settings().linkage_memory,
                progress=bar.update,
            )
    except LinkageError as exc:  # rolled back: nothing reached the review queue
        raise click.ClickException(f"{exc}; nothing was written") from None
    click.echo(result.report.summary(), err=True)
    click.echo(
        f"{len(result.pairs)} pairs at or above {threshold}; {result.new} new in the review queue"
        + (f"; {result.waiting} already waiting there" if result.waiting else "")
        + (
            f"; {result.decided} already decided by a lawyer, not raised again (not listed)"
            if result.decided
            else ""
        )
        + (
            f"; {len(result.report.held)} held back ({result.held} new to the queue or newly "
            "marked there"
            + ("; the others were already" if result.held < len(result.report.held) else "")
            + "): each may join two brothers, or two people whose dates of birth say so"
            if result.report.held
            else ""
        ),
        err=True,
    )
    for a, b, score in result.undecided:  # a pair decided "not the same person" is no candidate
        if fmt == "json":
            click.echo(json.dumps({"a": a, "b": b, "score": score}))
        else:
            click.echo(tsv_line([a, b, f"{score:.4f}"]))
    # the pairs held back are listed for the person at the terminal, on standard error: the
    # standard output is the proposed pairs alone, one {"a", "b", "score"} per line in JSON, and
    # a tool reading it as duplicates must never take a held pair (two brothers, most likely)
    for a, b, score in result.held_pairs:
        click.echo(f"held back, for a lawyer to decide: {a} {b} {score:.4f}", err=True)


@cli.command("match")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--threshold", default=0.9, show_default=True, type=click.FloatRange(0.5, 0.999))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def match_command(file: str, threshold: float, fmt: str) -> None:
    """Match an outside list (CSV/XLSX: names, optional father/mother, birth year, place)
    against every case; possible matches go to review. Nothing of the list is stored readable.
    Rows are numbered as in the file, the header being row 1."""
    from casebook.imports.reader import ImportFileError
    from casebook.linkage.lists import read_list_report
    from casebook.linkage.services import list_match

    require_migrated()
    try:
        read = read_list_report(Path(file).read_bytes(), Path(file).name)
    except ImportFileError as exc:
        raise click.ClickException("; ".join(exc.problems)) from None
    rows = read.rows
    if read.unknown:
        click.echo(f"columns not used (unknown headers): {', '.join(read.unknown)}", err=True)
    if read.unnamed:  # row numbers only: nothing a row says
        click.echo(f"rows left out, without a name: {', '.join(map(str, read.unnamed))}", err=True)
    if read.years_unread:
        click.echo(
            "rows whose birth year is not a four-digit year, matched as if none was given: "
            + ", ".join(map(str, read.years_unread)),
            err=True,
        )
    from casebook.linkage.scoring import LinkageError

    total = _case_count()
    if total == 0:  # said, where "0 possible matches" would read as none of the rows found
        click.echo(
            f"nothing to compare: there are no cases to match the {len(rows)} rows to", err=True
        )
        return
    bar: Any
    try:
        with (
            _session() as s,
            s.begin(),
            click.progressbar(
                length=total, label="reading and normalising cases", file=sys.stderr
            ) as bar,
        ):
            result = list_match(
                s,
                Actor.cli(),
                rows,
                label=Path(file).name,
                created_by=None,
                threshold=threshold,
                memory_limit=_settings().linkage_memory,
                progress=bar.update,
            )
    except LinkageError as exc:
        raise click.ClickException(f"{exc}; nothing was written") from None
    several = len({row for row, _, _ in result.several})
    click.echo(
        f"{len(result.matches)} possible matches for {result.rows} rows; {several} rows fit "
        f"several cases, or one not surely ({len(result.several)} candidates, each listed, "
        "marked several, and in the review queue)",
        err=True,
    )
    for row, reference, score in result.matches:
        if fmt == "json":
            click.echo(json.dumps({"row": row, "case": reference, "score": score}))
        else:
            click.echo(tsv_line([row, reference, f"{score:.4f}"]))
    for row, reference, score in result.several:
        if fmt == "json":
            click.echo(json.dumps({"row": row, "case": reference, "score": score, "several": True}))
        else:
            click.echo(tsv_line([row, reference, f"{score:.4f}", "several"]))


# -- estimate -----------------------------------------------------------------------------------


def _estimate_fail(problems: list[str]) -> NoReturn:
    """Bad capture histories: every reason on stderr, exit 2 (as for bad arguments)."""
    for problem in problems:
        click.echo(f"casebook estimate: {problem}", err=True)
    sys.exit(2)


@cli.command("estimate", with_appcontext=False)
@click.argument("file", type=click.Path(exists=True, dir_okay=False), required=False)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.option(
    "--seed",
    type=click.IntRange(0, 2**32 - 1),
    default=None,
    help="Random seed (default: a fresh one, printed so the run can be repeated).",
)
@click.option(
    "--samples",
    type=click.IntRange(8),
    default=1000,
    show_default=True,
    help="Posterior draws kept, over all chains.",
)
@click.option("--burn-in", "burn_in", type=click.IntRange(0), default=10_000, show_default=True)
@click.option("--thin", type=click.IntRange(1), default=100, show_default=True)
@click.option("--chains", type=click.IntRange(2, 16), default=4, show_default=True)
@click.option(
    "--from-cases",
    "from_cases",
    is_flag=True,
    help="Capture histories from this instance's cases and matched outside lists.",
)
@click.option(
    "--lists",
    "lists",
    default=None,
    help="With --from-cases: own, then outside lists (id or label), comma-separated.",
)
@click.option("--by", "by", default=None, help="With --from-cases: estimate per stratum too.")
def estimate_command(
    file: str | None,
    fmt: str,
    seed: int | None,
    samples: int,
    burn_in: int,
    thin: int,
    chains: int,
    from_cases: bool,
    lists: str | None,
    by: str | None,
) -> None:
    """Estimate how many people no list holds (multiple systems estimation) from a
    capture-history CSV: one 0/1 column per list, optionally a `count` column."""
    import secrets

    from casebook.estimate.captures import CaptureError, captures_from_csv, csv_warnings
    from casebook.estimate.lcmcr import Schedule
    from casebook.estimate.report import estimate_report

    if samples < 2 * chains:
        _estimate_fail([f"--samples must be at least {2 * chains} for {chains} chains"])
    schedule = Schedule(samples=samples, burn_in=burn_in, thin=thin, chains=chains)
    run_seed = seed if seed is not None else secrets.randbelow(2**31)
    if from_cases:
        if file is not None:
            _estimate_fail(["give either FILE or --from-cases, not both"])
        if not lists:
            _estimate_fail(["--from-cases needs --lists own,LIST,..."])
        _estimate_from_cases(lists.split(","), by, fmt, run_seed, schedule)
        return
    if file is None:
        _estimate_fail(["a capture-history FILE (or --from-cases) is needed"])
    if lists is not None or by is not None:
        _estimate_fail(["--lists and --by go with --from-cases"])
    try:
        text = Path(file).read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        _estimate_fail(["the file is not UTF-8 text"])
    try:
        captures = captures_from_csv(text)
    except CaptureError as exc:
        _estimate_fail(exc.problems)
    report = estimate_report(captures, seed=run_seed, schedule=schedule)
    report["warnings"] = [f"the file says: {w}" for w in csv_warnings(text)] + report["warnings"]
    _estimate_emit(report, fmt)


def _estimate_from_cases(
    lists: list[str], by: str | None, fmt: str, seed: int, schedule: Any
) -> None:
    """Capture histories from the database (the app, and so the keys, are loaded only here)."""
    from flask.cli import ScriptInfo

    from casebook.estimate.captures import CaptureError
    from casebook.estimate.histories import HistoryInputError, case_histories
    from casebook.estimate.report import stratified_report

    app = click.get_current_context().ensure_object(ScriptInfo).load_app()
    with app.app_context():
        require_migrated()
        try:
            with _session() as s:
                histories = case_histories(s, lists, by)
            report = stratified_report(
                histories.lists,
                dict(histories.overall),
                {k: dict(v) for k, v in histories.strata.items()},
                seed=seed,
                schedule=schedule,
                unstratified=histories.unstratified,
                dimension=by,
            )
        except (HistoryInputError, CaptureError) as exc:
            _estimate_fail(exc.problems)
        report["warnings"] = histories.warnings + report["warnings"]
        report["excluded_matches"] = histories.excluded
        _estimate_emit(report, fmt)


def _estimate_emit(report: dict[str, Any], fmt: str) -> None:
    """Print a report; warnings go to stderr too, and a run that did not converge exits 1."""
    from casebook.estimate.report import report_text, strata_text

    if fmt == "json":
        click.echo(json.dumps(report, ensure_ascii=False))
        for warning in report["warnings"]:
            click.echo(f"casebook estimate: warning: {warning}", err=True)
    else:
        click.echo(report_text(report))
        if "strata" in report:
            click.echo(strata_text(report))
    failed = _not_converged(report)
    if failed:
        click.echo(f"casebook estimate: {failed}", err=True)
        sys.exit(1)


def _not_converged(report: dict[str, Any]) -> str | None:
    """The reason a report (or any of its strata) is not an estimate, if any."""
    conv = report.get("convergence")
    if conv is not None and not conv["converged"]:
        return "the sampler did not converge; no estimate (run longer)"
    for stratum in report.get("strata", []):
        if _not_converged(stratum):
            return f"the sampler did not converge for stratum {stratum['stratum']!r} (run longer)"
    return None


# -- backup and restore -------------------------------------------------------------------------


@cli.command("backup")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
def backup_command(output: str) -> None:
    """An encrypted, signed archive of the database, attachments and erasure ledger.

    It carries wrapped data keys, never the KEK: keep the keyring (or passphrase) separately.
    """
    from casebook.backup import BackupError, backup_create

    require_migrated()
    try:
        archive = backup_create(_settings(), _vault(), _db(), Actor.cli())
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    path = Path(output)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(archive)
    click.echo(f"backup written to {path} ({len(archive) / 1e6:.1f} MB)")


@cli.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--no-current-ledger",
    is_flag=True,
    help="Restore although the instance folder holds no erasures.jsonl (cases erased after "
    "the backup come back; recorded in the audit log).",
)
def restore_command(file: str, no_current_ledger: bool) -> None:
    """Restore an archive into an empty instance holding the same keyring (do not run
    'casebook init' first on a new machine unless the keyring is already in place). Copy the
    current erasures.jsonl into the instance folder first."""
    from casebook.backup import BackupError, backup_restore

    try:
        report = backup_restore(
            _settings(),
            _vault(),
            _db(),
            Path(file).read_bytes(),
            Actor.cli(),
            without_current_ledger=no_current_ledger,
        )
    except BackupError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"restored the backup of {report.created_at}: {report.cases} cases, "
        f"{report.attachments} attachment files, {report.erasures_reapplied} erasures "
        f"re-applied; audit chain intact ({report.audit_entries} entries)"
    )


# -- users --------------------------------------------------------------------------------------


@cli.group("user")
def user_group() -> None:
    """Accounts: create, token, role, disable, otp."""


def _user_or_fail(s: Session, email: str) -> Any:
    from casebook.auth.services import user_by_email

    user = user_by_email(s, email)
    if user is None:
        raise click.ClickException("no such user")
    return user


@user_group.command("create")
@click.argument("email")
@click.option(
    "--role", required=True, type=click.Choice(["documenter", "lawyer", "advocate", "admin"])
)
@click.option("--name", default=None, help="Display name (default: the email's local part).")
@click.option("--language", default="ar", type=click.Choice(["ar", "en"]))
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def user_create_command(
    email: str, role: str, name: str | None, language: str, password_stdin: bool
) -> None:
    """Create an account; prints its 2FA secret, URI and recovery codes once."""
    from casebook.auth.services import AccountError, user_create

    require_migrated()
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("password", hide_input=True, confirmation_prompt=True)
    with _session() as s, s.begin():
        try:
            user, enrolment = user_create(
                s,
                Actor.cli(),
                _passwords(),
                email=email,
                display_name=name or email.split("@")[0],
                role=role,
                password=password,
                language=language,
            )
        except AccountError as exc:
            for field, messages in exc.problems.items():
                for message in messages:
                    click.echo(f"{field}: {message}", err=True)
            raise click.ClickException("the account was not created") from None
        user_id = user.id
    click.echo(f"created {role} {user_id}")
    click.echo(f"TOTP secret: {enrolment.secret}")
    click.echo(f"TOTP URI: {enrolment.uri}")
    click.echo("recovery codes: " + " ".join(enrolment.recovery_codes))


@user_group.command("token")
@click.argument("email")
@click.option("--days", default=90, show_default=True, type=int)
def user_token_command(email: str, days: int) -> None:
    """Issue a personal API token; the token is the last line printed."""
    from casebook.auth.services import AccountError, token_issue

    with _session() as s, s.begin():
        user = _user_or_fail(s, email)
        try:
            token, raw = token_issue(s, Actor.cli(), user, days)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"token {token.id} for {user.role}, expires {token.expires_at:%Y-%m-%d}")
    click.echo(raw)


@user_group.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice(["documenter", "lawyer", "advocate", "admin"]))
def user_role_command(email: str, role: str) -> None:
    """Change a role at once (the way to a second admin when there is only one): the operator
    with shell access holds the keyring and stands outside the web's two-person rule; the
    change is audited as cli:<os user>."""
    from casebook.auth.services import AccountError, user_role_change

    require_migrated()
    with _session() as s, s.begin():
        user = _user_or_fail(s, email)
        old = user.role
        try:
            user_role_change(s, Actor.cli(), user, role)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"role changed from {old} to {role}; the user's sessions and tokens were ended")


@user_group.command("disable")
@click.argument("email")
def user_disable_command(email: str) -> None:
    """Disable an account: its sessions end and its tokens are revoked."""
    from casebook.auth.services import user_disable

    with _session() as s, s.begin():
        user_disable(s, Actor.cli(), _user_or_fail(s, email))
    click.echo("disabled")


@user_group.command("otp")
@click.argument("email")
def user_otp_command(email: str) -> None:
    """Print the current 2FA code (development only, for trying the demo without a phone)."""
    from casebook.auth import totp

    if _settings().production:
        raise click.ClickException("refused in production")
    with _session() as s:
        user = _user_or_fail(s, email)
        if not user.totp_secret:
            raise click.ClickException("this user has no second factor yet")
        now = totp.current_step()
        step = max(now, (user.totp_last_step or 0) + 1)
        if step > now + 1:
            # every code the server takes now (one step of clock skew each way) is spent: a code
            # printed anyway would be refused with nothing to say why
            wait = (step - 1) * totp.STEP - int(time.time()) + 1
            raise click.ClickException(
                f"this user's codes up to the next one are spent; run this again in {wait} s"
            )
        click.echo(totp.code_at(user.totp_secret, step))


# -- sessions -----------------------------------------------------------------------------------


@cli.group("sessions")
def sessions_group() -> None:
    """Server-side sessions: purge the expired ones."""


@sessions_group.command("purge")
def sessions_purge_command() -> None:
    """Delete every session past its idle or absolute timeout (safe to run from cron)."""
    from casebook.auth.sessions import sessions_purge

    require_migrated()
    with _session() as s, s.begin():
        purged = sessions_purge(s, _settings())
    click.echo(f"{purged} expired sessions removed")


# -- keys ---------------------------------------------------------------------------------------


@cli.group("cases")
def cases_group() -> None:
    """Maintenance of the case store."""


@cases_group.command("reindex")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 10_000))
def cases_reindex_command(batch: int) -> None:
    """Compute every case's search indexes again: after every upgrade, and after changing
    CASEBOOK_EXPECTED_CASES. The app keeps running; it can be run again (it starts over)."""
    from sqlalchemy import func, select

    from casebook.cases.models import Case
    from casebook.cases.services import cases_reindex

    with _session() as s:
        todo = s.scalar(select(func.count()).where(Case.erased_at.is_(None))) or 0
    with click.progressbar(length=todo, label="reindexing cases", file=sys.stderr) as bar:
        done = cases_reindex(_db().sessionmaker, Actor.cli(), batch, progress=bar.update)
    click.echo(f"reindexed {done} cases")


@cli.group("keys")
def keys_group() -> None:
    """Key-encryption keys: status, rotate, rewrap, retire."""


@keys_group.command("status")
def keys_status_command() -> None:
    from casebook.audit.selectors import AUDIT_OWNER_WARNING
    from casebook.keys.services import keys_status

    with _session() as s:
        st = keys_status(s, _vault())
    click.echo(f"source: {st.source}")
    click.echo(f"primary KEK: {st.primary}")
    for kid, status, created, count in st.keks:
        click.echo(f"  KEK {kid}: {status:<8} created {created}  data keys: {count}")
    click.echo(f"blind indexes: {st.index_bits} bits for {st.expected_records} expected records")
    for pending in st.pending:
        click.echo(pending.sentence())
    if st.erasures and not st.pending:
        click.echo(f"{st.erasures} erasures, all shredded (their KEKs are retired)")
    if st.role_controls_audit_log:
        click.echo(f"warning: {AUDIT_OWNER_WARNING}")


@keys_group.command("rotate")
def keys_rotate_command() -> None:
    """Add a new primary KEK; then restart workers and run 'casebook keys rewrap'."""
    from casebook.keys.services import keys_rotate

    with _session() as s, s.begin():
        kid = keys_rotate(s, Actor.cli(), _vault())
    click.echo(f"KEK {kid} is now primary; run 'casebook keys rewrap' next")


@keys_group.command("rewrap")
@click.option("--batch", default=500, show_default=True, type=int)
def keys_rewrap_command(batch: int) -> None:
    """Rewrap every data key under the primary KEK (resumable; the app keeps running)."""
    from sqlalchemy import func, select

    from casebook.keys.models import CaseKey
    from casebook.keys.services import keys_rewrap

    vault = _vault()
    vault.reload()
    with _session() as s:
        todo = s.scalar(select(func.count()).where(CaseKey.kek_id != vault.keyring.primary_id)) or 0
    with click.progressbar(length=todo, label="rewrapping data keys", file=sys.stderr) as bar:
        done = keys_rewrap(_db().sessionmaker, Actor.cli(), vault, batch, progress=bar.update)
    click.echo(f"rewrapped {done} data keys")


@keys_group.command("retire")
@click.argument("kek_id", type=int)
def keys_retire_command(kek_id: int) -> None:
    """Retire an old KEK once no data key uses it."""
    from casebook.keys.services import KeyInUseError, keys_retire

    with _session() as s, s.begin():
        try:
            keys_retire(s, Actor.cli(), _vault(), kek_id)
        except (KeyInUseError, KeySourceError) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"KEK {kek_id} retired")


# -- audit --------------------------------------------------------------------------------------


@cli.group("audit")
def audit_group() -> None:
    """The audit log: verify, checkpoint."""


@audit_group.command("verify")
@click.option("--checkpoint", "checkpoint_file", type=click.Path(exists=True, dir_okay=False))
def audit_verify_command(checkpoint_file: str | None) -> None:
    """Exit 0 when the chain is intact; else exit 1 naming the first bad entry."""
    from casebook.audit.verify import load_checkpoint, verify_chain

    checkpoint = None
    if checkpoint_file:
        try:
            checkpoint = load_checkpoint(Path(checkpoint_file).read_text())
        except ValueError:
            click.echo("the checkpoint file is not valid JSON", err=True)
            sys.exit(1)
    with _session() as s:
        verdict = verify_chain(s, checkpoint, _vault().checkpoint_signer().public_key)
    click.echo(verdict.sentence(), err=not verdict.ok)
    sys.exit(0 if verdict.ok else 1)


@audit_group.command("checkpoint")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None)
def audit_checkpoint_command(output: str | None) -> None:
    """Write a signed (sequence, head hash, time) statement to keep off the server."""
    from casebook.audit.verify import make_checkpoint

    with _session() as s, s.begin():
        doc = make_checkpoint(s, _vault().checkpoint_signer())
        audit_record(s, Actor.cli(), "audit.checkpoint", details={"seq": doc["seq"]})
    text = json.dumps(doc, indent=1)
    if output:
        Path(output).write_text(text + "\n")
        click.echo(f"checkpoint at entry {doc['seq']} written to {output}")
    else:
        click.echo(text)


# -- partners -----------------------------------------------------------------------------------


@cli.group("partners")
def partners_group() -> None:
    """Count the people shared with partner organisations without exchanging a name."""


@partners_group.command("export")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--secret-file", required=True, type=click.Path(dir_okay=False))
@click.option("--label", default=None, help="Our organisation's name, as partners will see it.")
def partners_export_command(output: str, secret_file: str, label: str | None) -> None:
    """Write keyed encodings of every case whose consent allows partner matching (a random id
    per record, never a case id); prints how many were exported and left out."""
    from casebook.partners.services import PartnerInputError, partners_export, read_secret

    require_migrated()
    try:
        secret = read_secret(Path(secret_file))
    except PartnerInputError as exc:
        raise click.ClickException(str(exc)) from None
    target = Path(output)
    folder = target.parent  # Path("x").parent is Path(".")
    if target.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise click.ClickException(
            f"{output}: cannot write there (not a writable folder); nothing was exported"
        )
    replaced = target.exists()
    bar: Any
    with (
        _session() as s,
        s.begin(),
        click.progressbar(length=_case_count(), label="encoding cases", file=sys.stderr) as bar,
    ):
        result = partners_export(s, Actor.cli(), secret, label, progress=bar.update)
        if not result.exported:  # a file of no records would only be refused by compare
            raise click.ClickException(
                f"no case can be exported: {result.no_consent} without consent to partner "
                f"matching, {result.unreadable} that could not be decrypted (rejected, "
                "duplicate and erased cases are never exported); nothing was written"
            )
        try:
            _write_private(target, json.dumps(result.document, separators=(",", ":")) + "\n")
        except OSError as exc:  # rolled back with the session: no export is recorded
            raise click.ClickException(
                f"{output}: could not be written ({exc.strerror}); nothing was exported"
            ) from None
    click.echo(
        f"{_counted(result.exported, 'case', 'cases')} exported to {output}"
        + (" (the file that was there is replaced)" if replaced else "")
        + f"; {result.no_consent} left out without consent to partner matching (rejected, "
        "duplicate and erased cases are never exported)",
        err=True,
    )
    if result.unreadable:
        click.echo(f"{result.unreadable} cases could not be decrypted and were left out", err=True)
        sys.exit(1)


def _write_private(target: Path, text: str) -> None:
    """Write a file readable by its owner only: a new file beside the target (mode 600 from
    its creation), then moved over it, so that a file already there, with whatever mode it
    had, is replaced rather than written into."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _shared(o: Overlap, counted: int) -> str:
    """One line on a pair of lists' overlap: which count stands, and why."""
    from casebook.partners.compare import ESTIMATE_MIN_RECORDS

    matched = f"{_counted(o.matched, 'person', 'people')} matched one to one"
    if o.why == "estimated":
        return (
            f"about {counted} people shared (standard error {o.error:.0f}), counted; "
            f"{matched}: the rest too like others of their lists to be told apart"
        )
    if o.why == "too_few_records":
        return f"{matched}, counted (under {ESTIMATE_MIN_RECORDS} records a list: not estimated)"
    if o.why == "crowded":
        return f"{matched}, counted (nearly every record has a look-alike: not estimated)"
    estimate = f"{o.estimate or 0:.0f}"
    if o.why in ("sides_apart", "below_matched"):
        return f"{matched}, counted (the estimate, {estimate}, is unsure: see the warning)"
    return (
        f"{matched}, counted (the estimate, {estimate}, standard error {o.error:.0f}, shows no "
        "more people than that)"
    )


def _shared_line(o: Overlap, counted: int) -> str:
    """`_shared`, and where the matched people sit near the threshold, that the count is
    likely below the truth (the line people copy must say it, not only the warning)."""
    line = _shared(o, counted)
    if o.below_truth == "likely_far_below":
        return f"{line}; likely far below the truth: see the warning"
    if o.below_truth == "may_be_below":
        return f"{line}; may be below the truth: see the warning"
    return line


@partners_group.command("compare")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--threshold",
    default=None,
    type=click.FloatRange(0.5, 0.99),
    callback=lambda _ctx, _param, value: _a_number(value, "--threshold"),
    help="Dice similarity for a match (default 0.745, measured at 10,000 and 100,000 a list).",
)
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text")
def partners_compare_command(files: tuple[str, ...], threshold: float | None, fmt: str) -> None:
    """Count people per membership pattern across two or more partners' files (ours first);
    our matched cases get a sealed "also documented by" mark that lawyers see."""
    import io

    from casebook.partners.compare import DEFAULT_THRESHOLD
    from casebook.partners.services import (
        PartnerInputError,
        load_file,
        partners_compare,
        partners_compare_refused,
    )
    from casebook.spreadsheet import csv_writer, tsv_line

    require_migrated()
    if len(files) < 2:
        raise click.ClickException("compare needs at least two files (ours first)")
    try:
        loaded = [load_file(Path(f)) for f in files]
        repeats = []
        for f in loaded:
            if f.repeated:
                records = _counted(f.repeated, "record repeats", "records repeat")
                repeats.append(
                    f"{f.name}: {records} another record's encoding exactly (one person "
                    "recorded more than once, two people whose names, birth year, governorate "
                    "and arrest year are written alike, or an edited file); each is counted as "
                    "a person"
                )
                click.echo(repeats[-1], err=True)
        with _session() as s, s.begin():
            result = partners_compare(
                s, Actor.cli(), loaded, DEFAULT_THRESHOLD if threshold is None else threshold
            )
    except PartnerInputError as exc:
        with _session() as s, s.begin():
            partners_compare_refused(s, Actor.cli(), len(files), exc.reason)
        raise click.ClickException(str(exc)) from None
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    if result.left_out:
        click.echo(
            f"{_counted(result.left_out, 'record', 'records')} of {files[0]} left out: their "
            "cases were erased, "
            "rejected or found duplicates, or their consent to partner matching withdrawn, "
            "since the export",
            err=True,
        )

    def counted(o: Overlap) -> int:
        """A pair's shared people as the patterns given count them (the rounded estimate)."""
        x, y = o.lists
        return sum(n for k, n in result.patterns.items() if k[x] == k[y] == "1")

    if fmt == "json":
        overlaps = [
            {
                "lists": [result.lists[o.lists[0]], result.lists[o.lists[1]]],
                "counted": counted(o),
                "counted_as": "estimated" if o.why == "estimated" else "matched",
                "matched": o.matched,
                "estimate": None if o.estimate is None else round(o.estimate),
                "standard_error": None if o.estimate is None else round(o.error),
                "sides": None if o.sides is None else [round(v) for v in o.sides],
                "why": o.why,
                "near_threshold": None if o.near_threshold is None else round(o.near_threshold, 3),
                "below_truth": o.below_truth,
            }
            for o in result.overlaps
        ]
        body = {
            "lists": result.lists,
            "patterns": result.patterns,
            "estimated": result.estimated,
            "matched_patterns": result.matched_patterns,
            "overlaps": overlaps,
            "warnings": repeats + result.warnings,
        }
        click.echo(json.dumps(body))
    elif fmt == "csv":
        out = io.StringIO()
        writer = csv_writer(out, lineterminator="\n")
        writer.writerow([*result.lists, "count"])  # the capture histories `estimate` reads
        for pattern, count in result.patterns.items():
            writer.writerow([*pattern, count])
        # the warnings travel with the counts: `casebook estimate` repeats these lines
        from casebook.estimate.captures import CSV_WARNING

        for warning in repeats + result.warnings:
            out.write(f"{CSV_WARNING}{' '.join(warning.split())}\n")
        click.echo(out.getvalue(), nl=False)
    else:
        click.echo(tsv_line([*result.lists, "people", "matched"]))
        for pattern, count in result.patterns.items():
            click.echo(tsv_line([*pattern, count, result.matched_patterns[pattern]]))
    for o in result.overlaps:
        pair = f"{result.lists[o.lists[0]]} and {result.lists[o.lists[1]]}"
        click.echo(f"{pair}: {_shared_line(o, counted(o))}", err=True)
    click.echo(
        "people: the counts to use (the CSV and the JSON's patterns give them)"
        + (
            ", with the estimated overlaps, which count the shared people the matching could "
            "not tell from a look-alike"
            if result.estimated
            else ""
        )
        + "; matched: the people found one to one. Both are floors: shared people whose two "
        "records differ more than look-alikes do are in neither (in casebook's outside checks "
        "3-26% short, and 27-48% where copies often lacked a grandfather, mother or birth "
        "date), and an estimate of the undocumented from them is too high",
        err=True,
    )
    if result.ours_known:
        click.echo(
            f"{result.ours_matched} of our cases "
            f"{'is' if result.ours_matched == 1 else 'are'} also on another list; "
            f"{_counted(result.marks_added, 'new mark', 'new marks')} for lawyers",
            err=True,
        )
    else:
        click.echo(
            f"{files[0]} is not an export of this casebook: counts only, no case marked",
            err=True,
        )


# -- field collection -------------------------------------------------------------------------


@cli.group("field")
def field_group() -> None:
    """Field collection with ODK Collect, KoboCollect and Tella."""


@field_group.command("form")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.option("--xform", is_flag=True, help="Write the XForm phones download, not the workbook.")
def field_form_command(output: str, xform: bool) -> None:
    """Write the field form as an XLSForm workbook (or, with --xform, as the XForm served to
    phones), with the current version and public key (made, and audited, if there is none)."""
    from casebook.field import xlsform
    from casebook.field.services import current_form, field_key_current

    require_migrated()
    with _session() as s, s.begin():
        form = current_form(s, Actor.cli())
        key = field_key_current(s, Actor.cli())
        data = form.xml if xform else xlsform.workbook(form.version, key.public_key)
    Path(output).write_bytes(data)
    click.echo(f"form {form.form_id} version {form.version} written to {output}", err=True)


@field_group.command("new-key")
def field_new_key_command() -> None:
    """Make a new key pair for the field form (after a phone with the form was lost, or on a
    schedule). The form served from now on is a new version carrying the new public key;
    phones must download it again. Older private keys are kept, so submissions already
    encrypted on phones can still be read."""
    from casebook.field.services import current_form, field_key_create

    require_migrated()
    with _session() as s, s.begin():
        field_key_create(s, Actor.cli())
        form = current_form(s, Actor.cli())
    click.echo(
        f"new field key: form {form.form_id} is now version {form.version}; "
        "on each phone, download the form again (ODK Collect: Download form)"
    )


@field_group.command("expire")
@click.option(
    "--older-than-hours",
    type=click.IntRange(min=0),
    default=48,
    show_default=True,
    help="Expire split submissions whose latest part came longer ago than this.",
)
def field_expire_command(older_than_hours: int) -> None:
    """Shred split submissions whose last part never came (also done at each submission)."""
    from datetime import timedelta

    from casebook.field.services import submissions_expire_partial

    require_migrated()
    instance = Path(_settings().instance)
    with _session() as s, s.begin():
        expired = submissions_expire_partial(
            s,
            Actor.cli(),
            instance / "attachments",
            instance / "erasures.jsonl",
            older_than=timedelta(hours=older_than_hours),
        )
    click.echo(f"{expired} unfinished field submission(s) expired")

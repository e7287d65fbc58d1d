"""Domain events: how the case package tells statistics, linkage, imports and partner matching
what happened to a case without importing them.

Cases sit below those packages (they read cases; cases must not know them), so a case write
sends a signal and each package that keeps something about cases answers it. The receivers are
connected once, by `create_app` (`connect_receivers`); every entry point of casebook (the web
app, the CLI, wsgi, the benchmarks) goes through it. A signal that must be heard (an erasure
that must reach every table that names the case) is sent with `send_required`, which refuses to
go on when nothing listens rather than leaving rows behind silently. Receivers run in the
sender's transaction: they flush, never commit.

Signals use blinker, the library Flask's own signals are made with.
"""

from __future__ import annotations

from typing import Any

from blinker import NamedSignal, Namespace

_signals = Namespace()

#: A write that can change what the statistics count (create, edit, status, review, merge,
#: erase). Sender: the SQLAlchemy session.
case_counts_changed: NamedSignal = _signals.signal("case-counts-changed")

#: A case was erased: every row elsewhere that names it goes in the same transaction.
#: Sender: the session; keyword `case_id`.
case_erased: NamedSignal = _signals.signal("case-erased")

#: A case was just entered: receivers answer with the cases it may duplicate (a list of Case).
#: Sender: the session; keywords `actor` and `case`.
case_entered: NamedSignal = _signals.signal("case-entered")


#: A new primary KEK was added: receivers rewrap at once the few system keys they keep in
#: `case_keys` (the field form's private key). Sender: the session; keyword `vault`.
kek_rotated: NamedSignal = _signals.signal("kek-rotated")

#: The service was sealed and this process's keys are gone: every cache that holds decrypted
#: or derived personal data empties. Sender: the vault.
service_sealed: NamedSignal = _signals.signal("service-sealed")


class ReceiversMissingError(RuntimeError):
    """A signal that must be heard had no receiver: the app was not created through create_app."""


def send_required(signal: NamedSignal, sender: Any, **kwargs: Any) -> list[Any]:
    """Send a signal whose receivers must run, and return their answers."""
    if not signal.receivers:
        raise ReceiversMissingError(f"no receiver for {signal.name}: connect_receivers() first")
    return [answer for _receiver, answer in signal.send(sender, **kwargs)]


def connect_receivers() -> None:
    """Connect every package's receivers (idempotent: connecting a function twice keeps one)."""
    from casebook.field.services import field_keys_rewrap, submissions_unlink_case
    from casebook.imports.services import fingerprints_drop_for_case
    from casebook.linkage.services import entry_check_receiver, review_items_drop_for_case
    from casebook.names.matching import name_cache_clear
    from casebook.partners.services import partner_rows_drop_for_case
    from casebook.stats.queries import stats_touch_receiver

    case_counts_changed.connect(stats_touch_receiver)
    case_erased.connect(review_items_drop_for_case)
    case_erased.connect(fingerprints_drop_for_case)
    case_erased.connect(partner_rows_drop_for_case)
    case_entered.connect(entry_check_receiver)
    case_erased.connect(submissions_unlink_case)
    kek_rotated.connect(field_keys_rewrap)
    service_sealed.connect(name_cache_clear)

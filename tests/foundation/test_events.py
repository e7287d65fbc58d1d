"""Cases tell other packages what happened through signals; a signal that must be heard is
refused when nobody listens, instead of leaving rows behind without a word."""

from __future__ import annotations

import pytest
from blinker import Namespace

from casebook.events import ReceiversMissingError, send_required


def test_a_required_signal_with_no_receiver_is_refused() -> None:
    lonely = Namespace().signal("nobody-listens")
    with pytest.raises(ReceiversMissingError):
        send_required(lonely, object())


def test_answers_come_back_from_every_receiver() -> None:
    signal = Namespace().signal("two-listen")

    def one(sender: object, **kw: object) -> int:
        return 1

    def two(sender: object, **kw: object) -> int:
        return 2

    signal.connect(one)
    signal.connect(two)
    assert sorted(send_required(signal, object())) == [1, 2]

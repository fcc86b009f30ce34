"""ListingLocks: a withdrawal never waits for a held product; it asks its holder, who plans the
product again before giving it back."""

from __future__ import annotations

import threading

from serialsync.engine.context import ListingLocks


def test_a_free_product_is_held_and_a_held_one_is_asked_for_without_waiting() -> None:
    locks = ListingLocks()
    with locks.hold("shop", "A") as publish:
        with locks.hold_or_ask("shop", ["A", "B"]) as withdrawal:
            assert withdrawal.held == ["B"]  # A is the publish's: asked for, not waited on
            assert withdrawal.finish() == []  # nobody asked the withdrawal for B
        assert publish.finish() == ["A"]  # asked: still held, to be planned again
        assert publish.finish() == []  # planned again, nobody asked since: given back
    with locks.hold_or_ask("shop", ["A"]) as later:
        assert later.held == ["A"]


def test_channels_are_apart() -> None:
    locks = ListingLocks()
    with locks.hold("shop", "A"), locks.hold_or_ask("other", ["A"]) as withdrawal:
        assert withdrawal.held == ["A"]


def test_an_ask_after_the_last_finish_is_not_lost_by_a_waiting_holder() -> None:
    """A second publish waiting for the product takes it once the first lets it go; an ask made
    while the first held it went to the first (its finish returned it)."""
    locks = ListingLocks()
    order: list[str] = []
    ready = threading.Event()

    def second() -> None:
        ready.set()
        with locks.hold("shop", "A") as turn:
            order.append("second")
            assert turn.finish() == []

    with locks.hold("shop", "A") as first:
        thread = threading.Thread(target=second)
        thread.start()
        assert ready.wait(5)
        with locks.hold_or_ask("shop", ["A"]) as withdrawal:
            assert withdrawal.held == []
        order.append("first")
        assert first.finish() == ["A"]
        assert first.finish() == []
    thread.join(5)
    assert order == ["first", "second"]


def test_a_holder_that_fails_gives_everything_back() -> None:
    locks = ListingLocks()
    try:
        with locks.hold_or_ask("shop", ["A", "B"]):
            with locks.hold_or_ask("shop", ["A"]) as other:
                assert other.held == []
            raise RuntimeError("the plugin broke")
    except RuntimeError:
        pass
    with locks.hold_or_ask("shop", ["A", "B"]) as again:
        assert again.held == ["A", "B"]
        assert again.finish() == []  # the ask died with the failed holder (see its docstring)

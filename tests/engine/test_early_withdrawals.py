"""Channels read side by side: each channel's sold units are withdrawn as soon as its own read is
done, not after the slowest channel's read (issue 16, polling: the oversell window).

The slow channel's read is held on an event that only a withdrawal request to that channel sets:
a pass that withdraws after every read would leave the read waiting for nothing (bounded by a
timeout, so the test fails instead of hanging).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from serialsync import ListingChange, OrdersPage, PublishOutcome, hookimpl
from serialsync.store import ListingState, OutboxState

from tests.engine.conftest import World
from tests.engine.memory import MemoryChannel
from tests.engine.test_withdraw import BatchingChannel, LoggingChannel, _world

#: How long the held read waits for the other channel's withdrawal before giving up (only a
#: failing run waits this long).
_BOUND = 10.0


class SlowReadChannel(BatchingChannel):
    """A channel whose next order read, once ``hold_next_read`` is set, waits until a
    ``withdraw_units`` request reaches this channel (or ``_BOUND`` seconds pass)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_next_read = False
        self.withdrawal_requested = threading.Event()
        #: Whether the held read saw a withdrawal request while it waited (None: none held).
        self.withdrawal_during_read: bool | None = None

    @hookimpl
    def withdraw_units(
        self, connector: str, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        self.withdrawal_requested.set()
        return super().withdraw_units(connector, changes)

    @hookimpl
    def fetch_orders(self, connector: str, since: datetime | None, page: str | None) -> OrdersPage:
        if self.hold_next_read:
            self.hold_next_read = False
            self.withdrawal_during_read = self.withdrawal_requested.wait(_BOUND)
        return super().fetch_orders(connector, since, page)


def _published(path: Path, a: MemoryChannel, b: MemoryChannel, workers: int) -> World:
    """The test world with its orders read once and its catalogue published."""
    w = _world(path, a, b, workers=workers)
    w.host.order_pass()
    w.host.inventory_pass()
    return w


def test_a_slow_read_does_not_delay_another_channels_withdrawal(tmp_path: Path) -> None:
    a, b = SlowReadChannel(), LoggingChannel()
    w = _published(tmp_path, a, b, workers=2)  # the channels read side by side
    b.place_order([("P2|||B1", 1)])
    a.place_order([("P1|||A1", 1)])
    a.withdrawal_requested.clear()
    a.hold_next_read = True

    summary = w.host.order_pass()

    # shop_b's sale reached shop_a while shop_a's own read was still under way.
    assert a.withdrawal_during_read is True
    assert a.withdraw_calls[0] == ["P2|||B1"]
    # shop_a's own sale went too, once its read was done: both units off both channels.
    assert not {"P1|||A1", "P2|||B1"} & (a.live() | b.live())
    assert summary.counts("shop_a").withdrawn == summary.counts("shop_b").withdrawn == 2
    for serial in ("A1", "B1"):
        assert {x.state for x in w.store.listings_of_unit(serial)} == {ListingState.WITHDRAWN}
    # Each sale reported once.
    assert w.pos.report_calls("#1001", "shop_a") == 1
    assert w.pos.report_calls("#1001", "shop_b") == 1
    w.store.close()


def test_one_unit_sold_on_both_channels_side_by_side_is_claimed_once(tmp_path: Path) -> None:
    a, b = SlowReadChannel(), LoggingChannel()
    w = _published(tmp_path, a, b, workers=2)
    b.place_order([("P3|||C1", 1)])
    a.place_order([("P3|||C1", 1)])
    a.withdrawal_requested.clear()
    a.hold_next_read = True  # shop_b's order is read, claimed and withdrawn first

    summary = w.host.order_pass()

    assert a.withdrawal_during_read is True
    claim = w.store.get_claim("C1")
    assert claim is not None and claim.channel == "shop_b"
    assert w.store.get_outbox("shop_b", "1001").state == OutboxState.REPORTED  # type: ignore[union-attr]
    assert w.store.get_outbox("shop_a", "1001").state == OutboxState.CONFLICT  # type: ignore[union-attr]
    assert summary.counts("shop_a").conflicts == 1
    assert w.pos.report_calls("#1001", "shop_b") == 1
    assert w.pos.report_calls("#1001", "shop_a") == 0
    assert "P3|||C1" not in a.live() | b.live()
    w.store.close()


def test_read_one_after_another_the_pass_withdraws_once_after_the_last_read(
    tmp_path: Path,
) -> None:
    a, b = BatchingChannel(), LoggingChannel()
    w = _published(tmp_path, a, b, workers=1)
    a.place_order([("P1|||A1", 1)])
    b.place_order([("P2|||B1", 1)])

    w.host.order_pass()

    # One batch across both channels' sales: nothing else runs while a channel reads.
    assert [sorted(call) for call in a.withdraw_calls] == [["P1|||A1", "P2|||B1"]]
    w.store.close()

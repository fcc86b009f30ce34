"""Hand-overs to withdrawal, coalesced per channel (issue 16 §2: a 1,000-order burst).

Channels read side by side each hand their claims to withdrawal when their read ends. On a
channel whose withdrawal is under way, what is handed over meanwhile waits and goes in that
channel's next withdrawal, together: one call for two hand-overs, not one each. Held steps wait
on events bounded by a timeout, so a failing run fails instead of hanging.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from serialsync import (
    ListingChange,
    OrdersPage,
    PublishOutcome,
    hookimpl,
    is_urgent,
    is_withdrawing,
)
from serialsync.engine import handover
from serialsync.engine.handover import ChannelWithdrawals
from serialsync.engine.summary import PassSummary
from serialsync.host import Host
from serialsync.manager import PluginManager
from serialsync.settings import SyncSettings
from serialsync.store import ListingState, SQLiteStore

from tests.engine.memory import CHANNEL_TYPE, POS_TYPE, MemoryPos
from tests.engine.test_withdraw import BatchingChannel, _world

#: How long a held step waits (only a failing run waits this long).
_BOUND = 10.0


class _Recorder:
    """Stands in for ``withdraw_channel``: records each call; channel ``held``'s first call
    waits until ``release`` is set."""

    def __init__(self, held: str) -> None:
        self.held = held
        self.calls: list[tuple[str, list[str]]] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.fail_next: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, ctx: Any, summary: Any, channel: str, skus: Collection[str]) -> None:
        with self._lock:
            self.calls.append((channel, sorted(skus)))
            fail = channel in self.fail_next
            self.fail_next.discard(channel)
        if fail:
            raise RuntimeError(f"{channel}: the store went away")
        if channel == self.held and not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(_BOUND)

    def of(self, channel: str) -> list[list[str]]:
        return [skus for name, skus in self.calls if name == channel]


#: The withdraw step is stood in for: nothing counts in it.
_SUMMARY = PassSummary(kind="orders", started_at=datetime(2026, 12, 7, tzinfo=UTC))


def _context(workers: int = 3) -> Any:
    return SimpleNamespace(sync=SimpleNamespace(workers=workers))


def test_what_arrives_while_a_channel_withdraws_goes_in_its_next_withdrawal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = _Recorder(held="c")
    monkeypatch.setattr(handover, "withdraw_channel", recorder)

    with ChannelWithdrawals(_context(), _SUMMARY, ["a", "b", "c"]) as withdrawals:
        withdrawals.hand_over({"P1"})
        assert recorder.entered.wait(_BOUND)
        withdrawals.hand_over({"P2"})
        withdrawals.hand_over({"P3", "P2"})
        recorder.release.set()

    # The held channel: the first hand-over at once, the two that came meanwhile in one call.
    assert recorder.of("c") == [["P1"], ["P2", "P3"]]
    # The others withdrew every SKU, each once, however their calls fell.
    for channel in ("a", "b"):
        calls = recorder.of(channel)
        assert sorted(sku for call in calls for sku in call) == ["P1", "P2", "P3"]


def test_a_channel_whose_withdrawal_failed_starts_again_and_the_error_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = _Recorder(held="none")
    recorder.fail_next.add("b")
    monkeypatch.setattr(handover, "withdraw_channel", recorder)

    withdrawals = ChannelWithdrawals(_context(), _SUMMARY, ["a", "b"])
    with pytest.raises(RuntimeError, match="store went away"), withdrawals:
        withdrawals.hand_over({"P1"})
        # Wait for the failed drain to have let go of the channel, then hand over again.
        for _ in range(1000):
            if recorder.of("b") and "b" not in withdrawals._running:
                break
            threading.Event().wait(0.01)
        withdrawals.hand_over({"P2"})

    assert recorder.of("b") == [["P1"], ["P2"]]
    assert sorted(sku for call in recorder.of("a") for sku in call) == ["P1", "P2"]


def test_nothing_handed_over_starts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = _Recorder(held="none")
    monkeypatch.setattr(handover, "withdraw_channel", recorder)
    with ChannelWithdrawals(_context(), _SUMMARY, ["a", "b"]) as withdrawals:
        withdrawals.hand_over(set())
    assert recorder.calls == []


# -- the order pass, three channels side by side ----------------------------------------------


class HeldReadChannel(BatchingChannel):
    """A channel whose next order read, once ``hold_until`` is given, waits for that event."""

    def __init__(self) -> None:
        super().__init__()
        self.hold_until: threading.Event | None = None

    @hookimpl
    def fetch_orders(self, connector: str, since: datetime | None, page: str | None) -> OrdersPage:
        held, self.hold_until = self.hold_until, None
        if held is not None:
            assert held.wait(_BOUND)
        return super().fetch_orders(connector, since, page)


class HeldWithdrawChannel(BatchingChannel):
    """A channel whose next ``withdraw_units`` call, once armed, sets ``entered`` and waits
    until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    @hookimpl
    def withdraw_units(
        self, connector: str, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        if self.armed:
            self.armed = False
            self.entered.set()
            assert self.release.wait(_BOUND)
        return super().withdraw_units(connector, changes)


def test_a_burst_read_side_by_side_sends_a_busy_channel_one_call_for_the_later_hand_overs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b, c = HeldReadChannel(), HeldReadChannel(), HeldWithdrawChannel()
    pos = MemoryPos()
    manager = PluginManager(load_entrypoints=False)
    manager.add_connector_instance("aim", POS_TYPE, pos)
    for name, channel in (("shop_a", a), ("shop_b", b), ("shop_c", c)):
        manager.add_connector_instance(name, CHANNEL_TYPE, channel)
    store = SQLiteStore.open(tmp_path / "state.db")
    host = Host(
        plugins=manager,
        store=store,
        sync=SyncSettings(workers=3),
        now=lambda: datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
    )
    pos.add_product("P1", ["A1", "A2"])
    pos.add_product("P2", ["B1", "B2"])
    pos.add_product("P3", ["C1", "C2"])
    host.order_pass()
    host.inventory_pass()

    # Count the hand-overs; shop_c's withdrawal is let go once all three have been made.
    handed = threading.Semaphore(0)
    original = ChannelWithdrawals.hand_over

    def counted(self: ChannelWithdrawals, skus: Collection[str]) -> None:
        original(self, skus)
        handed.release()

    monkeypatch.setattr(ChannelWithdrawals, "hand_over", counted)
    c.place_order([("P3|||C1", 1)])
    a.place_order([("P1|||A1", 1)])
    b.place_order([("P2|||B1", 1)])
    c.withdraw_calls.clear()
    c.armed = True
    a.hold_until = b.hold_until = c.entered  # shop_a and shop_b read once shop_c withdraws

    def let_go() -> None:
        for _ in range(3):
            assert handed.acquire(timeout=_BOUND)
        c.release.set()

    releaser = threading.Thread(target=let_go)
    releaser.start()
    summary = host.order_pass()
    releaser.join()

    # shop_c: its own sale at once, then shop_a's and shop_b's in one call.
    assert c.withdraw_calls == [["P3|||C1"], ["P1|||A1", "P2|||B1"]]
    for unit in ("P1|||A1", "P2|||B1", "P3|||C1"):
        assert unit not in a.live() | b.live() | c.live()
    for serial in ("A1", "B1", "C1"):
        assert {x.state for x in store.listings_of_unit(serial)} == {ListingState.WITHDRAWN}
    assert summary.counts("shop_c").withdrawn == 3
    for order in ("shop_a", "shop_b", "shop_c"):
        assert pos.report_calls("#1001", order) == 1
    store.close()


class MarkRecordingChannel(BatchingChannel):
    """Records, per hook, whether it ran marked as a withdrawal and as urgent."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: dict[str, set[tuple[bool, bool]]] = {}

    def _note(self, hook: str) -> None:
        self.marks.setdefault(hook, set()).add((is_withdrawing(), is_urgent()))

    @hookimpl
    def withdraw_units(
        self, connector: str, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        self._note("withdraw_units")
        return super().withdraw_units(connector, changes)

    @hookimpl
    def fetch_orders(self, connector: str, since: datetime | None, page: str | None) -> OrdersPage:
        self._note("fetch_orders")
        return super().fetch_orders(connector, since, page)


@pytest.mark.parametrize("workers", [1, 2])
def test_withdrawals_run_marked_as_withdrawals_and_reads_as_urgent_only(
    tmp_path: Path, workers: int
) -> None:
    a, b = MarkRecordingChannel(), MarkRecordingChannel()
    w = _world(tmp_path, a, b, workers=workers)
    w.host.order_pass()
    w.host.inventory_pass()
    a.marks.clear()
    b.place_order([("P2|||B1", 1)])

    w.host.order_pass()

    # A rate limiter keeps a share of its budget from reads for withdrawals (is_withdrawing).
    assert a.marks == {"fetch_orders": {(False, True)}, "withdraw_units": {(True, True)}}
    w.store.close()

"""The order pass's withdrawals: batched across products, only the sold units, never crossed.

A channel implementing the optional ``withdraw_units`` hook gets every sold unit of a pass in one
call; one without it (a plugin written for serialsync 0.1) gets ``publish_variants`` per product.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from serialsync import (
    ListingAction,
    ListingChange,
    Product,
    PublishOutcome,
    PublishResult,
    hookimpl,
)
from serialsync.host import Host
from serialsync.manager import PluginManager
from serialsync.settings import SyncSettings
from serialsync.store import ListingState, SQLiteStore

from tests.engine.conftest import World
from tests.engine.memory import CHANNEL_TYPE, POS_TYPE, MemoryChannel, MemoryPos


class BatchingChannel(MemoryChannel):
    """A channel with ``withdraw_units``: stock 0 for many units of many products at once.

    It answers only the units it has ids for (as a real plugin may), leaving the others to the
    host's fallback.
    """

    def __init__(self) -> None:
        super().__init__()
        self.withdraw_calls: list[list[str]] = []
        self.publish_log: list[tuple[str, list[tuple[str, str]]]] = []

    @hookimpl
    def withdraw_units(
        self, connector: str, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        self.withdraw_calls.append([c.unit.integration_id for c in changes])
        outcomes = []
        for change in changes:
            assert change.action == ListingAction.WITHDRAW
            if change.remote is None:
                continue  # no ids remembered: left to publish_variants
            self.state["writes"] += 1
            self.variants[change.unit.integration_id]["stock"] = 0
            outcomes.append(
                PublishOutcome(
                    sku=change.unit.sku,
                    serial=change.unit.serial,
                    result=PublishResult.WITHDRAWN,
                    remote=change.remote,
                )
            )
        return outcomes

    @hookimpl
    def publish_variants(
        self, connector: str, product: Product, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        self.publish_log.append((product.sku, [(c.unit.serial, c.action.value) for c in changes]))
        return super().publish_variants(connector, product, changes)


class LoggingChannel(MemoryChannel):
    """A channel without ``withdraw_units`` that remembers each ``publish_variants`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.publish_log: list[tuple[str, list[tuple[str, str]]]] = []

    @hookimpl
    def publish_variants(
        self, connector: str, product: Product, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        self.publish_log.append((product.sku, [(c.unit.serial, c.action.value) for c in changes]))
        return super().publish_variants(connector, product, changes)


def _world(path: Path, a: MemoryChannel, b: MemoryChannel, workers: int = 1) -> World:
    pos = MemoryPos()
    manager = PluginManager(load_entrypoints=False)
    manager.add_connector_instance("aim", POS_TYPE, pos)
    manager.add_connector_instance("shop_a", CHANNEL_TYPE, a)
    manager.add_connector_instance("shop_b", CHANNEL_TYPE, b)
    store = SQLiteStore.open(path / "state.db")
    from datetime import UTC, datetime

    clock = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]
    host = Host(
        plugins=manager, store=store, sync=SyncSettings(workers=workers), now=lambda: clock[0]
    )
    pos.add_product("P1", ["A1", "A2", "A3"])
    pos.add_product("P2", ["B1", "B2"])
    pos.add_product("P3", ["C1", "C2"])
    return World(host, pos, a, b, store, clock)


def test_a_burst_is_withdrawn_in_one_batch_across_products(tmp_path: Path) -> None:
    a, b = BatchingChannel(), LoggingChannel()
    w = _world(tmp_path, a, b)
    w.host.inventory_pass()
    a.publish_log.clear()
    b.publish_log.clear()
    a.place_order([("P1|||A1", 1)])
    b.place_order([("P2|||B1", 1), ("P3|||C2", 1)])

    summary = w.host.order_pass()

    # The channel with the hook: one call for the three units of three products, no publish.
    assert [sorted(call) for call in a.withdraw_calls] == [["P1|||A1", "P2|||B1", "P3|||C2"]]
    assert a.publish_log == []
    # The channel without it (the fallback): one publish_variants per product, withdrawals only.
    assert sorted(b.publish_log) == [
        ("P1", [("A1", "withdraw")]),
        ("P2", [("B1", "withdraw")]),
        ("P3", [("C2", "withdraw")]),
    ]
    sold = {"P1|||A1", "P2|||B1", "P3|||C2"}
    assert not sold & (a.live() | b.live())
    assert summary.counts("shop_a").withdrawn == summary.counts("shop_b").withdrawn == 3
    for serial in ("A1", "B1", "C2"):
        states = {listing.state for listing in w.store.listings_of_unit(serial)}
        assert states == {ListingState.WITHDRAWN}
    w.store.close()


def test_what_the_batch_leaves_unanswered_goes_through_publish_variants(tmp_path: Path) -> None:
    a, b = BatchingChannel(), LoggingChannel()
    w = _world(tmp_path, a, b)
    w.host.inventory_pass()
    # The store lost shop_a's ids of A2 (as after a crash between a create and its record).
    listing = w.store.listings_of("shop_a", "P1")["A2"]
    from dataclasses import replace

    with w.store.transaction():
        w.store.put_listing(replace(listing, remote=None))
    a.publish_log.clear()
    a.place_order([("P1|||A2", 1), ("P2|||B2", 1)])

    w.host.order_pass()

    assert [sorted(call) for call in a.withdraw_calls] == [["P1|||A2", "P2|||B2"]]
    assert a.publish_log == [("P1", [("A2", "withdraw")])]
    assert not {"P1|||A2", "P2|||B2"} & (a.live() | b.live())
    assert w.store.listings_of("shop_a", "P1")["A2"].state == ListingState.WITHDRAWN
    w.store.close()


def test_the_order_pass_sends_only_the_sold_units_listings(tmp_path: Path) -> None:
    a, b = LoggingChannel(), LoggingChannel()
    w = _world(tmp_path, a, b)
    b.refuse["C1"] = "BUSY"  # retryable: the inventory loop will try C1 again
    w.host.inventory_pass()
    assert w.store.listings_of("shop_b", "P3")["C1"].state == ListingState.FAILED
    b.refuse.clear()
    b.publish_log.clear()
    b.place_order([("P1|||A3", 1)])

    w.host.order_pass()

    # Only the sold unit: C1's pending publish is the inventory loop's work, not the order
    # pass's (an order burst must not wait for a catalogue).
    assert b.publish_log == [("P1", [("A3", "withdraw")])]
    assert "P3|||C1" not in b.variants
    w.store.close()


def _b1_left_due(w: World, a: MemoryChannel, b: LoggingChannel) -> None:
    """B1 sold on shop_a, its withdrawal from shop_b failed: still due there."""
    w.host.inventory_pass()
    b.refuse["B1"] = "BUSY"
    a.place_order([("P2|||B1", 1)])
    w.host.order_pass()
    assert "P2|||B1" in b.live()
    b.refuse.clear()


def test_a_withdrawal_that_failed_is_tried_again_by_the_next_order_pass(tmp_path: Path) -> None:
    a, b = LoggingChannel(), LoggingChannel()
    w = _world(tmp_path, a, b)
    _b1_left_due(w, a, b)

    w.advance(minutes=1)
    w.host.order_pass()  # no new order: the failed withdrawal alone brings P2 back

    assert "P2|||B1" not in b.live()
    assert w.store.listings_of("shop_b", "P2")["B1"].state == ListingState.WITHDRAWN
    w.store.close()


class BlockingChannel(LoggingChannel):
    """Holds one ``publish_variants`` call of one product until the test lets it go."""

    def __init__(self, product: str) -> None:
        super().__init__()
        self.product = product
        self.entered = threading.Event()
        self.release = threading.Event()

    @hookimpl
    def publish_variants(
        self, connector: str, product: Product, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        if product.sku == self.product and not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(30), "the test never let the publish go"
        return super().publish_variants(connector, product, changes)


def test_a_unit_sold_during_its_products_publish_is_withdrawn_not_relisted(
    tmp_path: Path,
) -> None:
    a, b = BlockingChannel("P1"), LoggingChannel()
    w = _world(tmp_path, a, b)
    a.entered.set()  # the first publish goes through
    w.host.inventory_pass()
    a.entered.clear()
    # A new price in the POS: the next inventory pass re-sends every unit of P1 at stock 1.
    for serial in ("A1", "A2", "A3"):
        w.pos.set_unit("P1", serial, price="1.00")

    inventory = threading.Thread(target=w.host.inventory_pass)
    inventory.start()
    try:
        assert a.entered.wait(30)  # shop_a's publish of P1 (A1 included) is on the wire
        b.place_order([("P1|||A1", 1)])  # ... when A1 sells on shop_b
        orders = threading.Thread(target=w.host.order_pass)
        orders.start()
        # Without the listing locks the order pass withdraws A1 now and ends; with them it
        # waits for the publish of P1. Either way, let the publish go after a moment.
        orders.join(timeout=1.0)
    finally:
        a.release.set()
        inventory.join(30)
    orders.join(30)
    assert not inventory.is_alive() and not orders.is_alive()

    assert "P1|||A1" not in a.live() | b.live()
    assert {x.state for x in w.store.listings_of_unit("A1")} == {ListingState.WITHDRAWN}
    assert {"P1|||A2", "P1|||A3"} <= a.live()
    w.store.close()


def test_only_a_withdrawal_that_empties_a_part_or_a_relisting_asks_for_a_settle() -> None:
    from serialsync import RemoteIds, SerializedUnit
    from serialsync.engine.withdraw import _may_settle
    from serialsync.store import ListingRecord

    def listed(serial: str, part: int, state: ListingState = ListingState.LIVE) -> ListingRecord:
        ids = RemoteIds(
            product_id=f"p{part}", variant_id=serial, extra={"serialsync.part": f"{part}"}
        )
        return ListingRecord("shop", serial, "P", state, remote=ids)

    listings = {li.serial: li for li in (listed("A", 1), listed("B", 1), listed("C", 2))}

    def change(serial: str, action: ListingAction) -> tuple[ListingChange, str | None]:
        unit = SerializedUnit(sku="P", serial=serial)
        return ListingChange(unit=unit, action=action, remote=listings[serial].remote), None

    withdraw, upsert = ListingAction.WITHDRAW, ListingAction.UPSERT
    assert not _may_settle(listings, [change("A", withdraw)])  # B still sells part 1
    assert _may_settle(listings, [change("A", withdraw), change("B", withdraw)])  # part 1 empty
    assert _may_settle(listings, [change("C", withdraw)])  # part 2's last unit
    assert _may_settle(listings, [change("A", upsert)])  # a unit listed again may show one
    # A unit whose withdrawal failed before is still for sale there: the part is not emptied.
    listings["B"] = listed("B", 1, ListingState.FAILED)
    assert not _may_settle(listings, [change("A", withdraw)])


def test_one_order_s_withdrawal_leaves_other_products_due_to_the_order_pass(
    tmp_path: Path,
) -> None:
    """A webhook order withdraws its own products only (``leftovers=False``): looking for every
    other withdrawal due reads every open product's listings under the store's lock, and the
    order pass, which runs every ``orders_interval``, looks for them each time."""
    from serialsync.engine.summary import PassSummary
    from serialsync.engine.withdraw import withdraw_all

    a, b = LoggingChannel(), LoggingChannel()
    w = _world(tmp_path, a, b)
    _b1_left_due(w, a, b)
    b.publish_log.clear()

    engine = w.host.engine
    withdraw_all(engine, PassSummary("webhook", engine.now()), ["P1"], leftovers=False)
    assert "P2|||B1" in b.live() and b.publish_log == []  # P1 had nothing due; P2 left

    withdraw_all(engine, PassSummary("orders", engine.now()), ["P1"])
    assert "P2|||B1" not in b.live()  # the order pass's way: every product due
    assert b.publish_log == [("P2", [("B1", "withdraw")])]
    w.store.close()

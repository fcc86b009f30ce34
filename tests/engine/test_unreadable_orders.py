"""An order a plugin cannot map is quarantined durably and never blocks its channel (issue 15 #3).

The memory channel hands such an order back in ``OrdersPage.unreadable`` (a careful plugin
never raises for one order); the engine quarantines it with its reason and its raw payload
(personal data masked), reads on past it, and ``retry_quarantined`` reads it again through the
optional ``fetch_order`` hook.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest
from serialsync import FinancialStatus, PluginError, UnitStatus
from serialsync.host import Host
from serialsync.manager import PluginManager
from serialsync.store import OutboxState, SQLiteStore

from tests.engine.conftest import World
from tests.engine.memory import CHANNEL_TYPE, POS_TYPE, MemoryChannel, MemoryPos

GUITAR = "0113942719|||US210033734"
OTHER = "0113942719|||US210033735"
BASS = "0113942720|||MX1001"


def _unreadable_order(world: World, **changes: object) -> str:
    """A paid order on shop_a whose one line has a negative quantity (cannot be mapped)."""
    order_id = world.a.place_order([(OTHER, 1)])
    raw = world.a.state["orders"][order_id]
    raw["lines"][0]["quantity"] = -1
    raw["email"] = "jane.doe@example.com"
    raw["billing"] = {"first_name": "Jane", "last_name": "Doe", "phone": "+1 555 0100"}
    raw.update(changes)
    world.a.save()
    return order_id


def _status(world: World, serial: str) -> UnitStatus:
    record = world.store.get_unit(serial)
    assert record is not None
    return record.status


def test_an_unreadable_order_is_quarantined_and_later_paid_orders_go_through(
    world: World,
) -> None:
    world.host.inventory_pass()
    bad = _unreadable_order(world)
    later = [world.a.place_order([(GUITAR, 1)]), world.a.place_order([(BASS, 1)])]

    summary = world.host.order_pass()

    # Every later paid order: unit sold, withdrawn everywhere, reported.
    for serial, sku in (("US210033734", GUITAR), ("MX1001", BASS)):
        assert _status(world, serial) == UnitStatus.SOLD
        assert sku not in world.a.live() and sku not in world.b.live()
    for order_id in later:
        record = world.store.get_outbox("shop_a", order_id)
        assert record is not None and record.state == OutboxState.REPORTED
    assert len(world.pos.orders) == 2
    # The unreadable one: in quarantine, durably, with its reason and its raw payload.
    [held] = world.store.quarantined(kind="order")
    assert held.key == f"shop_a:{bad}" and held.connector == "shop_a"
    assert held.reason.startswith("unreadable order: ") and "quantity" in held.reason
    assert held.payload is not None
    stored = json.loads(held.payload)
    assert stored["order_id"] == bad and stored["lines"][0]["quantity"] == -1
    assert summary.counts("shop_a").quarantined == 1
    assert summary.counts("shop_a").errors == []


def test_the_stored_payload_keeps_no_personal_data(world: World) -> None:
    world.host.inventory_pass()
    _unreadable_order(world, note="call jane.doe@example.com after 5")
    world.host.order_pass()

    [held] = world.store.quarantined(kind="order")
    assert held.payload is not None
    for personal in ("jane.doe@example.com", "Jane", "Doe", "555 0100"):
        assert personal not in held.payload
    assert "US210033735" in held.payload  # what a person needs to see stays


def test_the_cursor_moves_past_an_unreadable_order(world: World) -> None:
    world.host.inventory_pass()
    bad = _unreadable_order(world)
    world.host.order_pass()

    cursor = world.store.get_cursor("shop_a", "orders")
    assert cursor is not None
    assert datetime.fromisoformat(cursor) == datetime.fromisoformat(
        world.a.state["orders"][bad]["updated_at"]
    )


def test_an_unreadable_order_without_a_time_still_lets_the_cursor_move(world: World) -> None:
    world.host.inventory_pass()
    world.a.place_order([(BASS, 1)])
    bad = _unreadable_order(world)
    world.a.place_order([(GUITAR, 1)])
    # The plugin could not even read when it changed: the record carries no updated_at.
    world.a.state["orders"][bad]["lines"][0]["quantity"] = "many"
    world.host.order_pass()

    assert _status(world, "US210033734") == UnitStatus.SOLD
    cursor = world.store.get_cursor("shop_a", "orders")
    assert cursor is not None
    assert len(world.store.quarantined(kind="order")) == 1


def test_retry_reads_the_order_again_from_its_channel(world: World) -> None:
    world.host.inventory_pass()
    bad = _unreadable_order(world)
    world.host.order_pass()
    [held] = world.store.quarantined(kind="order")

    # Still broken on the channel: it stays, with the reason as read now.
    assert world.host.retry_quarantined(held.id).startswith("still quarantined: unreadable order")
    # Staff fix the order on the channel (its cursor has long moved past it).
    world.a.state["orders"][bad]["lines"][0]["quantity"] = 1
    world.a.save()
    assert world.host.retry_quarantined(held.id) == "processed"
    world.host.order_pass()

    assert world.store.quarantined(kind="order") == []
    assert _status(world, "US210033735") == UnitStatus.SOLD
    assert OTHER not in world.a.live() and OTHER not in world.b.live()
    record = world.store.get_outbox("shop_a", bad)
    assert record is not None and record.state == OutboxState.REPORTED


def test_retry_says_when_the_channel_has_no_such_order_any_more(world: World) -> None:
    world.host.inventory_pass()
    bad = _unreadable_order(world)
    world.host.order_pass()
    [held] = world.store.quarantined(kind="order")
    del world.a.state["orders"][bad]

    outcome = world.host.retry_quarantined(held.id)

    assert f"shop_a has no order {bad} any more" in outcome
    assert f"quarantine drop {held.id}" in outcome
    assert len(world.store.quarantined(kind="order")) == 1


class _NoFetchChannel(MemoryChannel):
    """A channel whose plugin predates ``fetch_order`` (0.1)."""

    fetch_order = None  # type: ignore[assignment]


def test_retry_with_a_plugin_without_fetch_order_says_so(tmp_path: Path) -> None:
    pos, shop = MemoryPos(), _NoFetchChannel()
    manager = PluginManager(load_entrypoints=False)
    manager.add_connector_instance("aim", POS_TYPE, pos)
    manager.add_connector_instance("shop", CHANNEL_TYPE, shop)
    pos.add_product("0113942719", ["US210033734", "US210033735"])
    host = Host(plugins=manager, store=SQLiteStore.open(tmp_path / "s.db"))
    try:
        host.inventory_pass()
        order_id = shop.place_order([(OTHER, 1)])
        shop.state["orders"][order_id]["lines"][0]["quantity"] = -1
        host.order_pass()
        [held] = host.store.quarantined(kind="order")

        assert not manager.implements("shop", "fetch_order")
        with pytest.raises(PluginError, match="does not implement fetch_order"):
            manager.fetch_order("shop", order_id)
        outcome = host.retry_quarantined(held.id)
        assert "does not implement fetch_order" in outcome
        assert "sends it again" in outcome
        assert len(host.store.quarantined(kind="order")) == 1
    finally:
        host.store.close()


def test_an_order_quarantined_for_its_lines_is_re_read_too(world: World) -> None:
    world.host.inventory_pass()
    order_id = world.a.place_order([("NEWSKU|||N1", 1)], status=FinancialStatus.PAID)
    world.host.order_pass()
    [held] = world.store.quarantined(kind="order")
    assert world.host.retry_quarantined(held.id).startswith("still quarantined: ")

    world.pos.add_product("NEWSKU", ["N1"])
    world.host.inventory_pass()
    assert world.host.retry_quarantined(held.id) == "processed"
    assert world.store.get_outbox("shop_a", order_id) is not None

"""An order set aside keeps what a person needs to settle it, not the shopper: the stored
payload of every kind of quarantined order (``order``, ``order_line``, ``conflict``) has the
ids, SKUs, serials, totals and status, and the shopper's name and email masked."""

from __future__ import annotations

import json
from pathlib import Path

from serialsync.engine.order_payloads import shown_payload
from serialsync.host import Host
from serialsync.manager import PluginManager
from serialsync.redaction import MASK
from serialsync.store import SQLiteStore

from tests.engine.conftest import World
from tests.engine.memory import CHANNEL_TYPE, POS_TYPE, MemoryChannel, MemoryPos

GUITAR = "0113942719|||US210033734"
OTHER = "0113942719|||US210033735"
NAME, EMAIL = "Jane Doe", "jane.doe@example.com"


def _shopper(channel: MemoryChannel, order_id: str) -> str:
    channel.state["orders"][order_id].update(name=NAME, email=EMAIL)
    channel.save()
    return order_id


def _settles(payload: str | None, order_id: str, serial: str) -> None:
    """The stored order: the shopper masked, what settles it kept."""
    assert payload is not None
    assert NAME not in payload and EMAIL not in payload
    stored = json.loads(payload)
    assert (stored["customer_name"], stored["customer_email"]) == (MASK, MASK)
    assert stored["order_id"] == order_id and stored["status"] == "paid"
    assert serial in {line["raw_sku"].rpartition("|||")[2] for line in stored["lines"]}
    assert "total" in stored and stored["lines"][0]["price"] == "999.00"


def test_an_order_waiting_for_its_units_is_stored_without_its_shopper(world: World) -> None:
    world.host.inventory_pass()
    order_id = _shopper(world.a, world.a.place_order([("NEWSKU|||N1", 1)]))
    world.host.order_pass()
    [held] = world.store.quarantined(kind="order")
    _settles(held.payload, order_id, "N1")


def test_an_order_with_lines_set_aside_is_stored_without_its_shopper(world: World) -> None:
    world.host.inventory_pass()
    order_id = _shopper(world.a, world.a.place_order([(OTHER, 2)]))
    world.host.order_pass()
    [line] = world.store.quarantined(kind="order_line")
    _settles(line.payload, order_id, "US210033735")


def test_a_conflict_is_stored_without_its_shopper(world: World) -> None:
    world.host.inventory_pass()
    world.a.place_order([(GUITAR, 1)])
    second = _shopper(world.b, world.b.place_order([(GUITAR, 1)]))
    world.host.order_pass()
    [conflict] = world.store.quarantined(kind="conflict")
    _settles(conflict.payload, second, "US210033734")


class _NoFetchChannel(MemoryChannel):
    """A channel whose plugin predates ``fetch_order``: retried from the stored order."""

    fetch_order = None  # type: ignore[assignment]


def test_a_retry_from_the_stored_order_reports_an_unknown_shopper_not_the_mask(
    tmp_path: Path,
) -> None:
    pos, shop = MemoryPos(), _NoFetchChannel()
    manager = PluginManager(load_entrypoints=False)
    manager.add_connector_instance("aim", POS_TYPE, pos)
    manager.add_connector_instance("shop", CHANNEL_TYPE, shop)
    host = Host(plugins=manager, store=SQLiteStore.open(tmp_path / "s.db"))
    try:
        host.inventory_pass()
        order_id = _shopper(shop, shop.place_order([("NEWSKU|||N1", 1)]))
        host.order_pass()
        [held] = host.store.quarantined(kind="order")
        pos.add_product("NEWSKU", ["N1"])
        host.inventory_pass()

        assert host.retry_quarantined(held.id) == "processed"
        record = host.store.get_outbox("shop", order_id)
        assert record is not None and record.sale_json is not None
        sale = json.loads(record.sale_json)
        assert (sale["customer_name"], sale["customer_email"]) == (None, None)
    finally:
        host.store.close()


def test_an_order_stored_before_is_shown_without_its_shopper() -> None:
    legacy = json.dumps({"order_id": "1001", "customer_name": NAME, "customer_email": EMAIL})
    for kind in ("order", "order_line", "conflict"):
        shown = shown_payload(kind, legacy)
        assert shown is not None and NAME not in shown and EMAIL not in shown
        assert json.loads(shown)["order_id"] == "1001"
    assert shown_payload("unit", legacy) == legacy  # not an order: as stored
    assert shown_payload("order", "not json") == "not json"
    assert shown_payload("order", None) is None
    masked = shown_payload("order", legacy)
    assert shown_payload("order", masked) == masked

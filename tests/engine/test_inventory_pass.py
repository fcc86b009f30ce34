"""The inventory pass: POS → state → the difference → every channel."""

from __future__ import annotations

from decimal import Decimal

from serialsync.settings import SyncSettings
from serialsync.store import ListingState

from tests.engine.conftest import World, build_world

ALL = {
    "0113942719|||US210033734",
    "0113942719|||US210033735",
    "0113942719|||US210033736",
    "0113942720|||MX1001",
    "0113942720|||MX1002",
}


def test_first_pass_lists_every_unit_on_every_channel(world: World) -> None:
    summary = world.host.inventory_pass()

    assert world.a.live() == ALL
    assert world.b.live() == ALL
    assert summary.counts("shop_a").created == 5
    assert summary.counts("shop_b").created == 5
    assert summary.counts("aim").units_in == 5
    assert summary.ok


def test_unchanged_catalogue_makes_no_write_request(world: World) -> None:
    world.host.inventory_pass()
    writes = (world.a.writes, world.b.writes)
    calls = (world.a.state["publish_calls"], world.b.state["publish_calls"])

    summary = world.host.inventory_pass()

    assert (world.a.writes, world.b.writes) == writes
    assert (world.a.state["publish_calls"], world.b.state["publish_calls"]) == calls
    assert summary.counts("shop_a").unchanged == 5
    assert summary.counts("shop_a").published == 0


def test_a_price_change_updates_only_that_unit(world: World) -> None:
    world.host.inventory_pass()
    before = world.a.writes
    world.pos.set_unit("0113942719", "US210033735", price=Decimal("1234.50"))

    summary = world.host.inventory_pass()

    assert world.a.writes == before + 1
    assert world.a.variants["0113942719|||US210033735"]["price"] == "1234.50"
    assert summary.counts("shop_a").updated == 1
    assert summary.counts("shop_a").unchanged == 4


def test_unit_sold_in_the_pos_is_withdrawn_everywhere(world: World) -> None:
    world.host.inventory_pass()
    world.pos.set_unit("0113942720", "MX1001", status="sold")

    summary = world.host.inventory_pass()

    assert "0113942720|||MX1001" not in world.a.live()
    assert "0113942720|||MX1001" not in world.b.live()
    assert summary.counts("shop_a").withdrawn == 1
    history = world.store.history("MX1001")
    assert [m.to_status.value for m in history] == ["in_stock", "sold"]
    assert history[-1].source.value == "pos"


def test_unit_deleted_in_the_pos_is_withdrawn_and_relisted_when_back(world: World) -> None:
    world.host.inventory_pass()
    world.pos.delete_unit("0113942720", "MX1002")
    world.host.inventory_pass()
    assert "0113942720|||MX1002" not in world.a.live() | world.b.live()

    world.pos.set_unit("0113942720", "MX1002")
    world.host.inventory_pass()
    assert "0113942720|||MX1002" in world.a.live() & world.b.live()


def test_bad_units_are_quarantined_and_the_rest_goes_on(world: World) -> None:
    world.pos.add_product("BAD", ["OK-1", "PIPE|SERIAL", " PADDED"])
    world.pos.add_product("OTHER", ["US210033734"])  # a serial another SKU already has

    summary = world.host.inventory_pass()

    assert "BAD|||OK-1" in world.a.live()
    reasons = {q.key: q.reason for q in world.store.quarantined(kind="unit")}
    assert "'|'" in reasons["BAD|||PIPE|SERIAL"]
    assert "whitespace" in reasons["BAD||| PADDED"]
    assert "already belongs to SKU '0113942719'" in reasons["OTHER|||US210033734"]
    assert summary.counts("aim").quarantined == 3
    assert not summary.ok
    # The first owner of the serial is untouched.
    unit = world.store.get_unit("US210033734")
    assert unit is not None and unit.unit.sku == "0113942719"


def test_organisation_serial_pattern_quarantines_misfits(tmp_path) -> None:
    w = build_world(tmp_path, sync=SyncSettings(workers=1, serial_pattern=r"[A-Z]{2}\d+"))
    w.pos.add_product("SKU1", ["US123", "lower999"])

    w.host.inventory_pass()

    assert w.a.live() == {"SKU1|||US123"}
    [record] = w.store.quarantined(kind="unit")
    assert record.key == "SKU1|||lower999" and "pattern" in record.reason
    w.store.close()


def test_a_failed_unit_is_retried_and_never_blocks_the_others(world: World) -> None:
    world.a.refuse["MX1001"] = "THROTTLED"
    summary = world.host.inventory_pass()

    assert world.a.live() == ALL - {"0113942720|||MX1001"}
    assert summary.counts("shop_a").failed == 1
    [listing] = [
        listing
        for listing in world.store.listings_of_unit("MX1001")
        if listing.connector == "shop_a"
    ]
    assert listing.state == ListingState.FAILED and "THROTTLED" in (listing.last_error or "")

    del world.a.refuse["MX1001"]
    world.host.inventory_pass()
    assert world.a.live() == ALL


def test_a_unit_refused_for_good_waits_for_a_change(world: World) -> None:
    world.a.refuse["MX1001"] = "INVALID"
    world.host.inventory_pass()
    calls = world.a.state["publish_calls"]

    world.host.inventory_pass()
    assert world.a.state["publish_calls"] == calls  # not resent unchanged

    world.pos.set_unit("0113942720", "MX1001", price=Decimal("10.00"))
    del world.a.refuse["MX1001"]
    world.host.inventory_pass()
    assert "0113942720|||MX1001" in world.a.live()


def test_inventory_cursor_moves_to_the_latest_change(world: World) -> None:
    world.host.inventory_pass()
    cursor = world.store.get_cursor("aim", "inventory")
    assert cursor == world.pos.clock.isoformat()

    world.pos.set_unit("0113942720", "MX1002", price=Decimal("1.00"))
    summary = world.host.inventory_pass()
    assert summary.counts("aim").units_in == 1  # only what changed was read


def test_paging_reads_every_page(tmp_path) -> None:
    w = build_world(tmp_path)
    w.pos.page_size = 7
    w.pos.add_product("BIG", [f"S{i:03}" for i in range(50)])

    w.host.inventory_pass()

    assert len(w.a.live()) == 50
    w.store.close()


def test_channels_side_by_side_give_the_same_result(tmp_path) -> None:
    w = build_world(tmp_path, sync=SyncSettings(workers=4))
    w.pos.add_product("P", [f"S{i}" for i in range(20)])

    w.host.inventory_pass()

    assert len(w.a.live()) == len(w.b.live()) == 20
    w.store.close()


def test_run_once_counts_the_unchanged_catalogue_once(world: World) -> None:
    world.host.inventory_pass()
    summary = world.host.run_once()  # both passes look at the same five unchanged units
    assert summary.counts("shop_a").unchanged == 5

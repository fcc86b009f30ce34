"""Plan from changes (issue 22 #1): a publish reads only the products its store query finds
work in, on both store backends. Counted in store reads and changes sent, never in time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from serialsync.engine.hashing import UNPRICED
from serialsync.registry import REFERENCE_ATTRIBUTE
from serialsync.store import ListingState, RefGroup
from serialsync.store.sql import utcnow

from tests.engine.conftest import World, build_world
from tests.stores import StoreSpec

A, B = "0113942719", "0113942720"


@pytest.fixture
def world(tmp_path: Path, store_spec: StoreSpec) -> Iterator[World]:
    w = build_world(tmp_path, spec=store_spec)
    w.pos.add_product(A, ["US1", "US2", "US3"])
    w.pos.add_product(B, ["MX1", "MX2"], price="1499.00")
    yield w
    w.host.store.close()


@pytest.fixture
def reads(world: World, monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Every product whose units the engine read from the store (one count per read)."""
    counted: Counter[str] = Counter()
    units_of = world.store.units_of

    def counting(sku: str) -> list:  # type: ignore[type-arg]
        counted[sku] += 1
        return units_of(sku)

    monkeypatch.setattr(world.store, "units_of", counting)
    return counted


def test_a_quiet_cycle_reads_no_unit_and_sends_nothing(world: World, reads: Counter[str]) -> None:
    world.host.inventory_pass()
    reads.clear()
    sent = (len(world.a.received), len(world.b.received))

    inventory = world.host.inventory_pass()
    orders = world.host.order_pass()

    assert reads == Counter()
    assert (len(world.a.received), len(world.b.received)) == sent
    assert inventory.counts("shop_a").unchanged == 5  # counted without reading a unit
    assert inventory.ok and orders.ok


def test_a_change_selects_exactly_its_unit_on_every_channel(
    world: World, reads: Counter[str]
) -> None:
    world.host.inventory_pass()
    reads.clear()
    sent = len(world.a.received)
    world.pos.set_unit(A, "US2", price=Decimal("1234.50"))

    summary = world.host.inventory_pass()

    assert set(reads) == {A}  # its product (on each channel); B never read
    assert [c.unit.serial for c in world.a.received[sent:]] == ["US2"]
    assert summary.counts("shop_b").updated == 1
    assert summary.counts("shop_b").unchanged == 4


def test_a_failure_on_one_channel_selects_that_channel_alone(
    world: World, reads: Counter[str]
) -> None:
    world.b.refuse["MX1"] = "invalid"
    world.host.inventory_pass()
    assert world.store.listings_of("shop_b", B)["MX1"].state == ListingState.FAILED
    reads.clear()
    channels: list[str] = []
    listings_of = world.store.listings_of

    def listing_reads(connector: str, sku: str) -> dict:  # type: ignore[type-arg]
        channels.append(connector)
        return listings_of(connector, sku)

    world.store.listings_of = listing_reads  # type: ignore[method-assign]

    world.host.inventory_pass()

    assert set(reads) == {B}  # refused for good: planned again, nothing sent
    assert set(channels) == {"shop_b"}  # shop_a has nothing to do
    del world.b.refuse["MX1"]
    world.store.put_listing(
        world.store.listings_of("shop_b", B)["MX1"].__class__(
            connector="shop_b", serial="MX1", sku=B, state=ListingState.FAILED, retryable=True
        )
    )
    reads.clear()
    world.host.inventory_pass()
    assert set(reads) == {B}
    assert "0113942720|||MX1" in world.b.live()
    reads.clear()
    world.host.inventory_pass()
    assert reads == Counter()


def test_a_product_change_rehashes_its_units_once(world: World, reads: Counter[str]) -> None:
    world.host.inventory_pass()
    world.pos.state["products"][B]["title"] = "Another guitar"
    for serial in ("MX1", "MX2"):
        world.pos.set_unit(B, serial)  # the POS gives the product again with its units
    reads.clear()

    world.host.inventory_pass()

    assert set(reads) == {B}
    reads.clear()
    world.host.inventory_pass()
    assert reads == Counter()


def test_an_unknown_hash_is_filled_by_the_first_publish_that_reads_it(
    world: World, reads: Counter[str]
) -> None:
    world.host.inventory_pass()
    # A store from before hashes were recorded with units: every hash unknown, and no
    # channel's changes followed (schema 10).
    with world.store.transaction():
        world.store._exec("UPDATE units SET content_hash = NULL")
        world.store._exec("DELETE FROM change_channels")
    sent = (len(world.a.received), len(world.b.received))
    reads.clear()

    world.host.inventory_pass()

    assert (len(world.a.received), len(world.b.received)) == sent  # nothing changed for real
    assert set(reads) == {A, B}
    assert all(u.content_hash for u in world.store.all_units())
    reads.clear()
    world.host.inventory_pass()
    assert reads == Counter()


def test_a_reference_assigned_republishes_its_unit(world: World) -> None:
    world.host.inventory_pass()
    store = world.store
    with store.transaction():
        store.put_ref_group(RefGroup("g", "continuous", 10, "ABC", 3, utcnow()))
        store.add_refs("g", None, ["ABC"])
        store.assign_ref("ABC", "US1")
    sent = len(world.a.received)

    world.host.inventory_pass()

    [change] = world.a.received[sent:]
    assert change.unit.attributes[REFERENCE_ATTRIBUTE] == "ABC"
    sent = len(world.a.received)
    with store.transaction():
        store.delete_ref("ABC")
    world.host.inventory_pass()
    [change] = world.a.received[sent:]
    assert REFERENCE_ATTRIBUTE not in change.unit.attributes


def test_an_unpriced_unit_is_recorded_as_such_and_selects_nothing(
    world: World, reads: Counter[str]
) -> None:
    world.pos.add_product("C", ["Z1"], price="0")
    world.host.inventory_pass()
    assert world.store.get_unit("Z1").content_hash == UNPRICED  # type: ignore[union-attr]
    assert "C|||Z1" not in world.a.live()
    reads.clear()

    world.host.inventory_pass()

    assert reads == Counter()


def test_a_unit_sold_in_the_pos_selects_its_withdrawal_alone(
    world: World, reads: Counter[str]
) -> None:
    world.host.inventory_pass()
    world.pos.set_unit(B, "MX1", status="sold")
    reads.clear()

    summary = world.host.inventory_pass()

    assert set(reads) == {B}
    assert summary.counts("shop_a").withdrawn == 1
    assert "0113942720|||MX1" not in world.a.live()
    reads.clear()
    world.host.inventory_pass()
    assert reads == Counter()

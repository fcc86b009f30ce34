"""Field groups: a change to a live unit names only what differs (issue 17 #3)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from serialsync import FieldGroup, ListingAction, Product, SerializedUnit
from serialsync.engine.hashing import (
    changed_groups,
    content_hash,
    legacy_content_hash,
    product_part,
)

from tests.engine.conftest import World

STRAT = ("US210033734", "US210033735", "US210033736")


def _received(world: World) -> dict[str, frozenset[FieldGroup]]:
    return {c.unit.serial: c.changed for c in world.a.received}


def test_a_first_listing_names_every_group(world: World) -> None:
    world.host.inventory_pass()

    assert world.a.received
    assert {c.changed for c in world.a.received} == {frozenset(FieldGroup)}


def test_a_price_change_names_only_the_price(world: World) -> None:
    world.host.inventory_pass()
    world.a.received.clear()
    world.pos.set_unit("0113942719", "US210033735", price=Decimal("1234.50"))

    world.host.inventory_pass()

    assert _received(world) == {"US210033735": frozenset({FieldGroup.PRICE})}


def test_a_unit_attribute_change_names_only_the_unit(world: World) -> None:
    world.host.inventory_pass()
    world.a.received.clear()
    world.pos.set_unit("0113942719", "US210033734", attributes={"finish": "Sunburst"})

    world.host.inventory_pass()

    assert _received(world) == {"US210033734": frozenset({FieldGroup.UNIT})}


def test_a_title_change_names_only_the_product(world: World) -> None:
    world.host.inventory_pass()
    world.a.received.clear()
    world.pos.state["products"]["0113942719"]["title"] = "Fender Stratocaster"
    for serial in STRAT:
        world.pos.set_unit("0113942719", serial)  # the POS reports the product's units again

    world.host.inventory_pass()

    assert _received(world) == {s: frozenset({FieldGroup.PRODUCT}) for s in STRAT}
    assert {c.action for c in world.a.received} == {ListingAction.UPSERT}


def test_a_unit_back_on_sale_names_every_group(world: World) -> None:
    world.host.inventory_pass()
    world.pos.set_unit("0113942720", "MX1001", status="sold")
    world.host.inventory_pass()
    world.a.received.clear()
    world.pos.set_unit("0113942720", "MX1001", status="in_stock")

    world.host.inventory_pass()

    assert _received(world) == {"MX1001": frozenset(FieldGroup)}


def test_a_hash_from_before_field_groups_names_every_group() -> None:
    product = Product(sku="S", title="T", price=Decimal("10"))
    unit = SerializedUnit(sku="S", serial="A1")
    current = content_hash(product, unit)

    assert changed_groups("0123456789abcdef0123456789abcdef", current) == frozenset(FieldGroup)
    assert changed_groups(None, current) == frozenset(FieldGroup)
    assert changed_groups(current, current) == frozenset()
    retitled = content_hash(product.model_copy(update={"title": "U"}), unit)
    assert changed_groups(current, retitled) == frozenset({FieldGroup.PRODUCT})


def test_a_store_from_before_field_groups_sends_nothing_for_an_unchanged_unit(
    world: World,
) -> None:
    world.host.inventory_pass()
    store = world.store
    # As the release before field groups left it: one legacy fingerprint per live listing.
    listings = store.listings_of("shop_a", "0113942719")
    product = store.get_product("0113942719")
    assert product is not None
    units = {u.unit.serial: u.unit for u in store.units_of("0113942719")}
    with store.transaction():
        for serial, listing in listings.items():
            legacy = legacy_content_hash(product, units[serial])
            store.put_listing(replace(listing, content_hash=legacy))
    world.a.received.clear()

    world.host.inventory_pass()
    assert world.a.received == []

    world.pos.set_unit("0113942719", "US210033735", price=Decimal("1234.50"))
    world.host.inventory_pass()
    assert _received(world) == {"US210033735": frozenset(FieldGroup)}


def test_a_product_part_computed_once_gives_each_unit_its_own_hash() -> None:
    strat = Product(sku="S", title="Strat", price=Decimal("999"), attributes={"body": "alder"})
    tele = strat.model_copy(update={"title": "Tele"})
    units = [SerializedUnit(sku="S", serial=s, location=s) for s in STRAT]
    shared = product_part(strat)

    given = [content_hash(strat, u, product_hash=shared) for u in units]
    assert given == [content_hash(strat, u) for u in units]
    assert len(set(given)) == len(units)
    # The part is the product's: another product's units get another.
    assert product_part(tele) != shared
    assert content_hash(tele, units[0]) != given[0]

"""withdraw_units against the fake store: stock 0 for units of many products, 250 a call."""

from __future__ import annotations

import pytest
from serialsync import ListingAction, ListingChange, PublishResult, RemoteError, SerializedUnit
from serialsync_shopify.fake import FakeShopify

from .conftest import make_connector, product, units, upserts

SKUS = ("0113942719", "0113942720", "0113942721")


def _listed(connector, count: int) -> list[ListingChange]:
    """``count`` units on each of three products, as withdrawals with the ids their publish gave."""
    changes = []
    for n, sku in enumerate(SKUS):
        stock = units(sku=sku, count=count, start=n * count)  # serials unique, as in a store
        outcomes = connector.publish_variants(product(sku=sku), upserts(stock))
        remotes = {o.serial: o.remote for o in outcomes}
        changes += [
            ListingChange(unit=u, action=ListingAction.WITHDRAW, remote=remotes[u.serial])
            for u in stock
        ]
    return changes


def _stock(shop: FakeShopify, unit: SerializedUnit) -> int:
    (variant,) = shop.variants_with_sku(unit.integration_id)
    return shop.stock_of(variant.id)


def test_units_of_many_products_are_withdrawn_250_a_call(connector, shop):
    changes = _listed(connector, 200)
    shop.calls.clear()

    outcomes = connector.withdraw_units(changes)

    assert {o.result for o in outcomes} == {PublishResult.WITHDRAWN}
    assert sorted(o.serial for o in outcomes) == sorted(c.unit.serial for c in changes)
    # 600 inventory items of three products: 250 + 250 + 100, nothing else sent.
    assert shop.calls == ["inventorySetQuantities"] * 3
    assert all(_stock(shop, c.unit) == 0 for c in changes)
    # The variants stay (unsellable at stock 0): a unit that comes back is a stock update.
    assert len(shop.variants) == 600
    by_serial = {c.unit.serial: c.remote for c in changes}
    assert all(o.remote == by_serial[o.serial] for o in outcomes)


def test_only_the_named_units_are_touched(connector, shop):
    changes = _listed(connector, 3)
    sold = [changes[0], changes[4], changes[8]]

    connector.withdraw_units(sold)

    for change in changes:
        assert _stock(shop, change.unit) == (0 if change in sold else 1)


def test_a_unit_without_remembered_ids_is_left_to_publish_variants(connector, shop):
    changes = _listed(connector, 2)
    lost = changes[0].model_copy(update={"remote": None})
    shop.calls.clear()

    outcomes = connector.withdraw_units([lost, changes[1]])

    assert [o.serial for o in outcomes] == [changes[1].unit.serial]
    assert _stock(shop, lost.unit) == 1  # untouched: the host sends it through its product


def test_a_variant_deleted_meanwhile_is_withdrawn_and_the_others_still_go(connector, shop):
    changes = _listed(connector, 2)
    # Deleted by someone else (here: a publish) since the host recorded its ids.
    connector.publish_variants(product(sku=changes[0].unit.sku), [changes[0]])
    assert not shop.variants_with_sku(changes[0].unit.integration_id)

    outcomes = {o.serial: o for o in connector.withdraw_units(changes[:3])}

    assert {o.result for o in outcomes.values()} == {PublishResult.WITHDRAWN}
    assert _stock(shop, changes[1].unit) == _stock(shop, changes[2].unit) == 0


def test_the_fake_refuses_more_than_250_quantities_in_one_call(shop, clock):
    connector = make_connector(shop, clock)
    changes = _listed(connector, 100)
    quantities = [
        {
            "inventoryItemId": c.remote.inventory_item_id if c.remote else None,
            "locationId": connector.shop_context().location_id,
            "quantity": 0,
            "changeFromQuantity": None,
        }
        for c in changes[:251]
    ]
    with pytest.raises(RemoteError, match="maximum allowed of 250"):
        connector.client.set_available(quantities, reason="correction")

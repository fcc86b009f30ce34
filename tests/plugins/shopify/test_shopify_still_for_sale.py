"""Shopify asks the host's ``still_for_sale`` just before each request that would make units
sellable (the creating ``productSet``, each ``productVariantsBulkCreate``, each
``inventorySetQuantities`` of stock 1): a unit sold meanwhile goes out in that same request at
stock 0 and is answered WITHDRAWN with its ids, with no request of its own."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import respx
from serialsync import FieldGroup, ListingAction, PublishResult, SerializedUnit
from serialsync_shopify import FakeShopify, ShopifyConnector

from tests.clocks import FakeClock
from tests.still_for_sale import SoldMeanwhile

from .conftest import make_connector, product, units, upserts
from .test_shopify_publish import remembered

#: The mutations a request carries, with their variables, in the order they were sent.
Sent = list[tuple[str, dict[str, Any]]]


def _operation(request: httpx.Request) -> tuple[str, dict[str, Any]]:
    body = json.loads(request.content)
    query = str(body.get("query") or "")
    # The first field of the document's selection: the mutation or query it runs.
    name = query.split("{", 2)[1].split("(")[0].strip() if "{" in query else ""
    return name, body.get("variables") or {}


@contextmanager
def _through_respx(
    fake: FakeShopify,
    clock: FakeClock,
    sent: Sent,
    *,
    on_request: Callable[[str], None] | None = None,
) -> Iterator[ShopifyConnector]:
    """A connector whose requests respx hands to ``fake``; each one's operation and variables
    are kept in ``sent``, and ``on_request(operation)`` runs while it is on the wire."""

    def serve(request: httpx.Request) -> httpx.Response:
        name, variables = _operation(request)
        sent.append((name, variables))
        if on_request is not None:
            on_request(name)
        return fake(request)

    with respx.mock() as router:
        router.route(host="fake-shop.myshopify.com").mock(side_effect=serve)
        yield make_connector(fake, clock)


def _sent(sent: Sent, operation: str) -> list[dict[str, Any]]:
    return [variables for name, variables in sent if name == operation]


def test_a_unit_sold_before_the_product_set_is_created_at_stock_0_and_withdrawn(
    fake: FakeShopify, clock: FakeClock
) -> None:
    stock = units(count=3)
    still_for_sale = SoldMeanwhile(sold={stock[1].serial})  # sold on another channel meanwhile
    sent: Sent = []
    with _through_respx(fake, clock, sent) as connector:
        outcomes = connector.publish_variants(product(), upserts(stock), still_for_sale)

    assert still_for_sale.asked == [sorted(u.serial for u in stock)]
    [product_set] = _sent(sent, "productSet")
    quantities = {
        v["inventoryItem"]["sku"]: v["inventoryQuantities"][0]["quantity"]
        for v in product_set["input"]["variants"]
    }
    assert quantities == {u.integration_id: 0 if u == stock[1] else 1 for u in stock}
    by_serial = {o.serial: o for o in outcomes}
    held = by_serial[stock[1].serial]
    assert held.result is PublishResult.WITHDRAWN
    (variant,) = fake.variants_with_sku(stock[1].integration_id)
    assert held.remote is not None
    assert (held.remote.variant_id, held.remote.inventory_item_id) == (
        variant.id,
        variant.inventory_item_id,
    )
    assert fake.stock_of(variant.id) == 0
    for unit in (stock[0], stock[2]):
        assert by_serial[unit.serial].result is PublishResult.CREATED
        (listed,) = fake.variants_with_sku(unit.integration_id)
        assert fake.stock_of(listed.id) == 1
    # The shop's context and the one productSet, as when every unit is still for sale.
    assert [name for name, _ in sent] == ["shop", "productSet"]


def test_each_bulk_create_asks_at_its_own_moment(fake: FakeShopify, clock: FakeClock) -> None:
    stock = units(count=600)  # a productSet of 250, then two productVariantsBulkCreate
    late = stock[300]
    still_for_sale = SoldMeanwhile()

    def sell_during_the_product_set(operation: str) -> None:
        if operation == "productSet":
            still_for_sale.sold.add(late.serial)  # its order committed while it is on the wire

    sent: Sent = []
    with _through_respx(fake, clock, sent, on_request=sell_during_the_product_set) as connector:
        outcomes = connector.publish_variants(product(), upserts(stock), still_for_sale)

    assert [len(a) for a in still_for_sale.asked] == [250, 250, 100]
    creates = _sent(sent, "productVariantsBulkCreate")
    assert len(creates) == 2
    levels = {
        v["inventoryItem"]["sku"]: v["inventoryQuantities"][0]["availableQuantity"]
        for v in creates[0]["variants"]
    }
    assert levels[late.integration_id] == 0
    assert sum(levels.values()) == 249
    results = {o.serial: o.result for o in outcomes}
    assert results.pop(late.serial) is PublishResult.WITHDRAWN
    assert set(results.values()) == {PublishResult.CREATED}
    (variant,) = fake.variants_with_sku(late.integration_id)
    assert fake.stock_of(variant.id) == 0
    assert [name for name, _ in sent] == [
        "shop",
        "productSet",
        "productVariantsBulkCreate",
        "productVariantsBulkCreate",
    ]


def test_a_unit_sold_before_its_relisting_stays_at_stock_0(
    connector: ShopifyConnector, shop: FakeShopify
) -> None:
    stock = units(count=2)
    first = connector.publish_variants(product(), upserts(stock))
    withdrawn = connector.withdraw_units(remembered(stock, first, ListingAction.WITHDRAW))
    assert withdrawn is not None and {o.result for o in withdrawn} == {PublishResult.WITHDRAWN}
    shop.calls.clear()

    outcomes = connector.publish_variants(
        product(),
        remembered(stock, first, ListingAction.UPSERT, frozenset(FieldGroup)),
        SoldMeanwhile(sold={stock[0].serial}),
    )

    by_serial = {o.serial: o for o in outcomes}
    assert by_serial[stock[0].serial].result is PublishResult.WITHDRAWN
    assert by_serial[stock[1].serial].result is PublishResult.UPDATED
    assert shop.calls.count("inventorySetQuantities") == 1  # both in the one stock request
    for unit, level in ((stock[0], 0), (stock[1], 1)):
        (variant,) = shop.variants_with_sku(unit.integration_id)
        assert shop.stock_of(variant.id) == level


def test_a_photo_sent_with_a_unit_created_unsellable_is_not_sent_again_on_relisting(
    connector: ShopifyConnector, shop: FakeShopify
) -> None:
    unit = SerializedUnit(
        sku="0113942719", serial="US210033734", images=("https://img.example/us1.jpg",)
    )
    [held] = connector.publish_variants(product(), upserts([unit]), SoldMeanwhile({unit.serial}))
    assert held.result is PublishResult.WITHDRAWN
    shop.calls.clear()

    # The sale is cancelled: the host lists the unit again, with the ids it was answered with.
    [again] = connector.publish_variants(
        product(), remembered([unit], [held], ListingAction.UPSERT, frozenset(FieldGroup))
    )

    assert again.result is PublishResult.UPDATED
    assert "productVariantsBulkUpdate" not in shop.calls  # the photo is on the variant already
    assert "productUpdate" not in shop.calls  # nor is the product's content sent again
    (variant,) = shop.variants_with_sku(unit.integration_id)
    assert shop.stock_of(variant.id) == 1


def test_a_price_update_makes_nothing_sellable_and_asks_nothing(
    connector: ShopifyConnector,
) -> None:
    stock = units(count=2)
    first = connector.publish_variants(product(), upserts(stock))
    changes = remembered(stock, first, ListingAction.UPSERT)  # the price group changed

    def never(serials: Collection[str]) -> frozenset[str]:
        raise AssertionError(f"asked about {sorted(serials)} with nothing to list")

    outcomes = connector.publish_variants(product(price="10.00"), changes, never)

    assert {o.result for o in outcomes} == {PublishResult.UPDATED}

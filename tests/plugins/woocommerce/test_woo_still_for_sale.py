"""WooCommerce asks the host's ``still_for_sale`` just before each ``variations/batch`` that
would put units in stock: a unit sold meanwhile goes out in that same batch at stock 0 and is
answered WITHDRAWN with its ids, with no request of its own."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

import httpx
import respx
from serialsync import PublishResult, SerializedUnit
from serialsync_woocommerce import FakeWooCommerce, WooCommerceConnector

from tests.still_for_sale import SoldMeanwhile

from .conftest import ConnectorFactory, product, units, upserts, withdrawals


def _batches(calls: list[httpx.Request]) -> list[dict[str, Any]]:
    """The bodies of the ``variations/batch`` requests among ``calls``, in order."""
    return [json.loads(r.content) for r in calls if r.url.path.endswith("/variations/batch")]


def test_a_unit_sold_before_the_batch_is_created_at_stock_0_and_answered_withdrawn(
    fake: FakeWooCommerce, make_connector: ConnectorFactory
) -> None:
    still_for_sale = SoldMeanwhile(sold={"US21000001"})  # sold on another channel meanwhile
    with respx.mock(assert_all_called=True) as router:
        router.route(host="shop.example.com").mock(side_effect=fake)
        connector = make_connector(transport=None)
        outcomes = connector.publish_variants(product(), upserts(units(3)), still_for_sale)
        sent = [call.request for call in router.calls]

    assert still_for_sale.asked == [["US21000000", "US21000001", "US21000002"]]
    [batch] = _batches(sent)
    stock = {item["attributes"][0]["option"]: item["stock_quantity"] for item in batch["create"]}
    assert stock == {"US21000000": 1, "US21000001": 0, "US21000002": 1}
    by_serial = {o.serial: o for o in outcomes}
    held = by_serial["US21000001"]
    assert held.result is PublishResult.WITHDRAWN
    variation = fake.variation_by_sku("0113942719|||US21000001")
    assert variation is not None
    assert held.remote is not None and held.remote.variant_id == str(variation["id"])
    assert held.remote.product_id == str(variation["parent_id"])
    assert {by_serial[s].result for s in ("US21000000", "US21000002")} == {PublishResult.CREATED}
    sellable = {x.sku for x in fake.listings() if x.sellable}
    assert sellable == {"0113942719|||US21000000", "0113942719|||US21000002"}
    # The product POST and the one batch, as when every unit is still for sale.
    assert len(sent) == 2


def test_each_batch_asks_at_its_own_moment(
    fake: FakeWooCommerce, make_connector: ConnectorFactory
) -> None:
    still_for_sale = SoldMeanwhile()

    def sell_during_the_first_batch(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/variations/batch"):
            # Its order is committed while batch 1 is on the wire.
            still_for_sale.sold.add("US21000003")
        return fake(request)

    with respx.mock() as router:
        router.route(host="shop.example.com").mock(side_effect=sell_during_the_first_batch)
        connector = make_connector(transport=None, batch_size=2)
        outcomes = connector.publish_variants(product(), upserts(units(5)), still_for_sale)
        sent = [call.request for call in router.calls]

    assert still_for_sale.asked == [
        ["US21000000", "US21000001"],
        ["US21000002", "US21000003"],
        ["US21000004"],
    ]
    assert [[item["stock_quantity"] for item in b["create"]] for b in _batches(sent)] == [
        [1, 1],
        [1, 0],
        [1],
    ]
    results = {o.serial: o.result for o in outcomes}
    assert results.pop("US21000003") is PublishResult.WITHDRAWN
    assert set(results.values()) == {PublishResult.CREATED}
    assert len(sent) == 4  # the product POST and three batches: none added


def test_a_listed_unit_sold_before_its_update_is_updated_at_stock_0(
    fake: FakeWooCommerce, connector: WooCommerceConnector
) -> None:
    first = connector.publish_variants(product(), upserts(units(2)))
    remotes = {o.serial: o.remote for o in first if o.remote is not None}
    sent_before = len(fake.requests)

    outcomes = connector.publish_variants(
        product(price="10.00"),
        upserts(units(2), remotes),
        SoldMeanwhile(sold={"US21000000"}),
    )

    by_serial = {o.serial: o for o in outcomes}
    assert by_serial["US21000000"].result is PublishResult.WITHDRAWN
    held, known = by_serial["US21000000"].remote, remotes["US21000000"]
    assert held is not None and (held.product_id, held.variant_id) == (
        known.product_id,
        known.variant_id,
    )
    assert by_serial["US21000001"].result is PublishResult.UPDATED
    assert len(fake.requests) - sent_before == 1  # the one batch of price updates
    stock = {x.sku: x.stock for x in fake.listings()}
    assert stock == {"0113942719|||US21000000": 0, "0113942719|||US21000001": 1}


def test_a_call_that_lists_nothing_does_not_ask(
    fake: FakeWooCommerce, connector: WooCommerceConnector
) -> None:
    first = connector.publish_variants(product(), upserts(units(2)))
    remotes = {o.serial: o.remote for o in first if o.remote is not None}

    def never(serials: Collection[str]) -> frozenset[str]:
        raise AssertionError(f"asked about {sorted(serials)} with nothing to list")

    outcomes = connector.publish_variants(product(), withdrawals(units(2), remotes), never)

    assert {o.result for o in outcomes} == {PublishResult.WITHDRAWN}


def test_relisting_a_unit_created_unsellable_sends_neither_its_photo_nor_its_product(
    fake: FakeWooCommerce, make_connector: ConnectorFactory
) -> None:
    unit = SerializedUnit(sku="0113942719", serial="US1", images=("https://img.example/us1.jpg",))
    with respx.mock() as router:
        router.route(host="shop.example.com").mock(side_effect=fake)
        connector = make_connector(transport=None)
        [held] = connector.publish_variants(
            product(), upserts([unit]), SoldMeanwhile({unit.serial})
        )
        assert held.remote is not None
        # The sale is cancelled: the host lists the unit again, with the ids it was answered.
        [again] = connector.publish_variants(product(), upserts([unit], {unit.serial: held.remote}))
        sent = [call.request for call in router.calls]

    assert held.result is PublishResult.WITHDRAWN
    assert again.result is PublishResult.UPDATED
    # No product PUT on relisting: the held unit's ids remember the content it was made with.
    assert [(r.method, r.url.path.rsplit("/", 2)[-1]) for r in sent] == [
        ("POST", "products"),
        ("POST", "batch"),
        ("POST", "batch"),
    ]
    first, relisting = _batches(sent)
    assert first["create"][0]["image"] == {"src": unit.images[0]}
    assert first["create"][0]["stock_quantity"] == 0
    [update] = relisting["update"]
    assert update["stock_quantity"] == 1
    assert "image" not in update  # the variation holds it since its creation

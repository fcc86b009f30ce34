"""BigCommerce asks the host's ``still_for_sale`` just before each request that lists units
(the product create, each ``PUT /v3/catalog/variants`` batch): a unit sold meanwhile goes out
in that same request at stock 0 and is answered WITHDRAWN with its ids, with no request of
its own."""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import respx
from serialsync import ListingAction, ListingChange, PublishResult, RemoteIds, SerializedUnit
from serialsync_bigcommerce import BigCommerceConnector, FakeBigCommerce

from tests.still_for_sale import SoldMeanwhile

from .conftest import ConnectorFactory, product, units
from .test_bigcommerce_publish import upserts, withdraws

VARIANTS = "/stores/fakestore1/v3/catalog/variants"
PRODUCTS = "/stores/fakestore1/v3/catalog/products"


def _levels(body: Any) -> dict[str, int]:
    """The inventory level each variant of a request body is sent at, by SKU or id."""
    variants = body["variants"] if isinstance(body, dict) else body
    return {str(v.get("sku") or v["id"]): v["inventory_level"] for v in variants}


@contextmanager
def _through_respx(
    fake: FakeBigCommerce,
    make_connector: ConnectorFactory,
    sent: list[httpx.Request],
    *,
    sell_on_first_batch: tuple[set[str], str] | None = None,
) -> Iterator[BigCommerceConnector]:
    """A connector whose requests respx hands to ``fake``, each one kept in ``sent``;
    ``sell_on_first_batch = (sold, serial)`` adds ``serial`` to ``sold`` while the first
    variants batch is on the wire (its order committed between two requests of the call)."""

    def serve(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if sell_on_first_batch is not None and request.url.path == VARIANTS:
            sold, serial = sell_on_first_batch
            sold.add(serial)
        return fake(request)

    with respx.mock() as router:
        router.route(host="api.bigcommerce.com").mock(side_effect=serve)
        yield make_connector(transport=httpx.HTTPTransport())  # respx intercepts it


def test_a_unit_sold_before_the_product_create_is_created_at_stock_0_and_withdrawn(
    fake: FakeBigCommerce, make_connector: ConnectorFactory
) -> None:
    still_for_sale = SoldMeanwhile(sold={"US21000001"})  # sold on another channel meanwhile
    sent: list[httpx.Request] = []
    with _through_respx(fake, make_connector, sent) as connector:
        outcomes = connector.publish_variants(product(), upserts(units(3)), still_for_sale)

    assert still_for_sale.asked == [["US21000000", "US21000001", "US21000002"]]
    [create] = sent  # one request, as when every unit is still for sale
    assert (create.method, create.url.path) == ("POST", PRODUCTS)
    assert _levels(json.loads(create.content)) == {
        "0113942719|||US21000000": 1,
        "0113942719|||US21000001": 0,
        "0113942719|||US21000002": 1,
    }
    by_serial = {o.serial: o for o in outcomes}
    held = by_serial["US21000001"]
    assert held.result is PublishResult.WITHDRAWN
    variant = next(v for v in fake.variants.values() if v["sku"] == "0113942719|||US21000001")
    assert held.remote is not None and held.remote.variant_id == str(variant["id"])
    assert held.remote.product_id == str(variant["product_id"])
    assert {by_serial[s].result for s in ("US21000000", "US21000002")} == {PublishResult.CREATED}
    stock = {x.sku: x.stock for x in fake.listings()}
    assert stock == {
        "0113942719|||US21000000": 1,
        "0113942719|||US21000001": 0,
        "0113942719|||US21000002": 1,
    }


def test_each_variants_batch_asks_at_its_own_moment(
    fake: FakeBigCommerce, make_connector: ConnectorFactory
) -> None:
    first = make_connector().publish_variants(product(), upserts(units(1)))
    new = units(101)[1:]  # 100 new units of a known product: two batches of 50
    late = new[70].serial
    still_for_sale = SoldMeanwhile()
    sent: list[httpx.Request] = []
    assert first[0].remote is not None
    known = RemoteIds(product_id=first[0].remote.product_id)  # the product, no variant yet
    changes = [ListingChange(unit=u, action=ListingAction.UPSERT, remote=known) for u in new]
    with _through_respx(
        fake, make_connector, sent, sell_on_first_batch=(still_for_sale.sold, late)
    ) as connector:
        outcomes = connector.publish_variants(product(), changes, still_for_sale)

    batches = [json.loads(r.content) for r in sent if r.url.path == VARIANTS]
    assert [len(b) for b in batches] == [50, 50]
    assert still_for_sale.asked == [
        sorted(u.serial for u in new[:50]),
        sorted(u.serial for u in new[50:]),
    ]
    held = f"0113942719|||{late}"
    assert _levels(batches[1])[held] == 0
    assert set(_levels(batches[0]).values()) == {1}
    assert sum(_levels(batches[1]).values()) == 49
    by_serial = {o.serial: o for o in outcomes}
    assert by_serial.pop(late).result is PublishResult.WITHDRAWN
    assert {o.result for o in by_serial.values()} == {PublishResult.CREATED}
    assert {x.sku: x.stock for x in fake.listings()}[held] == 0


def test_a_listed_unit_sold_before_its_update_is_updated_at_stock_0(
    fake: FakeBigCommerce, connector: BigCommerceConnector
) -> None:
    first = connector.publish_variants(product(), upserts(units(2)))
    fake.requests.clear()

    outcomes = connector.publish_variants(
        product(price="10.00"),
        upserts(units(2), first),
        SoldMeanwhile(sold={"US21000000"}),
    )

    by_serial = {o.serial: o for o in outcomes}
    held, known = by_serial["US21000000"].remote, first[0].remote
    assert by_serial["US21000000"].result is PublishResult.WITHDRAWN
    assert held is not None and known is not None
    assert (held.product_id, held.variant_id) == (known.product_id, known.variant_id)
    assert by_serial["US21000001"].result is PublishResult.UPDATED
    assert fake.requests == [("PUT", VARIANTS)]  # the one batch of price updates
    stock = {x.sku: x.stock for x in fake.listings()}
    assert stock == {"0113942719|||US21000000": 0, "0113942719|||US21000001": 1}


def test_a_withdrawal_only_call_does_not_ask(connector: BigCommerceConnector) -> None:
    first = connector.publish_variants(product(), upserts(units(2)))

    def never(serials: Collection[str]) -> frozenset[str]:
        raise AssertionError(f"asked about {sorted(serials)} with nothing to list")

    outcomes = connector.publish_variants(product(), withdraws(units(2), first), never)

    assert {o.result for o in outcomes} == {PublishResult.WITHDRAWN}


def test_relisting_a_unit_created_unsellable_sends_neither_its_photo_nor_its_product(
    fake: FakeBigCommerce, make_connector: ConnectorFactory
) -> None:
    unit = SerializedUnit(sku="0113942719", serial="US1", images=("https://img.example/us1.jpg",))
    sent: list[httpx.Request] = []
    with _through_respx(fake, make_connector, sent) as connector:
        [held] = connector.publish_variants(
            product(), upserts([unit]), SoldMeanwhile({unit.serial})
        )
        # The sale is cancelled: the host lists the unit again, with the ids it was answered.
        [again] = connector.publish_variants(product(), upserts([unit], [held]))

    assert held.result is PublishResult.WITHDRAWN
    assert again.result is PublishResult.UPDATED
    # No product PUT on relisting: the held unit's ids remember the content it was made with.
    assert [(r.method, r.url.path) for r in sent] == [("POST", PRODUCTS), ("PUT", VARIANTS)]
    create, relisting = (json.loads(r.content) for r in sent)
    assert create["variants"][0]["image_url"] == unit.images[0]
    assert create["variants"][0]["inventory_level"] == 0
    [update] = relisting
    assert update["inventory_level"] == 1
    assert "image_url" not in update  # the variant holds it since its creation

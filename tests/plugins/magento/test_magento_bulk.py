"""The optional asynchronous bulk path: constant requests per product, polling, failures."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from serialsync import ListingAction, ListingChange, Product, PublishResult, SerializedUnit
from serialsync_magento.mapping import url_key

POS_SKU = "0113942719"
PRODUCT = Product(sku=POS_SKU, title="Gibson Les Paul", price=Decimal("2499.00"))
SERIALS = [f"US21{i:07d}" for i in range(30)]


def _upserts(serials: list[str]) -> list[ListingChange]:
    return [
        ListingChange(unit=SerializedUnit(sku=POS_SKU, serial=s), action=ListingAction.UPSERT)
        for s in serials
    ]


def _kinds(fake) -> Counter[str]:
    counts: Counter[str] = Counter()
    for request in fake.received:
        path = request.path.split("/rest/all", 1)[1]
        if path.startswith("/V1/bulk/"):
            path = "/V1/bulk/{uuid}/status"
        elif path.startswith("/V1/configurable-products/"):
            path = "/V1/configurable-products/{sku}/children"
        counts[f"{request.method} {path}"] += 1
    return counts


def test_a_new_product_with_30_serials_costs_a_constant_number_of_requests(
    fake, make_connector, sleeps
):
    outcomes = make_connector(bulk=True).publish_variants(PRODUCT, _upserts(SERIALS))

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 30
    assert _kinds(fake) == {
        "GET /V1/products/attributes/serial_number": 1,
        "GET /V1/products/attribute-sets/4/attributes": 1,
        "POST /async/bulk/V1/products/attributes/byAttributeCode/options": 1,
        "GET /V1/bulk/{uuid}/status": 4,  # open, then done, for each of the two bulks
        "GET /V1/products/attributes/serial_number/options": 1,
        "POST /async/bulk/V1/products": 1,
        "GET /V1/products": 1,  # the children's ids, in one lookup
        "GET /V1/configurable-products/{sku}/children": 1,
        "POST /V1/products": 1,  # the parent, linking all 30
        "POST /V1/inventory/source-items": 1,
    }
    assert sleeps == [2.0, 2.0]  # one poll interval per "still open" answer, never really slept
    assert len(fake.children_of(POS_SKU)) == 30
    assert {x.stock for x in fake.listings()} == {1}
    assert {o.remote.variant_id for o in outcomes} == {
        str(c["id"]) for c in fake.children_of(POS_SKU)
    }


def test_an_operation_that_fails_in_the_bulk_fails_only_its_unit(fake, make_connector):
    taken = SerializedUnit(sku=POS_SKU, serial="TAKEN")
    fake.url_keys[url_key(PRODUCT.title, taken.integration_id)] = "SOMEONE-ELSE"
    fake.products["SOMEONE-ELSE"] = {"sku": "SOMEONE-ELSE", "id": 1, "custom_attributes": []}
    outcomes = make_connector(bulk=True).publish_variants(PRODUCT, _upserts(["TAKEN", "FREE"]))
    by_serial = {o.serial: o for o in outcomes}
    failed = by_serial["TAKEN"]
    assert failed.result is PublishResult.FAILED
    assert failed.retryable is False
    assert "URL key for specified store already exists" in (failed.reason or "")
    assert by_serial["FREE"].result is PublishResult.CREATED
    assert [c["sku"] for c in fake.children_of(POS_SKU)] == [f"{POS_SKU}|||FREE"]


def test_a_bulk_that_stays_open_fails_the_units_as_retryable(fake, make_connector, sleeps):
    fake.bulk_lag = 10_000  # the store's consumers are not running
    outcomes = make_connector(bulk=True, bulk_timeout=10, bulk_poll_interval=2).publish_variants(
        PRODUCT, _upserts(["S1", "S2"])
    )
    assert {o.result for o in outcomes} == {PublishResult.FAILED}
    assert all(o.retryable for o in outcomes)
    assert "consumers running" in (outcomes[0].reason or "")
    assert sum(sleeps) == 10
    assert fake.product(POS_SKU) is None


def test_a_bulk_retry_after_a_crash_adopts_options_and_children(fake, make_connector):
    make_connector(bulk=True).publish_variants(PRODUCT, _upserts(SERIALS[:3]))
    options = len(fake.attributes["serial_number"]["options"])
    again = make_connector(bulk=True).publish_variants(PRODUCT, _upserts(SERIALS[:3]))
    assert {o.result for o in again} == {PublishResult.CREATED}
    assert len(fake.attributes["serial_number"]["options"]) == options
    assert len(fake.children_of(POS_SKU)) == 3
    assert len([p for p in fake.products.values() if p["type_id"] == "simple"]) == 3

"""The wire helpers: reading batch answers whose errors carry no item index."""

from __future__ import annotations

import json

import httpx
from serialsync import ListingAction, ListingChange, PublishResult
from serialsync_bigcommerce import FakeBigCommerce
from serialsync_bigcommerce.client import BatchResult

from tests.clocks import FakeClock

from .conftest import START, build_connector, product, units


def test_an_error_is_matched_to_the_item_it_names():
    result = BatchResult(
        207,
        [{"id": 1, "sku": "A|||1"}],
        [
            {"status": 422, "title": "Bad price", "errors": {"id": 2}},
            {"status": 409, "title": "Sku not unique", "errors": {"sku": "a|||3"}},
        ],
    )
    assert result.written(variant_id=1, sku="A|||1") is not None
    assert result.written(variant_id=None, sku="a|||1") is not None  # SKUs ignore case
    assert result.error_about(variant_id=2, sku="A|||2", alone=False).status == 422
    assert result.error_about(variant_id=None, sku="A|||3", alone=False).status == 409


def test_a_lone_error_belongs_to_a_lone_unwritten_item_only():
    vague = [{"status": 422, "title": "Something was wrong"}]
    result = BatchResult(422, [], vague)
    assert result.error_about(variant_id=5, sku="X|||1", alone=True).status == 422
    unknown = result.error_about(variant_id=5, sku="X|||1", alone=False)
    assert unknown.status == 0
    assert "Something was wrong" in unknown.text


class VagueFake(FakeBigCommerce):
    """A store whose 409 on product create names no SKU (the shape is not documented)."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        response = super().handle(request)
        if response.status_code == 409 and request.method == "POST":
            body = {"status": 409, "title": "Conflict: a unique value (sku) is taken"}
            return httpx.Response(409, content=json.dumps(body).encode(), headers=response.headers)
        return response


def test_a_409_naming_no_sku_is_resolved_by_looking_each_unit_up():
    clock = FakeClock(START)
    fake = VagueFake(clock=clock)
    connector = build_connector(fake, clock)
    taken = units(1)[0]
    body = {
        "name": "Hand made",
        "type": "physical",
        "weight": 0,
        "price": 1,
        "variants": [
            {
                "sku": taken.integration_id,
                "option_values": [{"option_display_name": "Serial", "label": "x"}],
            }
        ],
    }
    assert connector.client.http.post("/v3/catalog/products", json=body).status_code == 200
    batch = [taken, *units(3, prefix="FREE")]
    changes = [ListingChange(unit=u, action=ListingAction.UPSERT) for u in batch]
    outcomes = connector.publish_variants(product=product(), changes=changes)
    assert [o.result for o in outcomes] == [PublishResult.UPDATED] + [PublishResult.CREATED] * 3
    skus = [listing.sku for listing in fake.listings()]
    assert sorted(skus) == sorted(u.integration_id for u in batch)

"""Reconcile's read of a large shop by one bulk query operation, against the fake shop (which
validates every document, and the bulk query itself, against the 2026-07 schema)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from serialsync import PermanentRemoteError, PublishResult, RetryableRemoteError
from serialsync_shopify import documents
from serialsync_shopify.connector import ShopifyConnector
from serialsync_shopify.fake import FakeShopify

from tests.clocks import FakeClock

from .conftest import SHOP_URL, make_connector, product, units, upserts


def _bulk(shop: FakeShopify, clock: FakeClock, **settings: Any) -> ShopifyConnector:
    """A connector that reads by bulk from the first variant on."""
    return make_connector(shop, clock, listings_bulk_from=1, **settings)


def test_a_large_shop_is_read_by_one_bulk_query_in_three_kinds_of_request(shop, clock):
    connector = _bulk(shop, clock)
    made = connector.publish_variants(product(), upserts(units(count=3)))
    assert {o.result for o in made} == {PublishResult.CREATED}
    shop.create_order([("PLAIN-STRAP", 1)])  # a product of the shop's own: not a listing
    shop.calls.clear()

    page = connector.list_listings(None)

    assert page.next_page is None
    assert sorted(x.integration_id for x in page.listings) == sorted(
        u.integration_id for u in units(count=3)
    )
    assert sorted(x.remote.model_dump_json() for x in page.listings) == sorted(
        o.remote.model_dump_json() for o in made if o.remote is not None
    )
    assert all(x.sellable and x.stock == 1 for x in page.listings)
    # Counted, started, polled until done (the fake completes on its second read).
    assert shop.calls == [
        "productVariantsCount",
        "bulkOperationRunQuery",
        "bulkOperation",
        "bulkOperation",
    ]
    assert clock.sleeps == [2.0]  # one wait of bulk_poll_interval between the polls


def test_the_result_file_has_a_line_per_node_and_parent_ids(shop, clock):
    connector = _bulk(shop, clock)
    connector.publish_variants(product(), upserts(units(count=2)))
    connector.list_listings(None)
    (op,) = shop.bulk.ops.values()
    lines = [json.loads(line) for line in op.lines]
    (parent,) = [line for line in lines if "__parentId" not in line]
    children = [line for line in lines if "__parentId" in line]
    assert parent == {"id": children[0]["__parentId"]}  # nothing grouped under the product
    assert len(children) == 2
    assert set(children[0]) == {
        "id",
        "sku",
        "inventoryQuantity",
        "inventoryPolicy",
        "inventoryItem",
        "__parentId",
    }


def test_a_small_shop_is_paged_without_a_bulk_query(shop, clock):
    connector = make_connector(shop, clock, listings_bulk_from=10)
    connector.publish_variants(product(), upserts(units(count=3)))
    shop.calls.clear()
    assert len(connector.list_listings(None).listings) == 3
    assert shop.calls == ["productVariantsCount", "productVariants"]


def test_an_empty_shop_completes_without_a_file(shop, clock):
    page = _bulk(shop, clock).list_listings(None)
    assert page.listings == () and page.next_page is None


def test_the_file_is_fetched_without_the_access_token(shop, clock):
    sent: list[httpx.Request] = []
    connector = _bulk(shop, clock)
    connector.publish_variants(product(), upserts(units(count=1)))
    real = shop.handle

    def spy(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        answer: httpx.Response = real(request)
        return answer

    shop.handle = spy
    connector.list_listings(None)
    (download,) = [r for r in sent if r.url.path.startswith("/bulk-results/")]
    assert "x-shopify-access-token" not in download.headers
    assert download.url.params.get("signature")


def test_a_second_bulk_query_waits_its_turn_before_2026_01(shop, clock):
    old = _bulk(shop, clock, api_version="2025-10")
    old.publish_variants(product(), upserts(units(count=1)))
    shop.bulk.lag = 100  # the first never completes within this test
    first = old.client.bulk_run_query(documents.BULK_LISTINGS_QUERY)
    assert first["bulkOperation"]["status"] == "CREATED"
    with pytest.raises(RetryableRemoteError, match="already in progress") as caught:
        old.list_listings(None)
    assert caught.value.code == "OPERATION_IN_PROGRESS"


def test_from_2026_01_five_bulk_queries_may_run_at_once(shop, clock):
    connector = _bulk(shop, clock)
    shop.bulk.lag = 100
    for _ in range(5):
        started = connector.client.bulk_run_query(documents.BULK_LISTINGS_QUERY)
        assert started["userErrors"] == []
    refused = connector.client.bulk_run_query(documents.BULK_LISTINGS_QUERY)
    assert refused["bulkOperation"] is None
    assert refused["userErrors"][0]["code"] == "LIMIT_REACHED"


@pytest.mark.parametrize(
    ("query", "why"),
    [
        ("{ shop { name } }", "at least one connection"),
        ("{ products { edges { node { nope } } } }", "Cannot query field"),
        ("{ products(", "Syntax Error"),
    ],
)
def test_the_fake_refuses_a_bulk_query_shopify_would_refuse(shop, clock, query, why):
    connector = _bulk(shop, clock)
    refused = connector.client.bulk_run_query(query)
    assert refused["bulkOperation"] is None
    (error,) = refused["userErrors"]
    assert error["code"] == "INVALID" and why in error["message"]


def test_a_refused_bulk_query_is_a_permanent_error(shop, clock, monkeypatch):
    connector = _bulk(shop, clock)
    connector.publish_variants(product(), upserts(units(count=1)))
    monkeypatch.setattr("serialsync_shopify.bulk_listings.BULK_LISTINGS_QUERY", "{ shop { name } }")
    with pytest.raises(PermanentRemoteError, match="did not start the bulk query"):
        connector.list_listings(None)


def test_a_bulk_query_still_running_past_the_timeout_gives_up(shop, clock):
    connector = _bulk(shop, clock, bulk_timeout=10, bulk_poll_interval=4)
    connector.publish_variants(product(), upserts(units(count=1)))
    shop.bulk.lag = 1_000
    with pytest.raises(RetryableRemoteError, match="still RUNNING") as caught:
        connector.list_listings(None)
    assert caught.value.code == "BULK_TIMEOUT"


def test_a_file_cut_short_is_retryable(shop, clock, monkeypatch):
    connector = _bulk(shop, clock)
    connector.publish_variants(product(), upserts(units(count=1)))
    monkeypatch.setattr(
        shop.bulk, "download", lambda *_a: (200, b'{"id":"gid://shopify/Product/1"}\n{"id":"gid:')
    )
    with pytest.raises(RetryableRemoteError, match="line 2 of the bulk result"):
        connector.list_listings(None)


def test_the_result_url_is_on_the_host_the_fake_was_reached_at():
    fake = FakeShopify()
    fake.bulk.lag = 1
    assert SHOP_URL.startswith("https://")
    token = {"X-Shopify-Access-Token": fake.access_token}
    with httpx.Client(transport=fake.transport(), base_url="http://127.0.0.1:9") as http:
        started = http.post(
            "/admin/api/2026-07/graphql.json",
            headers=token,
            json={
                "query": documents.BULK_RUN_DOCUMENT,
                "variables": {"query": documents.BULK_LISTINGS_QUERY},
            },
        ).json()
        op_id = started["data"]["bulkOperationRunQuery"]["bulkOperation"]["id"]
        fake.catalog.products.clear()
        polled = http.post(
            "/admin/api/2026-07/graphql.json",
            headers=token,
            json={"query": documents.BULK_POLL_DOCUMENT, "variables": {"id": op_id}},
        ).json()
    assert polled["data"]["bulkOperation"]["status"] == "COMPLETED"
    assert polled["data"]["bulkOperation"]["url"] is None  # nothing found: no file

"""The fake store keeps Shopify's rules: the plugin cannot pass something the platform refuses."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import respx
from serialsync import FinancialStatus, PublishResult
from serialsync_shopify.fake import DEFAULT_TOKEN, PRIMARY_LOCATION, FakeShopify

from .conftest import SHOP_URL, make_connector, product, units, upserts

ENDPOINT = f"{SHOP_URL}/admin/api/2026-07/graphql.json"
BULK_CREATE = """
mutation C($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
  productVariantsBulkCreate(productId: $productId, variants: $variants) {
    productVariants { id sku }
    userErrors { field message code }
  }
}
"""
BULK_DELETE = """
mutation D($productId: ID!, $ids: [ID!]!) {
  productVariantsBulkDelete(productId: $productId, variantsIds: $ids) {
    userErrors { field message code }
  }
}
"""
STOCK_WITH_KEY = """
mutation S($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""
STOCK_WITHOUT_KEY = """
mutation S($input: InventorySetQuantitiesInput!) {
  inventorySetQuantities(input: $input) {
    inventoryAdjustmentGroup { id }
    userErrors { field message code }
  }
}
"""


def post(
    fake: FakeShopify,
    query: str,
    variables: dict[str, Any] | None = None,
    token: str = DEFAULT_TOKEN,
) -> httpx.Response:
    request = httpx.Request(
        "POST",
        ENDPOINT,
        headers={"X-Shopify-Access-Token": token},
        json={"query": query, "variables": variables or {}},
    )
    return fake(request)


@pytest.fixture
def listed(connector, shop):
    return connector.publish_variants(product(), upserts(units(count=2)))


def variant_input(serial: str, price: str = "10.00") -> dict[str, Any]:
    return {
        "optionValues": [{"optionName": "Serial", "name": serial}],
        "price": price,
        "inventoryItem": {"sku": f"0113942719|||{serial}", "tracked": True},
        "inventoryQuantities": [{"availableQuantity": 1, "locationId": PRIMARY_LOCATION}],
    }


def test_fake_refuses_a_second_variant_with_the_same_option_value(shop, listed):
    product_id = listed[0].remote.product_id
    body = post(
        shop,
        BULK_CREATE,
        {
            "productId": product_id,
            "variants": [variant_input("NEW1"), variant_input(listed[0].serial)],
        },
    ).json()
    payload = body["data"]["productVariantsBulkCreate"]
    assert payload["productVariants"] == []  # all or nothing (an empty list, as Shopify answers)
    (error,) = payload["userErrors"]
    assert error["code"] == "VARIANT_ALREADY_EXISTS"
    assert error["field"] == ["variants", "1"]
    assert len(shop.variants) == 2


def test_fake_refuses_to_delete_the_last_variant(shop, listed):
    product_id = listed[0].remote.product_id
    ids = [o.remote.variant_id for o in listed]
    body = post(shop, BULK_DELETE, {"productId": product_id, "ids": ids}).json()
    (error,) = body["data"]["productVariantsBulkDelete"]["userErrors"]
    assert error["code"] == "CANNOT_DELETE_LAST_VARIANT"
    assert len(shop.variants) == 2
    body = post(shop, BULK_DELETE, {"productId": product_id, "ids": ids[:1]}).json()
    assert body["data"]["productVariantsBulkDelete"]["userErrors"] == []
    assert len(shop.variants) == 1


def test_fake_refuses_more_than_250_items_in_one_input(shop, listed):
    variants = [variant_input(f"S{i}") for i in range(251)]
    body = post(
        shop, BULK_CREATE, {"productId": listed[0].remote.product_id, "variants": variants}
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert len(shop.variants) == 2


def test_fake_requires_the_idempotent_key_and_change_from_quantity(shop, listed):
    item = listed[0].remote.inventory_item_id
    quantity = {"inventoryItemId": item, "locationId": PRIMARY_LOCATION, "quantity": 0}
    stock_input = {"name": "available", "reason": "correction", "quantities": [quantity]}
    body = post(shop, STOCK_WITHOUT_KEY, {"input": stock_input}).json()
    assert "@idempotent" in body["errors"][0]["message"]
    body = post(shop, STOCK_WITH_KEY, {"input": stock_input, "key": "k1"}).json()
    assert "changeFromQuantity" in body["errors"][0]["message"]
    variant_id = listed[0].remote.variant_id
    assert shop.stock_of(variant_id) == 1
    quantity["changeFromQuantity"] = 5
    body = post(shop, STOCK_WITH_KEY, {"input": stock_input, "key": "k2"}).json()
    (error,) = body["data"]["inventorySetQuantities"]["userErrors"]
    assert error["code"] == "CHANGE_FROM_QUANTITY_STALE"
    quantity["changeFromQuantity"] = None
    body = post(shop, STOCK_WITH_KEY, {"input": stock_input, "key": "k3"}).json()
    assert body["data"]["inventorySetQuantities"]["userErrors"] == []
    assert shop.stock_of(variant_id) == 0


def test_fake_replays_a_repeated_idempotency_key_without_applying_twice(shop, listed):
    item = listed[0].remote.inventory_item_id
    quantity = {
        "inventoryItemId": item,
        "locationId": PRIMARY_LOCATION,
        "quantity": 0,
        "changeFromQuantity": None,
    }
    stock_input = {"name": "available", "reason": "correction", "quantities": [quantity]}
    first = post(shop, STOCK_WITH_KEY, {"input": stock_input, "key": "same"}).json()
    shop.levels[(item, PRIMARY_LOCATION)] = 1  # changed meanwhile
    again = post(shop, STOCK_WITH_KEY, {"input": stock_input, "key": "same"}).json()
    assert again["data"] == first["data"]
    assert shop.stock_of(listed[0].remote.variant_id) == 1  # not applied again
    quantity["quantity"] = 3
    mismatch = post(shop, STOCK_WITH_KEY, {"input": stock_input, "key": "same"}).json()
    (error,) = mismatch["data"]["inventorySetQuantities"]["userErrors"]
    assert error["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"


def test_fake_product_set_deletes_the_variants_it_is_not_given(shop, listed):
    """The trap the plugin avoids: productSet on an existing product drops left-out variants."""
    keep = listed[0].serial
    query = """
    mutation P($input: ProductSetInput!, $identifier: ProductSetIdentifiers) {
      productSet(input: $input, identifier: $identifier) { product { id } userErrors { code } }
    }
    """
    variables = {
        "identifier": {"id": listed[0].remote.product_id},
        "input": {
            "productOptions": [{"name": "Serial", "values": [{"name": keep}]}],
            "variants": [
                {"optionValues": [{"optionName": "Serial", "name": keep}], "price": "1.00"}
            ],
        },
    }
    body = post(shop, query, variables).json()
    assert body["data"]["productSet"]["userErrors"] == []
    assert [v.option_value for v in shop.variants.values()] == [keep]


def test_fake_bucket_reports_cost_and_throttles(clock):
    fake = FakeShopify(clock=clock, bucket_size=100, restore_rate=10)
    body = post(fake, "{ shop { name } }").json()
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == cost["actualQueryCost"] == 1
    assert cost["throttleStatus"] == {
        "maximumAvailable": 100,
        "currentlyAvailable": 99,
        "restoreRate": 10,
    }
    fake.drain_bucket(to=0.5)
    response = post(fake, "{ shop { name } }")
    assert response.status_code == 200
    assert response.json()["errors"][0]["extensions"]["code"] == "THROTTLED"
    assert "data" not in response.json()
    clock.now += 0.1  # 0.5 + 1 point restored
    assert post(fake, "{ shop { name } }").json()["data"]["shop"]["name"] == "Fake Shop"
    fake.throttle_status = 429
    fake.drain_bucket(to=0)
    assert post(fake, "{ shop { name } }").status_code == 429


def test_fake_refuses_a_query_over_the_single_query_limit(clock):
    fake = FakeShopify(clock=clock)
    query = "{ orders(first: 250) { nodes { id lineItems(first: 10) { nodes { id } } } } }"
    body = post(fake, query).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert error["extensions"]["cost"] == 2 + 250 * (1 + 2 + 10)
    assert fake.bucket_available() == 1000  # a refused query costs nothing


def test_fake_answers_401_to_a_wrong_token(clock):
    fake = FakeShopify(clock=clock)
    response = post(fake, "{ shop { name } }", token="shpat_wrong_token_value")
    assert response.status_code == 401
    assert "Invalid API key or access token" in response.json()["errors"]


def test_fake_routes_on_the_path_not_the_host(clock):
    fake = FakeShopify(clock=clock)
    request = httpx.Request(
        "POST",
        "http://127.0.0.1:8765/admin/api/2026-07/graphql.json",
        headers={"X-Shopify-Access-Token": DEFAULT_TOKEN},
        json={"query": "{ shop { name } }"},
    )
    assert fake(request).json()["data"]["shop"]["name"] == "Fake Shop"
    assert fake(httpx.Request("POST", "http://127.0.0.1:8765/admin/oauth")).status_code == 404


def test_fake_serves_as_respx_side_effect_and_as_transport(clock, wall):
    fake = FakeShopify(clock=clock, now=wall)
    over_transport = make_connector(fake, clock, transport=True)
    assert "Fake Shop" in over_transport.check_connection()
    with respx.mock() as mock:
        route = mock.route(host="fake-shop.myshopify.com").mock(side_effect=fake)
        over_respx = make_connector(fake, clock)
        outcomes = over_respx.publish_variants(product(), upserts(units(count=1)))
    assert outcomes[0].result is PublishResult.CREATED
    assert route.called


def test_fake_is_built_without_arguments_and_points_a_connector_at_itself():
    fake = FakeShopify()
    settings = fake.connector_settings("http://127.0.0.1:9999")
    assert settings["base_url"] == "http://127.0.0.1:9999"
    assert settings["access_token"] == fake.access_token
    assert fake.listings() == []


def test_fake_orders_and_statuses(shop, listed):
    sku = f"{listed[0].sku}|||{listed[0].serial}"
    order_id = shop.create_order([(sku, 1)], status=FinancialStatus.PENDING)
    assert shop.orders[order_id].financial == "PENDING"
    shop.set_order_status(order_id, FinancialStatus.PAID)
    assert shop.orders[order_id].financial == "PAID"
    shop.set_order_status(order_id, FinancialStatus.REFUNDED)
    assert shop.orders[order_id].financial == "REFUNDED"
    assert shop.orders[order_id].lines[0].current_quantity == 0
    with pytest.raises(ValueError, match="no variant"):
        shop.create_order([("NOPE|||1", 1)])

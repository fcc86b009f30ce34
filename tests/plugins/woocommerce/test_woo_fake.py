"""The fake keeps WooCommerce's rules; the plugin registers and runs through the host."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from pydantic import SecretStr
from serialsync import FinancialStatus, PublishResult, Role
from serialsync.manager import PluginManager
from serialsync_woocommerce import FakeWooCommerce, OAuth1Auth, WooCommerceSettings

from .conftest import HTTP_SITE, HTTPS_SITE, product, units, upserts

API = f"{HTTPS_SITE}/wp-json/wc/v3"


@pytest.fixture
def http(fake):
    return httpx.Client(transport=fake.transport(), auth=(fake.consumer_key, fake.consumer_secret))


def test_a_batch_of_more_than_100_items_is_refused_with_413(fake, http):
    pid = fake.add_product("P", options=["A"])
    body = {"create": [{"sku": f"P|||{i}"} for i in range(60)], "delete": list(range(41))}

    response = http.post(f"{API}/products/{pid}/variations/batch", json=body)

    assert response.status_code == 413
    assert response.json()["code"] == "woocommerce_rest_request_entity_too_large"
    assert not fake.variations


def test_a_batch_answers_200_with_an_error_per_failed_item(fake, http):
    pid = fake.add_product("P", options=["A", "B"])
    other = fake.add_product("Q", options=["A"])
    foreign = fake.add_variation(other, "Q|||A", "A")

    response = http.post(
        f"{API}/products/{pid}/variations/batch",
        json={
            "create": [{"sku": "P|||A"}, {"sku": "Q|||A"}],
            "update": [{"id": foreign, "stock_quantity": 0}],
        },
    )

    assert response.status_code == 200
    created, duplicate = response.json()["create"]
    assert created["sku"] == "P|||A" and "error" not in created
    assert duplicate["error"]["code"] == "product_invalid_sku"
    assert duplicate["error"]["data"]["resource_id"] == foreign
    (refused,) = response.json()["update"]
    assert refused["error"]["code"] == "woocommerce_rest_product_variation_invalid_id"
    assert fake.variations[foreign]["stock_quantity"] == 1


def test_skus_are_unique_across_products_and_variations(fake, http):
    pid = fake.add_product("P", options=["A"])
    vid = fake.add_variation(pid, "P|||A", "A")

    as_product = http.post(f"{API}/products", json={"name": "x", "sku": "P|||A"})
    same_product = http.post(f"{API}/products", json={"name": "x", "sku": "P"})

    assert as_product.status_code == 400
    assert as_product.json()["code"] == "product_invalid_sku"
    assert as_product.json()["data"]["resource_id"] == vid
    assert same_product.json()["data"]["resource_id"] == pid
    assert len(fake.products) == 1


def test_lists_are_paged_with_headers_and_per_page_is_capped(fake, http):
    for i in range(5):
        fake.add_product(f"P{i}")

    page = http.get(f"{API}/products", params={"per_page": 2, "page": 3})
    too_many = http.get(f"{API}/products", params={"per_page": 101})

    assert page.headers["X-WP-Total"] == "5" and page.headers["X-WP-TotalPages"] == "3"
    assert [p["sku"] for p in page.json()] == ["P4"]
    assert too_many.status_code == 400 and too_many.json()["code"] == "rest_invalid_param"


def test_errors_have_woocommerces_shape(fake, http):
    missing = http.get(f"{API}/products/999")
    no_route = http.get(f"{API}/nothing")

    assert missing.status_code == 404
    assert missing.json() == {
        "code": "woocommerce_rest_product_invalid_id",
        "message": "Invalid ID.",
        "data": {"status": 404},
    }
    assert no_route.json()["code"] == "rest_no_route"


def test_latency_is_configurable_and_never_really_waited():
    waited: list[float] = []
    fake = FakeWooCommerce(latency=0.25, sleep=waited.append)
    client = httpx.Client(
        transport=fake.transport(), auth=(fake.consumer_key, fake.consumer_secret)
    )

    client.get(f"{API}/products")
    fake.set_latency(0.5)
    client.get(f"{API}/products")

    assert waited == [0.25, 0.5]


def test_a_shopper_cannot_buy_what_is_out_of_stock_or_unknown(fake):
    pid = fake.add_product("P", options=["A"])
    fake.add_variation(pid, "P|||A", "A")
    fake.create_order([("P|||A", 1)])

    with pytest.raises(ValueError, match="out of stock"):
        fake.create_order([("P|||A", 1)])
    with pytest.raises(ValueError, match="no variation"):
        fake.create_order([("P|||Z", 1)])
    assert fake.listings()[0].stock == 0


def test_connector_settings_point_the_plugin_at_the_fake(fake):
    secure = WooCommerceSettings.model_validate(fake.connector_settings(HTTPS_SITE))
    plain = WooCommerceSettings.model_validate(fake.connector_settings("http://127.0.0.1:8123"))

    assert secure.auth_mode == "basic" and plain.auth_mode == "oauth1"
    assert plain.api_root == "http://127.0.0.1:8123/wp-json/wc/v3/"


def test_the_fake_serves_as_an_asgi_app_with_oauth_over_http(fake):
    async def call() -> httpx.Response:
        auth = OAuth1Auth(SecretStr(fake.consumer_key), SecretStr(fake.consumer_secret))
        transport = httpx.ASGITransport(app=fake.asgi_app())
        async with httpx.AsyncClient(transport=transport, auth=auth) as client:
            await client.post(
                "http://127.0.0.1:8123/wp-json/wc/v3/products",
                json={"name": "Martin", "type": "variable", "sku": "0113942719"},
            )
            return await client.get(
                "http://127.0.0.1:8123/wp-json/wc/v3/products", params={"sku": "0113942719"}
            )

    response = asyncio.run(call())

    assert response.status_code == 200
    assert [p["sku"] for p in response.json()] == ["0113942719"]


def test_the_plugin_registers_and_publishes_through_the_host(fake):
    manager = PluginManager(allow=["woocommerce"])
    ctype = manager.connector_types["woocommerce"]
    assert ctype.role is Role.CHANNEL
    assert ctype.fake is not None and isinstance(ctype.fake(), FakeWooCommerce)

    from serialsync import ConnectorContext

    manager.add_connector(
        "shop",
        "woocommerce",
        fake.connector_settings(HTTP_SITE),
        ConnectorContext(name="shop", transport=fake.transport()),
    )
    outcomes = manager.publish_variants("shop", product(), upserts(units(2)))
    order_id = fake.create_order([(units(1)[0].integration_id, 1)])
    page = manager.fetch_orders("shop", None, None)

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 2
    assert [o.order_id for o in page.orders] == [order_id]
    assert page.orders[0].status is FinancialStatus.PAID
    assert "products" in manager.check_connection("shop")
    manager.close()

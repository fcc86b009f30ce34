"""Registration, settings, check_connection, authentication, and secrets kept out of logs."""

from __future__ import annotations

import httpx
import pytest
import respx
import structlog
from pydantic import ValidationError
from serialsync import (
    AuthenticationError,
    ConnectorContext,
    PermanentRemoteError,
    PublishResult,
    RetryableRemoteError,
    Role,
)
from serialsync.manager import PluginManager
from serialsync_shopify import FakeShopify, ShopifyConnector, ShopifySettings, plugin

from .conftest import SHOP_URL, make_connector, product, units, upserts

TOKEN = "shpat_super_secret_value_42"


def test_plugin_registers_the_shopify_channel_with_its_fake():
    manager = PluginManager(load_entrypoints=False, plugins={"shopify": plugin})
    ctype = manager.connector_types["shopify"]
    assert ctype.role is Role.CHANNEL
    assert ctype.settings_model is ShopifySettings
    assert ctype.fake is FakeShopify
    assert isinstance(ctype.fake(), FakeShopify)
    assert manager.broken == []


def test_entry_point_loads_the_plugin():
    manager = PluginManager(allow=["shopify"])
    assert "shopify" in manager.connector_types, manager.broken


def test_connector_built_by_the_manager_answers_its_hooks(clock, wall):
    fake = FakeShopify(clock=clock, now=wall)
    manager = PluginManager(load_entrypoints=False, plugins={"shopify": plugin})
    manager.add_connector(
        "acme",
        "shopify",
        fake.connector_settings("http://127.0.0.1:1"),
        ConnectorContext(name="acme", transport=fake.transport(), sleep=clock.sleep, clock=clock),
    )
    assert "Fake Shop" in manager.check_connection("acme")
    outcomes = manager.publish_variants("acme", product(), upserts(units(count=2)))
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert manager.fetch_orders("acme", None, None).orders == ()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("acme", "acme.myshopify.com"),
        ("ACME.myshopify.com", "acme.myshopify.com"),
        ("https://acme.myshopify.com/", "acme.myshopify.com"),
    ],
)
def test_settings_normalise_the_shop(given, expected):
    settings = ShopifySettings(shop=given, access_token=TOKEN)
    assert settings.shop == expected
    assert settings.root_url == f"https://{expected}"
    assert settings.graphql_path == "/admin/api/2026-07/graphql.json"


@pytest.mark.parametrize(
    "bad",
    [
        {"shop": "acme.example.com"},
        {"access_token": ""},
        {"batch_size": 251},
        {"batch_size": 0},
        {"api_version": "latest"},
        {"product_status": "ARCHIVED"},
        {"surprise": 1},
    ],
)
def test_settings_refuse_bad_values(bad):
    values = {"shop": "acme", "access_token": TOKEN, **bad}
    with pytest.raises(ValidationError):
        ShopifySettings.model_validate(values)


def test_the_token_is_hidden_from_repr():
    settings = ShopifySettings(shop="acme", access_token=TOKEN)
    assert TOKEN not in repr(settings)
    connector = ShopifyConnector(settings, ConnectorContext(name="acme"))
    assert TOKEN not in repr(connector)
    assert [s.get_secret_value() for s in settings.secret_values()] == [TOKEN]


def test_a_refused_token_raises_authentication_error(clock):
    fake = FakeShopify(clock=clock)
    connector = make_connector(fake, clock, transport=True, access_token="shpat_wrong_token_1")
    with pytest.raises(AuthenticationError) as info:
        connector.check_connection()
    assert "shpat_wrong_token_1" not in str(info.value)
    with pytest.raises(AuthenticationError):
        connector.publish_variants(product(), upserts(units(count=1)))


def test_an_unknown_location_is_a_clear_error(clock):
    fake = FakeShopify(clock=clock)
    connector = make_connector(fake, clock, transport=True, location_id="999")
    with pytest.raises(PermanentRemoteError, match="location_id"):
        connector.check_connection()


def test_a_configured_location_is_used(clock, wall):
    fake = FakeShopify(clock=clock, now=wall)
    fake.locations["gid://shopify/Location/7"] = "Back room"
    connector = make_connector(fake, clock, transport=True, location_id="7")
    connector.publish_variants(product(), upserts(units(count=1)))
    (variant,) = fake.variants.values()
    assert fake.levels[(variant.inventory_item_id, "gid://shopify/Location/7")] == 1


def test_a_malformed_body_is_a_retryable_error(clock):
    with respx.mock() as mock:
        mock.post(f"{SHOP_URL}/admin/api/2026-07/graphql.json").mock(
            return_value=httpx.Response(200, content=b'{"data": {"shop": ')
        )
        connector = make_connector(FakeShopify(clock=clock), clock)
        with pytest.raises(RetryableRemoteError, match="not JSON"):
            connector.check_connection()


def test_secrets_are_absent_from_logs(clock, wall):
    fake = FakeShopify(clock=clock, now=wall, access_token=TOKEN, throttle_status=429)
    with structlog.testing.capture_logs() as events:
        connector = make_connector(fake, clock, transport=True, access_token=TOKEN)
        connector.shop_context()
        fake.drain_bucket(to=0)
        connector.client.limiter.observe(
            httpx.Response(
                200,
                json={
                    "extensions": {
                        "cost": {
                            "requestedQueryCost": 1,
                            "throttleStatus": {
                                "maximumAvailable": 1000,
                                "currentlyAvailable": 1000,
                                "restoreRate": 100,
                            },
                        }
                    }
                },
            )
        )
        connector.publish_variants(product(), upserts(units(count=2)))
        connector.fetch_orders(None, None)
        wrong = make_connector(fake, clock, transport=True, access_token=TOKEN + "x")
        with pytest.raises(AuthenticationError) as info:
            wrong.check_connection()
    assert events  # something was logged, including the throttle retry
    assert any(e["event"] == "http.retry_signal" or e.get("status") == 429 for e in events)
    assert TOKEN not in repr(events)
    assert TOKEN not in str(info.value)

"""Registration, settings, check_connection, and secrets kept out of logs and errors."""

from __future__ import annotations

import importlib.metadata

import httpx
import pytest
import structlog
from pydantic import ValidationError
from serialsync import (
    AuthenticationError,
    ConnectorContext,
    ListingAction,
    ListingChange,
    Role,
)
from serialsync.manager import PluginManager
from serialsync_bigcommerce import BigCommerceSettings, FakeBigCommerce, plugin

from .conftest import product, units

TOKEN = "fake-bigcommerce-token-0001"


def test_entry_point_names_the_plugin_module():
    found = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="serialsync")}
    assert found.get("bigcommerce") == "serialsync_bigcommerce.plugin"


def test_registers_a_channel_type_with_its_fake(fake):
    manager = PluginManager(load_entrypoints=False, plugins={"bigcommerce": plugin})
    ctype = manager.connector_types["bigcommerce"]
    assert ctype.role is Role.CHANNEL
    assert ctype.settings_model is BigCommerceSettings
    assert ctype.fake is not None
    assert isinstance(ctype.fake(), FakeBigCommerce)
    handle = manager.add_connector(
        "shop",
        "bigcommerce",
        fake.connector_settings("https://api.bigcommerce.com"),
        ConnectorContext(name="shop", transport=fake.transport()),
    )
    assert manager.check_connection("shop") == "store Fake Guitars, plan Standard"
    assert handle.role is Role.CHANNEL


def test_settings_refuse_bad_values_with_the_key_named():
    with pytest.raises(ValidationError, match="store_hash"):
        BigCommerceSettings(store_hash="no/slash", access_token=TOKEN)
    with pytest.raises(ValidationError, match="access_token"):
        BigCommerceSettings(store_hash="abc", access_token=" ")
    with pytest.raises(ValidationError, match="default inventory location"):
        BigCommerceSettings(store_hash="abc", access_token=TOKEN, location_id=2)
    with pytest.raises(ValidationError, match="base_url"):
        BigCommerceSettings(store_hash="abc", access_token=TOKEN, base_url="ftp://x")
    settings = BigCommerceSettings(
        store_hash="abc", access_token=TOKEN, base_url="http://127.0.0.1:9/"
    )
    assert settings.store_url == "http://127.0.0.1:9/stores/abc"
    assert TOKEN not in repr(settings)


def test_wrong_token_raises_authentication_error_without_the_token(make_connector):
    connector = make_connector(access_token="wrong-token-value-123")
    with pytest.raises(AuthenticationError) as caught:
        connector.check_connection()
    assert "wrong-token-value-123" not in str(caught.value)


def test_wrong_token_on_publish_raises_for_the_whole_call(make_connector):
    connector = make_connector(access_token="wrong-token-value-123")
    changes = [ListingChange(unit=u, action=ListingAction.UPSERT) for u in units(2)]
    with pytest.raises(AuthenticationError):
        connector.publish_variants(product=product(), changes=changes)


def test_secrets_absent_from_logs_errors_and_reprs(fake, make_connector, clock):
    fake.quota = 3  # force pacing and a 429 into the logs
    with structlog.testing.capture_logs() as logs:
        connector = make_connector(rate_limit_reserve=0)
        changes = [ListingChange(unit=u, action=ListingAction.UPSERT) for u in units(3)]
        first = connector.publish_variants(product=product(), changes=changes)
        withdraw = [
            ListingChange(unit=u, action=ListingAction.WITHDRAW, remote=o.remote)
            for u, o in zip(units(3), first, strict=True)
        ]
        connector.publish_variants(product=product(), changes=withdraw)
        connector.fetch_orders(since=None, page=None)
        bad = make_connector(access_token="another-secret-token-9")
        with pytest.raises(AuthenticationError) as caught:
            bad.check_connection()
    assert logs, "nothing was logged: the test would prove nothing"
    text = repr(logs) + str(caught.value) + repr(connector) + repr(connector.client.http)
    assert TOKEN not in text
    assert "another-secret-token-9" not in text


def test_fake_serves_as_an_asgi_app_routing_on_the_path(fake):
    import anyio

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=fake.asgi_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8123") as c:
            return await c.get(
                f"/stores/{fake.store_hash}/v2/orders",
                headers={"X-Auth-Token": TOKEN, "Accept": "application/json"},
            )

    response = anyio.run(call)
    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["X-Rate-Limit-Requests-Quota"] == "150"

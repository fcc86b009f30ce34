"""Fixtures for the Shopify plugin tests: the published schema, a fake clock, the fake store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import respx
from graphql import GraphQLSchema, build_schema
from serialsync import ConnectorContext, ListingAction, ListingChange, Product, SerializedUnit
from serialsync_shopify import FakeShopify, ShopifyConnector, ShopifySettings

from tests.clocks import FakeClock, WallClock

SCHEMA_ENV = "SERIALSYNC_SHOPIFY_SCHEMA"
DEFAULT_SCHEMA = (
    Path(__file__).resolve().parents[3].parent
    / "shared"
    / "contracts"
    / "shopify-admin-2026-07.graphql"
)
SHOP_URL = "https://fake-shop.myshopify.com"


def schema_path() -> Path:
    """Where the 2026-07 schema is read from (``$SERIALSYNC_SHOPIFY_SCHEMA`` overrides)."""
    return Path(os.environ.get(SCHEMA_ENV) or DEFAULT_SCHEMA)


@pytest.fixture(scope="session")
def optional_schema() -> GraphQLSchema | None:
    """The published schema, built once per session; ``None`` when the file is absent."""
    path = schema_path()
    if not path.is_file():
        return None
    # Shopify's introspected SDL breaks one of graphql-core's own schema rules (deprecated
    # interface implementations); it is the platform's contract, so take it as valid.
    return build_schema(path.read_text(encoding="utf-8"), assume_valid=True)


@pytest.fixture
def shopify_schema(optional_schema: GraphQLSchema | None) -> GraphQLSchema:
    """The published schema; skips (naming the path) when the file is absent."""
    if optional_schema is None:
        pytest.skip(
            f"Shopify Admin 2026-07 schema not found at {schema_path()} "
            f"(set {SCHEMA_ENV} to its path); contract checks cannot run"
        )
    return optional_schema


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def wall() -> WallClock:
    return WallClock(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def fake(clock: FakeClock, wall: WallClock, optional_schema: GraphQLSchema | None) -> FakeShopify:
    """The fake store; with the schema present, it refuses any document that does not validate."""
    return FakeShopify(clock=clock, now=wall, schema=optional_schema)


@pytest.fixture
def shop(fake: FakeShopify) -> Iterator[FakeShopify]:
    """The fake store served through respx on the shop's own domain."""
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="fake-shop.myshopify.com").mock(side_effect=fake)
        yield fake


def make_connector(
    fake: FakeShopify, clock: FakeClock, *, transport: bool = False, **settings: object
) -> ShopifyConnector:
    """A connector on the fake: through respx (default) or through ``fake.transport()``."""
    values = {**fake.connector_settings(SHOP_URL), **settings}
    values["base_url"] = settings.get("base_url")
    context = ConnectorContext(
        name="shop",
        sleep=clock.sleep,
        clock=clock,
        transport=fake.transport() if transport else None,
    )
    return ShopifyConnector(ShopifySettings.model_validate(values), context)


@pytest.fixture
def connector(shop: FakeShopify, clock: FakeClock) -> ShopifyConnector:
    return make_connector(shop, clock)


def product(sku: str = "0113942719", price: str = "199.00") -> Product:
    return Product(sku=sku, title="Les Paul Standard", price=Decimal(price), brand="Gibson")


def units(sku: str = "0113942719", count: int = 3, start: int = 0) -> list[SerializedUnit]:
    return [
        SerializedUnit(sku=sku, serial=f"US{210033734 + i}") for i in range(start, start + count)
    ]


def upserts(items: list[SerializedUnit]) -> list[ListingChange]:
    return [ListingChange(unit=u, action=ListingAction.UPSERT) for u in items]


def withdraws(items: list[SerializedUnit]) -> list[ListingChange]:
    return [ListingChange(unit=u, action=ListingAction.WITHDRAW) for u in items]

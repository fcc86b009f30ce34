"""Fixtures: a fake BigCommerce on a fake clock, and connectors wired to it."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from serialsync import ConnectorContext, Product, SerializedUnit
from serialsync_bigcommerce import BigCommerceConnector, BigCommerceSettings, FakeBigCommerce

from tests.clocks import FakeClock

START = 1_790_000_000.0  # 2026-09-21, any fixed instant will do


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture
def fake(clock: FakeClock) -> FakeBigCommerce:
    return FakeBigCommerce(clock=clock)


ConnectorFactory = Callable[..., BigCommerceConnector]


def build_connector(fake: FakeBigCommerce, clock: FakeClock, seed: int = 7) -> BigCommerceConnector:
    """A connector on ``fake``'s transport, sleeping on ``clock``."""
    settings = BigCommerceSettings.model_validate(
        fake.connector_settings("https://api.bigcommerce.com")
    )
    context = ConnectorContext(
        name="bc",
        transport=fake.transport(),
        sleep=clock.sleep,
        clock=clock,
        rng=random.Random(seed),
    )
    return BigCommerceConnector(settings, context)


@pytest.fixture
def make_connector(fake: FakeBigCommerce, clock: FakeClock) -> ConnectorFactory:
    """Build a connector on the fake's transport; keyword arguments override settings."""

    def build(
        transport: httpx.BaseTransport | None = None, **overrides: object
    ) -> BigCommerceConnector:
        options = {**fake.connector_settings("https://api.bigcommerce.com"), **overrides}
        settings = BigCommerceSettings.model_validate(options)
        context = ConnectorContext(
            name="bc",
            transport=transport if transport is not None else fake.transport(),
            sleep=clock.sleep,
            clock=clock,
            rng=random.Random(7),
        )
        return BigCommerceConnector(settings, context)

    return build


@pytest.fixture
def connector(make_connector: ConnectorFactory) -> BigCommerceConnector:
    return make_connector()


def product(sku: str = "0113942719", title: str = "Martin D-28", price: str = "2999.00") -> Product:
    """A POS product (its units travel in the changes)."""
    return Product(sku=sku, title=title, price=Decimal(price))


def units(count: int, sku: str = "0113942719", prefix: str = "US2100") -> list[SerializedUnit]:
    """``count`` units of ``sku`` with serials ``US21000000``, ``US21000001``…"""
    return [SerializedUnit(sku=sku, serial=f"{prefix}{i:04d}") for i in range(count)]


def calls(fake: FakeBigCommerce, method: str, suffix: str) -> int:
    """How many requests the fake received whose path ends with ``suffix``."""
    return sum(1 for m, path in fake.requests if m == method and path.endswith(suffix))

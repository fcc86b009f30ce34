"""Fixtures: a fake WooCommerce, and connectors wired to it without real waiting."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from serialsync import (
    ConnectorContext,
    ListingAction,
    ListingChange,
    Product,
    RemoteIds,
    SerializedUnit,
)
from serialsync_woocommerce import FakeWooCommerce, WooCommerceConnector, WooCommerceSettings

from tests.clocks import FakeClock

HTTPS_SITE = "https://shop.example.com"
HTTP_SITE = "http://shop.example.com"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def fake() -> FakeWooCommerce:
    return FakeWooCommerce()


ConnectorFactory = Callable[..., WooCommerceConnector]


@pytest.fixture
def make_connector(fake: FakeWooCommerce, clock: FakeClock) -> ConnectorFactory:
    """Build a connector on the fake's transport; keyword arguments override settings.

    ``transport=None`` leaves the transport unset, for respx to intercept.
    """

    def build(
        *, site: str = HTTPS_SITE, transport: object = "fake", **overrides: object
    ) -> WooCommerceConnector:
        options = {**fake.connector_settings(site), **overrides}
        settings = WooCommerceSettings.model_validate(options)
        context = ConnectorContext(
            name="woo",
            transport=fake.transport() if transport == "fake" else transport,  # type: ignore[arg-type]
            sleep=clock.sleep,
            clock=clock,
            rng=random.Random(7),
        )
        return WooCommerceConnector(settings, context)

    return build


@pytest.fixture
def connector(make_connector: ConnectorFactory) -> WooCommerceConnector:
    return make_connector()


def product(sku: str = "0113942719", price: str = "2999.00") -> Product:
    """A POS product (its units travel in the changes)."""
    return Product(sku=sku, title="Martin D-28", price=Decimal(price))


def units(count: int, sku: str = "0113942719", prefix: str = "US2100") -> list[SerializedUnit]:
    """``count`` units of ``sku`` with serials ``US21000000``, ``US21000001``…"""
    return [SerializedUnit(sku=sku, serial=f"{prefix}{i:04d}") for i in range(count)]


def upserts(
    items: list[SerializedUnit], remotes: dict[str, RemoteIds] | None = None
) -> list[ListingChange]:
    """UPSERT changes for ``items``, with the remote ids of earlier outcomes when given."""
    remotes = remotes or {}
    return [
        ListingChange(unit=u, action=ListingAction.UPSERT, remote=remotes.get(u.serial))
        for u in items
    ]


def withdrawals(
    items: list[SerializedUnit], remotes: dict[str, RemoteIds] | None = None
) -> list[ListingChange]:
    """WITHDRAW changes for ``items``."""
    remotes = remotes or {}
    return [
        ListingChange(unit=u, action=ListingAction.WITHDRAW, remote=remotes.get(u.serial))
        for u in items
    ]


def calls(fake: FakeWooCommerce, method: str, suffix: str) -> int:
    """How many requests the fake received whose path ends with ``suffix``."""
    return sum(1 for m, path in fake.requests if m == method and path.endswith(suffix))


def transport_of(fake: FakeWooCommerce) -> httpx.BaseTransport:
    """The fake as an httpx transport."""
    return fake.transport()

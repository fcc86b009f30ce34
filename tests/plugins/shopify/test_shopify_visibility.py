"""A sold-out product on Shopify (issue 17 #4): status DRAFT hides it from every sales channel,
the connector's product_status shows it again; one productUpdate each."""

from __future__ import annotations

from decimal import Decimal

from serialsync import Product, PublishResult, RemoteIds, SerializedUnit
from serialsync_shopify import FakeShopify, ShopifyConnector

from tests.clocks import FakeClock

from .conftest import make_connector, upserts

SKU = "0113942719"


def _listed(
    shop: FakeShopify, clock: FakeClock, product_status: str = "ACTIVE"
) -> tuple[ShopifyConnector, Product, RemoteIds]:
    connector = make_connector(shop, clock, product_status=product_status)
    product = Product(sku=SKU, title="Les Paul Standard", price=Decimal("199.00"))
    units = [SerializedUnit(sku=SKU, serial=f"US{i}") for i in range(2)]
    outcomes = connector.publish_variants(product, upserts(units))
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    remote = outcomes[0].remote
    assert remote is not None and remote.product_id
    return connector, product, remote


def test_hiding_drafts_the_product_and_showing_restores_its_status(shop, clock):
    connector, product, remote = _listed(shop, clock)
    handle = next(iter(shop.storefront()))
    before = len(shop.requests)
    assert connector.set_product_visibility(product, remote, False) is True
    assert len(shop.requests) == before + 1  # one productUpdate
    assert shop.storefront() == {handle: False}
    assert shop.catalog.products[remote.product_id].status == "DRAFT"
    assert not any(listing.sellable for listing in shop.listings())
    assert connector.set_product_visibility(product, remote, True) is True
    assert shop.storefront() == {handle: True}
    assert all(listing.sellable for listing in shop.listings())


def test_shown_again_with_the_operators_product_status(shop, clock):
    connector, product, remote = _listed(shop, clock, product_status="UNLISTED")
    connector.set_product_visibility(product, remote, False)
    connector.set_product_visibility(product, remote, True)
    assert shop.catalog.products[remote.product_id].status == "UNLISTED"


def test_a_product_deleted_by_hand_is_gone_not_an_error(shop, clock):
    connector, product, _ = _listed(shop, clock)
    gone = RemoteIds(product_id="gid://shopify/Product/999999")
    assert connector.set_product_visibility(product, gone, False) is False

"""list_listings on the fake shop (schema-validated): every variant paged by id, the
integration ids picked out, sellable by stock, tracking and policy, duplicates kept."""

from __future__ import annotations

from typing import Any

import pytest
from serialsync import PublishResult
from serialsync_shopify import listings
from serialsync_shopify.connector import ShopifyConnector
from serialsync_shopify.fake import FakeShopify

from .conftest import product, units, upserts


def _read_all(connector: ShopifyConnector) -> tuple[list[Any], int]:
    found: list[Any] = []
    page: str | None = None
    pages = 0
    while True:
        result = connector.list_listings(page)
        pages += 1
        found.extend(result.listings)
        if result.next_page is None:
            return found, pages
        page = result.next_page


def test_every_integration_id_is_read_page_by_page_with_its_ids(
    shop: FakeShopify, connector: ShopifyConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listings, "PAGE_SIZE", 2)
    made = connector.publish_variants(product(), upserts(units(count=3)))
    assert {o.result for o in made} == {PublishResult.CREATED}
    shop.create_order([("PLAIN-STRAP", 1)])  # the shop's own product: not a listing
    ids = [o.remote.variant_id if o.remote else None for o in made]
    first, second, third = (shop.catalog.variants[str(i)] for i in ids)
    shop.catalog.levels[(second.inventory_item_id, "gid://shopify/Location/1")] = 0
    third.policy = "CONTINUE"  # sells on at 0, set by hand
    shop.catalog.levels[(third.inventory_item_id, "gid://shopify/Location/1")] = 0

    found, pages = _read_all(connector)

    assert pages == 2  # four variants, two a page
    by_id = {x.integration_id: x for x in found}
    assert sorted(by_id) == sorted(u.integration_id for u in units(count=3))
    assert [by_id[v.sku].sellable for v in (first, second, third)] == [True, False, True]
    assert by_id[first.sku].remote == made[0].remote
    assert shop.calls.count("productVariants") == 2


def test_a_duplicated_variant_is_reported_twice(
    shop: FakeShopify, connector: ShopifyConnector
) -> None:
    made = connector.publish_variants(product(), upserts(units(count=1)))
    assert made[0].remote is not None and made[0].remote.variant_id is not None
    variant = shop.catalog.variants[made[0].remote.variant_id]
    shop.catalog.bulk_create(
        {
            "productId": variant.product_id,
            "variants": [
                {
                    "optionValues": [{"optionName": "Serial", "name": "copy"}],
                    "price": "1.00",
                    "inventoryItem": {"sku": variant.sku, "tracked": True},
                }
            ],
        }
    )
    found, _pages = _read_all(connector)
    assert [x.integration_id for x in found] == [variant.sku, variant.sku]


def test_a_page_token_it_never_gave_is_refused(connector: ShopifyConnector) -> None:
    with pytest.raises(ValueError, match="not a Shopify listings page token"):
        connector.list_listings("7")


def test_a_unit_whose_variant_sku_was_retyped_gets_the_sku_back(
    shop: FakeShopify, connector: ShopifyConnector
) -> None:
    stock = units(count=2)
    made = connector.publish_variants(product(), upserts(stock))
    assert made[0].remote is not None and made[0].remote.variant_id is not None
    variant = shop.catalog.variants[made[0].remote.variant_id]
    variant.sku = f"{stock[0].integration_id}-typo"  # retyped by hand
    # Listed again without ids (reconcile found it missing): a new variant for the serial
    # would be refused (VARIANT_ALREADY_EXISTS); the variant holding it is the unit's.
    again = connector.publish_variants(product(), upserts(stock[:1]))
    assert [o.result for o in again] == [PublishResult.UPDATED]
    assert again[0].remote is not None
    assert again[0].remote.variant_id == made[0].remote.variant_id
    assert variant.sku == stock[0].integration_id
    assert len(shop.catalog.variants) == 2

"""A sold-out product on Magento (issue 17 #4): the configurable parent's visibility 1 (not
visible individually) hides it, 4 (catalog and search) shows it again; one PUT of the parent
each, checked against the 2.4.9 schema, its children untouched."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from serialsync import (
    ListingAction,
    ListingChange,
    PermanentRemoteError,
    Product,
    RemoteIds,
    SerializedUnit,
)
from serialsync_magento import FakeMagento, MagentoConnector

SKU = "0113942719"
PRODUCT = Product(sku=SKU, title="Gibson J-45", price=Decimal("2499.00"))


def _listed(connector: MagentoConnector) -> RemoteIds:
    units = [SerializedUnit(sku=SKU, serial=f"J45X{i}") for i in range(2)]
    outcomes = connector.publish_variants(
        PRODUCT, [ListingChange(unit=u, action=ListingAction.UPSERT) for u in units]
    )
    remote = outcomes[0].remote
    assert remote is not None and remote.product_id == SKU
    return remote


def test_hiding_sets_the_parents_visibility_to_1_and_showing_back_to_4(
    fake: FakeMagento, make_connector: Callable[..., MagentoConnector]
) -> None:
    connector = make_connector()
    remote = _listed(connector)
    assert fake.storefront() == {SKU: True}
    children = {s: dict(p) for s, p in fake.products.items() if s != SKU}
    start = len(fake.received)
    assert connector.set_product_visibility(PRODUCT, remote, False) is True
    assert [(r.method, r.path.split("/V1/", 1)[1]) for r in fake.received[start:]] == [
        ("PUT", f"products/{SKU}")
    ]
    assert fake.products[SKU]["visibility"] == 1
    assert fake.storefront() == {SKU: False}
    assert not any(listing.sellable for listing in fake.listings())
    assert {s: p for s, p in fake.products.items() if s != SKU} == children
    assert connector.set_product_visibility(PRODUCT, remote, True) is True
    assert fake.products[SKU]["visibility"] == 4
    assert all(listing.sellable for listing in fake.listings())


def test_a_parent_deleted_by_hand_is_gone_not_an_error(
    fake: FakeMagento, make_connector: Callable[..., MagentoConnector]
) -> None:
    connector = make_connector()
    _listed(connector)
    gone = RemoteIds(product_id="NOPE-1")
    assert connector.set_product_visibility(PRODUCT, gone, False) is False


def test_the_fake_refuses_a_visibility_magento_does_not_define(
    fake: FakeMagento, make_connector: Callable[..., MagentoConnector]
) -> None:
    connector = make_connector()
    _listed(connector)
    with pytest.raises(PermanentRemoteError) as refused:
        connector.client.update_product(SKU, {"sku": SKU, "visibility": 9})
    assert refused.value.status == 400 and "visibility" in str(refused.value)

"""A sold-out product on WooCommerce (issue 17 #4): catalog visibility ``hidden`` keeps it out
of the shop pages and search, ``visible`` brings it back; one product PUT each, and the fake
refuses a value WooCommerce does not define."""

from __future__ import annotations

import pytest
from serialsync import PublishResult, RemoteError, RemoteIds
from serialsync_woocommerce import FakeWooCommerce, WooCommerceConnector

from .conftest import product, units, upserts


def _listed(connector: WooCommerceConnector) -> RemoteIds:
    made = connector.publish_variants(product=product(), changes=upserts(units(2)))
    assert {o.result for o in made} == {PublishResult.CREATED}
    remote = made[0].remote
    assert remote is not None and remote.product_id
    return remote


def test_hiding_sets_catalog_visibility_hidden_and_showing_sets_it_visible(
    fake: FakeWooCommerce, connector: WooCommerceConnector
) -> None:
    remote = _listed(connector)
    assert fake.storefront() == {product().sku: True}
    before = len(fake.requests)
    assert connector.set_product_visibility(product=product(), remote=remote, visible=False)
    [(method, path)] = [r[:2] for r in fake.requests[before:]]  # one request
    assert method == "PUT" and path.endswith(f"/products/{remote.product_id}")
    assert fake.storefront() == {product().sku: False}
    assert fake.products[int(str(remote.product_id))]["catalog_visibility"] == "hidden"
    assert connector.set_product_visibility(product=product(), remote=remote, visible=True)
    assert fake.storefront() == {product().sku: True}


def test_a_product_deleted_by_hand_is_gone_not_an_error(
    fake: FakeWooCommerce, connector: WooCommerceConnector
) -> None:
    _listed(connector)
    gone = RemoteIds(product_id="999999")
    assert connector.set_product_visibility(product=product(), remote=gone, visible=False) is False


def test_the_fake_refuses_a_catalog_visibility_woocommerce_does_not_define(
    fake: FakeWooCommerce, connector: WooCommerceConnector
) -> None:
    remote = _listed(connector)
    with pytest.raises(RemoteError) as refused:
        connector.client.update_product(str(remote.product_id), {"catalog_visibility": "none"})
    assert refused.value.status == 400 and refused.value.code == "rest_invalid_param"

"""A sold-out product on BigCommerce (issue 17 #4): ``is_visible`` false takes it off the
storefront, true brings it back; one product PUT each, and the fake refuses a non-boolean."""

from __future__ import annotations

import httpx
from serialsync import ListingAction, ListingChange, PublishResult, RemoteIds
from serialsync_bigcommerce import BigCommerceConnector

from .conftest import product, units


def _listed(connector: BigCommerceConnector) -> RemoteIds:
    changes = [ListingChange(unit=u, action=ListingAction.UPSERT) for u in units(2)]
    made = connector.publish_variants(product=product(), changes=changes)
    assert {o.result for o in made} == {PublishResult.CREATED}
    remote = made[0].remote
    assert remote is not None and remote.product_id
    return remote


def test_hiding_sets_is_visible_false_and_showing_sets_it_back(fake, connector):
    remote = _listed(connector)
    before = len(fake.requests)
    assert connector.set_product_visibility(product=product(), remote=remote, visible=False)
    [(method, path)] = fake.requests[before:]  # one request
    assert (method, path.split("/v3/")[1]) == ("PUT", f"catalog/products/{remote.product_id}")
    assert fake.storefront() == {product().sku: False}
    assert not any(listing.sellable for listing in fake.listings())
    assert connector.set_product_visibility(product=product(), remote=remote, visible=True)
    assert fake.storefront() == {product().sku: True}
    assert all(listing.sellable for listing in fake.listings())


def test_a_product_deleted_by_hand_is_gone_not_an_error(fake, connector):
    _listed(connector)
    gone = RemoteIds(product_id="999999")
    assert connector.set_product_visibility(product=product(), remote=gone, visible=False) is False


def test_the_fake_refuses_is_visible_that_is_not_a_boolean(fake, connector):
    remote = _listed(connector)
    response = connector.client.update_product(int(str(remote.product_id)), {"is_visible": "no"})
    assert response.status_code == 422
    assert response.json()["errors"] == {"is_visible": "type"}
    assert isinstance(response, httpx.Response)

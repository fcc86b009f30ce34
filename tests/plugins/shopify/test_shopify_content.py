"""Product content changed in the POS reaches Shopify, only what differs (issue 17 #3)."""

from __future__ import annotations

from serialsync import FieldGroup, ListingAction, ListingChange, PublishOutcome, PublishResult
from serialsync_shopify.mapping import handle_for

from .conftest import product, units, upserts

SKU = "0113942719"
ONLY_PRODUCT = frozenset({FieldGroup.PRODUCT})


def _again(outcomes: list[PublishOutcome], changed: frozenset[FieldGroup]) -> list[ListingChange]:
    stock = units(count=len(outcomes))
    remotes = {o.serial: o.remote for o in outcomes}
    return [
        ListingChange(
            unit=u, action=ListingAction.UPSERT, remote=remotes[u.serial], changed=changed
        )
        for u in stock
    ]


def test_a_title_change_is_one_product_update_and_no_variant_request(connector, shop):
    created = connector.publish_variants(product(), upserts(units(count=3)))
    before = len(shop.calls)
    requests = connector.client.http.stats["requests"]
    renamed = product().model_copy(update={"title": "Les Paul Standard '60s"})

    outcomes = connector.publish_variants(renamed, _again(created, ONLY_PRODUCT))

    assert [o.result for o in outcomes] == [PublishResult.UPDATED] * 3
    # The lookup (its nodes(ids:) empty: no variant re-read) and one productUpdate.
    assert shop.calls[before:] == ["productByIdentifier", "nodes", "productUpdate"]
    assert connector.client.http.stats["requests"] - requests == 2
    listed = shop.product_by_handle(handle_for(SKU))
    assert listed is not None
    assert listed.title == "Les Paul Standard '60s"
    assert listed.vendor == "Gibson"  # unchanged: not sent


def test_description_and_brand_changes_are_sent_and_nothing_else(connector, shop):
    created = connector.publish_variants(product(), upserts(units(count=2)))
    changed = product().model_copy(update={"description": "<p>Aged</p>", "brand": "Epiphone"})

    connector.publish_variants(changed, _again(created, ONLY_PRODUCT))

    listed = shop.product_by_handle(handle_for(SKU))
    assert listed is not None
    assert (listed.description, listed.vendor, listed.title) == (
        "<p>Aged</p>",
        "Epiphone",
        "Les Paul Standard",
    )


def test_a_product_group_already_as_shopify_holds_it_sends_no_write(connector, shop):
    created = connector.publish_variants(product(), upserts(units(count=2)))
    before = len(shop.calls)

    outcomes = connector.publish_variants(product(), _again(created, ONLY_PRODUCT))

    assert shop.calls[before:] == ["productByIdentifier", "nodes"]
    assert {o.result for o in outcomes} == {PublishResult.UNCHANGED}


def test_a_title_shopify_refuses_fails_the_units_for_good_with_its_reason(connector, shop):
    created = connector.publish_variants(product(), upserts(units(count=2)))
    too_long = product().model_copy(update={"title": "x" * 256})

    outcomes = connector.publish_variants(too_long, _again(created, ONLY_PRODUCT))

    assert {o.result for o in outcomes} == {PublishResult.FAILED}
    assert all("Title is too long" in (o.reason or "") for o in outcomes)
    assert not any(o.retryable for o in outcomes)


def test_a_price_change_beside_a_title_change_updates_both(connector, shop):
    created = connector.publish_variants(product(), upserts(units(count=2)))
    renamed = product(price="149.00").model_copy(update={"title": "Les Paul Custom"})
    before = len(shop.calls)

    outcomes = connector.publish_variants(
        renamed, _again(created, frozenset({FieldGroup.PRODUCT, FieldGroup.PRICE}))
    )

    assert [o.result for o in outcomes] == [PublishResult.UPDATED] * 2
    assert shop.calls[before:] == [
        "productByIdentifier",
        "nodes",
        "productUpdate",
        "productVariantsBulkUpdate",
    ]
    listed = shop.product_by_handle(handle_for(SKU))
    assert listed is not None
    assert listed.title == "Les Paul Custom"
    assert {shop.variants[v].price for v in listed.variant_ids} == {product(price="149.00").price}

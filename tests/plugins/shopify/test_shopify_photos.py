"""Photos changed after creation on Shopify (issue 17 #3): a unit's new photo replaces the old
one and a product photo change adds and deletes only what differs; no media is left orphaned in
the product's gallery, and the fake answers ``fileDelete`` as Shopify does."""

from __future__ import annotations

from typing import Any

import httpx
import serialsync as ss
from serialsync import FieldGroup, ListingAction, ListingChange, PublishResult
from serialsync_shopify import documents
from serialsync_shopify.fake import FakeShopify
from serialsync_shopify.mapping import handle_for

from .conftest import SHOP_URL, product, units, upserts

UNIT = frozenset({FieldGroup.UNIT})
PRODUCT = frozenset({FieldGroup.PRODUCT})
HANDLE = handle_for("0113942719")


def pictured(count: int = 3) -> list[ss.SerializedUnit]:
    return [
        u.model_copy(update={"images": (f"https://img.example/{u.serial}.jpg",)})
        for u in units(count=count)
    ]


def shown(images: tuple[str, ...]) -> ss.Product:
    return product().model_copy(update={"images": images})


def again(
    stock: list[ss.SerializedUnit],
    outcomes: list[ss.PublishOutcome],
    changed: frozenset[FieldGroup],
) -> list[ListingChange]:
    remotes = {o.serial: o.remote for o in outcomes}
    return [
        ListingChange(
            unit=u, action=ListingAction.UPSERT, remote=remotes[u.serial], changed=changed
        )
        for u in stock
    ]


def gallery(shop: FakeShopify) -> list[str]:
    listed = shop.product_by_handle(HANDLE)
    assert listed is not None
    return list(listed.media)


def post(shop: FakeShopify, operation: str, variables: dict[str, Any]) -> Any:
    response = shop.handle(
        httpx.Request(
            "POST",
            f"{SHOP_URL}/admin/api/2026-07/graphql.json",
            headers={"X-Shopify-Access-Token": shop.access_token},
            json={
                "query": documents.DOCUMENTS[operation],
                "operationName": operation,
                "variables": variables,
            },
        )
    )
    return response.json()


# -- a unit's photo ----------------------------------------------------------------------


def test_a_changed_unit_photo_replaces_the_old_media(connector, shop):
    stock = pictured()
    created = connector.publish_variants(product(), upserts(stock))
    new = [stock[0].model_copy(update={"images": ("https://img.example/new.jpg",)})]
    before = len(shop.calls)

    (outcome,) = connector.publish_variants(product(), again(new, created, UNIT))

    assert outcome.result is PublishResult.UPDATED
    (variant,) = shop.variants_with_sku(stock[0].integration_id)
    assert variant.image == "https://img.example/new.jpg"
    # The old photo's file went: one media per unit, none orphaned.
    assert sorted(gallery(shop)) == sorted(
        ["https://img.example/new.jpg", stock[1].images[0], stock[2].images[0]]
    )
    assert shop.calls[before:] == [
        "productByIdentifier",
        "nodes",  # the lookup
        "nodes",  # the variant's media id
        "fileDelete",
        "productVariantsBulkUpdate",
    ]
    assert outcome.remote is not None
    assert outcome.remote.extra["image"] == "https://img.example/new.jpg"


def test_an_old_photo_still_processing_fails_the_unit_retryable_adding_nothing(connector, shop):
    stock = pictured(count=1)
    created = connector.publish_variants(product(), upserts(stock))
    listed = shop.product_by_handle(HANDLE)
    assert listed is not None
    shop.catalog.processing.add(shop.catalog.media_id(listed.id, stock[0].images[0]))
    new = [stock[0].model_copy(update={"images": ("https://img.example/new.jpg",)})]

    (outcome,) = connector.publish_variants(product(), again(new, created, UNIT))

    assert outcome.result is PublishResult.FAILED and outcome.retryable
    assert outcome.code == "FILE_LOCKED"
    assert gallery(shop) == [stock[0].images[0]]  # no new photo beside the old one
    # Processed: the next pass replaces it.
    shop.catalog.processing.clear()
    (retried,) = connector.publish_variants(product(), again(new, created, UNIT))
    assert retried.result is PublishResult.UPDATED
    assert gallery(shop) == ["https://img.example/new.jpg"]


def test_a_unit_photo_that_is_the_products_too_is_only_detached(connector, shop):
    stock = pictured(count=2)
    both = stock[0].images[0]
    created = connector.publish_variants(shown((both,)), upserts(stock))
    bare = [stock[0].model_copy(update={"images": ()})]

    (outcome,) = connector.publish_variants(shown((both,)), again(bare, created, UNIT))

    assert outcome.result is PublishResult.UPDATED
    (variant,) = shop.variants_with_sku(stock[0].integration_id)
    assert variant.image is None
    assert both in gallery(shop)  # still the product's photo
    assert "fileDelete" not in shop.calls and "productVariantDetachMedia" in shop.calls


# -- the product's photos ----------------------------------------------------------------


def test_a_product_photo_change_adds_the_new_and_deletes_the_old(connector, shop):
    stock = pictured()
    old, kept, new = (f"https://img.example/product-{n}.jpg" for n in ("old", "kept", "new"))
    created = connector.publish_variants(shown((old, kept)), upserts(stock))
    before = len(shop.calls)

    outcomes = connector.publish_variants(shown((kept, new)), again(stock, created, PRODUCT))

    assert {o.result for o in outcomes} == {PublishResult.UPDATED}
    assert sorted(gallery(shop)) == sorted([kept, new, *(u.images[0] for u in stock)])
    # The lookup, the new photo added, the old one's file deleted with the record written.
    assert shop.calls[before:] == [
        "productByIdentifier",
        "nodes",
        "productUpdate",
        "fileDelete",
        "productUpdate",
    ]
    # The units' photos are untouched.
    for unit in stock:
        (variant,) = shop.variants_with_sku(unit.integration_id)
        assert variant.image == unit.images[0]
    # Unchanged since: the next pass of the product group sends nothing.
    later = len(shop.calls)
    connector.publish_variants(shown((kept, new)), again(stock, outcomes, PRODUCT))
    assert shop.calls[later:] == ["productByIdentifier", "nodes"]


def test_a_first_photo_for_a_product_created_without_one_is_added(connector, shop):
    stock = pictured(count=1)
    created = connector.publish_variants(product(), upserts(stock))
    before = len(shop.calls)

    connector.publish_variants(
        shown(("https://img.example/first.jpg",)), again(stock, created, PRODUCT)
    )

    assert gallery(shop).count("https://img.example/first.jpg") == 1
    # The lookup, the photo added, the record written.
    assert shop.calls[before:] == ["productByIdentifier", "nodes", "productUpdate", "productUpdate"]


def test_a_product_photo_change_split_over_calls_is_made_once(connector, shop):
    stock = pictured(count=4)
    created = connector.publish_variants(shown(("https://img.example/a.jpg",)), upserts(stock))
    now = shown(("https://img.example/b.jpg",))

    connector.publish_variants(now, again(stock[:2], created, PRODUCT))
    before = len(shop.calls)
    connector.publish_variants(now, again(stock[2:], created, PRODUCT))

    # The product's record (read by the lookup) tells the second call it is done already.
    assert shop.calls[before:] == ["productByIdentifier", "nodes"]
    assert sorted(gallery(shop)) == sorted(
        ["https://img.example/b.jpg", *(u.images[0] for u in stock)]
    )


def test_a_product_photo_removed_costs_one_request_after_the_lookup(connector, shop):
    stock = pictured(count=1)
    created = connector.publish_variants(
        shown(("https://img.example/a.jpg", "https://img.example/b.jpg")), upserts(stock)
    )
    before = len(shop.calls)

    connector.publish_variants(
        shown(("https://img.example/a.jpg",)), again(stock, created, PRODUCT)
    )

    assert shop.calls[before:] == ["productByIdentifier", "nodes", "fileDelete", "productUpdate"]
    assert sorted(gallery(shop)) == sorted(["https://img.example/a.jpg", stock[0].images[0]])


def test_a_product_listed_before_photos_were_recorded_is_recorded_not_duplicated(connector, shop):
    stock = pictured(count=1)
    created = connector.publish_variants(shown(("https://img.example/a.jpg",)), upserts(stock))
    listed = shop.product_by_handle(HANDLE)
    assert listed is not None
    del listed.metafields[("serialsync", "product_media")]
    forgotten = [
        o.model_copy(
            update={
                "remote": o.remote.model_copy(
                    update={
                        "extra": {k: v for k, v in o.remote.extra.items() if k != "product_media"}
                    }
                )
            }
        )
        for o in created
        if o.remote is not None
    ]
    renamed = shown(("https://img.example/a.jpg",)).model_copy(update={"title": "Renamed"})

    connector.publish_variants(renamed, again(stock, forgotten, PRODUCT))

    assert gallery(shop).count("https://img.example/a.jpg") == 1
    assert ("serialsync", "product_media") in listed.metafields
    assert listed.title == "Renamed"


# -- the fake answers as Shopify does --------------------------------------------------------


def test_the_fake_reports_a_file_that_does_not_exist_and_deletes_the_others(connector, shop):
    stock = pictured(count=1)
    connector.publish_variants(product(), upserts(stock))
    listed = shop.product_by_handle(HANDLE)
    assert listed is not None
    real = shop.catalog.media_id(listed.id, stock[0].images[0])
    variables = {"fileIds": ["gid://shopify/MediaImage/424242", real]}

    body = post(shop, "MediaDelete", variables)

    payload = body["data"]["fileDelete"]
    assert payload["deletedFileIds"] == [real]
    (error,) = payload["userErrors"]
    assert error["code"] == "FILE_DOES_NOT_EXIST" and error["field"] == ["fileIds"]
    assert gallery(shop) == []
    (variant,) = shop.variants_with_sku(stock[0].integration_id)
    assert variant.image is None  # its references went with the file
    requested = body["extensions"]["cost"]["requestedQueryCost"]
    assert documents.estimated_cost("MediaDelete", variables) == requested


def test_the_fake_refuses_more_than_250_files_or_media_in_one_call(connector, shop):
    connector.publish_variants(product(), upserts(pictured(count=1)))
    listed = shop.product_by_handle(HANDLE)
    assert listed is not None
    many = [f"gid://shopify/MediaImage/{n}" for n in range(251)]

    deleted = post(shop, "MediaDelete", {"fileIds": many})
    media = [{"originalSource": "https://img.example/x.jpg", "mediaContentType": "IMAGE"}]
    added = post(
        shop,
        "ProductUpdateMedia",
        {"product": {"id": listed.id}, "media": media * 251, "added": 251},
    )

    for body in (deleted, added):
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"


def test_the_costs_of_the_photo_documents_are_estimated_as_the_fake_prices_them(connector, shop):
    connector.publish_variants(product(), upserts(pictured(count=1)))
    listed = shop.product_by_handle(HANDLE)
    assert listed is not None
    media = [{"originalSource": "https://img.example/x.jpg", "mediaContentType": "IMAGE"}]
    cases: dict[str, dict[str, Any]] = {
        "ProductUpdateMedia": {"product": {"id": listed.id}, "media": media, "added": 1},
        "ProductMediaReplace": {
            "fileIds": ["gid://shopify/MediaImage/1"],
            "product": {"id": listed.id},
        },
    }
    for operation, variables in cases.items():
        body = post(shop, operation, variables)
        requested = body["extensions"]["cost"]["requestedQueryCost"]
        assert documents.estimated_cost(operation, variables) == requested, operation


def test_product_update_is_priced_by_its_media_and_metafields(connector, shop):
    # Since 2025-10 productUpdate costs 10 + 0.4 a product metafield + 1.9 a product media
    # (shopify.dev changelog "Dynamic complexity cost for productCreate and productUpdate"),
    # not a flat 10: the fake charges that, and the plugin paces by the same price.
    connector.publish_variants(product(), upserts(pictured(count=1)))
    listed = shop.product_by_handle(HANDLE)
    assert listed is not None
    record = {"namespace": "serialsync", "key": "product_media", "type": "json", "value": "[]"}
    media = [
        {"originalSource": f"https://img.example/{n}.jpg", "mediaContentType": "IMAGE"}
        for n in range(3)
    ]
    variables = {"product": {"id": listed.id, "metafields": [record]}, "media": media, "added": 3}

    body = post(shop, "ProductUpdateMedia", variables)

    # ceil(10 + 0.4 + 3 x 1.9) = 17 for the mutation; its payload: the product 1, the media
    # connection 2 + 3 nodes, the userErrors list 1.
    requested = body["extensions"]["cost"]["requestedQueryCost"]
    assert requested == 17 + 1 + 2 + 3 + 1
    assert documents.estimated_cost("ProductUpdateMedia", variables) == requested
    plain = {"product": {"id": listed.id, "metafields": [record] * 5}}
    body = post(shop, "ProductUpdate", plain)
    requested = body["extensions"]["cost"]["requestedQueryCost"]
    assert requested == 12 + 1 + 1  # ceil(10 + 5 x 0.4), the product, the userErrors list
    assert documents.estimated_cost("ProductUpdate", plain) == requested


def test_a_deleted_units_photo_goes_with_its_variant(connector, shop):
    stock = pictured(count=3)
    created = connector.publish_variants(product(), upserts(stock))
    gone = [ListingChange(unit=stock[1], action=ListingAction.WITHDRAW, remote=created[1].remote)]
    before = len(shop.calls)

    (outcome,) = connector.publish_variants(product(), gone)

    assert outcome.result is PublishResult.WITHDRAWN
    assert sorted(gallery(shop)) == sorted([stock[0].images[0], stock[2].images[0]])
    # The lookup, the media id read, the delete, the photo's file deleted.
    assert shop.calls[before:] == [
        "productByIdentifier",
        "nodes",
        "nodes",
        "productVariantsBulkDelete",
        "fileDelete",
    ]

"""Shopify's limits: input lists of at most 250 entries (productSet's files among them), the
shop's maxProductVariants as the product capacity, and emptied siblings deleted."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import pytest
from serialsync import ListingAction, ListingChange, Product, PublishResult, SerializedUnit
from serialsync_shopify.outcomes import classify, failed_user_errors

from .conftest import make_connector, upserts

SKU = "0113942719"


def _pictured(count: int, prefix: str = "US") -> list[SerializedUnit]:
    return [
        SerializedUnit(
            sku=SKU,
            serial=f"{prefix}{210000000 + i}",
            images=(f"https://img.example/{prefix}{i}.jpg",),
        )
        for i in range(count)
    ]


def _product(images: tuple[str, ...] = ("https://img.example/product.jpg",)) -> Product:
    return Product(sku=SKU, title="Les Paul Standard", price=Decimal("199.00"), images=images)


def test_fake_refuses_a_product_set_with_251_files_as_shopify_does(shop, clock):
    connector = make_connector(shop, clock)
    files = [
        {"originalSource": f"https://img.example/{i}.jpg", "contentType": "IMAGE"}
        for i in range(251)
    ]
    body = {
        "query": "mutation M($input: ProductSetInput!) { productSet(input: $input) "
        "{ product { id } userErrors { field message code } } }",
        "variables": {"input": {"title": "Too many files", "files": files}},
    }
    response = connector.client.http.post(connector.settings.graphql_path, json=body)
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"
    assert "251" in errors[0]["message"]
    assert shop.catalog.products == {}


def test_250_pictured_units_and_a_product_image_are_all_listed_with_their_photos(shop, clock):
    connector = make_connector(shop, clock)
    stock = _pictured(250)
    outcomes = connector.publish_variants(_product(), upserts(stock))
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    created = next(iter(shop.catalog.products.values()))
    assert len(created.variant_ids) == 250
    # Every unit's photo reached the product: 249 with productSet, 1 with the bulk create.
    assert set(created.media) >= {u.images[0] for u in stock}


def test_product_capacity_is_the_shops_max_product_variants(shop, clock):
    shop.max_variants = 300
    assert make_connector(shop, clock).product_capacity() == 300


def test_a_sibling_is_its_own_product_and_retire_deletes_it(shop, clock):
    connector = make_connector(shop, clock)
    connector.publish_variants(_product(), upserts(_pictured(2)))
    sibling = _product().model_copy(update={"part": 2, "title": "Les Paul Standard (2)"})
    made = connector.publish_variants(sibling, upserts(_pictured(2, prefix="SB")))
    assert {o.result for o in made} == {PublishResult.CREATED}
    titles = sorted(p.title for p in shop.catalog.products.values())
    assert titles == ["Les Paul Standard", "Les Paul Standard (2)"]
    remote = made[0].remote
    assert remote is not None
    assert connector.retire_product(sibling, remote) is True
    assert [p.title for p in shop.catalog.products.values()] == ["Les Paul Standard"]
    assert connector.retire_product(sibling, remote) is True  # gone already


@pytest.mark.parametrize("count", [251])
def test_fake_refuses_bulk_create_media_past_250(shop, clock, count):
    connector = make_connector(shop, clock)
    connector.publish_variants(_product(), upserts(_pictured(1)))
    product_id = next(iter(shop.catalog.products))
    media = [
        {"originalSource": f"https://img.example/m{i}.jpg", "mediaContentType": "IMAGE"}
        for i in range(count)
    ]
    body = {
        "query": "mutation M($p: ID!, $v: [ProductVariantsBulkInput!]!, $m: [CreateMediaInput!])"
        " { productVariantsBulkCreate(productId: $p, variants: $v, media: $m)"
        " { productVariants { id } userErrors { field message code } } }",
        "variables": {"p": product_id, "v": [], "m": media},
    }
    response = connector.client.http.post(connector.settings.graphql_path, json=body)
    assert response.json()["errors"][0]["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"


# -- Shopify's real error shapes ------------------------------------------------------------

_PRODUCT_SET = (
    "mutation M($input: ProductSetInput!) { productSet(input: $input) "
    "{ product { id } userErrors { field message code } } }"
)


def _variant(serial: str) -> dict[str, object]:
    return {
        "optionValues": [{"optionName": "Serial", "name": serial}],
        "price": "1.00",
        "inventoryItem": {"sku": f"{SKU}|||{serial}"},
    }


def test_fake_answers_a_duplicate_variant_and_a_handle_in_use_with_code_null(shop, clock):
    connector = make_connector(shop, clock)
    http = connector.client.http
    path = connector.settings.graphql_path
    duplicate = {
        "title": "Twice",
        "handle": "twice",
        "productOptions": [{"name": "Serial", "values": [{"name": "A"}]}],
        "variants": [_variant("A"), _variant("A")],
    }
    body = http.post(path, json={"query": _PRODUCT_SET, "variables": {"input": duplicate}})
    errors = body.json()["data"]["productSet"]["userErrors"]
    assert errors == [
        {
            "field": ["input", "variants", "1"],
            "message": "The variant 'A' already exists.",
            "code": None,
        }
    ]
    once = {**duplicate, "variants": [_variant("A")]}
    http.post(path, json={"query": _PRODUCT_SET, "variables": {"input": once}})
    taken = http.post(path, json={"query": _PRODUCT_SET, "variables": {"input": once}})
    errors = taken.json()["data"]["productSet"]["userErrors"]
    assert [(e["field"], e["code"]) for e in errors] == [(["input", "handle"], None)]


def test_fake_bulk_delete_names_the_input_item(shop, clock):
    connector = make_connector(shop, clock)
    made = connector.publish_variants(_product(), upserts(_pictured(2)))
    remote = made[0].remote
    assert remote is not None and remote.product_id
    payload = connector.client.variants_delete(
        remote.product_id, ["gid://shopify/ProductVariant/1"]
    )
    assert payload["userErrors"][0]["field"] == ["variantsIds", "0"]


def test_a_handle_in_use_with_code_null_fails_the_units_for_good(shop, clock, monkeypatch):
    connector = make_connector(shop, clock)
    connector.publish_variants(_product(), upserts(_pictured(1)))
    # The lookup misses the product (as when Shopify's index lags): productSet then meets its
    # handle, and Shopify says so with code null.
    monkeypatch.setattr(shop.catalog, "product_by_identifier", lambda _args: None)
    outcomes = connector.publish_variants(_product(), upserts(_pictured(2, prefix="NEW")))
    assert {o.result for o in outcomes} == {PublishResult.FAILED}
    assert {o.code for o in outcomes} == {"HANDLE_NOT_UNIQUE"}
    assert {o.retryable for o in outcomes} == {False}  # not resent every pass forever


def test_a_duplicate_variant_with_code_null_is_not_retried():
    change = ListingChange(unit=_pictured(1)[0], action=ListingAction.UPSERT)
    error = {
        "field": ["input", "variants", "4"],
        "message": "The variant 'X' already exists.",
        "code": None,
    }
    outcome = failed_user_errors(change, [error], retryable=None)
    assert (outcome.code, outcome.retryable) == ("DUPLICATE_VARIANT", False)
    assert classify({"field": None, "message": "Please try again later", "code": None})[1] is True
    assert classify({"field": ["x"], "message": "Boom", "code": "INTERNAL_ERROR"}) == (
        "INTERNAL_ERROR",
        True,
    )


# -- input-field costs ----------------------------------------------------------------------


def test_fake_prices_product_set_by_its_input(shop, clock):
    """10 + 0.2 a variant + 0.6 a variant file + 0.4 a metafield + 1.9 a product file, rounded
    up, in place of the mutation's flat 10 (Shopify's pricing since 2025-10)."""
    connector = make_connector(shop, clock)

    def requested(product_input: Mapping[str, object]) -> int:
        body = {"query": _PRODUCT_SET, "variables": {"input": product_input}}
        answer = connector.client.http.post(connector.settings.graphql_path, json=body).json()
        return int(answer["extensions"]["cost"]["requestedQueryCost"])

    serials = [f"C{i}" for i in range(10)]
    variants = [
        {
            **_variant(s),
            **({"file": {"originalSource": f"https://img.example/{s}.jpg"}} if i < 5 else {}),
        }
        for i, s in enumerate(serials)
    ]
    full = {
        "title": "Priced",
        "handle": "priced",
        "productOptions": [{"name": "Serial", "values": [{"name": s} for s in serials]}],
        "variants": variants,
        "metafields": [
            {"namespace": "a", "key": k, "type": "single_line_text_field", "value": "v"}
            for k in ("x", "y")
        ],
        "files": [{"originalSource": f"https://img.example/p{i}.jpg"} for i in range(3)],
    }
    # 0.2 * 10 + 0.6 * 5 + 0.4 * 2 + 1.9 * 3 = 11.5 above the base 10: 21.5, rounded up to 22.
    assert requested(full) - requested({"title": "Plain", "handle": "plain"}) == 12


def test_a_new_product_of_250_pictured_units_stays_under_1000_points(shop, clock):
    connector = make_connector(shop, clock)
    seen: list[int] = []
    original = shop.handle

    def spy(request):
        response = original(request)
        cost = (response.json().get("extensions") or {}).get("cost") or {}
        seen.append(int(cost.get("requestedQueryCost") or 0))
        return response

    shop.handle = spy
    outcomes = connector.publish_variants(_product(), upserts(_pictured(250)))
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert seen and max(seen) <= 1000


def test_a_unit_in_a_sibling_is_withdrawn_even_without_its_ids(shop, clock):
    """A store that lost its ids asks to withdraw through the product itself: the unit,
    listed in a sibling, is found by its SKU and set to stock 0."""
    connector = make_connector(shop, clock)
    connector.publish_variants(_product(), upserts(_pictured(2)))
    sibling = _product().model_copy(update={"part": 2, "title": "Les Paul Standard (2)"})
    moved = _pictured(1, prefix="SB")
    connector.publish_variants(sibling, upserts(moved))
    change = ListingChange(unit=moved[0], action=ListingAction.WITHDRAW)
    outcomes = connector.publish_variants(_product(), [change])
    assert [o.result for o in outcomes] == [PublishResult.WITHDRAWN]
    stock = {listing.sku: listing.stock for listing in shop.listings()}
    assert stock[moved[0].integration_id] == 0


def test_a_product_full_of_withdrawn_leftovers_makes_room_for_new_units(shop, clock):
    """Units sold through withdraw_units stay as variants at stock 0; a product full of them
    deletes some for new units rather than refusing them every pass."""
    shop.max_variants = 5
    connector = make_connector(shop, clock)
    stock = _pictured(5)
    made = connector.publish_variants(_product(), upserts(stock))
    remotes = {o.serial: o.remote for o in made}
    sold = [
        ListingChange(unit=u, action=ListingAction.WITHDRAW, remote=remotes[u.serial])
        for u in stock[:2]
    ]
    connector.withdraw_units(sold)
    fresh = _pictured(2, prefix="NEW")
    outcomes = connector.publish_variants(_product(), upserts(fresh))
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    skus = {listing.sku for listing in shop.listings()}
    assert skus == {u.integration_id for u in stock[2:] + fresh}

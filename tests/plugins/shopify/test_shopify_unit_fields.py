"""Each unit shown as itself on Shopify: its attributes as pinned, storefront-readable variant
metafields, its photo as the variant's media, and changes sent per field group (issue 17 #2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest
import serialsync as ss
from serialsync import FieldGroup, ListingAction, ListingChange, PublishResult
from serialsync_shopify import documents
from serialsync_shopify.fake import FakeShopify
from serialsync_shopify.fake_metafields import DEFINITION_LIMIT, PINNED_LIMIT
from serialsync_shopify.mapping import handle_for
from serialsync_shopify.unit_fields import metafield_key

from .conftest import SHOP_URL, product, units, upserts

UNIT = frozenset({FieldGroup.UNIT})
ATTRIBUTES = {"Finish": "Heritage Cherry Sunburst", "Wood grain": "Flame maple, AAA"}


def dressed(count: int = 3, **extra: str) -> list[ss.SerializedUnit]:
    return [
        u.model_copy(
            update={
                "attributes": {**ATTRIBUTES, **extra, "Weight": f"4.{i} kg"},
                "images": (f"https://img.example/{u.serial}.jpg",),
            }
        )
        for i, u in enumerate(units(count=count))
    ]


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


def values(shop: FakeShopify, unit: ss.SerializedUnit) -> dict[str, str]:
    (variant,) = shop.variants_with_sku(unit.integration_id)
    return {
        key: value for (ns, key), (_, value) in variant.metafields.items() if ns == "serialsync"
    }


def post(shop: FakeShopify, operation: str, variables: Mapping[str, Any]) -> Any:
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


def test_a_new_products_variants_carry_their_units_attributes(connector, shop):
    stock = dressed()

    outcomes = connector.publish_variants(product(), upserts(stock))

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 3
    assert values(shop, stock[2]) == {
        "finish": "Heritage Cherry Sunburst",
        "wood_grain": "Flame maple, AAA",
        "weight": "4.2 kg",
    }
    # One productSet carried them; each definition made once: pinned, readable by themes.
    assert shop.calls.count("productSet") == 1
    definitions = shop.catalog.metafields.definitions
    assert sorted(key for _, _, key in definitions) == ["finish", "weight", "wood_grain"]
    finish = definitions[("PRODUCTVARIANT", "serialsync", "finish")]
    assert (finish.name, finish.pinned, finish.storefront) == ("Finish", True, "PUBLIC_READ")
    assert outcomes[0].remote is not None
    assert outcomes[0].remote.extra["meta_keys"] == "finish,weight,wood_grain"
    assert outcomes[0].remote.extra["image"] == stock[0].images[0]


def test_definitions_are_read_once_and_never_made_twice(connector, shop):
    connector.publish_variants(product(), upserts(dressed()))
    connector.publish_variants(product(sku="OTHER"), upserts(units(sku="OTHER", count=1)))
    more = [
        u.model_copy(update={"attributes": {"Finish": "Ebony"}}) for u in units(count=2, start=5)
    ]

    connector.publish_variants(product(), upserts(more))

    assert shop.calls.count("metafieldDefinitions") == 1
    assert shop.calls.count("metafieldDefinitionCreate") == 3
    assert shop.calls.count("productVariantsBulkCreate") == 1


def test_a_changed_attribute_costs_the_lookup_and_one_bulk_update(connector, shop):
    stock = dressed()
    created = connector.publish_variants(product(), upserts(stock))
    before = len(shop.calls)
    finish = {**stock[0].attributes, "Finish": "Ebony"}
    changed = [stock[0].model_copy(update={"attributes": finish})]

    outcomes = connector.publish_variants(product(), again(changed, created, UNIT))

    assert [o.result for o in outcomes] == [PublishResult.UPDATED]
    assert shop.calls[before:] == ["productByIdentifier", "nodes", "productVariantsBulkUpdate"]
    assert values(shop, stock[0])["finish"] == "Ebony"
    # The photo is unchanged: not sent again (the product's media did not grow).
    listed = shop.product_by_handle(handle_for("0113942719"))
    assert listed is not None and listed.media.count(stock[0].images[0]) == 1


def test_a_removed_attribute_is_deleted_from_the_variant(connector, shop):
    stock = dressed(count=1)
    created = connector.publish_variants(product(), upserts(stock))
    fewer = [stock[0].model_copy(update={"attributes": {"Finish": "Ebony"}})]

    (outcome,) = connector.publish_variants(product(), again(fewer, created, UNIT))

    assert outcome.result is PublishResult.UPDATED
    assert shop.calls[-1] == "metafieldsDelete"
    assert values(shop, stock[0]) == {"finish": "Ebony"}
    assert outcome.remote is not None and outcome.remote.extra["meta_keys"] == "finish"


def test_a_new_photo_becomes_the_variants_media(connector, shop):
    stock = dressed(count=2)
    created = connector.publish_variants(product(), upserts(stock))
    photo = "https://img.example/new-angle.jpg"
    changed = [stock[1].model_copy(update={"images": (photo,)})]

    (outcome,) = connector.publish_variants(product(), again(changed, created, UNIT))

    assert outcome.result is PublishResult.UPDATED
    (variant,) = shop.variants_with_sku(stock[1].integration_id)
    assert variant.image == photo
    assert outcome.remote is not None and outcome.remote.extra["image"] == photo


def test_a_unit_without_attributes_or_new_photo_writes_nothing_for_the_unit_group(connector, shop):
    stock = units(count=2)
    created = connector.publish_variants(product(), upserts(stock))
    before = len(shop.calls)

    outcomes = connector.publish_variants(product(), again(stock, created, UNIT))

    assert {o.result for o in outcomes} == {PublishResult.UNCHANGED}
    assert "productVariantsBulkUpdate" not in shop.calls[before:]


def test_an_attribute_too_long_for_shopify_is_refused_with_its_reason(connector, shop):
    (unit,) = units(count=1)
    long = unit.model_copy(update={"attributes": {"Story": "x" * 65_536}})
    ok = units(count=1, start=1)[0].model_copy(update={"attributes": {"Finish": "Natural"}})

    bad, good = connector.publish_variants(product(), upserts([long, ok]))

    assert bad.result is PublishResult.FAILED and bad.code == "INVALID_ATTRIBUTES"
    assert "65535" in (bad.reason or "").replace(",", "") and bad.retryable is False
    assert good.result is PublishResult.CREATED
    assert not shop.variants_with_sku(long.integration_id)


def test_line_breaks_are_joined_and_blank_values_left_out(connector, shop):
    (unit,) = units(count=1)
    unit = unit.model_copy(update={"attributes": {"Notes": "Case\nincluded", "Blank": "  "}})

    connector.publish_variants(product(), upserts([unit]))

    assert values(shop, unit) == {"notes": "Case included"}


def test_attribute_names_become_valid_distinct_keys():
    assert metafield_key("Wood grain") == "wood_grain"
    assert metafield_key("x") == "attr_x"
    long_a, long_b = metafield_key("a" * 80), metafield_key("a" * 81)
    assert len(long_a) == 64 and long_a != long_b
    assert metafield_key("Gewicht (kg)") == "gewicht_kg"


def test_bulk_creates_are_cut_to_stay_within_one_query_of_1000_points(connector, shop):
    # 250 units with 9 attributes and a photo each: 10 + 50 + 150 + 900 + 475 = 1585 points
    # in one bulk create, which Shopify refuses; the plugin cuts it.
    connector.publish_variants(product(), upserts(units(count=1, start=999)))
    many = {f"Attribute {n}": f"value {n}" for n in range(9)}
    stock = [
        u.model_copy(update={"attributes": many, "images": (f"https://img.example/{u.serial}",)})
        for u in units(count=250)
    ]

    outcomes = connector.publish_variants(product(), upserts(stock))

    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert shop.calls.count("productVariantsBulkCreate") >= 2
    assert values(shop, stock[249])["attribute_8"] == "value 8"


# -- the fake answers as Shopify does ------------------------------------------------------


def test_the_fake_prices_bulk_variant_input_as_shopify_does(shop):
    variables = {
        "productId": "gid://shopify/Product/404",
        "variants": [
            {
                "mediaSrc": ["https://img.example/a.jpg"],
                "metafields": [
                    {
                        "namespace": "serialsync",
                        "key": f"k{n}",
                        "type": "single_line_text_field",
                        "value": "v",
                    }
                    for n in range(3)
                ],
                "optionValues": [{"optionName": "Serial", "name": "A"}],
            }
        ]
        * 10,
        "media": [{"originalSource": "https://img.example/a.jpg", "mediaContentType": "IMAGE"}],
    }

    body = post(shop, "VariantsCreate", variables)

    # 10 + 10 x 0.2 + 10 x 0.6 + 30 x 0.4 + 1.9 = 31.9 -> 32, plus the payload's selection.
    requested = body["extensions"]["cost"]["requestedQueryCost"]
    assert requested == 32 + 3  # productVariants, its inventoryItem, userErrors
    assert documents.estimated_cost("VariantsCreate", variables) == requested


@pytest.mark.parametrize(
    ("key", "namespace", "code"),
    [
        ("k", "serialsync", "TOO_SHORT"),
        ("k" * 65, "serialsync", "TOO_LONG"),
        ("wood grain", "serialsync", "INVALID_CHARACTER"),
        ("finish", "ss", "TOO_SHORT"),
        ("finish", "n" * 256, "TOO_LONG"),
    ],
)
def test_the_fake_refuses_a_definition_with_a_bad_key_or_namespace(shop, key, namespace, code):
    body = post(
        shop,
        "VariantMetafieldDefinitionCreate",
        {
            "definition": {
                "name": "X",
                "namespace": namespace,
                "key": key,
                "type": "single_line_text_field",
                "ownerType": "PRODUCTVARIANT",
            }
        },
    )

    payload = body["data"]["metafieldDefinitionCreate"]
    assert payload["createdDefinition"] is None
    assert [e["code"] for e in payload["userErrors"]] == [code]


def _define(shop: FakeShopify, key: str, *, pin: bool = False) -> list[str]:
    body = post(
        shop,
        "VariantMetafieldDefinitionCreate",
        {
            "definition": {
                "name": key,
                "namespace": "serialsync",
                "key": key,
                "pin": pin,
                "type": "single_line_text_field",
                "ownerType": "PRODUCTVARIANT",
            }
        },
    )
    errors = body["data"]["metafieldDefinitionCreate"]["userErrors"]
    return [e["code"] for e in errors]


def test_the_fake_refuses_a_taken_key_the_21st_pin_and_the_257th_definition(shop, clock):
    assert _define(shop, "finish") == []
    assert _define(shop, "finish") == ["TAKEN"]
    for n in range(PINNED_LIMIT):
        assert _define(shop, f"pinned_{n}", pin=True) == []
    assert _define(shop, "one_more", pin=True) == ["PINNED_LIMIT_REACHED"]
    for n in range(DEFINITION_LIMIT - PINNED_LIMIT - 1):
        clock.sleep(1)  # the cost bucket refills
        assert _define(shop, f"plain_{n}") == []
    assert _define(shop, "too_many") == ["RESOURCE_TYPE_LIMIT_EXCEEDED"]


def test_past_twenty_pinned_definitions_the_plugin_makes_them_unpinned(connector, shop):
    for n in range(PINNED_LIMIT):
        assert _define(shop, f"theirs_{n}", pin=True) == []
    (unit,) = units(count=1)

    (outcome,) = connector.publish_variants(
        product(), upserts([unit.model_copy(update={"attributes": {"Finish": "Ebony"}})])
    )

    assert outcome.result is PublishResult.CREATED
    finish = shop.catalog.metafields.definitions[("PRODUCTVARIANT", "serialsync", "finish")]
    assert finish.pinned is False
    assert values(shop, unit) == {"finish": "Ebony"}


def _update_value(shop: FakeShopify, connector, value: str, kind: str = "single_line_text_field"):
    (unit,) = units(count=1)
    (created,) = connector.publish_variants(product(), upserts([unit]))
    assert created.remote is not None
    body = post(
        shop,
        "VariantsUpdate",
        {
            "productId": created.remote.product_id,
            "variants": [
                {
                    "id": created.remote.variant_id,
                    "metafields": [
                        {"namespace": "serialsync", "key": "finish", "type": kind, "value": value}
                    ],
                }
            ],
        },
    )
    return body["data"]["productVariantsBulkUpdate"]["userErrors"]


@pytest.mark.parametrize(
    ("value", "field"),
    [("x" * 65_536, "value"), ("   ", "value"), ("two\nlines", "value")],
)
def test_the_fake_refuses_a_value_too_long_blank_or_on_two_lines(shop, connector, value, field):
    (error,) = _update_value(shop, connector, value)
    assert error["field"] == ["variants", "0", "metafields", "0", field]
    assert error["code"] == "INVALID_VALUE"


def test_the_fake_refuses_a_value_whose_type_differs_from_its_definition(shop, connector):
    _define(shop, "finish")
    (error,) = _update_value(shop, connector, "12", kind="number_integer")
    assert error["field"] == ["variants", "0", "metafields", "0", "type"]


def test_the_fake_refuses_more_than_250_metafields_on_one_variant(shop, connector):
    (unit,) = units(count=1)
    (created,) = connector.publish_variants(product(), upserts([unit]))
    assert created.remote is not None
    fields = [
        {"namespace": "serialsync", "key": f"k{n}", "type": "single_line_text_field", "value": "v"}
        for n in range(251)
    ]

    body = post(
        shop,
        "VariantsUpdate",
        {
            "productId": created.remote.product_id,
            "variants": [{"id": created.remote.variant_id, "metafields": fields}],
        },
    )

    (error,) = body["errors"]
    assert error["extensions"]["code"] == "MAX_INPUT_SIZE_EXCEEDED"


def test_a_photo_taken_off_a_unit_is_deleted_leaving_no_orphan_media(connector, shop):
    stock = dressed(count=2)
    created = connector.publish_variants(product(), upserts(stock))
    bare = [stock[1].model_copy(update={"images": ()})]
    before = len(shop.calls)

    (outcome,) = connector.publish_variants(product(), again(bare, created, UNIT))

    assert outcome.result is PublishResult.UPDATED
    (variant,) = shop.variants_with_sku(stock[1].integration_id)
    assert variant.image is None
    (other,) = shop.variants_with_sku(stock[0].integration_id)
    assert other.image == stock[0].images[0]
    listed = shop.product_by_handle(handle_for("0113942719"))
    assert listed is not None and listed.media == [stock[0].images[0]]
    # One read of the variant's media id, its file deleted, then the update.
    assert shop.calls[before:] == [
        "productByIdentifier",
        "nodes",
        "nodes",
        "fileDelete",
        "productVariantsBulkUpdate",
    ]
    assert outcome.remote is not None and "image" not in outcome.remote.extra
    # Nothing left to delete: the next unit-group pass sends nothing for the unit's photo.
    (quiet,) = connector.publish_variants(product(), again(bare, [outcome], UNIT))
    assert "fileDelete" not in shop.calls[before + 5 :]
    assert quiet.remote is not None and "image" not in quiet.remote.extra


def test_the_fake_refuses_a_detach_of_media_the_variant_does_not_show(connector, shop):
    stock = dressed(count=2)
    connector.publish_variants(product(), upserts(stock))
    listed = shop.product_by_handle(handle_for("0113942719"))
    assert listed is not None
    first, second = (shop.variants_with_sku(u.integration_id)[0] for u in stock)
    media_of_first = shop.catalog.media_id(listed.id, str(first.image))
    variables = {
        "productId": listed.id,
        "variantMedia": [{"variantId": second.id, "mediaIds": [media_of_first]}],
    }

    body = post(shop, "VariantDetachMedia", variables)

    payload = body["data"]["productVariantDetachMedia"]
    assert [e["code"] for e in payload["userErrors"]] == ["MEDIA_IS_NOT_ATTACHED_TO_VARIANT"]
    assert payload["userErrors"][0]["field"] == ["variantMedia", "0", "mediaIds"]
    assert second.image == stock[1].images[0]  # nothing detached
    requested = body["extensions"]["cost"]["requestedQueryCost"]
    assert documents.estimated_cost("VariantDetachMedia", variables) == requested
    read = post(shop, "VariantMedia", {"ids": [first.id, second.id]})
    assert read["data"]["nodes"][0]["media"]["nodes"] == [{"id": media_of_first}]
    cost = read["extensions"]["cost"]["requestedQueryCost"]
    assert documents.estimated_cost("VariantMedia", {"ids": [first.id, second.id]}) == cost

"""Every GraphQL document the plugin sends validates against the published 2026-07 schema."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from graphql import OperationDefinitionNode, parse, validate
from serialsync import ListingAction, ListingChange
from serialsync_shopify import documents
from serialsync_shopify.documents import product_set_input_cost
from serialsync_shopify.fake import FakeShopify
from serialsync_shopify.fake_graphql import FakeContractError

from .conftest import make_connector, product, units, upserts, withdraws


@pytest.mark.parametrize("name", sorted(documents.DOCUMENTS))
def test_every_document_validates_against_the_2026_07_schema(shopify_schema, name):
    document = parse(documents.DOCUMENTS[name])
    assert validate(shopify_schema, document) == []
    (operation,) = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    assert operation.name is not None
    assert operation.name.value == name


def test_the_bulk_listings_query_validates_against_the_2026_07_schema(shopify_schema):
    # Sent as a string inside BulkListingsRun, so DOCUMENTS does not hold it.
    assert validate(shopify_schema, parse(documents.BULK_LISTINGS_QUERY)) == []


def test_documents_are_all_the_module_constants():
    constants = {value for key, value in vars(documents).items() if key.endswith("_DOCUMENT")}
    assert constants == set(documents.DOCUMENTS.values())


def test_a_document_the_schema_refuses_is_caught(shopify_schema):
    # The check can fail: a field that 2026-07 does not have (REST-era variant ``sku`` input).
    bad = (
        'mutation { productVariantsBulkCreate(productId: "1", variants: [{sku: "x"}]) '
        "{ userErrors { message } } }"
    )
    assert validate(shopify_schema, parse(bad)) != []


def test_stock_mutation_requires_idempotent_key_and_change_from_quantity():
    text = documents.INVENTORY_SET_DOCUMENT
    assert "@idempotent(key: $key)" in text
    assert "inventorySetQuantities(input: $input)" in text


def test_every_document_sent_in_a_full_run_validates(shopify_schema, shop, clock):
    """A run over every operation (create, adopt, update, withdraw, orders) on a validating fake."""
    assert shop.schema is shopify_schema  # the fake refuses what does not validate
    connector = make_connector(shop, clock, batch_size=2, orders_page_size=2)
    stock = [
        u.model_copy(
            update={
                "images": (f"https://img.example/{u.serial}.jpg",),
                "attributes": {"Finish": "Sunburst", "Weight": f"4.{i} kg"},
            }
        )
        for i, u in enumerate(units(count=5))
    ]
    connector.publish_variants(product(), upserts(stock))
    assert shop.variants_with_sku(stock[4].integration_id)[0].image.endswith("210033738.jpg")
    connector.publish_variants(product(), upserts(stock))  # adoption pages variants
    connector.publish_variants(product(price="150.00"), upserts(stock[:2]))
    # A unit's attribute and photo changed, one attribute gone: update, media, delete.
    created = connector.publish_variants(product(price="150.00"), upserts(stock[:1]))
    changed = stock[0].model_copy(
        update={"attributes": {"Finish": "Ebony"}, "images": ("https://img.example/new.jpg",)}
    )
    connector.publish_variants(
        product(price="150.00"),
        [ListingChange(unit=changed, action=ListingAction.UPSERT, remote=created[0].remote)],
    )
    assert {"metafieldDefinitionCreate", "metafieldsDelete"} <= set(shop.calls)
    connector.publish_variants(product(), withdraws(stock))
    more = units(count=2, start=10)
    connector.publish_variants(product(), upserts(more))
    shop.create_order([(more[0].integration_id, 1)])
    page = connector.fetch_orders(None, None)
    assert len(page.orders) == 1
    connector.check_connection()
    sent = {name for name, _ in shop.documents}
    assert sent <= set(documents.DOCUMENTS)
    for _, text in shop.documents:
        assert validate(shopify_schema, parse(text)) == []
    assert not [c for c in shop.calls if c is None]


def test_the_fake_refuses_a_document_that_does_not_validate(shopify_schema, clock):
    fake = FakeShopify(clock=clock, schema=shopify_schema)
    response = fake.handle(
        __import__("httpx").Request(
            "POST",
            "https://fake-shop.myshopify.com/admin/api/2026-07/graphql.json",
            headers={"X-Shopify-Access-Token": fake.access_token},
            json={"query": "{ shop { nonexistentField } }"},
        )
    )
    body = response.json()
    assert "data" not in body
    assert "nonexistentField" in body["errors"][0]["message"]


def _send(fake: FakeShopify, operation: str, variables: dict[str, Any]) -> Any:
    """The fake's answer (JSON) to one of the plugin's documents."""
    return fake.handle(
        httpx.Request(
            "POST",
            "https://fake-shop.myshopify.com/admin/api/2026-07/graphql.json",
            headers={"X-Shopify-Access-Token": fake.access_token},
            json={
                "query": documents.DOCUMENTS[operation],
                "operationName": operation,
                "variables": variables,
            },
        )
    ).json()


def _delete_variants(fake: FakeShopify, product_id: str, variant_ids: list[str]) -> Any:
    return _send(fake, "VariantsDelete", {"productId": product_id, "variantsIds": variant_ids})


def test_the_fake_refuses_variables_that_do_not_fit_their_input_types(shopify_schema, clock):
    """The REST-era top-level ``sku`` on a bulk variant input is gone in 2026-07."""
    fake = FakeShopify(clock=clock, schema=shopify_schema)
    variables = {"productId": "gid://shopify/Product/1", "variants": [{"sku": "A"}]}
    (error,) = _send(fake, "VariantsCreate", variables)["errors"]
    assert error["extensions"]["code"] == "INVALID_VARIABLE"
    assert "sku" in error["message"]
    assert fake.calls == []


def test_the_fake_answers_only_user_error_codes_the_schema_declares(shopify_schema, clock):
    fake = FakeShopify(clock=clock, schema=shopify_schema)
    # A code the schema has for the mutation, and code null (Shopify answers it), pass.
    fake.catalog.bulk_delete = lambda args: {  # type: ignore[method-assign]
        "product": None,
        "userErrors": [
            {"field": ["variantsIds"], "message": "x", "code": "CANNOT_DELETE_LAST_VARIANT"},
            {"field": ["variantsIds"], "message": "y", "code": None},
        ],
    }
    body = _delete_variants(fake, "gid://shopify/Product/1", ["gid://shopify/ProductVariant/2"])
    assert [e["code"] for e in body["data"]["productVariantsBulkDelete"]["userErrors"]] == [
        "CANNOT_DELETE_LAST_VARIANT",
        None,
    ]
    # One it does not have (a code of another mutation) is a bug of the fake: it says so.
    fake.catalog.bulk_delete = lambda args: {  # type: ignore[method-assign]
        "product": None,
        "userErrors": [{"field": ["variantsIds"], "message": "x", "code": "VARIANTS_OVER_LIMIT"}],
    }
    with pytest.raises(FakeContractError, match="VARIANTS_OVER_LIMIT"):
        _delete_variants(fake, "gid://shopify/Product/1", ["gid://shopify/ProductVariant/2"])


@pytest.mark.parametrize(
    ("type_name", "field", "given", "base"),
    [
        ("ProductSetInput", "variants", {"variants": [{}]}, {}),
        ("ProductSetInput", "metafields", {"metafields": [{}]}, {}),
        ("ProductSetInput", "files", {"files": [{}]}, {}),
        (
            "ProductVariantSetInput",
            "file",
            {"variants": [{"file": {"originalSource": "https://img.example/a.jpg"}}]},
            {"variants": [{}]},
        ),
        (
            "ProductVariantSetInput",
            "metafields",
            {"variants": [{"metafields": [{}]}]},
            {"variants": [{}]},
        ),
    ],
)
def test_product_set_input_prices_are_the_ones_the_schema_states(
    shopify_schema, type_name, field, given, base
):
    """The schema repeats productSet's input prices in its field descriptions ("Complexity
    cost: 0.2 per variant"): the fake and the plugin's pacing price by the same numbers."""
    description = shopify_schema.get_type(type_name).fields[field].description
    stated = re.search(r"Complexity cost: ([0-9.]+) per", description)
    assert stated is not None, description
    assert product_set_input_cost({}) == 10
    added = product_set_input_cost(given) - product_set_input_cost(base)
    assert added == pytest.approx(float(stated[1]))

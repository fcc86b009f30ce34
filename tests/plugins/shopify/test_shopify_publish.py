"""publish_variants against the fake store: batches, idempotence, partial failure, limits."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from serialsync import (
    FieldGroup,
    ListingAction,
    ListingChange,
    PublishOutcome,
    PublishResult,
    SerializedUnit,
)
from serialsync_shopify.fake import FakeShopify
from serialsync_shopify.mapping import handle_for

from .conftest import make_connector, product, units, upserts, withdraws

SKU = "0113942719"


def results(outcomes: list[PublishOutcome]) -> Counter[PublishResult]:
    return Counter(o.result for o in outcomes)


def remembered(
    stock: list[SerializedUnit],
    outcomes: list[PublishOutcome],
    action: ListingAction,
    changed: frozenset[FieldGroup] = frozenset({FieldGroup.PRICE}),
) -> list[ListingChange]:
    """Changes of live units with the ids their outcomes gave; the engine names the price
    group only, unless ``changed`` says more (the unit group makes its fields be sent)."""
    remotes = {o.serial: o.remote for o in outcomes}
    return [
        ListingChange(unit=u, action=action, remote=remotes[u.serial], changed=changed)
        for u in stock
    ]


def test_new_product_and_its_units_are_created_in_one_product_set_request(connector, shop):
    stock = units(count=3)
    outcomes = connector.publish_variants(product(), upserts(stock))
    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 3
    assert shop.calls.count("productSet") == 1
    assert "productVariantsBulkCreate" not in shop.calls
    # One option "Serial", one variant per unit: SKU = integration id, stock 1, tracked, DENY.
    listed = shop.product_by_handle(handle_for(SKU))
    assert listed is not None
    assert listed.option_name == "Serial"
    assert listed.metafields[("serialsync", "pos_sku")] == SKU
    for unit, outcome in zip(stock, outcomes, strict=True):
        (variant,) = shop.variants_with_sku(unit.integration_id)
        assert variant.option_value == unit.serial
        assert (variant.tracked, variant.policy, variant.price) == (True, "DENY", Decimal("199.00"))
        assert shop.stock_of(variant.id) == 1
        assert outcome.remote.variant_id == variant.id
        assert outcome.remote.inventory_item_id == variant.inventory_item_id
        assert outcome.remote.product_id == listed.id


def test_a_600_unit_product_needs_three_create_calls(connector, shop):
    outcomes = connector.publish_variants(product(), upserts(units(count=600)))
    assert results(outcomes) == {PublishResult.CREATED: 600}
    creates = [c for c in shop.calls if c in ("productSet", "productVariantsBulkCreate")]
    assert creates == ["productSet", "productVariantsBulkCreate", "productVariantsBulkCreate"]
    # Measured: shop context (once per connector) + 3 creates: a new product is not looked up.
    assert connector.client.http.stats["requests"] == 4
    assert len(shop.variants) == 600
    assert connector.client.http.stats["throttled"] == 0


def test_units_added_to_an_existing_product_use_bulk_create(connector, shop):
    first = connector.publish_variants(product(), upserts(units(count=2)))
    assert results(first) == {PublishResult.CREATED: 2}
    more = units(count=3, start=2)
    outcomes = connector.publish_variants(product(), upserts(more))
    assert results(outcomes) == {PublishResult.CREATED: 3}
    assert shop.calls.count("productSet") == 1
    assert shop.calls.count("productVariantsBulkCreate") == 1
    assert len(shop.product_by_handle(handle_for(SKU)).variant_ids) == 5


def test_update_sends_only_what_changed_in_batches(shop, clock):
    connector = make_connector(shop, clock, batch_size=2)
    stock = units(count=5)
    created = connector.publish_variants(product(), upserts(stock))
    before = len(shop.calls)
    repriced = [u.model_copy(update={"price": Decimal("149.50")}) for u in stock[:3]]
    changes = remembered(repriced, created, ListingAction.UPSERT)
    changes += remembered(stock[3:], created, ListingAction.UPSERT)
    outcomes = connector.publish_variants(product(), changes)
    assert [o.result for o in outcomes] == [PublishResult.UPDATED] * 3 + [
        PublishResult.UNCHANGED
    ] * 2
    assert shop.calls[before:].count("productVariantsBulkUpdate") == 2  # 3 updates, batches of 2
    assert "inventorySetQuantities" not in shop.calls[before:]
    for unit in repriced:
        assert shop.variants_with_sku(unit.integration_id)[0].price == Decimal("149.50")


def test_an_unchanged_catalogue_sends_no_write(connector, shop):
    stock = units(count=4)
    created = connector.publish_variants(product(), upserts(stock))
    before = len(shop.calls)
    outcomes = connector.publish_variants(
        product(), remembered(stock, created, ListingAction.UPSERT)
    )
    assert results(outcomes) == {PublishResult.UNCHANGED: 4}
    assert shop.calls[before:] == ["productByIdentifier", "nodes"]


def test_withdraw_deletes_in_batches_with_remembered_ids(shop, clock):
    connector = make_connector(shop, clock, batch_size=250)
    stock = units(count=600)
    created = connector.publish_variants(product(), upserts(stock))
    before = len(shop.calls)
    outcomes = connector.publish_variants(
        product(), remembered(stock[:520], created, ListingAction.WITHDRAW)
    )
    assert results(outcomes) == {PublishResult.WITHDRAWN: 520}
    assert shop.calls[before:] == [
        "productByIdentifier",
        "nodes",
        "productVariantsBulkDelete",
        "productVariantsBulkDelete",
        "productVariantsBulkDelete",
    ]
    assert len(shop.variants) == 80
    assert not any(shop.variants_with_sku(u.integration_id) for u in stock[:520])


def test_withdrawing_every_unit_keeps_the_last_variant_at_stock_zero(connector, shop):
    stock = units(count=3)
    created = connector.publish_variants(product(), upserts(stock))
    outcomes = connector.publish_variants(
        product(), remembered(stock, created, ListingAction.WITHDRAW)
    )
    assert results(outcomes) == {PublishResult.WITHDRAWN: 3}
    (last,) = shop.variants.values()
    assert shop.stock_of(last.id) == 0
    assert all(not listing.sellable for listing in shop.listings())
    assert "inventorySetQuantities" in shop.calls


def test_withdrawing_the_only_variant_never_fails(connector, shop):
    (unit,) = units(count=1)
    created = connector.publish_variants(product(), upserts([unit]))
    outcomes = connector.publish_variants(product(), withdraws([unit]))  # no remembered ids
    assert [o.result for o in outcomes] == [PublishResult.WITHDRAWN]
    assert outcomes[0].remote == created[0].remote
    (variant,) = shop.variants.values()
    assert shop.stock_of(variant.id) == 0


def test_relisting_a_unit_kept_at_stock_zero_sets_stock_one(connector, shop):
    (unit,) = units(count=1)
    connector.publish_variants(product(), upserts([unit]))
    connector.publish_variants(product(), withdraws([unit]))
    outcomes = connector.publish_variants(product(), upserts([unit]))
    assert [o.result for o in outcomes] == [PublishResult.UPDATED]
    (variant,) = shop.variants.values()
    assert shop.stock_of(variant.id) == 1


def test_withdrawing_a_unit_already_gone_is_withdrawn(connector, shop):
    stock = units(count=3)
    created = connector.publish_variants(product(), upserts(stock))
    # Staff delete one variant in the admin; the host still remembers its ids.
    shop.catalog.bulk_delete(
        {"productId": created[0].remote.product_id, "variantsIds": [created[0].remote.variant_id]}
    )
    never_listed = SerializedUnit(sku=SKU, serial="NEVER1")
    changes = remembered(stock[:2], created, ListingAction.WITHDRAW) + withdraws([never_listed])
    outcomes = connector.publish_variants(product(), changes)
    assert [o.result for o in outcomes] == [PublishResult.WITHDRAWN] * 3
    sellable = {listing.sku for listing in shop.listings() if listing.sellable}
    assert sellable == {stock[2].integration_id}


def test_withdrawing_from_a_product_never_listed_is_withdrawn(connector, shop):
    outcomes = connector.publish_variants(product(), withdraws(units(count=2)))
    assert results(outcomes) == {PublishResult.WITHDRAWN: 2}
    # Each unit is looked for by its SKU in the other products (a sibling may hold it): reads
    # only, no write.
    assert shop.calls == [
        "shop",
        "location",
        "productByIdentifier",
        "nodes",
        "productVariants",
        "productVariants",
    ]


def test_resume_after_a_crash_adopts_variants_without_duplicates(connector, shop):
    stock = units(count=260)
    connector.publish_variants(product(), upserts(stock))  # the host crashed: ids not recorded
    before = len(shop.calls)
    outcomes = connector.publish_variants(product(), upserts(stock))
    assert results(outcomes) == {PublishResult.UNCHANGED: 260}
    assert "productSet" not in shop.calls[before:]
    assert "productVariantsBulkCreate" not in shop.calls[before:]
    assert Counter(listing.sku for listing in shop.listings()).most_common(1)[0][1] == 1
    assert all(o.remote and o.remote.variant_id for o in outcomes)


def test_resume_after_a_connection_lost_after_create(shop, clock):
    """The create was applied but its answer lost: the retry adopts, never creates twice."""
    connector = make_connector(shop, clock)
    connector.publish_variants(product(), upserts(units(count=1)))
    lost = {"done": False}

    def drop_after_apply(request: httpx.Request) -> httpx.Response:
        response: httpx.Response = shop(request)
        if b"VariantsCreate" in request.content and not lost["done"]:
            lost["done"] = True
            raise httpx.RemoteProtocolError("connection dropped", request=request)
        return response

    crashy = make_connector(shop, clock)
    crashy.client.http._transport = httpx.MockTransport(drop_after_apply)
    more = units(count=4, start=1)
    first = crashy.publish_variants(product(), upserts(more))
    assert results(first) == {PublishResult.FAILED: 4}
    assert all(o.retryable for o in first)
    assert len(shop.variants) == 5  # applied although the answer was lost
    second = connector.publish_variants(product(), upserts(more))
    assert results(second) == {PublishResult.UNCHANGED: 4}
    assert len(shop.variants) == 5


def test_user_error_on_one_unit_fails_it_while_the_others_succeed(connector, shop):
    connector.publish_variants(product(), upserts(units(count=1)))
    good = units(count=3, start=1)
    bad = good[1].model_copy(update={"price": Decimal("-5")})
    outcomes = connector.publish_variants(product(), upserts([good[0], bad, good[2]]))
    assert [o.result for o in outcomes] == [
        PublishResult.CREATED,
        PublishResult.FAILED,
        PublishResult.CREATED,
    ]
    assert outcomes[1].code == "GREATER_THAN_OR_EQUAL_TO"
    assert "greater than or equal to 0" in str(outcomes[1].reason)
    assert outcomes[1].retryable is False
    assert not shop.variants_with_sku(bad.integration_id)
    assert shop.variants_with_sku(good[0].integration_id)


def test_user_error_on_one_unit_of_a_new_product(connector, shop):
    stock = units(count=3)
    bad = stock[0].model_copy(update={"price": Decimal("-1")})
    outcomes = connector.publish_variants(product(), upserts([bad, *stock[1:]]))
    assert [o.result for o in outcomes] == [
        PublishResult.FAILED,
        PublishResult.CREATED,
        PublishResult.CREATED,
    ]
    assert outcomes[0].code == "INVALID_VARIANT"
    assert shop.calls.count("productSet") == 2  # resent without the refused unit
    assert len(shop.products) == 1


def test_more_units_than_the_variant_limit_are_refused_not_truncated(clock, wall, optional_schema):
    fake = FakeShopify(clock=clock, now=wall, schema=optional_schema, max_variants=5)
    connector = make_connector(fake, clock, transport=True)
    outcomes = connector.publish_variants(product(), upserts(units(count=8)))
    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 5 + [PublishResult.FAILED] * 3
    assert {o.code for o in outcomes[5:]} == {"VARIANT_LIMIT"}
    assert "allows 5 per product" in str(outcomes[5].reason)
    assert len(fake.variants) == 5
    # A withdrawal frees room: the refused units go through on the next pass.
    created = outcomes[:5]
    stock = units(count=8)
    changes = remembered(stock[:3], created, ListingAction.WITHDRAW) + upserts(stock[5:])
    again = connector.publish_variants(product(), changes)
    assert results(again) == {PublishResult.WITHDRAWN: 3, PublishResult.CREATED: 3}
    assert len(fake.variants) == 5


@pytest.mark.parametrize(
    ("serial", "rule"),
    [("A|B", "INVALID_INTEGRATION_ID"), ("X" * 250, "INVALID_INTEGRATION_ID")],
)
def test_a_unit_with_an_unusable_id_fails_alone(connector, shop, serial, rule):
    stock = units(count=2)
    bad = SerializedUnit(sku=SKU, serial=serial)
    outcomes = connector.publish_variants(product(), upserts([stock[0], bad, stock[1]]))
    assert [o.result for o in outcomes] == [
        PublishResult.CREATED,
        PublishResult.FAILED,
        PublishResult.CREATED,
    ]
    assert outcomes[1].code == rule
    assert outcomes[1].retryable is False


def test_a_unit_of_another_sku_is_refused(connector, shop):
    stranger = SerializedUnit(sku="OTHER", serial="S1")
    outcomes = connector.publish_variants(product(), upserts([stranger]))
    assert outcomes[0].result is PublishResult.FAILED
    assert outcomes[0].code == "WRONG_PRODUCT"
    assert shop.calls == []


def test_a_handle_taken_by_someone_elses_product_fails_clearly(connector, shop):
    shop.catalog.product_set(
        {
            "input": {
                "title": "Not ours",
                "handle": handle_for(SKU),
                "productOptions": [{"name": "Title", "values": [{"name": "Default"}]}],
                "variants": [{"optionValues": [{"optionName": "Title", "name": "Default"}]}],
            }
        }
    )
    outcomes = connector.publish_variants(product(), upserts(units(count=2)))
    assert {o.result for o in outcomes} == {PublishResult.FAILED}
    assert {o.code for o in outcomes} == {"HANDLE_TAKEN"}
    assert len(shop.variants) == 1


@pytest.mark.parametrize(
    "sku", ["0113942719", "ABC-123", "abc 123", "abc-123", "A/B", "Ünïcode", "___"]
)
def test_handles_are_stable_valid_and_distinct(sku):
    handle = handle_for(sku)
    assert handle == handle_for(sku)
    assert handle and all(c.isascii() and (c.isalnum() or c == "-") for c in handle)
    assert handle == handle.lower()


def test_handles_of_skus_differing_in_case_or_punctuation_differ():
    skus = ["ABC-123", "abc-123", "abc 123", "abc_123", "ABC 123"]
    assert len({handle_for(s) for s in skus}) == len(skus)


def test_publishing_through_the_fake_transport(clock, wall, optional_schema):
    fake = FakeShopify(clock=clock, now=wall, schema=optional_schema)
    connector = make_connector(fake, clock, transport=True)
    outcomes = connector.publish_variants(product(), upserts(units(count=2)))
    assert results(outcomes) == {PublishResult.CREATED: 2}
    assert ("POST", "/admin/api/2026-07/graphql.json") in fake.requests


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_handles_are_valid_deterministic_and_tell_skus_apart(first, second):
    for sku in (first, second):
        handle = handle_for(sku)
        assert handle == handle_for(sku)
        assert handle
        assert all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in handle)
        assert not handle.startswith("-")
        assert len(handle) <= 255
    if first != second:
        assert handle_for(first) != handle_for(second)


def test_a_new_product_costs_one_request_and_new_units_of_a_known_one_no_failed_create(
    connector, shop
):
    connector.shop_context()
    sent = connector.client.http.stats["requests"]
    created = connector.publish_variants(product(), upserts(units(count=3)))
    assert results(created) == {PublishResult.CREATED: 3}
    assert connector.client.http.stats["requests"] - sent == 1  # productSet, no lookup
    assert shop.calls.count("productSet") == 1
    # New units of the product this connector made: looked up and added, no create tried.
    sent = connector.client.http.stats["requests"]
    added = connector.publish_variants(product(), upserts(units(count=2, start=3)))
    assert results(added) == {PublishResult.CREATED: 2}
    assert shop.calls.count("productSet") == 1
    assert connector.client.http.stats["requests"] - sent == 2  # lookup + bulk create

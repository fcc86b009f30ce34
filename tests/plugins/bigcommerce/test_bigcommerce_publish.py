"""publish_variants against the fake store: batching, adoption, partial failure, limits."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from serialsync import ListingAction, ListingChange, PublishOutcome, PublishResult, SerializedUnit
from serialsync_bigcommerce import BigCommerceConnector

from .conftest import calls, product, units


def upserts(
    unit_list: list[SerializedUnit], outcomes: list[PublishOutcome] | None = None
) -> list[ListingChange]:
    remotes = {o.serial: o.remote for o in outcomes or []}
    return [
        ListingChange(unit=u, action=ListingAction.UPSERT, remote=remotes.get(u.serial))
        for u in unit_list
    ]


def withdraws(
    unit_list: list[SerializedUnit], outcomes: list[PublishOutcome] | None = None
) -> list[ListingChange]:
    remotes = {o.serial: o.remote for o in outcomes or []}
    return [
        ListingChange(unit=u, action=ListingAction.WITHDRAW, remote=remotes.get(u.serial))
        for u in unit_list
    ]


def results(outcomes: list[PublishOutcome]) -> set[PublishResult]:
    return {o.result for o in outcomes}


def stock(fake) -> dict[str, int]:
    return {listing.sku: listing.stock for listing in fake.listings()}


def test_new_product_with_all_its_units_costs_one_request(fake, connector):
    batch = units(120)
    outcomes = connector.publish_variants(product=product(), changes=upserts(batch))
    assert len(outcomes) == 120
    assert results(outcomes) == {PublishResult.CREATED}
    assert len(fake.requests) == 1
    assert fake.requests[0] == ("POST", "/stores/fakestore1/v3/catalog/products")
    assert all(o.remote and o.remote.product_id and o.remote.variant_id for o in outcomes)
    assert stock(fake) == {u.integration_id: 1 for u in batch}
    created = next(iter(fake.products.values()))
    assert created["inventory_tracking"] == "variant"


def test_batching_120_withdrawals_takes_3_batch_calls(fake, connector):
    batch = units(120)
    first = connector.publish_variants(product=product(), changes=upserts(batch))
    fake.requests.clear()
    outcomes = connector.publish_variants(product=product(), changes=withdraws(batch, first))
    assert results(outcomes) == {PublishResult.WITHDRAWN}
    assert calls(fake, "PUT", "/v3/catalog/variants") == 3
    assert len(fake.requests) == 3
    assert set(stock(fake).values()) == {0}


def test_batching_120_price_updates_takes_3_batch_calls(fake, connector):
    batch = units(120)
    first = connector.publish_variants(product=product(), changes=upserts(batch))
    repriced = [u.model_copy(update={"price": Decimal("1999.50")}) for u in batch]
    fake.requests.clear()
    outcomes = connector.publish_variants(product=product(), changes=upserts(repriced, first))
    assert results(outcomes) == {PublishResult.UPDATED}
    assert len(fake.requests) == 3
    assert {v["price"] for v in fake.variants.values()} == {1999.5}


def test_fake_refuses_a_batch_of_51_with_413(fake, connector):
    first = connector.publish_variants(product=product(), changes=upserts(units(51)))
    items = [{"id": int(o.remote.variant_id), "inventory_level": 0} for o in first]
    response = connector.client.http.put("/v3/catalog/variants", json=items)
    assert response.status_code == 413
    assert "50" in response.json()["title"]
    assert set(stock(fake).values()) == {1}


def test_repeat_after_a_crash_adopts_instead_of_duplicating(fake, make_connector):
    batch = units(5)
    make_connector().publish_variants(product=product(), changes=upserts(batch))
    fake.requests.clear()
    # A new process (empty cache), the host never recorded the ids: remote=None again.
    outcomes = make_connector().publish_variants(product=product(), changes=upserts(batch))
    assert results(outcomes) == {PublishResult.UNCHANGED}
    assert all(o.remote and o.remote.variant_id for o in outcomes)
    assert len(fake.listings()) == 5
    # the create is tried (409 on the product SKU), then the product is read: no writes
    assert [m for m, _ in fake.requests] == ["POST", "GET"]


def test_a_unit_whose_variant_sku_was_retyped_gets_the_sku_back(fake, make_connector):
    batch = units(2)
    first = make_connector().publish_variants(product=product(), changes=upserts(batch))
    (variant,) = [v for v in fake.variants.values() if v["sku"] == batch[0].integration_id]
    variant["sku"] = f"{batch[0].integration_id}-typo"  # retyped by hand
    # Listed again without ids (reconcile found it missing): the serial's option value is
    # still held by the retyped variant, so a create would be refused with 422.
    outcomes = make_connector().publish_variants(product=product(), changes=upserts(batch[:1]))
    assert results(outcomes) == {PublishResult.UPDATED}
    assert outcomes[0].remote == first[0].remote
    assert variant["sku"] == batch[0].integration_id
    assert len(fake.listings()) == 2


def hand_made_product(
    connector: BigCommerceConnector, name: str, sku: str, variant_sku: str
) -> dict[str, Any]:
    """A product someone made in the control panel, holding ``variant_sku``."""
    body = {
        "name": name,
        "type": "physical",
        "weight": 0,
        "price": 5,
        "sku": sku,
        "variants": [
            {
                "sku": variant_sku,
                "inventory_level": 0,
                "option_values": [{"option_display_name": "Serial", "label": "hand"}],
            }
        ],
    }
    response = connector.client.http.post("/v3/catalog/products", json=body)
    assert response.status_code == 200
    variant: dict[str, Any] = response.json()["data"]["variants"][0]
    return variant


def test_409_on_a_sku_held_by_another_product_adopts_that_variant(fake, connector):
    unit = units(1)[0]
    listed = hand_made_product(connector, "Old listing", "OTHER-1", unit.integration_id)
    fake.requests.clear()
    outcomes = connector.publish_variants(product=product(), changes=upserts([unit]))
    assert [o.result for o in outcomes] == [PublishResult.UPDATED]
    assert outcomes[0].remote is not None
    assert outcomes[0].remote.variant_id == str(listed["id"])
    assert outcomes[0].remote.product_id == str(listed["product_id"])
    assert [listing.sku for listing in fake.listings()] == [unit.integration_id]
    assert fake.variants[listed["id"]]["inventory_level"] == 1
    # POST refused with 409, the variant found by SKU, updated in one batch
    assert [m for m, _ in fake.requests] == ["POST", "GET", "PUT"]


def test_409_inside_a_batch_create_adopts_the_existing_variant(fake, connector):
    existing = units(2)
    connector.publish_variants(product=product(), changes=upserts(existing))
    moved = SerializedUnit(sku="0113942719", serial="MOVED1")
    connector.publish_variants(
        product=product(sku="ELSEWHERE", title="Elsewhere"),
        changes=upserts([SerializedUnit(sku="ELSEWHERE", serial="X1")]),
    )
    # Someone filed our unit's SKU on the other product by hand.
    elsewhere = next(p for p in fake.products.values() if p["sku"] == "ELSEWHERE")
    handmade = next(v for v in fake.variants.values() if v["product_id"] == elsewhere["id"])
    handmade["sku"] = moved.integration_id
    handmade["inventory_level"] = 0
    fake.requests.clear()
    outcomes = connector.publish_variants(product=product(), changes=upserts([moved]))
    assert calls(fake, "GET", "/v3/catalog/variants") == 1  # the lookup after the 409
    assert [o.result for o in outcomes] == [PublishResult.UPDATED]
    assert outcomes[0].remote.variant_id == str(handmade["id"])
    skus = [listing.sku.casefold() for listing in fake.listings()]
    assert skus.count(moved.integration_id.casefold()) == 1


def test_sku_equal_only_ignoring_case_is_refused_not_adopted(fake, connector):
    connector.publish_variants(
        product=product(), changes=upserts([SerializedUnit(sku="0113942719", serial="abc1")])
    )
    outcomes = connector.publish_variants(
        product=product(), changes=upserts([SerializedUnit(sku="0113942719", serial="ABC1")])
    )
    assert outcomes[0].result is PublishResult.FAILED
    assert outcomes[0].code == "sku-case-conflict"
    assert outcomes[0].retryable is False
    assert len(fake.listings()) == 1


def test_partial_batch_failure_maps_to_the_refused_unit_only(fake, connector):
    batch = units(60)
    first = connector.publish_variants(product=product(), changes=upserts(batch))
    changed = [u.model_copy(update={"price": Decimal("10")}) for u in batch]
    changed[37] = changed[37].model_copy(update={"price": Decimal("-1")})
    fake.requests.clear()
    outcomes = connector.publish_variants(product=product(), changes=upserts(changed, first))
    failed = [o for o in outcomes if o.result is PublishResult.FAILED]
    assert [o.serial for o in failed] == [batch[37].serial]
    assert failed[0].code == "422"
    assert failed[0].retryable is False
    assert "price" in (failed[0].reason or "")
    assert sum(o.result is PublishResult.UPDATED for o in outcomes) == 59
    assert len(fake.requests) == 2


def test_new_units_of_a_known_product_cost_one_option_put_and_batches(fake, connector):
    connector.publish_variants(product=product(), changes=upserts(units(3)))
    fake.requests.clear()
    fresh = units(70, prefix="NEW")
    outcomes = connector.publish_variants(product=product(), changes=upserts(fresh))
    assert results(outcomes) == {PublishResult.CREATED}
    methods = [m for m, _ in fake.requests]
    assert methods == ["GET", "PUT", "PUT", "PUT"]  # product, option values, 2 batches
    assert len(fake.listings()) == 73


def test_fake_refuses_a_product_with_601_variants(fake, connector):
    body = {
        "name": "Too big",
        "type": "physical",
        "weight": 0,
        "price": 1,
        "variants": [
            {"sku": f"S{i}", "option_values": [{"option_display_name": "Serial", "label": str(i)}]}
            for i in range(601)
        ],
    }
    response = connector.client.http.post("/v3/catalog/products", json=body)
    assert response.status_code == 422
    assert fake.products == {}


def test_fake_sku_uniqueness_is_case_insensitive(fake, connector):
    connector.publish_variants(
        product=product(), changes=upserts([SerializedUnit(sku="0113942719", serial="abc")])
    )
    pid = next(iter(fake.products))
    option = next(iter(fake.options.values()))
    value = option["option_values"][0]
    item = {
        "product_id": pid,
        "sku": "0113942719|||ABC",
        "option_values": [{"id": value["id"], "option_id": option["id"]}],
    }
    response = connector.client.http.put("/v3/catalog/variants", json=[item])
    assert response.status_code == 422
    assert response.json()["batch_errors"][0]["status"] == 409


def test_withdraw_of_an_unknown_unit_is_withdrawn_without_writes(fake, connector):
    connector.publish_variants(product=product(), changes=upserts(units(1)))
    fake.requests.clear()
    ghost = SerializedUnit(sku="0113942719", serial="NEVERLISTED")
    outcomes = connector.publish_variants(product=product(), changes=withdraws([ghost]))
    assert [o.result for o in outcomes] == [PublishResult.WITHDRAWN]
    # The product, then the SKU store-wide (it might live in a sibling product): no write.
    assert [m for m, _ in fake.requests] == ["GET", "GET"]


def test_withdraw_on_a_store_without_the_product_is_withdrawn(fake, connector):
    outcomes = connector.publish_variants(product=product(), changes=withdraws(units(2)))
    assert results(outcomes) == {PublishResult.WITHDRAWN}
    assert fake.products == {}


def test_delete_mode_deletes_each_variant_and_repeats_harmlessly(fake, make_connector):
    connector = make_connector(withdraw_mode="delete")
    batch = units(3)
    first = connector.publish_variants(product=product(), changes=upserts(batch))
    fake.requests.clear()
    outcomes = connector.publish_variants(product=product(), changes=withdraws(batch, first))
    assert results(outcomes) == {PublishResult.WITHDRAWN}
    # Each variant, then its option value (swept after one read of the product).
    assert calls(fake, "DELETE", "") == 6
    assert sum("/values/" in path for m, path in fake.requests if m == "DELETE") == 3
    assert fake.listings() == []
    again = connector.publish_variants(product=product(), changes=withdraws(batch, first))
    assert results(again) == {PublishResult.WITHDRAWN}


def test_upsert_with_stale_ids_recreates_the_deleted_variant(fake, connector):
    batch = units(2)
    first = connector.publish_variants(product=product(), changes=upserts(batch))
    gone = int(first[0].remote.variant_id)
    del fake.variants[gone]
    outcomes = connector.publish_variants(product=product(), changes=upserts(batch, first))
    by_serial = {o.serial: o for o in outcomes}
    assert by_serial[batch[0].serial].result is PublishResult.CREATED
    assert by_serial[batch[0].serial].remote.variant_id != str(gone)
    assert by_serial[batch[1].serial].result is PublishResult.UPDATED
    assert len(fake.listings()) == 2


def test_bad_integration_id_fails_that_unit_without_a_request(fake, connector):
    long_serial = "X" * 260
    changes = upserts([SerializedUnit(sku="0113942719", serial=long_serial)])
    outcomes = connector.publish_variants(product=product(), changes=changes)
    assert outcomes[0].result is PublishResult.FAILED
    assert outcomes[0].code == "too-long-for-channel"
    assert outcomes[0].retryable is False
    assert fake.requests == []


def test_product_name_taken_by_another_sku_gets_the_sku_appended(fake, connector):
    connector.publish_variants(
        product=product(sku="A-1", title="Used Strat"),
        changes=upserts([SerializedUnit(sku="A-1", serial="S1")]),
    )
    outcomes = connector.publish_variants(
        product=product(sku="B-2", title="Used Strat"),
        changes=upserts([SerializedUnit(sku="B-2", serial="S2")]),
    )
    assert outcomes[0].result is PublishResult.CREATED
    assert {p["name"] for p in fake.products.values()} == {"Used Strat", "Used Strat [B-2]"}


@pytest.mark.parametrize("count", [0, 1, 49, 50, 51, 100, 101])
def test_one_outcome_per_change_in_order(connector, count):
    batch = units(count)
    outcomes = connector.publish_variants(product=product(), changes=upserts(batch))
    assert [o.serial for o in outcomes] == [u.serial for u in batch]


def test_the_same_change_twice_is_done_once_and_answered_twice(fake, connector):
    unit = units(1)[0]
    outcomes = connector.publish_variants(product=product(), changes=upserts([unit, unit]))
    assert [o.result for o in outcomes] == [PublishResult.CREATED, PublishResult.CREATED]
    assert outcomes[0].remote == outcomes[1].remote
    assert len(fake.listings()) == 1


def test_two_units_differing_only_in_case_cannot_both_be_listed(fake, connector):
    lower = SerializedUnit(sku="0113942719", serial="abc")
    upper = SerializedUnit(sku="0113942719", serial="ABC")
    outcomes = connector.publish_variants(product=product(), changes=upserts([lower, upper]))
    assert outcomes[0].result is PublishResult.CREATED
    assert outcomes[1].result is PublishResult.FAILED
    assert outcomes[1].code == "sku-case-conflict"
    assert [listing.sku for listing in fake.listings()] == [lower.integration_id]


def test_a_hand_made_product_without_variant_tracking_is_switched_to_it(fake, connector):
    unit = units(1)[0]
    hand_made_product(connector, "Martin D-28", "0113942719", "0113942719|||HAND")
    made = next(iter(fake.products.values()))
    assert made["inventory_tracking"] == "none"
    outcomes = connector.publish_variants(product=product(), changes=withdraws([unit]))
    assert outcomes[0].result is PublishResult.WITHDRAWN
    assert made["inventory_tracking"] == "variant"


def test_stock_zero_makes_a_unit_unsellable_in_the_fake(fake, connector):
    unit = units(1)[0]
    first = connector.publish_variants(product=product(), changes=upserts([unit]))
    assert fake.listings()[0].sellable
    connector.publish_variants(product=product(), changes=withdraws([unit], first))
    assert not fake.listings()[0].sellable
    with pytest.raises(ValueError, match="out of stock"):
        fake.create_order([(unit.integration_id, 1)])


def test_a_batch_refused_whole_with_422_fails_each_unit_with_its_reason(fake, connector):
    batch = units(3)
    first = connector.publish_variants(product=product(), changes=upserts(batch))
    bad = [u.model_copy(update={"price": Decimal("-5")}) for u in batch]
    fake.requests.clear()
    outcomes = connector.publish_variants(product=product(), changes=upserts(bad, first))
    assert results(outcomes) == {PublishResult.FAILED}
    assert all(o.code == "422" and not o.retryable for o in outcomes)
    assert all("price" in (o.reason or "") for o in outcomes)
    assert len(fake.requests) == 1
    assert set(stock(fake).values()) == {1}

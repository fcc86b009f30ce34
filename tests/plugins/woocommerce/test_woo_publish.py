"""publish_variants: parent options first, batches of 100, per-item errors, adoption, withdraw."""

from __future__ import annotations

import respx
from serialsync import PublishResult, RemoteIds, SerializedUnit
from serialsync_woocommerce import FakeWooCommerce

from .conftest import calls, product, units, upserts, withdrawals


def _remotes(outcomes) -> dict[str, RemoteIds]:
    return {o.serial: o.remote for o in outcomes if o.remote is not None}


def test_new_product_250_units_costs_one_product_post_and_3_batch_calls(fake, connector):
    outcomes = connector.publish_variants(product(), upserts(units(250)))

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 250
    assert calls(fake, "POST", "/products") == 1
    assert calls(fake, "POST", "/variations/batch") == 3
    assert len(fake.requests) == 4  # nothing else: no lookup, no options PUT
    assert [sum(b) for b in fake.batches] == [100, 100, 50]
    parent = fake.product_by_sku("0113942719")
    assert parent is not None and parent["type"] == "variable"
    (serial,) = parent["attributes"]
    assert serial["variation"] is True and serial["visible"] is True
    assert len(serial["options"]) == 250
    # Every variation kept its attribute (the options were on the parent before it was saved).
    listings = fake.listings()
    assert len(listings) == 250 and all(item.sellable and item.stock == 1 for item in listings)
    variation = fake.variation_by_sku("0113942719|||US21000007")
    assert variation is not None
    assert variation["attributes"] == [{"id": 0, "name": "Serial", "option": "US21000007"}]
    assert variation["manage_stock"] is True and variation["backorders"] == "no"
    assert variation["regular_price"] == "2999.00"
    assert {o.remote.product_id for o in outcomes if o.remote} == {str(parent["id"])}
    assert outcomes[7].remote is not None and outcomes[7].remote.variant_id == str(variation["id"])


def test_parent_options_are_updated_before_new_variations_are_added(fake, connector):
    first = connector.publish_variants(product(), upserts(units(2)))
    fake.requests.clear()

    more = units(5)[2:]
    remotes = {o.serial: RemoteIds(product_id=o.remote.product_id) for o in first if o.remote}
    outcomes = connector.publish_variants(
        product(), upserts(more, {u.serial: remotes["US21000000"] for u in more})
    )

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 3
    methods = [(m, p.rsplit("/", 1)[-1]) for m, p in fake.requests]
    put = methods.index(("PUT", str(first[0].remote.product_id)))
    batch = methods.index(("POST", "batch"))
    assert put < batch, methods
    options = fake.product_by_sku("0113942719")["attributes"][0]["options"]
    assert options == [f"US2100000{i}" for i in range(5)]
    assert all(item.sellable for item in fake.listings())


def test_the_fake_drops_a_variation_attribute_whose_option_is_not_on_the_parent(fake):
    # The quirk the ordering above guards against, shown on the fake itself.
    pid = fake.add_product("P1", options=["A"])
    vid = fake.add_variation(pid, "P1|||B", "B")
    assert fake.variations[vid]["attributes"] == []
    assert not next(item for item in fake.listings() if item.sku == "P1|||B").sellable


def test_a_batch_with_one_failing_item_fails_only_that_unit(fake, connector):
    fake.refuse_variation(
        "0113942719|||US21000001", "woocommerce_rest_invalid_price", "Price is not valid."
    )

    outcomes = connector.publish_variants(product(), upserts(units(3)))

    assert [o.result for o in outcomes] == [
        PublishResult.CREATED,
        PublishResult.FAILED,
        PublishResult.CREATED,
    ]
    failed = outcomes[1]
    assert failed.code == "woocommerce_rest_invalid_price"
    assert failed.reason == "Price is not valid."
    assert failed.retryable is False
    assert calls(fake, "POST", "/variations/batch") == 1


def test_a_server_error_on_one_item_is_retryable(fake, connector):
    fake.refuse_variation("0113942719|||US21000000", "db_error", "Deadlock found.", status=500)

    (outcome,) = connector.publish_variants(product(), upserts(units(1)))

    assert outcome.result is PublishResult.FAILED and outcome.retryable is True


def test_an_existing_variation_sku_is_adopted_not_duplicated(fake, connector):
    # A crash after an earlier create: the variation exists, the host has no remote ids.
    pid = fake.add_product("0113942719", options=["US21000000"])
    vid = fake.add_variation(pid, "0113942719|||US21000000", "US21000000", stock=0)

    outcomes = connector.publish_variants(product(), upserts(units(2)))

    assert [o.result for o in outcomes] == [PublishResult.UPDATED, PublishResult.CREATED]
    assert outcomes[0].remote == RemoteIds(product_id=str(pid), variant_id=str(vid))
    assert sorted(v["sku"] for v in fake.variations.values()) == [
        "0113942719|||US21000000",
        "0113942719|||US21000001",
    ]
    assert fake.variations[vid]["stock_quantity"] == 1
    # The product SKU was taken too: the product was adopted, not created twice.
    assert len(fake.products) == 1
    assert calls(fake, "GET", f"/products/{pid}/variations") == 1


def test_a_unit_whose_variation_sku_was_retyped_gets_the_sku_back(fake, connector):
    first = connector.publish_variants(product(), upserts(units(2)))
    vid = int(str(first[0].remote.variant_id))
    fake.variations[vid]["sku"] = f"{units(1)[0].integration_id}-typo"  # retyped by hand
    # Listed again without ids (reconcile found it missing): a create would add a second
    # variation for the serial, which WooCommerce does not refuse.
    (outcome,) = connector.publish_variants(product(), upserts(units(1)))
    assert outcome.result is PublishResult.UPDATED
    assert outcome.remote is not None and outcome.remote.variant_id == str(vid)
    assert fake.variations[vid]["sku"] == units(1)[0].integration_id
    assert len(fake.variations) == 2


def test_an_adopted_variation_that_already_matches_is_unchanged(fake, connector):
    connector.publish_variants(product(), upserts(units(1)))
    fake.requests.clear()

    (outcome,) = connector.publish_variants(product(), upserts(units(1)))

    assert outcome.result is PublishResult.UNCHANGED
    assert outcome.remote is not None and outcome.remote.variant_id is not None
    assert len(fake.variations) == 1
    # One refused create (the SKU exists), then no update: it already matched.
    assert calls(fake, "POST", "/variations/batch") == 1
    assert fake.batches[-1] == (1, 0, 0)


def test_republishing_with_remote_ids_updates_in_place_without_reads(fake, connector):
    first = connector.publish_variants(product(), upserts(units(3)))
    fake.requests.clear()

    outcomes = connector.publish_variants(
        product(price="1999.00"), upserts(units(3), _remotes(first))
    )

    assert [o.result for o in outcomes] == [PublishResult.UPDATED] * 3
    assert fake.requests == [
        ("POST", f"/wp-json/wc/v3/products/{first[0].remote.product_id}/variations/batch")
    ]
    assert {v["regular_price"] for v in fake.variations.values()} == {"1999.00"}


def test_a_variation_deleted_on_the_store_is_created_again(fake, connector):
    first = connector.publish_variants(product(), upserts(units(2)))
    fake.delete_variation(int(first[0].remote.variant_id))

    outcomes = connector.publish_variants(product(), upserts(units(2), _remotes(first)))

    assert [o.result for o in outcomes] == [PublishResult.CREATED, PublishResult.UPDATED]
    assert len(fake.variations) == 2
    assert outcomes[0].remote.variant_id != first[0].remote.variant_id


def test_a_product_deleted_on_the_store_is_created_again(fake, connector):
    first = connector.publish_variants(product(), upserts(units(2)))
    fake.products.clear()
    fake.variations.clear()

    outcomes = connector.publish_variants(product(), upserts(units(2), _remotes(first)))

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 2
    assert len(fake.products) == 1 and len(fake.variations) == 2


def test_withdraw_sets_stock_zero_and_keeps_the_serial_option(fake, connector):
    first = connector.publish_variants(product(), upserts(units(2)))

    outcomes = connector.publish_variants(product(), withdrawals(units(1), _remotes(first)))

    assert [o.result for o in outcomes] == [PublishResult.WITHDRAWN]
    variation = fake.variation_by_sku("0113942719|||US21000000")
    assert variation is not None and variation["stock_quantity"] == 0
    assert fake.product_by_sku("0113942719")["attributes"][0]["options"] == [
        "US21000000",
        "US21000001",
    ]
    assert not next(i for i in fake.listings() if i.sku.endswith("US21000000")).sellable


def test_withdraw_without_remote_ids_finds_the_variation_by_sku(fake, connector):
    connector.publish_variants(product(), upserts(units(3)))
    fake.requests.clear()

    outcomes = connector.publish_variants(product(), withdrawals(units(1)))

    assert outcomes[0].result is PublishResult.WITHDRAWN
    assert fake.variation_by_sku("0113942719|||US21000000")["stock_quantity"] == 0
    assert calls(fake, "GET", "/variations") == 1


def test_withdrawing_what_was_never_listed_is_withdrawn(fake, connector):
    outcomes = connector.publish_variants(product(), withdrawals(units(2)))

    assert [o.result for o in outcomes] == [PublishResult.WITHDRAWN] * 2
    assert not fake.products


def test_withdrawing_the_last_variation_does_not_fail(fake, connector):
    first = connector.publish_variants(product(), upserts(units(1)))

    (outcome,) = connector.publish_variants(product(), withdrawals(units(1), _remotes(first)))

    assert outcome.result is PublishResult.WITHDRAWN


def test_delete_mode_removes_the_variation_then_its_serial_option(fake, make_connector):
    connector = make_connector(withdraw_mode="delete")
    first = connector.publish_variants(product(), upserts(units(3)))

    outcomes = connector.publish_variants(product(), withdrawals(units(2), _remotes(first)))

    assert [o.result for o in outcomes] == [PublishResult.WITHDRAWN] * 2
    assert [v["sku"] for v in fake.variations.values()] == ["0113942719|||US21000002"]
    assert fake.product_by_sku("0113942719")["attributes"][0]["options"] == ["US21000002"]
    assert fake.batches[-1] == (0, 0, 2)


def test_an_id_too_long_for_woocommerce_fails_without_a_request(fake, connector):
    long_unit = SerializedUnit(sku="0113942719", serial="X" * 90)

    (outcome,) = connector.publish_variants(product(), upserts([long_unit]))

    assert outcome.result is PublishResult.FAILED
    assert outcome.code == "too-long-for-channel" and outcome.retryable is False
    assert fake.requests == []


def test_a_sku_held_by_another_products_variation_fails_non_retryably(fake, connector):
    other = fake.add_product("OTHER", options=["US21000000"])
    fake.add_variation(other, "0113942719|||US21000000", "US21000000")

    outcomes = connector.publish_variants(product(), upserts(units(2)))

    assert outcomes[0].result is PublishResult.FAILED
    assert outcomes[0].code == "product_invalid_sku" and outcomes[0].retryable is False
    assert outcomes[1].result is PublishResult.CREATED
    assert sum(1 for v in fake.variations.values() if v["sku"].endswith("US21000000")) == 1


def test_publishing_twice_never_duplicates(fake, connector):
    for _ in range(2):
        connector.publish_variants(product(), upserts(units(120)))

    assert len(fake.products) == 1
    assert len(fake.variations) == 120


def test_smaller_batch_size_is_respected(fake, make_connector):
    connector = make_connector(batch_size=40)

    connector.publish_variants(product(), upserts(units(100)))

    assert [sum(b) for b in fake.batches] == [40, 40, 20]


def test_publish_through_respx(fake, make_connector):
    with respx.mock(assert_all_called=True) as router:
        router.route(host="shop.example.com").mock(side_effect=fake)
        connector = make_connector(transport=None)
        outcomes = connector.publish_variants(product(), upserts(units(3)))

    assert [o.result for o in outcomes] == [PublishResult.CREATED] * 3
    assert isinstance(fake, FakeWooCommerce) and len(fake.variations) == 3


def test_a_serial_with_a_comma_is_adopted_through_the_listing(fake, connector):
    # ?sku=a,b means "a or b" to WooCommerce: such a SKU cannot be searched for.
    unit = SerializedUnit(sku="0113942719", serial="AB,12")
    connector.publish_variants(product(), upserts([unit]))
    fake.requests.clear()

    (outcome,) = connector.publish_variants(product(), upserts([unit]))

    assert outcome.result is PublishResult.UNCHANGED
    assert len(fake.variations) == 1
    assert not any("sku=" in path for _, path in fake.requests)


def test_a_unit_image_is_sent_once_not_on_every_update(fake, connector):
    unit = SerializedUnit(sku="0113942719", serial="US1", images=("https://img.example/us1.jpg",))
    (first,) = connector.publish_variants(product(), upserts([unit]))
    assert first.remote is not None and first.remote.extra["image_src"] == unit.images[0]
    variation = fake.variation_by_sku(unit.integration_id)
    image_id = variation["image"]["id"]

    (again,) = connector.publish_variants(
        product(price="10.00"), upserts([unit], {"US1": first.remote})
    )

    assert again.result is PublishResult.UPDATED
    assert fake.variation_by_sku(unit.integration_id)["image"]["id"] == image_id
    # Still remembered, so the next update does not send it either.
    assert again.remote is not None and again.remote.extra == first.remote.extra
    connector.publish_variants(product(price="11.00"), upserts([unit], {"US1": again.remote}))
    assert fake.variation_by_sku(unit.integration_id)["image"]["id"] == image_id


def test_a_product_whose_sku_has_a_comma_is_adopted_after_the_ids_were_lost(fake, connector):
    # Found by the reliability suite: ``?sku=A,B`` asks WooCommerce for "A" and "B", so the
    # product created before a crash was never found again; every unit failed with
    # "the SKU is taken, but not by a product" on every pass.
    batch = units(3, sku="STRING-SET,10-46")
    first = connector.publish_variants(product(sku="STRING-SET,10-46"), upserts(batch))
    assert all(o.result is PublishResult.CREATED for o in first)

    again = connector.publish_variants(product(sku="STRING-SET,10-46"), upserts(batch))

    assert all(o.result is not PublishResult.FAILED for o in again), [o.reason for o in again]
    assert len(fake.products) == 1
    assert sorted(v["sku"] for v in fake.variations.values()) == sorted(
        u.integration_id for u in batch
    )


def test_a_photo_taken_off_a_unit_leaves_its_variation_without_it(fake, connector):
    unit = SerializedUnit(sku="0113942719", serial="US1", images=("https://img.example/us1.jpg",))
    (first,) = connector.publish_variants(product(), upserts([unit]))
    assert fake.variation_by_sku(unit.integration_id)["image"] is not None
    bare = unit.model_copy(update={"images": ()})

    (again,) = connector.publish_variants(product(), upserts([bare], {"US1": first.remote}))

    assert again.result is PublishResult.UPDATED
    assert fake.variation_by_sku(unit.integration_id)["image"] is None
    assert again.remote is not None and "image_src" not in again.remote.extra
    # Nothing left to take off: the next pass sends no image (an {"id": 0} again is harmless).
    (quiet,) = connector.publish_variants(product(), upserts([bare], {"US1": again.remote}))
    assert quiet.result is not PublishResult.FAILED
    assert fake.variation_by_sku(unit.integration_id)["image"] is None
    assert quiet.remote is not None and "image_src" not in quiet.remote.extra

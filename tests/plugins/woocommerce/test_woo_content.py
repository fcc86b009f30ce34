"""Product content changed in the POS reaches WooCommerce, only what differs (issue 17 #3)."""

from __future__ import annotations

from serialsync import FieldGroup, ListingAction, ListingChange, PublishOutcome, PublishResult

from .conftest import calls, product, units, upserts

ONLY_PRODUCT = frozenset({FieldGroup.PRODUCT})


def _again(outcomes: list[PublishOutcome], changed: frozenset[FieldGroup]) -> list[ListingChange]:
    remotes = {o.serial: o.remote for o in outcomes}
    return [
        ListingChange(
            unit=u, action=ListingAction.UPSERT, remote=remotes[u.serial], changed=changed
        )
        for u in units(len(outcomes))
    ]


def test_a_title_and_description_change_is_one_product_put(fake, connector):
    created = connector.publish_variants(product(), upserts(units(3)))
    fake.requests.clear()
    changed = product().model_copy(
        update={"title": "Martin D-28 Authentic", "description": "<p>Adirondack top</p>"}
    )

    outcomes = connector.publish_variants(changed, _again(created, ONLY_PRODUCT))

    assert [o.result for o in outcomes] == [PublishResult.UPDATED] * 3
    assert len(fake.requests) == 1
    assert calls(fake, "PUT", f"/products/{created[0].remote.product_id}") == 1
    parent = fake.product_by_sku("0113942719")
    assert parent is not None
    assert (parent["name"], parent["description"]) == (
        "Martin D-28 Authentic",
        "<p>Adirondack top</p>",
    )


def test_a_product_group_the_product_holds_already_sends_nothing(fake, connector):
    created = connector.publish_variants(product(), upserts(units(2)))
    fake.requests.clear()

    outcomes = connector.publish_variants(product(), _again(created, ONLY_PRODUCT))

    assert fake.requests == []
    assert {o.result for o in outcomes} == {PublishResult.UNCHANGED}


def test_a_price_change_beside_a_title_change_writes_both(fake, connector):
    created = connector.publish_variants(product(), upserts(units(2)))
    fake.requests.clear()
    changed = product(price="2499.00").model_copy(update={"title": "Martin HD-28"})

    outcomes = connector.publish_variants(
        changed, _again(created, frozenset({FieldGroup.PRODUCT, FieldGroup.PRICE}))
    )

    assert [o.result for o in outcomes] == [PublishResult.UPDATED] * 2
    assert len(fake.requests) == 2  # the product PUT and one variations batch
    parent = fake.product_by_sku("0113942719")
    assert parent is not None
    assert parent["name"] == "Martin HD-28"

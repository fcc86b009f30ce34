"""Product content changed in the POS reaches BigCommerce, only what differs (issue 17 #3)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from serialsync import FieldGroup, ListingAction, ListingChange, PublishOutcome, PublishResult
from serialsync_bigcommerce import FakeBigCommerce

from .conftest import calls, product, units
from .test_bigcommerce_publish import upserts

ONLY_PRODUCT = frozenset({FieldGroup.PRODUCT})


def _again(outcomes: list[PublishOutcome], changed: frozenset[FieldGroup]) -> list[ListingChange]:
    remotes = {o.serial: o.remote for o in outcomes}
    return [
        ListingChange(
            unit=u, action=ListingAction.UPSERT, remote=remotes[u.serial], changed=changed
        )
        for u in units(len(outcomes))
    ]


def _listed(fake: FakeBigCommerce) -> dict[str, Any]:  # the one product of the fake store
    (record,) = fake.products.values()
    return dict(record)


def test_a_title_change_is_one_product_put_and_no_variant_write(fake, connector):
    created = connector.publish_variants(product(), upserts(units(3)))
    fake.requests.clear()
    renamed = product(title="Martin D-28 Authentic")

    outcomes = connector.publish_variants(renamed, _again(created, ONLY_PRODUCT))

    assert [o.result for o in outcomes] == [PublishResult.UPDATED] * 3
    assert len(fake.requests) == 1
    assert calls(fake, "PUT", "/v3/catalog/products/" + created[0].remote.product_id) == 1
    assert _listed(fake)["name"] == "Martin D-28 Authentic"
    assert [o.remote.variant_id for o in outcomes] == [o.remote.variant_id for o in created]


def test_a_product_group_the_product_holds_already_sends_nothing(fake, connector):
    created = connector.publish_variants(product(), upserts(units(2)))
    fake.requests.clear()

    outcomes = connector.publish_variants(product(), _again(created, ONLY_PRODUCT))

    assert fake.requests == []
    assert {o.result for o in outcomes} == {PublishResult.UNCHANGED}


def test_a_description_change_is_sent(fake, connector):
    created = connector.publish_variants(product(), upserts(units(2)))
    described = product().model_copy(update={"description": "<p>Sitka spruce top</p>"})

    connector.publish_variants(described, _again(created, ONLY_PRODUCT))

    assert _listed(fake)["description"] == "<p>Sitka spruce top</p>"


def test_a_brand_set_at_creation_and_changed_later_is_one_product_put(fake, connector):
    fender = product().model_copy(update={"brand": "Fender"})
    created = connector.publish_variants(fender, upserts(units(2)))
    product_id = int(created[0].remote.product_id)
    assert fake.brand_of(product_id) == "Fender"
    fake.requests.clear()
    custom = fender.model_copy(update={"brand": "Fender Custom Shop"})

    outcomes = connector.publish_variants(custom, _again(created, ONLY_PRODUCT))

    assert {o.result for o in outcomes} == {PublishResult.UPDATED}
    assert len(fake.requests) == 1  # brand_name makes the brand: no lookup first
    assert fake.brand_of(product_id) == "Fender Custom Shop"
    assert "brand_name" not in _listed(fake)  # BigCommerce answers only the brand_id
    # A second product of the same brand joins it, whatever its case.
    other = product(sku="0113942720").model_copy(update={"brand": "fender custom shop"})
    [made] = connector.publish_variants(other, upserts(units(1, sku="0113942720")))
    assert fake.brand_of(int(made.remote.product_id)) == "Fender Custom Shop"
    assert len(fake.brands) == 2


def test_a_photo_change_replaces_the_product_images_and_nothing_else(fake, connector):
    pictured = product().model_copy(update={"images": ("https://img.example/d28-front.jpg",)})
    created = connector.publish_variants(pictured, upserts(units(2)))
    product_id = int(created[0].remote.product_id)
    assert fake.image_sources(product_id) == ["https://img.example/d28-front.jpg"]
    fake.products[product_id]["name"] = "Renamed by the merchant"  # not changed in the POS
    fake.requests.clear()
    retaken = pictured.model_copy(
        update={"images": ("https://img.example/d28-back.jpg", "https://img.example/d28-side.jpg")}
    )

    outcomes = connector.publish_variants(retaken, _again(created, ONLY_PRODUCT))

    assert {o.result for o in outcomes} == {PublishResult.UPDATED}
    # The images read, the old one deleted, the two new added: no product PUT, no variant.
    assert [m for m, _ in fake.requests] == ["GET", "DELETE", "POST", "POST"]
    assert fake.image_sources(product_id) == [
        "https://img.example/d28-back.jpg",
        "https://img.example/d28-side.jpg",
    ]
    assert _listed(fake)["name"] == "Renamed by the merchant"
    fake.requests.clear()
    connector.publish_variants(retaken, _again(outcomes, ONLY_PRODUCT))
    assert fake.requests == []  # held now


def test_a_digest_from_before_per_field_digests_still_tells_the_name_is_held(fake, connector):
    created = connector.publish_variants(product(), upserts(units(1)))
    [outcome] = created
    legacy = hashlib.sha256(
        json.dumps(
            {"name": product().title, "description": product().description}, sort_keys=True
        ).encode()
    ).hexdigest()[:16]
    old = outcome.model_copy(
        update={
            "remote": outcome.remote.model_copy(
                update={"extra": {**outcome.remote.extra, "content": legacy}}
            )
        }
    )
    fake.requests.clear()

    connector.publish_variants(product(), _again([old], ONLY_PRODUCT))

    assert fake.requests == []  # name and description held, no photo in the POS


def test_a_title_another_product_holds_gets_the_sku_suffix(fake, connector):
    created = connector.publish_variants(product(), upserts(units(2)))
    connector.publish_variants(
        product(sku="OTHER", title="Taken"), upserts(units(1, sku="OTHER", prefix="X"))
    )

    connector.publish_variants(product(title="Taken"), _again(created, ONLY_PRODUCT))

    names = sorted(p["name"] for p in fake.products.values())
    assert names == ["Taken", "Taken [0113942719]"]


def test_a_name_bigcommerce_refuses_fails_the_units_with_its_reason(fake, connector):
    created = connector.publish_variants(product(), upserts(units(2)))

    outcomes = connector.publish_variants(product(title="x" * 251), _again(created, ONLY_PRODUCT))

    assert {o.result for o in outcomes} == {PublishResult.FAILED}
    assert {o.retryable for o in outcomes} == {False}
    assert _listed(fake)["name"] == "Martin D-28"


def test_a_price_change_beside_a_title_change_writes_both(fake, connector):
    created = connector.publish_variants(product(), upserts(units(2)))
    fake.requests.clear()

    outcomes = connector.publish_variants(
        product(title="Martin HD-28", price="2499.00"),
        _again(created, frozenset({FieldGroup.PRODUCT, FieldGroup.PRICE})),
    )

    assert [o.result for o in outcomes] == [PublishResult.UPDATED] * 2
    assert calls(fake, "PUT", "/v3/catalog/variants") == 1
    assert len(fake.requests) == 2
    assert _listed(fake)["name"] == "Martin HD-28"

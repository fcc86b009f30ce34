"""Product content changed in the POS reaches WooCommerce, only what differs (issue 17 #3)."""

from __future__ import annotations

import hashlib
import json

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


def test_a_photo_change_is_one_product_put_of_the_gallery_alone(fake, connector):
    pictured = product().model_copy(update={"images": ("https://img.example/d28-front.jpg",)})
    created = connector.publish_variants(pictured, upserts(units(2)))
    parent = fake.product_by_sku("0113942719")
    assert parent is not None
    assert [i["src"] for i in parent["images"]] == ["https://img.example/d28-front.jpg"]
    parent["name"] = "Renamed by the merchant"  # not the POS's to overwrite: nothing changed it
    fake.requests.clear()
    retaken = pictured.model_copy(
        update={"images": ("https://img.example/d28-back.jpg", "https://img.example/d28-side.jpg")}
    )

    outcomes = connector.publish_variants(retaken, _again(created, ONLY_PRODUCT))

    assert {o.result for o in outcomes} == {PublishResult.UPDATED}
    assert len(fake.requests) == 1
    parent = fake.product_by_sku("0113942719")
    assert parent is not None
    assert [i["src"] for i in parent["images"]] == [
        "https://img.example/d28-back.jpg",
        "https://img.example/d28-side.jpg",
    ]
    assert parent["name"] == "Renamed by the merchant"
    # Held now: the same photos again send nothing.
    fake.requests.clear()
    connector.publish_variants(retaken, _again(outcomes, ONLY_PRODUCT))
    assert fake.requests == []


def test_a_digest_from_before_photos_were_sent_still_tells_the_title_is_held(fake, connector):
    created = connector.publish_variants(product(), upserts(units(1)))
    legacy = mapping_digest_before_photos(product().title, product().description)
    [outcome] = created
    assert outcome.remote is not None
    old = outcome.model_copy(
        update={
            "remote": outcome.remote.model_copy(
                update={"extra": {**outcome.remote.extra, "content": legacy}}
            )
        }
    )
    parent = fake.product_by_sku("0113942719")
    assert parent is not None
    parent["name"] = "Renamed by the merchant"
    pictured = product().model_copy(update={"images": ("https://img.example/d28-front.jpg",)})

    connector.publish_variants(pictured, _again([old], ONLY_PRODUCT))

    parent = fake.product_by_sku("0113942719")
    assert parent is not None
    assert parent["name"] == "Renamed by the merchant"  # held per the old digest: not sent
    assert [i["src"] for i in parent["images"]] == ["https://img.example/d28-front.jpg"]


def mapping_digest_before_photos(title: str, description: str) -> str:
    """The one hash a release before photos remembered: of the title and description."""
    encoded = json.dumps({"name": title, "description": description}, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def test_a_brand_is_set_at_creation_and_changed_later_by_its_term_id(fake, connector):
    fender = product().model_copy(update={"brand": "Fender"})
    created = connector.publish_variants(fender, upserts(units(2)))
    parent = fake.product_by_sku("0113942719")
    assert parent is not None
    assert [b["name"] for b in parent["brands"]] == ["Fender"]
    fake.requests.clear()
    custom = fender.model_copy(update={"brand": "Fender Custom Shop"})

    outcomes = connector.publish_variants(custom, _again(created, ONLY_PRODUCT))

    assert {o.result for o in outcomes} == {PublishResult.UPDATED}
    # The brand looked up, made (the store had none of that name), then one product PUT.
    assert [m for m, _ in fake.requests] == ["GET", "POST", "PUT"]
    parent = fake.product_by_sku("0113942719")
    assert parent is not None
    assert [b["name"] for b in parent["brands"]] == ["Fender Custom Shop"]
    # Known now: another product of that brand (any case) costs no brand request.
    fake.requests.clear()
    other = product(sku="0113942720").model_copy(update={"brand": "fender custom shop"})
    connector.publish_variants(other, upserts(units(1, sku="0113942720")))
    assert not any("brands" in path for _, path in fake.requests)
    assert len(fake.brands) == 2


def test_a_store_without_brands_gets_the_product_without_one(fake, connector):
    fake.brands_enabled = False
    fender = product().model_copy(update={"brand": "Fender"})
    created = connector.publish_variants(fender, upserts(units(1)))
    assert {o.result for o in created} == {PublishResult.CREATED}
    fake.requests.clear()
    custom = fender.model_copy(update={"brand": "Fender Custom Shop"})
    connector.publish_variants(custom, _again(created, ONLY_PRODUCT))
    assert fake.requests == []  # remembered: the store has no brands, nothing to send


def test_a_brand_made_by_a_lost_first_attempt_is_read_back(fake, connector):
    # The create's answer was lost and it is sent again: WordPress refuses a second term of
    # that name (term_exists), and the brand it holds is read back.
    fake.brands[999] = {"id": 999, "name": "Gibson", "slug": "gibson"}
    assert connector.client._create_brand("Gibson") == {
        "id": 999,
        "name": "Gibson",
        "slug": "gibson",
    }
    assert [m for m, _ in fake.requests] == ["POST", "GET"]


def test_the_fake_sets_brands_as_woocommerce_core_does(fake, connector):
    # WC_Brands::rest_api_add_brands_to_product: ids or {"id"} objects through absint, set by
    # wp_set_object_terms (an id WordPress does not hold is skipped); [] changes nothing.
    fake.brands[7] = {"id": 7, "name": "Fender", "slug": "fender"}
    fake.brands[8] = {"id": 8, "name": "Gibson", "slug": "gibson"}
    connector.publish_variants(product(), upserts(units(1)))
    parent = fake.product_by_sku("0113942719")
    assert parent is not None and parent["brands"] == []
    http = connector.client.http

    def put_brands(brands: object) -> list[str]:
        response = http.put(f"/products/{parent['id']}", json={"brands": brands})
        assert response.status_code == 200, response.text
        return [b["name"] for b in response.json()["brands"]]

    assert put_brands([7]) == ["Fender"]
    assert put_brands([{"id": 8}]) == ["Gibson"]
    assert put_brands([]) == ["Gibson"]  # an empty list is no removal
    assert put_brands(["7", 404]) == ["Fender"]  # "7" read as 7; 404 held by no term: skipped
    assert put_brands([404]) == []  # every id unknown: the terms set are none

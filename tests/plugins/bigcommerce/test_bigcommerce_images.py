"""Unit images travel as the variant's ``image_url`` inside the writes: no request of their own."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import httpx
import pytest
from serialsync import PublishOutcome, PublishResult, SerializedUnit
from serialsync_bigcommerce import FakeBigCommerce

from .conftest import calls, product, units
from .test_bigcommerce_publish import results, upserts


def pictured(count: int, tag: str = "a") -> list[SerializedUnit]:
    """``count`` units, each with its own two photos (the first is the variant's image)."""
    return [
        u.model_copy(
            update={
                "images": (
                    f"https://img.example/{u.serial}-{tag}.jpg",
                    f"https://img.example/{u.serial}-back.jpg",
                )
            }
        )
        for u in units(count)
    ]


class Recorder:
    """A transport in front of the fake that keeps every JSON body sent."""

    def __init__(self, fake: FakeBigCommerce) -> None:
        self.fake = fake
        self.bodies: list[tuple[str, str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.bodies.append((request.method, request.url.path, body))
        return self.fake(request)

    def batch_items(self) -> list[dict[str, Any]]:
        """Every item of every ``PUT /v3/catalog/variants`` sent."""
        return [
            item
            for method, path, body in self.bodies
            if method == "PUT" and path.endswith("/v3/catalog/variants")
            for item in body
        ]


@pytest.fixture
def recorder(fake):
    return Recorder(fake)


@pytest.fixture
def recorded(make_connector, recorder):
    return make_connector(transport=httpx.MockTransport(recorder))


def image_of(fake: FakeBigCommerce, unit: SerializedUnit) -> str:
    return str(
        next(v["image_url"] for v in fake.variants.values() if v["sku"] == unit.integration_id)
    )


def by_serial(outcomes: list[PublishOutcome]) -> dict[str, dict[str, str]]:
    """Each unit's remembered ``RemoteIds.extra``, by serial."""
    return {o.serial: o.remote.extra for o in outcomes if o.remote is not None}


@pytest.mark.parametrize("count", [1, 20, 250])
def test_new_product_with_n_pictured_units_costs_exactly_one_request(fake, recorded, count):
    batch = pictured(count)
    outcomes = recorded.publish_variants(product=product(), changes=upserts(batch))
    assert results(outcomes) == {PublishResult.CREATED}
    assert fake.requests == [("POST", "/stores/fakestore1/v3/catalog/products")]
    assert calls(fake, "POST", "/image") == 0
    for unit, outcome in zip(batch, outcomes, strict=True):
        assert image_of(fake, unit) == unit.images[0]
        assert outcome.remote is not None
        assert outcome.remote.extra["image"] == unit.images[0]


def test_the_product_create_carries_each_units_first_photo_as_image_url(fake, recorded, recorder):
    batch = pictured(3)
    recorded.publish_variants(product=product(), changes=upserts(batch))
    [(_, _, body)] = recorder.bodies
    assert [v["image_url"] for v in body["variants"]] == [u.images[0] for u in batch]


def test_a_unit_without_photos_sends_no_image_url(fake, recorded, recorder):
    outcomes = recorded.publish_variants(product=product(), changes=upserts(units(2)))
    [(_, _, body)] = recorder.bodies
    assert all("image_url" not in v for v in body["variants"])
    assert all("image" not in o.remote.extra for o in outcomes)
    assert {v["image_url"] for v in fake.variants.values()} == {""}


def test_an_image_change_on_a_known_unit_goes_in_the_batch_update(fake, recorded, recorder):
    batch = pictured(60)
    first = recorded.publish_variants(product=product(), changes=upserts(batch))
    changed = {batch[3].serial, batch[55].serial}
    again = [
        u.model_copy(update={"images": (f"https://img.example/{u.serial}-new.jpg",)})
        if u.serial in changed
        else u
        for u in batch
    ]
    fake.requests.clear()
    recorder.bodies.clear()
    outcomes = recorded.publish_variants(product=product(), changes=upserts(again, first))
    assert results(outcomes) == {PublishResult.UPDATED}
    # 60 updates with remembered ids: two batches, nothing else (no image requests)
    assert [m for m, _ in fake.requests] == ["PUT", "PUT"]
    assert calls(fake, "POST", "/image") == 0
    sent = {item["id"]: item for item in recorder.batch_items()}
    with_image = {item["id"] for item in sent.values() if "image_url" in item}
    ids = {o.serial: int(o.remote.variant_id) for o in first}
    assert with_image == {ids[s] for s in changed}
    done = by_serial(outcomes)
    for unit in again:
        assert image_of(fake, unit) == unit.images[0]
        assert done[unit.serial]["image"] == unit.images[0]


def test_an_unchanged_image_is_not_sent_again(fake, recorded, recorder):
    batch = pictured(5)
    first = recorded.publish_variants(product=product(), changes=upserts(batch))
    repriced = [u.model_copy(update={"price": Decimal("5")}) for u in batch]
    recorder.bodies.clear()
    outcomes = recorded.publish_variants(product=product(), changes=upserts(repriced, first))
    assert results(outcomes) == {PublishResult.UPDATED}
    items = recorder.batch_items()
    assert len(items) == 5
    assert all("image_url" not in item for item in items)
    # still remembered, so the next call does not send it either
    assert all(o.remote.extra["image"] == u.images[0] for o, u in zip(outcomes, batch, strict=True))
    assert all(image_of(fake, u) == u.images[0] for u in batch)


def test_a_withdrawal_keeps_remembering_the_image(fake, recorded, recorder):
    from .test_bigcommerce_publish import withdraws

    batch = pictured(2)
    first = recorded.publish_variants(product=product(), changes=upserts(batch))
    gone = recorded.publish_variants(product=product(), changes=withdraws(batch, first))
    assert results(gone) == {PublishResult.WITHDRAWN}
    recorder.bodies.clear()
    back = recorded.publish_variants(product=product(), changes=upserts(batch, gone))
    assert results(back) == {PublishResult.UPDATED}
    assert all("image_url" not in item for item in recorder.batch_items())


def test_new_units_of_a_known_product_carry_their_image_in_the_batch_create(
    fake, recorded, recorder
):
    first_units = pictured(2)
    recorded.publish_variants(product=product(), changes=upserts(first_units))
    more = [
        u.model_copy(update={"serial": f"NEW{i}", "images": (f"https://img.example/new{i}.jpg",)})
        for i, u in enumerate(pictured(3))
    ]
    recorder.bodies.clear()
    fake.requests.clear()
    outcomes = recorded.publish_variants(product=product(), changes=upserts(more))
    assert results(outcomes) == {PublishResult.CREATED}
    assert calls(fake, "POST", "/image") == 0
    creates = [i for i in recorder.batch_items() if "id" not in i]
    assert sorted(i["image_url"] for i in creates) == sorted(u.images[0] for u in more)
    assert all(image_of(fake, u) == u.images[0] for u in more)
    assert all(o.remote.extra["image"] == u.images[0] for o, u in zip(outcomes, more, strict=True))


def test_after_a_crash_a_variant_already_showing_the_image_is_unchanged(fake, make_connector):
    batch = pictured(4)
    make_connector().publish_variants(product=product(), changes=upserts(batch))
    fake.requests.clear()
    # fresh process, no remote ids: the lookup shows the variants' image_url already right
    outcomes = make_connector().publish_variants(product=product(), changes=upserts(batch))
    assert results(outcomes) == {PublishResult.UNCHANGED}
    assert [m for m, _ in fake.requests] == ["POST", "GET"]
    assert all(o.remote.extra["image"] == u.images[0] for o, u in zip(outcomes, batch, strict=True))


def test_after_a_crash_a_variant_with_another_image_gets_it_in_one_batch(fake, make_connector):
    batch = pictured(4)
    make_connector().publish_variants(product=product(), changes=upserts(batch))
    newer = pictured(4, tag="b")
    fake.requests.clear()
    outcomes = make_connector().publish_variants(product=product(), changes=upserts(newer))
    assert results(outcomes) == {PublishResult.UPDATED}
    assert [m for m, _ in fake.requests] == ["POST", "GET", "PUT"]
    assert all(image_of(fake, u) == u.images[0] for u in newer)


def test_a_refused_image_on_create_lists_the_units_without_it(fake, recorded, recorder):
    batch = pictured(3)
    bad = batch[1].model_copy(update={"images": ("ftp://img.example/nope.jpg",)})
    batch[1] = bad
    outcomes = recorded.publish_variants(product=product(), changes=upserts(batch))
    assert results(outcomes) == {PublishResult.CREATED}
    # the create refused whole (422 naming the image), then sent again without images
    assert [m for m, _ in fake.requests] == ["POST", "POST"]
    assert all("image_url" not in v for v in recorder.bodies[1][2]["variants"])
    # nothing recorded: the next publish offers every image again, in the batch update
    assert all("image" not in o.remote.extra for o in outcomes)
    recorder.bodies.clear()
    fake.requests.clear()
    again = recorded.publish_variants(product=product(), changes=upserts(batch, outcomes))
    assert results(again) == {PublishResult.UPDATED}
    # the bad image is refused in the batch and its item goes again without it
    assert [m for m, _ in fake.requests] == ["PUT", "PUT"]
    done = by_serial(again)
    assert "image" not in done[bad.serial]
    assert image_of(fake, bad) == ""
    for unit in (batch[0], batch[2]):
        assert image_of(fake, unit) == unit.images[0]
        assert done[unit.serial]["image"] == unit.images[0]


def test_fake_stores_image_url_from_batch_and_shows_it_in_get_answers(fake, connector):
    first = connector.publish_variants(product=product(), changes=upserts(units(2)))
    variant_id = int(first[0].remote.variant_id)
    response = connector.client.http.put(
        "/v3/catalog/variants",
        json=[
            {"id": variant_id, "image_url": "https://img.example/x.jpg"},
            {"id": int(first[1].remote.variant_id), "image_url": "file:///etc/passwd"},
        ],
    )
    assert response.status_code == 207
    assert "image_url" in json.dumps(response.json()["batch_errors"])
    record = connector.client.product(int(first[0].remote.product_id))
    assert record is not None
    shown = {v["id"]: v["image_url"] for v in record["variants"]}
    assert shown[variant_id] == "https://img.example/x.jpg"
    assert shown[int(first[1].remote.variant_id)] == ""
    found = connector.client.variant_by_sku(units(1)[0].integration_id)
    assert found is not None
    assert found["image_url"] == "https://img.example/x.jpg"


def test_fake_keeps_a_variant_image_an_empty_image_url_would_clear(fake, connector):
    # BigCommerce's API has no way to remove a variant image (bigcommerce/api-specs#1035).
    first = connector.publish_variants(product=product(), changes=upserts(pictured(1)))
    variant_id = int(first[0].remote.variant_id)
    before = fake.variants[variant_id]["image_url"]
    assert before
    response = connector.client.http.put(
        "/v3/catalog/variants", json=[{"id": variant_id, "image_url": "", "price": 7}]
    )
    assert response.status_code == 200
    assert fake.variants[variant_id]["image_url"] == before
    assert fake.variants[variant_id]["price"] == 7  # the rest of the item is written


def test_fake_refuses_a_product_whose_variant_image_cannot_be_fetched(fake, connector):
    body = {
        "name": "X",
        "type": "physical",
        "weight": 0,
        "price": 1,
        "sku": "X-1",
        "variants": [
            {
                "sku": "X-1|||1",
                "image_url": "not a url",
                "option_values": [{"option_display_name": "Serial", "label": "1"}],
            }
        ],
    }
    response = connector.client.http.post("/v3/catalog/products", json=body)
    assert response.status_code == 422
    assert "image_url" in response.text
    assert fake.products == {}
    assert fake.variants == {}

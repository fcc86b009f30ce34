"""Each unit shown as itself on BigCommerce: its attributes as metafields of its variant,
storefront-readable, written in batches and changed by id (issue 17 #2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import pytest
from serialsync import FieldGroup, ListingAction, ListingChange, PublishOutcome, PublishResult
from serialsync import SerializedUnit as Unit
from serialsync_bigcommerce import FakeBigCommerce

from .conftest import calls, product, units
from .test_bigcommerce_publish import upserts

ATTRIBUTES = {"Finish": "Sunburst", "Wood grain": "Flamed maple"}


def dressed(count: int) -> list[Unit]:
    return [
        u.model_copy(update={"attributes": {**ATTRIBUTES, "Weight": f"2.{i} kg"}})
        for i, u in enumerate(units(count))
    ]


def all_held(fake: FakeBigCommerce, unit: Unit) -> dict[str, str]:
    variant = next(v for v in fake.variants.values() if v["sku"] == unit.integration_id)
    return {m["key"]: m["value"] for m in fake.metafields.of_variant(variant["id"])}


def held(fake: FakeBigCommerce, unit: Unit) -> dict[str, str]:
    """The variant's attribute metafields (without the summary)."""
    return {k: v for k, v in all_held(fake, unit).items() if k != "_summary"}


def changed(units_now: list[Unit], before: list[PublishOutcome]) -> list[ListingChange]:
    remotes = {o.serial: o.remote for o in before}
    return [
        ListingChange(
            unit=u,
            action=ListingAction.UPSERT,
            remote=remotes[u.serial],
            changed=frozenset({FieldGroup.UNIT}),
        )
        for u in units_now
    ]


def test_new_variants_get_their_attributes_in_one_batch(fake, connector):
    stock = dressed(3)

    outcomes = connector.publish_variants(product(), upserts(stock))

    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert held(fake, stock[1]) == {
        "Finish": "Sunburst",
        "Wood grain": "Flamed maple",
        "Weight": "2.1 kg",
    }
    # 9 metafields of 3 variants: one batch POST, beside the product create.
    assert calls(fake, "POST", "/catalog/variants/metafields") == 1
    assert {m["permission_set"] for m in fake.metafields.stored.values()} == {"read_and_sf_access"}
    assert {m["namespace"] for m in fake.metafields.stored.values()} == {"serialsync"}
    assert outcomes[0].remote is not None and "metafields" in outcomes[0].remote.extra


def test_a_changed_attribute_is_one_put_by_id_and_a_removed_one_is_deleted(fake, connector):
    stock = dressed(2)
    first = connector.publish_variants(product(), upserts(stock))
    fake.requests.clear()
    now = [
        stock[0].model_copy(update={"attributes": {**ATTRIBUTES, "Finish": "Natural"}}),
        stock[1],
    ]

    outcomes = connector.publish_variants(product(), changed(now[:1], first))

    assert [o.result for o in outcomes] == [PublishResult.UPDATED]
    assert held(fake, now[0]) == {"Finish": "Natural", "Wood grain": "Flamed maple"}
    # The variant's own batch item (an upsert's stock is always made 1), then the metafields.
    assert [(m, p.rsplit("/v3", 1)[-1]) for m, p in fake.requests] == [
        ("PUT", "/catalog/variants"),
        ("PUT", "/catalog/variants/metafields"),
        ("DELETE", "/catalog/variants/metafields"),
    ]


def test_a_variant_whose_ids_were_not_recorded_is_read_once_not_doubled(fake, connector):
    stock = dressed(1)
    (first,) = connector.publish_variants(product(), upserts(stock))
    assert first.remote is not None
    forgotten = first.remote.model_copy(update={"extra": {}})
    fake.requests.clear()
    now = stock[0].model_copy(update={"attributes": {"Finish": "Ebony"}})

    (outcome,) = connector.publish_variants(
        product(),
        [ListingChange(unit=now, action=ListingAction.UPSERT, remote=forgotten)],
    )

    assert outcome.result is PublishResult.UPDATED
    assert all_held(fake, now) == {
        "Finish": "Ebony",
        "_summary": f"Serial {now.serial} · Finish: Ebony",
    }
    assert calls(fake, "GET", "/metafields") == 1
    assert len(fake.metafields.stored) == 2


def test_an_attribute_too_long_for_bigcommerce_is_refused_with_its_reason(fake, connector):
    (unit,) = units(1)
    long = unit.model_copy(update={"attributes": {"Story": "x" * 65_536}})

    (outcome,) = connector.publish_variants(product(), upserts([long]))

    assert outcome.result is PublishResult.FAILED and outcome.retryable is False
    assert outcome.code == "invalid-attributes" and "65535" in (outcome.reason or "").replace(
        ",", ""
    )
    assert not fake.variants


def test_a_refused_metafield_fails_its_unit_retryable_keeping_the_variant(fake, connector):
    stock = dressed(1)
    (first,) = connector.publish_variants(product(), upserts(stock))
    # Someone else's metafield id remembered: the PUT is refused for this unit.
    assert first.remote is not None
    wrong = first.remote.model_copy(
        update={"extra": {**first.remote.extra, "metafields": '{"Finish": 999999}'}}
    )

    now = stock[0].model_copy(update={"attributes": {**stock[0].attributes, "Finish": "Red"}})

    (outcome,) = connector.publish_variants(
        product(), [ListingChange(unit=now, action=ListingAction.UPSERT, remote=wrong)]
    )

    assert outcome.result is PublishResult.FAILED and outcome.retryable
    assert outcome.remote is not None and outcome.remote.variant_id == first.remote.variant_id
    assert "not found" in (outcome.reason or "")


# -- the fake answers as BigCommerce does ------------------------------------------------


def _batch(fake: FakeBigCommerce, method: str, body: Any) -> httpx.Response:
    with httpx.Client(transport=fake.transport(), base_url="https://api.bigcommerce.com") as http:
        return http.request(
            method,
            f"/stores/{fake.store_hash}/v3/catalog/variants/metafields",
            json=body,
            headers={"X-Auth-Token": fake.access_token, "Accept": "application/json"},
        )


def _item(variant_id: int, **over: object) -> Mapping[str, object]:
    return {
        "resource_id": variant_id,
        "namespace": "serialsync",
        "key": "Finish",
        "value": "Sunburst",
        "permission_set": "read_and_sf_access",
        **over,
    }


@pytest.mark.parametrize(
    "bad",
    [
        {"key": ""},
        {"key": "k" * 65},
        {"namespace": "n" * 65},
        {"value": ""},
        {"value": "v" * 65_536},
        {"description": "d" * 256},
        {"permission_set": "public"},
    ],
)
def test_the_fake_refuses_each_limit_with_a_422_naming_it(fake, connector, bad):
    connector.publish_variants(product(), upserts(units(1)))
    (variant_id,) = fake.variants

    response = _batch(
        fake, "POST", [_item(variant_id), _item(variant_id, **{"key": "Other", **bad})]
    )

    assert response.status_code == 422
    body = response.json()
    assert len(body["data"]) == 1 and len(body["errors"]) == 1
    assert body["errors"][0]["status"] == 422


def test_the_fake_refuses_a_duplicate_key_an_unknown_variant_and_a_batch_past_50(fake, connector):
    connector.publish_variants(product(), upserts(units(1)))
    (variant_id,) = fake.variants
    assert _batch(fake, "POST", [_item(variant_id)]).status_code == 200

    again = _batch(fake, "POST", [_item(variant_id), _item(424242, key="X")]).json()
    assert [e["status"] for e in again["errors"]] == [409, 404]
    too_many = _batch(fake, "POST", [_item(variant_id, key=f"k{n}") for n in range(51)])
    assert too_many.status_code == 413


def test_a_photo_change_alone_sends_no_metafield_request(fake, connector):
    stock = dressed(1)
    first = connector.publish_variants(product(), upserts(stock))
    fake.requests.clear()
    photo = [stock[0].model_copy(update={"images": ("https://img.example/new.jpg",)})]

    (outcome,) = connector.publish_variants(product(), changed(photo, first))

    assert outcome.result is PublishResult.UPDATED
    assert [m for m, _ in fake.requests] == ["PUT"]  # the variant's batch item, its image_url
    assert outcome.remote is not None and "metafields" in outcome.remote.extra


# -- the per-unit summary ----------------------------------------------------------------


def test_a_unit_with_attributes_carries_a_storefront_readable_summary(fake, connector):
    stock = dressed(2)

    connector.publish_variants(product(), upserts(stock))

    summary = all_held(fake, stock[1])["_summary"]
    assert summary == (
        f"Serial {stock[1].serial} · Finish: Sunburst · Weight: 2.1 kg · Wood grain: Flamed maple"
    )
    stored = [m for m in fake.metafields.stored.values() if m["key"] == "_summary"]
    assert len(stored) == 2 and {m["permission_set"] for m in stored} == {"read_and_sf_access"}
    # In the same batch POST as the attributes: no request of its own.
    assert calls(fake, "POST", "/catalog/variants/metafields") == 1


def test_a_changed_attribute_updates_the_summary_in_the_same_put(fake, connector):
    stock = dressed(1)
    first = connector.publish_variants(product(), upserts(stock))
    fake.requests.clear()
    now = [stock[0].model_copy(update={"attributes": {**stock[0].attributes, "Finish": "Red"}})]

    connector.publish_variants(product(), changed(now, first))

    assert "Finish: Red" in all_held(fake, now[0])["_summary"]
    assert calls(fake, "PUT", "/catalog/variants/metafields") == 1
    assert calls(fake, "POST", "/catalog/variants/metafields") == 0


def test_a_unit_without_attributes_gets_no_summary_and_losing_them_removes_it(fake, connector):
    stock = dressed(1)
    first = connector.publish_variants(product(), upserts(stock))
    bare = [stock[0].model_copy(update={"attributes": {}})]

    connector.publish_variants(product(), changed(bare, first))
    connector.publish_variants(product(), upserts(units(1, prefix="US2200")))

    assert all_held(fake, bare[0]) == {}
    assert not fake.metafields.stored


def test_an_attribute_named_like_the_summary_keeps_its_own_value(fake, connector):
    (unit,) = units(1)
    odd = unit.model_copy(update={"attributes": {"_summary": "the POS's own"}})

    connector.publish_variants(product(), upserts([odd]))

    assert all_held(fake, odd) == {"_summary": "the POS's own"}


def test_each_units_metafields_are_worked_out_once_per_publish(fake, connector, monkeypatch):
    from serialsync_bigcommerce import unit_metafields

    worked_out: list[str] = []
    wanted = unit_metafields.wanted

    def counting(unit: Unit) -> dict[str, str]:
        worked_out.append(unit.serial)
        return wanted(unit)

    monkeypatch.setattr(unit_metafields, "wanted", counting)
    stock = dressed(3)

    outcomes = connector.publish_variants(product(), upserts(stock))

    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert sorted(worked_out) == sorted(u.serial for u in stock)  # was four times each
    assert outcomes[0].remote is not None
    assert outcomes[0].remote.extra["metafields_digest"] == unit_metafields.digest(stock[0])

"""Each unit shown as itself on WooCommerce: its attributes in the variation's ``meta_data``
and a short summary in its ``description`` (issue 17 #2)."""

from __future__ import annotations

import httpx
import pytest
from serialsync import FieldGroup, ListingAction, ListingChange, PublishResult, SerializedUnit
from serialsync_woocommerce import FakeWooCommerce, WooCommerceConnector

from .conftest import HTTPS_SITE, calls, product, upserts

UNIT = frozenset({FieldGroup.UNIT})


def _unit(**attributes: str) -> SerializedUnit:
    return SerializedUnit(sku="0113942719", serial="US1", attributes=attributes)


def _meta(fake: FakeWooCommerce, unit: SerializedUnit) -> dict[str, str]:
    variation = fake.variation_by_sku(unit.integration_id)
    assert variation is not None
    return {m["key"]: m["value"] for m in variation["meta_data"]}


def test_a_new_variation_carries_its_units_attributes_and_summary(fake, connector):
    unit = _unit(Finish="Sunburst", **{"Wood grain": "Flamed <AAA>"})

    (outcome,) = connector.publish_variants(product(), upserts([unit]))

    assert outcome.result is PublishResult.CREATED
    assert _meta(fake, unit) == {
        "serialsync_finish": "Sunburst",
        "serialsync_wood_grain": "Flamed <AAA>",
    }
    variation = fake.variation_by_sku(unit.integration_id)
    assert variation is not None
    # HTML-escaped: the description is HTML, a value is text.
    assert variation["description"] == (
        "<p>Serial US1 · Finish: Sunburst · Wood grain: Flamed &lt;AAA&gt;</p>"
    )


def test_a_changed_attribute_is_one_batch_item_and_a_removed_one_is_emptied(
    fake: FakeWooCommerce, connector: WooCommerceConnector
) -> None:
    before = _unit(Finish="Sunburst", Weight="3.9 kg")
    (first,) = connector.publish_variants(product(), upserts([before]))
    fake.requests.clear()
    after = _unit(Finish="Natural")

    (again,) = connector.publish_variants(
        product(),
        [ListingChange(unit=after, action=ListingAction.UPSERT, remote=first.remote, changed=UNIT)],
    )

    assert again.result is PublishResult.UPDATED
    assert len(fake.requests) == 1
    assert calls(fake, "POST", "/variations/batch") == 1
    # WooCommerce updates meta by key and never drops one: the removed weight is emptied.
    assert _meta(fake, after) == {"serialsync_finish": "Natural", "serialsync_weight": ""}
    assert again.remote is not None and again.remote.extra["meta_keys"] == "serialsync_finish"


def test_two_names_that_slug_alike_are_both_kept(fake, connector):
    unit = _unit(**{"Body wood": "Alder", "body-wood": "Ash"})

    connector.publish_variants(product(), upserts([unit]))

    assert sorted(_meta(fake, unit).values()) == ["Alder", "Ash"]


@pytest.mark.parametrize("meta", ["finish", [{"value": "x"}], [{"key": 5, "value": "x"}]])
def test_the_fake_refuses_malformed_meta_data_as_woocommerce_does(fake, connector, meta):
    connector.publish_variants(product(), upserts([_unit()]))
    variation = fake.variation_by_sku(_unit().integration_id)
    assert variation is not None
    auth = (fake.consumer_key, fake.consumer_secret)

    with httpx.Client(transport=fake.transport(), auth=auth) as http:
        answer = http.post(
            f"{HTTPS_SITE}/wp-json/wc/v3/products/{variation['parent_id']}/variations/batch",
            json={"update": [{"id": variation["id"], "meta_data": meta}]},
        )
    item = answer.json()["update"][0]
    assert item["error"]["code"] == "rest_invalid_param"
    assert item["error"]["data"]["status"] == 400

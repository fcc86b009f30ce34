"""BigCommerce's 250 values per option: the fake refuses a 251st, the plugin stays within it,
continues in sibling products, and removes option values with their variants."""

from __future__ import annotations

from typing import Any

from serialsync import ListingAction, ListingChange, PublishOutcome, PublishResult
from serialsync_bigcommerce import FakeBigCommerce

from .conftest import product, units


def _changes(unit_list, action=ListingAction.UPSERT, outcomes: list[PublishOutcome] | None = None):
    remotes = {o.serial: o.remote for o in outcomes or []}
    return [ListingChange(unit=u, action=action, remote=remotes.get(u.serial)) for u in unit_list]


def _values(fake: FakeBigCommerce, product_id: int) -> list[str]:
    option = next(o for o in fake.options.values() if o["product_id"] == product_id)
    return sorted(v["label"] for v in option["option_values"])


def _body(count: int) -> dict[str, Any]:
    return {
        "name": "Too many values",
        "type": "physical",
        "weight": 0,
        "price": 1,
        "variants": [
            {"sku": f"S{i}", "option_values": [{"option_display_name": "Serial", "label": str(i)}]}
            for i in range(count)
        ],
    }


def test_fake_refuses_a_251st_option_value_in_every_path(fake, connector):
    http = connector.client.http
    refused = http.post("/v3/catalog/products", json=_body(251))
    assert refused.status_code == 422
    assert set(refused.json()) >= {"status", "title", "type", "errors"}
    assert "250" in refused.json()["title"]
    assert fake.products == {}
    made = http.post("/v3/catalog/products", json=_body(250))
    assert made.status_code == 200
    pid = made.json()["data"]["id"]
    option = next(iter(fake.options.values()))
    values = [{"id": v["id"], "label": v["label"]} for v in option["option_values"]]
    again = http.put(
        f"/v3/catalog/products/{pid}/options/{option['id']}",
        json={"option_values": [*values, {"label": "one too many"}]},
    )
    assert again.status_code == 422
    assert len(_values(fake, pid)) == 250
    opened = http.post(
        f"/v3/catalog/products/{pid}/options",
        json={"display_name": "Other", "option_values": [{"label": str(i)} for i in range(251)]},
    )
    assert opened.status_code == 422


def test_connector_names_250_as_its_capacity(connector):
    assert connector.product_capacity() == 250


def test_more_than_250_units_in_one_call_never_send_a_251st_value(fake, connector):
    outcomes = connector.publish_variants(product=product(), changes=_changes(units(251)))
    failed = [o for o in outcomes if o.result is PublishResult.FAILED]
    assert [o.code for o in failed] == ["product-full"]
    assert failed[0].retryable is True  # the host places it in a sibling next time
    assert len(fake.products) == 1
    assert len(fake.listings()) == 250


def test_units_past_250_of_a_known_product_are_refused_before_the_option_put(fake, connector):
    connector.publish_variants(product=product(), changes=_changes(units(200)))
    fake.requests.clear()
    outcomes = connector.publish_variants(
        product=product(), changes=_changes(units(60, prefix="NEW"))
    )
    assert sum(o.result is PublishResult.CREATED for o in outcomes) == 50
    assert {o.code for o in outcomes if o.result is PublishResult.FAILED} == {"product-full"}
    assert len(fake.listings()) == 250


def test_a_sibling_product_is_its_own_product_with_its_own_sku_and_title(fake, connector):
    first = units(250)
    rest = units(30, prefix="SIB")
    connector.publish_variants(product=product(), changes=_changes(first))
    sibling = product().model_copy(update={"part": 2, "title": "Martin D-28 (2)"})
    outcomes = connector.publish_variants(product=sibling, changes=_changes(rest))
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert len(fake.products) == 2
    made = {p["sku"]: p["name"] for p in fake.products.values()}
    assert made == {"0113942719": "Martin D-28", "0113942719|||2|||": "Martin D-28 (2)"}
    # Variant SKUs stay SKU|||SERIAL in the sibling too: orders map back as from any product.
    skus = {listing.sku for listing in fake.listings()}
    assert {u.integration_id for u in first + rest} == skus
    # A second call for the sibling finds it again, not the first product.
    again = connector.publish_variants(product=sibling, changes=_changes(units(1, prefix="MORE")))
    assert again[0].result is PublishResult.CREATED
    assert again[0].remote.product_id == outcomes[0].remote.product_id


def test_a_deleted_variant_takes_its_option_value_with_it(fake, make_connector):
    connector = make_connector(withdraw_mode="delete")
    batch = units(10)
    made = connector.publish_variants(product=product(), changes=_changes(batch))
    pid = int(made[0].remote.product_id)
    gone = connector.publish_variants(
        product=product(),
        changes=_changes(batch[:4], ListingAction.WITHDRAW, made),
    )
    assert {o.result for o in gone} == {PublishResult.WITHDRAWN}
    assert _values(fake, pid) == sorted(u.serial for u in batch[4:])


def test_a_full_product_reclaims_withdrawn_leftovers_for_new_units(fake, connector):
    batch = units(250)
    made = connector.publish_variants(product=product(), changes=_changes(batch))
    connector.publish_variants(
        product=product(), changes=_changes(batch[:5], ListingAction.WITHDRAW, made)
    )
    assert len(fake.listings()) == 250  # stock 0: the variants and their values stay
    pid = int(made[0].remote.product_id)
    fresh = units(5, prefix="NEW")
    outcomes = connector.publish_variants(product=product(), changes=_changes(fresh))
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    values = _values(fake, pid)
    assert len(values) == 250
    assert not set(values) & {u.serial for u in batch[:5]}


def test_retire_product_deletes_an_emptied_sibling(fake, connector):
    sibling = product().model_copy(update={"part": 2, "title": "Martin D-28 (2)"})
    made = connector.publish_variants(product=sibling, changes=_changes(units(3)))
    assert connector.retire_product(product=sibling, remote=made[0].remote) is True
    assert fake.products == {}
    assert fake.listings() == []
    # Gone already: still retired.
    assert connector.retire_product(product=sibling, remote=made[0].remote) is True


def test_a_unit_in_a_sibling_is_withdrawn_even_without_its_ids(fake, connector):
    """A store that lost its ids asks to withdraw through the product itself: the unit,
    listed in a sibling, is found by its SKU store-wide and taken off sale."""
    connector.publish_variants(product=product(), changes=_changes(units(2)))
    sibling = product().model_copy(update={"part": 2, "title": "Martin D-28 (2)"})
    moved = units(1, prefix="SIB")
    connector.publish_variants(product=sibling, changes=_changes(moved))
    outcomes = connector.publish_variants(
        product=product(), changes=_changes(moved, ListingAction.WITHDRAW)
    )
    assert [o.result for o in outcomes] == [PublishResult.WITHDRAWN]
    stock = {listing.sku: listing.stock for listing in fake.listings()}
    assert stock[moved[0].integration_id] == 0

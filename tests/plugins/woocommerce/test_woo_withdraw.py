"""withdraw_units against the fake store: one variations/batch per product, side by side."""

from __future__ import annotations

import pytest
from serialsync import ListingChange, PublishResult
from serialsync.testing import Faults
from serialsync_woocommerce import FakeWooCommerce, WooCommerceConnector

from .conftest import ConnectorFactory, calls, product, units, upserts, withdrawals

SKUS = ("0113942719", "0113942720", "0113942721")


def _listed(connector: WooCommerceConnector, count: int) -> list[ListingChange]:
    """``count`` units on each of three products, as withdrawals with their remembered ids."""
    changes = []
    for n, sku in enumerate(SKUS):
        stock = units(count, sku=sku, prefix=f"S{n}-")
        outcomes = connector.publish_variants(product(sku=sku), upserts(stock))
        changes += withdrawals(stock, {o.serial: o.remote for o in outcomes if o.remote})
    return changes


def _stock(fake: FakeWooCommerce, change: ListingChange) -> int:
    (listing,) = [x for x in fake.listings() if x.sku == change.unit.integration_id]
    return listing.stock


@pytest.mark.parametrize("concurrency", [1, 4])
def test_units_of_many_products_are_withdrawn_one_batch_per_product(
    make_connector: ConnectorFactory, fake: FakeWooCommerce, concurrency: int
) -> None:
    connector = make_connector(withdraw_concurrency=concurrency)
    changes = _listed(connector, 120)  # 120 on one product: two batches of at most 100
    fake.requests.clear()
    fake.batches.clear()

    outcomes = connector.withdraw_units(changes)

    assert {o.result for o in outcomes} == {PublishResult.WITHDRAWN}
    assert sorted(o.serial for o in outcomes) == sorted(c.unit.serial for c in changes)
    assert calls(fake, "POST", "/variations/batch") == len(fake.requests) == 6
    assert sorted(fake.batches) == sorted([(0, 100, 0), (0, 20, 0)] * 3)
    assert all(_stock(fake, c) == 0 for c in changes)


def test_only_the_named_units_are_touched(
    connector: WooCommerceConnector, fake: FakeWooCommerce
) -> None:
    changes = _listed(connector, 3)
    sold = [changes[0], changes[7]]

    connector.withdraw_units(sold)

    for change in changes:
        assert _stock(fake, change) == (0 if change in sold else 1)


def test_gone_variations_are_withdrawn_and_a_gone_product_is_left_to_the_host(
    connector: WooCommerceConnector, fake: FakeWooCommerce
) -> None:
    changes = _listed(connector, 2)
    assert changes[0].remote is not None and changes[2].remote is not None
    variation = int(str(changes[0].remote.variant_id))
    parent = fake.variations[variation]["parent_id"]
    fake.variations.pop(variation)
    fake.products[parent]["variations"].remove(variation)
    gone = fake.products.pop(int(str(changes[2].remote.product_id)))  # the product deleted
    for variation_id in gone["variations"]:
        fake.variations.pop(variation_id)
    lost = changes[4].model_copy(update={"remote": None})

    outcomes = {o.serial: o for o in connector.withdraw_units([*changes[:4], lost])}

    assert set(outcomes) == {changes[0].unit.serial, changes[1].unit.serial}
    assert outcomes[changes[0].unit.serial].result == PublishResult.WITHDRAWN
    assert outcomes[changes[0].unit.serial].remote.variant_id is None  # type: ignore[union-attr]
    assert _stock(fake, changes[1]) == 0
    assert _stock(fake, lost) == 1  # untouched: the host withdraws it through its product


def test_delete_mode_leaves_every_unit_to_publish_variants(
    make_connector: ConnectorFactory, fake: FakeWooCommerce
) -> None:
    connector = make_connector(withdraw_mode="delete")
    changes = _listed(connector, 2)
    fake.requests.clear()

    assert connector.withdraw_units(changes) == []
    assert fake.requests == []


def test_a_host_with_fewer_workers_than_the_concurrency_still_gets_every_unit_withdrawn(
    make_connector: ConnectorFactory, fake: FakeWooCommerce
) -> None:
    connector = make_connector(withdraw_concurrency=6)
    changes = _listed(connector, 2)
    # Real waits, so that requests overlap; the host works two at once and turns more away.
    fake.set_faults(Faults(latency=0.05, max_in_flight=2))

    outcomes = connector.withdraw_units(changes)

    assert {o.result for o in outcomes} == {PublishResult.WITHDRAWN}
    assert all(_stock(fake, c) == 0 for c in changes)
    assert fake.peak_in_flight <= 2
    # Each 503 reached the connector's limit (a wave of them halves it once, and sets its
    # ceiling below their level); the retries waited until they were within it.
    cuts, limit = connector.client.limit.cuts, connector.client.limit
    assert cuts["busy"] + cuts["busy_same_event"] == fake.injected.get("busy", 0)
    assert cuts["busy"] >= 1
    assert limit.ceiling is not None

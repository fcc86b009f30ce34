"""withdraw_units against the fake store: stock 0 for variants of many products, 50 a request."""

from __future__ import annotations

from serialsync import ListingAction, ListingChange, PublishResult
from serialsync_bigcommerce import BigCommerceConnector, FakeBigCommerce

from .conftest import ConnectorFactory, calls, product, units

SKUS = ("0113942719", "0113942720", "0113942721")


def _listed(connector: BigCommerceConnector, count: int) -> list[ListingChange]:
    """``count`` units on each of three products, as withdrawals with their remembered ids."""
    changes = []
    for n, sku in enumerate(SKUS):
        stock = units(count, sku=sku, prefix=f"S{n}-")
        outcomes = connector.publish_variants(
            product(sku=sku), [ListingChange(unit=u, action=ListingAction.UPSERT) for u in stock]
        )
        remotes = {o.serial: o.remote for o in outcomes}
        changes += [
            ListingChange(unit=u, action=ListingAction.WITHDRAW, remote=remotes[u.serial])
            for u in stock
        ]
    return changes


def _stock(fake: FakeBigCommerce, change: ListingChange) -> int:
    (listing,) = [x for x in fake.listings() if x.sku == change.unit.integration_id]
    return listing.stock


def test_units_of_many_products_are_withdrawn_50_a_request(
    connector: BigCommerceConnector, fake: FakeBigCommerce
) -> None:
    changes = _listed(connector, 40)
    fake.requests.clear()

    outcomes = connector.withdraw_units(changes)

    assert {o.result for o in outcomes} == {PublishResult.WITHDRAWN}
    assert sorted(o.serial for o in outcomes) == sorted(c.unit.serial for c in changes)
    # 120 variants of three products: 50 + 50 + 20, one batch endpoint, nothing else.
    assert calls(fake, "PUT", "/v3/catalog/variants") == 3
    assert len(fake.requests) == 3
    assert all(_stock(fake, c) == 0 for c in changes)
    assert not any(x.sellable for x in fake.listings())


def test_only_the_named_units_are_touched(
    connector: BigCommerceConnector, fake: FakeBigCommerce
) -> None:
    changes = _listed(connector, 3)
    sold = [changes[1], changes[5]]

    connector.withdraw_units(sold)

    for change in changes:
        assert _stock(fake, change) == (0 if change in sold else 1)


def test_a_variant_gone_is_withdrawn_and_one_without_ids_is_left_to_the_host(
    connector: BigCommerceConnector, fake: FakeBigCommerce
) -> None:
    changes = _listed(connector, 2)
    assert changes[0].remote is not None and changes[0].remote.variant_id
    del fake.variants[int(changes[0].remote.variant_id)]  # deleted by hand meanwhile
    lost = changes[1].model_copy(update={"remote": None})

    outcomes = {o.serial: o for o in connector.withdraw_units([changes[0], lost, changes[2]])}

    assert set(outcomes) == {changes[0].unit.serial, changes[2].unit.serial}
    assert outcomes[changes[0].unit.serial].result == PublishResult.WITHDRAWN
    assert outcomes[changes[2].unit.serial].result == PublishResult.WITHDRAWN
    assert _stock(fake, lost) == 1  # untouched: the host withdraws it through its product


def test_delete_mode_leaves_every_unit_to_publish_variants(
    make_connector: ConnectorFactory, fake: FakeBigCommerce
) -> None:
    connector = make_connector(withdraw_mode="delete")
    changes = _listed(connector, 2)
    fake.requests.clear()

    assert connector.withdraw_units(changes) == []
    assert fake.requests == []

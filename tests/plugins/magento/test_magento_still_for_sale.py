"""Magento lists new children only in the source-items save that ends a publish call, after
asking the host which units are still for sale: a unit sold meanwhile is created, linked and
left at stock 0, answered WITHDRAWN, with no request of its own."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal

from serialsync import (
    ConnectorContext,
    ListingAction,
    ListingChange,
    Product,
    PublishResult,
    SerializedUnit,
)
from serialsync_magento import FakeMagento, MagentoConnector, MagentoSettings

PRODUCT = Product(sku="P1", title="Guitar", price=Decimal("10"))


def _connector(store: FakeMagento) -> MagentoConnector:
    return MagentoConnector(
        MagentoSettings.model_validate(store.connector_settings("http://anything.local")),
        ConnectorContext(name="m", transport=store.transport(), sleep=lambda _s: None),
    )


def test_a_unit_no_longer_for_sale_when_the_stock_is_saved_is_created_unsellable() -> None:
    store = FakeMagento()
    connector = _connector(store)
    units = [SerializedUnit(sku="P1", serial=f"S{i}") for i in range(3)]
    asked: list[list[str]] = []
    listed_when_asked: list[bool] = []

    def still_for_sale(serials: Collection[str]) -> frozenset[str]:
        asked.append(sorted(serials))
        # Asked after the children exist, before any is for sale.
        listed_when_asked.append(any(x.sellable for x in store.listings()))
        assert all(store.product(u.integration_id) is not None for u in units)
        return frozenset(serials) - {"S1"}  # S1 sold on another channel meanwhile

    before = len(store.received)
    outcomes = connector.publish_variants(
        PRODUCT, [ListingChange(unit=u, action=ListingAction.UPSERT) for u in units], still_for_sale
    )

    assert asked == [["S0", "S1", "S2"]]
    assert listed_when_asked == [False]
    by_serial = {o.serial: o for o in outcomes}
    assert by_serial["S1"].result is PublishResult.WITHDRAWN
    assert by_serial["S1"].remote is not None and by_serial["S1"].remote.variant_id
    assert {by_serial[s].result for s in ("S0", "S2")} == {PublishResult.CREATED}
    sellable = {x.sku for x in store.listings() if x.sellable}
    assert sellable == {"P1|||S0", "P1|||S2"}
    assert store.salable_quantity("P1|||S1") == 0
    # The one stock save of the call carried S1 at 0: no request was added for it.
    stock_saves = [r for r in store.received[before:] if r.path.endswith("/source-items")]
    assert len(stock_saves) == 1

    # Back in stock later (the order cancelled): the same child is listed again.
    again = connector.publish_variants(
        PRODUCT,
        [ListingChange(unit=units[1], action=ListingAction.UPSERT, remote=by_serial["S1"].remote)],
    )
    assert [o.result for o in again] == [PublishResult.UPDATED]
    assert store.salable_quantity("P1|||S1") == 1

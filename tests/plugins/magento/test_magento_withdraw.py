"""withdraw_units against the fake store (respx): stock 0 for units of many parents at once."""

from __future__ import annotations

from decimal import Decimal

from serialsync import ListingAction, ListingChange, Product, PublishResult, SerializedUnit
from serialsync_magento import FakeMagento, MagentoConnector

SKUS = ("0113942719", "0113942720", "0113942721")


def _listed(connector: MagentoConnector, count: int) -> list[ListingChange]:
    """``count`` units under each of three parents, as withdrawals with their remembered ids."""
    changes = []
    for n, sku in enumerate(SKUS):
        product = Product(sku=sku, title=f"Guitar {n}", price=Decimal("999.00"))
        stock = [SerializedUnit(sku=sku, serial=f"S{n}X{i:03d}") for i in range(count)]
        outcomes = connector.publish_variants(
            product, [ListingChange(unit=u, action=ListingAction.UPSERT) for u in stock]
        )
        remotes = {o.serial: o.remote for o in outcomes}
        changes += [
            ListingChange(unit=u, action=ListingAction.WITHDRAW, remote=remotes[u.serial])
            for u in stock
        ]
    return changes


def _stock(fake: FakeMagento, change: ListingChange) -> int:
    (listing,) = [x for x in fake.listings() if x.sku == change.unit.integration_id]
    return listing.stock


def _sent(fake: FakeMagento, start: int) -> list[str]:
    return [f"{r.method} {r.path.split('/V1/', 1)[1]}" for r in fake.received[start:]]


def test_units_of_many_parents_are_withdrawn_in_one_source_items_save(fake, make_connector):
    connector = make_connector()
    changes = _listed(connector, 4)
    start = len(fake.received)

    outcomes = connector.withdraw_units(changes)

    assert {o.result for o in outcomes} == {PublishResult.WITHDRAWN}
    assert sorted(o.serial for o in outcomes) == sorted(c.unit.serial for c in changes)
    assert _sent(fake, start) == ["POST inventory/source-items"]
    assert all(_stock(fake, c) == 0 for c in changes)
    assert not any(x.sellable for x in fake.listings())
    by_serial = {c.unit.serial: c.remote for c in changes}
    for outcome in outcomes:
        remembered = by_serial[outcome.serial]
        assert outcome.remote is not None and remembered is not None
        assert outcome.remote.product_id == remembered.product_id


def test_the_configured_batch_is_kept_where_the_store_limits_input_lists(fake, make_connector):
    fake.input_list_limit = 5  # Web API input limits on: at most 5 items a list
    connector = make_connector(source_items_batch=5)
    changes = _listed(connector, 4)
    start = len(fake.received)

    outcomes = connector.withdraw_units(changes)

    assert {o.result for o in outcomes} == {PublishResult.WITHDRAWN}
    assert _sent(fake, start) == ["POST inventory/source-items"] * 3  # 5 + 5 + 2
    assert all(_stock(fake, c) == 0 for c in changes)


def test_only_the_named_units_are_touched_and_unknown_ones_are_left_to_the_host(
    fake, make_connector
):
    connector = make_connector()
    changes = _listed(connector, 3)
    lost = changes[4].model_copy(update={"remote": None})

    outcomes = connector.withdraw_units([changes[0], lost, changes[8]])

    assert sorted(o.serial for o in outcomes) == sorted(
        [changes[0].unit.serial, changes[8].unit.serial]
    )
    for change in changes:
        assert _stock(fake, change) == (0 if change in (changes[0], changes[8]) else 1)


def test_disable_on_withdraw_also_disables_each_child(fake, make_connector):
    connector = make_connector(disable_on_withdraw=True)
    changes = _listed(connector, 2)
    start = len(fake.received)

    connector.withdraw_units(changes[:3])

    sent = _sent(fake, start)
    assert sent.count("POST inventory/source-items") == 1
    assert sum(1 for s in sent if s.startswith("PUT products/")) == 3

"""The store's behaviour, the same on both backends: every method of the interface, run against
a SQLite file and a PostgreSQL schema on a real server."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from serialsync import SchemaVersionError, SerializedUnit, UnitStatus
from serialsync.errors import StoreError
from serialsync.lifecycle import Move, MoveBasis, MoveSource
from serialsync.model import Product, RemoteIds
from serialsync.store import (
    ListingRecord,
    ListingState,
    OutboxRecord,
    OutboxState,
    SaleWindow,
    VisibilityRecord,
)
from serialsync.store.base import Store
from serialsync.store.records import Hold, UnitDetails
from serialsync.store.schema import LATEST_VERSION
from serialsync.store.sql import SQLStore

from tests.stores import StoreSpec

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _unit(sku: str, serial: str) -> SerializedUnit:
    return SerializedUnit(sku=sku, serial=serial)


def _sale(channel: str, order_id: str, state: OutboxState, **extra: object) -> OutboxRecord:
    return OutboxRecord(
        channel=channel,
        order_id=order_id,
        order_number=f"#{order_id}",
        state=state,
        financial_status="paid",
        order_updated_at=T0,
        sale_json=json.dumps({"channel": channel}),
        **extra,  # type: ignore[arg-type]
    )


def test_a_new_store_is_at_the_latest_version_with_an_identity(store: SQLStore) -> None:
    assert store.schema_version == LATEST_VERSION
    assert store.stored_version == LATEST_VERSION


def test_reopening_keeps_data_and_does_not_migrate_twice(store_spec: StoreSpec) -> None:
    with store_spec.open() as store, store.transaction():
        store.put_unit(_unit("A", "1"), status=UnitStatus.IN_STOCK)
    with store_spec.open() as store:
        record = store.get_unit("1")
        assert record is not None and record.unit.sku == "A"
        assert store.schema_version == LATEST_VERSION


def test_a_newer_database_is_refused_with_a_clear_message(store_spec: StoreSpec) -> None:
    with store_spec.open() as store, store.transaction():
        store._exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(SchemaVersionError, match=r"schema version 99.*upgrade serialsync"):
        store_spec.open()


def test_a_failed_transaction_leaves_nothing_behind(store: SQLStore) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.put_unit(_unit("A", "1"), status=UnitStatus.IN_STOCK)
        with store.transaction():  # an inner one joins the outer one
            store.set_cursor("shop", "orders", "x")
        raise RuntimeError("crash")
    assert store.get_unit("1") is None
    assert store.get_cursor("shop", "orders") is None


def test_products_and_units(store: SQLStore) -> None:
    with store.transaction():
        store.put_product(Product(sku="B", title="Bass", price=Decimal("10")), pos="aim")
        store.put_product(Product(sku="B", title="Bass guitar", price=Decimal("10")), pos="aim2")
        store.put_unit(_unit("B", "b-2"), status=UnitStatus.IN_STOCK)
        store.put_unit(_unit("B", "B-1"), status=UnitStatus.IN_STOCK)
        store.put_unit(_unit("A", "a1"), status=UnitStatus.SOLD, deleted=True)
        store.set_unit_deleted("b-2", True)
    product = store.get_product("B")
    assert product is not None and product.title == "Bass guitar"
    assert store.product_pos("B") == "aim2"
    assert store.get_product("nope") is None and store.product_pos("nope") is None
    assert store.product_skus() == ["A", "B"]
    # Byte order on both backends, whatever the database's locale: upper case first.
    assert [r.unit.serial for r in store.units_of("B")] == ["B-1", "b-2"]
    assert [r.deleted for r in store.units_of("B")] == [False, True]
    assert [r.unit.serial for r in store.find_units("b-")] == ["B-1", "b-2"]
    assert [r.unit.serial for r in store.all_units()] == ["a1", "B-1", "b-2"]
    assert [r.unit.serial for r in store.all_units(limit=1)] == ["a1"]
    a1 = store.get_unit("a1")
    assert a1 is not None and a1.status == UnitStatus.SOLD and a1.deleted
    assert store.find_units("100%") == []  # a LIKE wildcard in the text is only text


def test_units_by_serials_reads_the_named_units_only(store: SQLStore) -> None:
    # 1,201 serials: three statements of IN (...) on SQLite, one = ANY(...) on PostgreSQL.
    serials = [f"S{n:04d}" for n in range(1201)]
    with store.transaction():
        for serial in serials:
            store.put_unit(_unit("BIG", serial), status=UnitStatus.IN_STOCK)
        store.put_unit(_unit("OTHER", "o-1"), status=UnitStatus.SOLD, deleted=True)
    asked = [*reversed(serials), "nope", "o-1", "S0000", ""]  # unknown, another SKU, twice
    found = store.units_by_serials(asked)
    assert [r.unit.serial for r in found] == sorted([*serials, "o-1"])
    other = found[-1]
    assert other.unit.sku == "OTHER" and other.status == UnitStatus.SOLD and other.deleted
    assert [r.unit.serial for r in store.units_by_serials({"S0007", "S1200"})] == [
        "S0007",
        "S1200",
    ]
    assert store.units_by_serials(["nope"]) == []
    assert store.units_by_serials([]) == []


def test_a_unit_read_again_is_the_one_stored_last(store: SQLStore) -> None:
    # Stored JSON is validated once per text (a publish reads a product's units often): a
    # read after a write must give the new unit, never the one parsed before.
    with store.transaction():
        store.put_product(Product(sku="B", title="Bass", price=Decimal("10")), pos="aim")
        store.put_unit(_unit("B", "b1"), status=UnitStatus.IN_STOCK)
    first = store.units_of("B")[0].unit
    assert store.units_of("B")[0].unit == first
    assert store.get_product("B") == store.get_product("B")
    with store.transaction():
        store.put_product(Product(sku="B", title="Bass II", price=Decimal("10")), pos="aim")
        store.put_unit(
            first.model_copy(update={"attributes": {"finish": "red"}}), status=UnitStatus.IN_STOCK
        )
    [again] = store.units_of("B")
    assert again.unit.attributes == {"finish": "red"} and first.attributes == {}
    product = store.get_product("B")
    assert product is not None and product.title == "Bass II"


def test_moves_and_history(store: SQLStore) -> None:
    with store.transaction():
        store.put_unit(_unit("A", "1"), status=UnitStatus.IN_STOCK)
        steps = ((UnitStatus.RESERVED, MoveBasis.TABLE), (UnitStatus.SOLD, MoveBasis.ASSERTED))
        for to, basis in steps:
            record = store.get_unit("1")
            assert record is not None
            store.record_move(
                "1",
                "A",
                Move(
                    from_status=record.status,
                    to_status=to,
                    at=T0,
                    reason=f"to {to.value}",
                    source=MoveSource.CHANNEL,
                    source_ref="shop:1",
                    basis=basis,
                ),
            )
    moves = store.history("1")
    assert [(m.from_status, m.to_status, m.basis) for m in moves] == [
        (UnitStatus.IN_STOCK, UnitStatus.RESERVED, MoveBasis.TABLE),
        (UnitStatus.RESERVED, UnitStatus.SOLD, MoveBasis.ASSERTED),
    ]
    assert moves[0].at == T0
    record = store.get_unit("1")
    assert record is not None and record.status == UnitStatus.SOLD
    assert store.counts("units", "status") == {"sold": 1}


def test_listings(store: SQLStore) -> None:
    remote = RemoteIds(product_id="p1", variant_id="v1")
    with store.transaction():
        store.put_unit(_unit("A", "1"), status=UnitStatus.IN_STOCK)
        store.put_unit(_unit("A", "2"), status=UnitStatus.SOLD)
        store.put_listing(ListingRecord("shop", "1", "A", ListingState.LIVE, "h1", remote))
        store.put_listing(ListingRecord("shop", "2", "A", ListingState.LIVE, "h2"))
        store.put_listing(
            ListingRecord(
                "other", "2", "A", ListingState.FAILED, None, None, "boom", False, attempts=3
            )
        )
    mine = store.listings_of("shop", "A")
    assert set(mine) == {"1", "2"} and mine["1"].remote == remote
    assert mine["1"].updated_at is not None
    [other, shop] = store.listings_of_unit("2")
    assert (other.connector, other.last_error, other.retryable, other.attempts) == (
        "other",
        "boom",
        False,
        3,
    )
    assert shop.connector == "shop"
    assert store.skus_to_withdraw("shop") == ["A"]  # unit 2 is sold but still live
    with store.transaction():
        store.put_listing(ListingRecord("shop", "2", "A", ListingState.WITHDRAWN))
    assert store.skus_to_withdraw("shop") == []
    assert store.counts("listings", "state", "connector = ?", ("shop",)) == {
        "live": 1,
        "withdrawn": 1,
    }


def _versions(store: SQLStore, connector: str) -> dict[str, int]:
    rows = store._all(
        "SELECT sku, version - settled AS open FROM product_changes WHERE connector = ?",
        (connector,),
    )
    return {str(r["sku"]): int(r["open"]) for r in rows}


def _follow(store: SQLStore, connector: str) -> None:
    """Make ``connector`` a channel whose products are marked, with nothing marked yet."""
    rows = store.publish_work(connector, unpriced="-", sibling_mark="-", basis="b")
    store.settle_work(connector, {row.sku: row.version for row in rows})
    assert _versions(store, connector) == dict.fromkeys(_versions(store, connector), 0)


def test_a_batch_of_listings_is_stored_and_marked_as_one_at_a_time(store: SQLStore) -> None:
    remote = RemoteIds(product_id="p1", variant_id="v1")
    with store.transaction():
        for serial, sku in (("1", "A"), ("2", "D"), ("3", "B"), ("4", "C")):
            store.put_unit(_unit(sku, serial), status=UnitStatus.IN_STOCK)
        for connector in ("batch", "single"):
            # What was there before: unit 1 as it will be written again (no mark), unit 3
            # listed under another product than its unit's (both products marked).
            store.put_listing(ListingRecord(connector, "1", "A", ListingState.LIVE, "h1", remote))
            store.put_listing(ListingRecord(connector, "3", "Z", ListingState.FAILED, "h3"))
    for connector in ("batch", "single"):
        _follow(store, connector)

    def records(connector: str) -> list[ListingRecord]:
        return [
            ListingRecord(connector, "1", "A", ListingState.LIVE, "h1", remote),
            ListingRecord(connector, "3", "Z", ListingState.LIVE, "h3", remote),
            # The same key twice: the second is compared with the first, as stored.
            ListingRecord(connector, "4", "C", ListingState.LIVE, "h4"),
            ListingRecord(connector, "4", "C", ListingState.LIVE, "h4"),
            ListingRecord(connector, "2", "D", ListingState.FAILED, None, None, "boom", False, 2),
        ]

    store.put_listings(records("batch"))
    with store.transaction():
        for record in records("single"):
            store.put_listing(record)
    store.put_listings([])  # nothing to write: nothing happens

    def kept(connector: str) -> list[ListingRecord]:
        return [
            replace(r, connector="", updated_at=None)
            for sku in ("A", "B", "C", "D", "Z")
            for r in store.listings_of(connector, sku).values()
        ]

    def marked(connector: str) -> set[str]:
        return {sku for sku, open_ in _versions(store, connector).items() if open_}

    assert kept("batch") == kept("single")
    assert len(kept("batch")) == 4
    # Unit 1 is written as it was: A is not marked. Unit 3 marks Z (its listing's product)
    # and B (its unit's), 4 marks C, 2 marks D.
    assert marked("batch") == marked("single") == {"B", "C", "D", "Z"}


def test_a_batch_larger_than_a_statement_marks_every_product(store: SQLStore) -> None:
    # More listings, and more products, than one statement carries (_CHUNK: 500).
    units = [_unit(f"P{n // 2:04}", f"S{n:04}") for n in range(1100)]
    with store.transaction():
        for unit in units:
            store.put_unit(unit, status=UnitStatus.IN_STOCK)
    _follow(store, "shop")
    store.put_listings(
        [ListingRecord("shop", u.serial, u.sku, ListingState.LIVE, "h") for u in units]
    )
    marked = {sku for sku, open_ in _versions(store, "shop").items() if open_}
    assert marked == {u.sku for u in units}
    assert len(store.listings_of("shop", "P0549")) == 2


def _first(unit: SerializedUnit, status: UnitStatus = UnitStatus.IN_STOCK) -> Move:
    return Move(
        from_status=status,
        to_status=status,
        at=T0,
        reason="first seen in the POS",
        source=MoveSource.POS,
        source_ref=f"aim:{unit.sku}",
        basis=MoveBasis.ASSERTED,
    )


def test_new_units_in_a_batch_are_stored_and_marked_as_one_at_a_time(store: SQLStore) -> None:
    _follow(store, "shop")

    def entries(p: str) -> list[tuple[SerializedUnit, str | None, Move]]:
        sold = SerializedUnit(sku=f"{p}B", serial=f"{p}-3", status=UnitStatus.SOLD)
        return [
            (_unit(f"{p}A", f"{p}-1"), "h1", _first(_unit(f"{p}A", f"{p}-1"))),
            (_unit(f"{p}A", f"{p}-2"), None, _first(_unit(f"{p}A", f"{p}-2"))),
            (sold, "h3", _first(sold, UnitStatus.SOLD)),
        ]

    store.put_units_new(entries("Q"))
    Store.put_units_new(store, entries("Z"))  # the interface's own: one unit at a time
    store.put_units_new([])  # nothing to write: nothing happens

    def kept(p: str) -> list[tuple[object, ...]]:
        return [
            (
                r.unit.model_dump_json().replace(f'"{p}', '"'),
                r.status,
                r.deleted,
                r.content_hash,
                [m.model_copy(update={"source_ref": ""}) for m in store.history(r.unit.serial)],
            )
            for r in store.units_by_serials([f"{p}-1", f"{p}-2", f"{p}-3"])
        ]

    assert kept("Q") == kept("Z")
    assert [k[1] for k in kept("Q")] == [UnitStatus.IN_STOCK, UnitStatus.IN_STOCK, UnitStatus.SOLD]
    assert [m.to_status for m in store.history("Q-3")] == [UnitStatus.SOLD]
    marked = {sku for sku, open_ in _versions(store, "shop").items() if open_}
    assert marked == {"QA", "QB", "ZA", "ZB"}


def test_a_batch_of_new_units_with_a_stored_serial_writes_nothing(store: SQLStore) -> None:
    store.put_unit(_unit("A", "1"), status=UnitStatus.IN_STOCK)
    _follow(store, "shop")
    for serials in (["2", "1"], ["3", "3"]):  # one stored already; one named twice
        batch = [(_unit("B", s), "h", _first(_unit("B", s))) for s in serials]
        with pytest.raises(StoreError):
            store.put_units_new(batch)
        assert [r.unit.serial for r in store.all_units()] == ["1"]
        assert store.history("2") == store.history("3") == []
    assert not any(_versions(store, "shop").values())


def test_quarantined_records_are_released_together(store: SQLStore) -> None:
    # More keys than one statement carries (_CHUNK: 500), one named twice, one not there.
    keys = [f"A|||{n:04}" for n in range(600)]
    for key in keys:
        store.quarantine(kind="unit", key=key, connector="aim", reason="no price")
    store.quarantine(kind="hold", key=keys[0], connector="aim", reason="held")
    store.quarantine(kind="unit", key="B|||kept", connector="aim", reason="no price")

    assert store.release_quarantines("unit", [*keys, keys[1], "A|||absent"]) == 600
    left = [(q.kind, q.key) for q in store.quarantined()]
    assert left == [("hold", keys[0]), ("unit", "B|||kept")]
    assert store.release_quarantines("unit", []) == 0


def test_product_visibility(store: SQLStore) -> None:
    remote = RemoteIds(product_id="p2", extra={"serialsync.part": "2"})
    assert store.visibility_of("shop", "A") == {}
    with store.transaction():
        store.put_visibility(VisibilityRecord("shop", "A", 1, True, RemoteIds(product_id="p1")))
        store.put_visibility(VisibilityRecord("shop", "A", 2, False, remote))
        store.put_visibility(VisibilityRecord("other", "A", 1, False, None))
    mine = store.visibility_of("shop", "A")
    assert sorted(mine) == [1, 2]
    assert (mine[2].visible, mine[2].remote, mine[2].part) == (False, remote, 2)
    assert mine[1].visible and mine[1].updated_at is not None
    with store.transaction():  # replaced, not added
        store.put_visibility(VisibilityRecord("shop", "A", 2, True, None))
    again = store.visibility_of("shop", "A")[2]
    assert (again.visible, again.remote) == (True, None)
    assert store.visibility_of("other", "A")[1].remote is None
    assert store.visibility_of("shop", "B") == {}


def test_cursors(store: SQLStore) -> None:
    with store.transaction():
        store.set_cursor("shop", "orders", "2026-11-23T09:00:00+00:00")
        store.set_cursor("shop", "orders", "2026-11-23T10:00:00+00:00")
        store.set_cursor("aim", "inventory", "x")
    assert store.get_cursor("shop", "orders") == "2026-11-23T10:00:00+00:00"
    assert store.get_cursor("shop", "inventory") is None
    assert [c[:3] for c in store.cursors()] == [
        ("aim", "inventory", "x"),
        ("shop", "orders", "2026-11-23T10:00:00+00:00"),
    ]


def test_claims(store: SQLStore) -> None:
    with store.transaction():
        store.put_claim("1", "shop", "o1")
    claim = store.get_claim("1")
    assert claim is not None and (claim.channel, claim.order_id) == ("shop", "o1")
    with store.transaction():
        store.release_claim("1", "shop", "other-order")  # held by another order: no-op
    assert store.get_claim("1") is not None
    with store.transaction():
        store.release_claim("1", "shop", "o1")
    assert store.get_claim("1") is None


def test_outbox(store: SQLStore) -> None:
    with store.transaction():
        store.put_outbox(_sale("shop", "1", OutboxState.PENDING))
        store.put_outbox(_sale("shop", "2", OutboxState.PENDING, next_attempt_at=T0))
        store.put_outbox(_sale("shop", "3", OutboxState.WAITING))
        store.put_outbox(
            _sale("shop", "1", OutboxState.REPORTED, receipt='{"r": 1}', reported_at=T0, attempts=1)
        )
    one = store.get_outbox("shop", "1")
    assert one is not None and one.state == OutboxState.REPORTED and one.receipt == '{"r": 1}'
    assert one.reported_at == T0 and one.attempts == 1 and one.created_at is not None
    assert store.get_outbox("shop", "9") is None
    assert [r.order_id for r in store.outbox()] == ["1", "2", "3"]
    assert [r.order_id for r in store.outbox(states=(OutboxState.WAITING,))] == ["3"]
    assert [r.order_id for r in store.outbox(limit=1)] == ["1"]
    assert [r.order_id for r in store.due_reports(T0 - timedelta(seconds=1))] == []
    assert [r.order_id for r in store.due_reports(T0)] == ["2"]
    assert store.counts("outbox", "state", "channel = ?", ("shop",)) == {
        "reported": 1,
        "pending": 1,
        "waiting": 1,
    }


def test_quarantine(store: SQLStore) -> None:
    for _ in range(3):
        with store.transaction():
            store.quarantine(kind="order", key="shop:1", connector="shop", reason="bad")
    with store.transaction():
        store.quarantine(kind="unit", key="X", connector="aim", reason="odd", payload="{}")
    first, second = store.quarantined()
    assert (first.count, first.reason, first.key) == (3, "bad", "shop:1")
    assert [q.key for q in store.quarantined(kind="unit")] == ["X"]
    assert store.get_quarantined(second.id) == second
    with store.transaction():
        assert store.release_quarantine("order", "shop:1") is True
        assert store.release_quarantine("order", "shop:1") is False
        assert store.drop_quarantined(second.id) is True
        assert store.drop_quarantined(second.id) is False
    assert store.quarantined() == []
    assert store.get_quarantined(second.id) is None


def test_runs(store: SQLStore) -> None:
    with store.transaction():
        first = store.start_run("inventory")
        second = store.start_run("orders")
    assert second > first
    with store.transaction():
        store.finish_run(first, ok=True, summary={"units": 3})
    newest, oldest = store.runs()
    assert (newest.id, newest.finished_at, newest.ok) == (second, None, None)
    assert oldest.ok is True and oldest.summary == {"units": 3}
    assert [r.id for r in store.runs(limit=1)] == [second]


def test_counts_refuse_a_table_not_allowed(store: SQLStore) -> None:
    with pytest.raises(ValueError, match=r"no count of meta\.key"):
        store.counts("meta", "key")


def test_read_only_opening_reads_and_writes_nothing(store_spec: StoreSpec) -> None:
    with store_spec.open() as store, store.transaction():
        store.put_unit(_unit("A", "1"), status=UnitStatus.IN_STOCK)
    with store_spec.open() as runner, store_spec.open(read_only=True) as reader:
        # A reader works while a runner holds the store.
        assert [r.unit.serial for r in reader.all_units()] == ["1"]
        assert runner.get_unit("1") is not None


def test_a_cursor_only_moves_forward(store: SQLStore) -> None:
    later = T0 + timedelta(minutes=5)
    assert store.advance_cursor("shop", "orders", later) is True
    # A worker that read less (or a clock in another zone) does not take it back.
    assert store.advance_cursor("shop", "orders", T0) is False
    earlier_elsewhere = (T0 + timedelta(minutes=1)).astimezone(timezone(timedelta(hours=9)))
    assert str(earlier_elsewhere) > str(later)  # later as text, earlier in time
    assert store.advance_cursor("shop", "orders", earlier_elsewhere) is False
    assert store.get_cursor("shop", "orders") == later.isoformat()
    assert store.advance_cursor("shop", "orders", later + timedelta(seconds=1)) is True


def test_the_registry_side_of_units(store: SQLStore) -> None:
    details = UnitDetails(lot="L7", warehouse="back", purchase_date=date(2026, 1, 2))
    hold = Hold(serial="2", status=UnitStatus.DEFECTIVE, held_by="ana", reason="cracked", at=T0)
    with store.transaction():
        store.put_unit_details("1", details)
        store.put_unit_details("1", replace(details, location="shelf 3"))
        store.put_hold(hold)
        store.set_hold_pos_status("2", UnitStatus.IN_STOCK)
    assert store.unit_details() == {"1": replace(details, location="shelf 3")}
    assert store.get_hold("2") == replace(hold, pos_status=UnitStatus.IN_STOCK)
    assert store.holds() == [replace(hold, pos_status=UnitStatus.IN_STOCK)]
    with store.transaction():
        assert store.drop_hold("2") is True
        assert store.drop_hold("2") is False
    assert store.get_hold("2") is None and store.holds() == []


def test_webhook_events_are_remembered_across_reopening_and_forgotten_by_age(
    store_spec: StoreSpec,
) -> None:
    with store_spec.open() as store:
        assert store.first_delivery("shopify", "ev-1", T0)
        assert not store.first_delivery("shopify", "ev-1", T0 + timedelta(minutes=5))
        assert store.first_delivery("woocommerce", "ev-1", T0)  # per connector
        assert store.first_delivery("shopify", "ev-2", T0 + timedelta(days=2))
    with store_spec.open() as store:  # a restart: still a replay
        assert not store.first_delivery("shopify", "ev-1", T0 + timedelta(hours=1))
        assert store.forget_deliveries(T0 + timedelta(days=1)) == 2
        assert store.first_delivery("shopify", "ev-1", T0 + timedelta(days=3))
        assert not store.first_delivery("shopify", "ev-2", T0 + timedelta(days=3))


def test_oversell_windows_open_close_once_and_go_with_a_released_claim(store: SQLStore) -> None:
    placed = T0 - timedelta(seconds=3)
    with store.transaction():
        store.open_sale_window("shop", "o1", "1", placed_at=placed, claimed_at=T0)
        # Opened again (the order read twice): the first opening stands.
        store.open_sale_window("shop", "o1", "1", placed_at=T0, claimed_at=T0 + timedelta(hours=1))
        store.open_sale_window("shop", "o2", "2", placed_at=T0, claimed_at=T0 + timedelta(1))
        store.open_sale_window("web", "o3", "3", placed_at=T0, claimed_at=T0 + timedelta(2))
    [one] = store.open_sale_windows("1")
    assert (one.placed_at, one.claimed_at, one.closed_at, one.seconds) == (placed, T0, None, None)
    with store.transaction():
        assert store.close_sale_window("shop", "o1", "1", T0 + timedelta(seconds=2))
        assert not store.close_sale_window("shop", "o1", "1", T0 + timedelta(seconds=9))
        store.release_claim("2", "shop", "o2")  # let go while open: nothing to time
        store.release_claim("1", "shop", "o1")  # closed already: its window stays on record
    assert store.open_sale_windows("1") == []
    windows = store.sale_windows()
    assert [(w.order_id, w.seconds) for w in windows] == [("o1", 5.0), ("o3", None)]
    assert [w.order_id for w in store.sale_windows(limit=1)] == ["o3"]


def test_a_one_time_login_is_spent_once_and_not_after_it_expires(store: SQLStore) -> None:
    from serialsync.store import PanelLogin

    later = T0 + timedelta(hours=1)
    with store.transaction():
        store.put_panel_login(PanelLogin("h1", "demo", created_at=T0, expires_at=later))
        store.put_panel_login(PanelLogin("h2", "demo", created_at=T0, expires_at=later))
    assert "h1" not in repr(store.get_panel_login("h1"))
    spent = store.spend_panel_login("h1", T0 + timedelta(minutes=1))
    assert spent is not None and spent.name == "demo"
    assert spent.used_at == T0 + timedelta(minutes=1)
    assert store.spend_panel_login("h1", T0 + timedelta(minutes=2)) is None  # spent
    assert store.spend_panel_login("h2", later) is None  # expired at that instant
    assert store.spend_panel_login("nope", T0) is None
    unspent = store.get_panel_login("h2")
    assert unspent is not None and unspent.used_at is None


def test_listings_and_visibility_are_read_for_many_units_and_products_at_once(
    store: SQLStore,
) -> None:
    # More serials and products than one statement carries (_CHUNK: 500).
    units = [_unit(f"P{n // 2:04}", f"S{n:04}") for n in range(1100)]
    with store.transaction():
        for unit in units:
            store.put_unit(unit, status=UnitStatus.IN_STOCK)
    store.put_listings(
        [ListingRecord("shop", u.serial, u.sku, ListingState.LIVE, "h") for u in units]
        + [ListingRecord("web", u.serial, u.sku, ListingState.WITHDRAWN) for u in units[::3]]
    )
    with store.transaction():
        for sku in ("P0000", "P0549"):
            store.put_visibility(VisibilityRecord("shop", sku, 1, False, None))
            store.put_visibility(VisibilityRecord("shop", sku, 2, True, None))
        store.put_visibility(VisibilityRecord("web", "P0001", 1, False, None))
    serials = [u.serial for u in units] + ["S0001", "nowhere"]  # one twice, one not listed
    expected = [li for serial in sorted(set(serials)) for li in store.listings_of_unit(serial)]
    assert len(expected) == 1100 + 367
    assert store.listings_of_units(serials) == expected
    assert Store.listings_of_units(store, serials) == expected  # the default, one at a time
    assert store.listings_of_units([]) == []

    skus = [*sorted({u.sku for u in units}), "P0000", "Q"]  # one twice, one without listings
    by_sku = store.listings_of_skus("web", skus)
    assert len(by_sku) == 367  # a product without a listing on the channel is left out
    assert by_sku == {sku: store.listings_of("web", sku) for sku in by_sku}
    assert by_sku == Store.listings_of_skus(store, "web", skus)
    assert len(store.listings_of_skus("shop", skus)) == 550

    shown = store.visibility_of_skus("shop", skus)
    assert shown == {sku: store.visibility_of("shop", sku) for sku in ("P0000", "P0549")}
    assert shown == Store.visibility_of_skus(store, "shop", skus)
    assert store.visibility_of_skus("web", skus) == {"P0001": store.visibility_of("web", "P0001")}
    assert store.visibility_of_skus("shop", []) == {}


def test_products_and_their_units_are_read_for_many_skus_at_once(store: SQLStore) -> None:
    # More products than one statement carries (_CHUNK: 500), two units each.
    units = [_unit(f"P{n // 2:04}", f"S{n:04}") for n in range(1100)]
    with store.transaction():
        for unit in units:
            store.put_unit(unit, status=UnitStatus.IN_STOCK)
        for n in range(0, 550, 2):  # every other product described
            store.put_product(
                Product(sku=f"P{n:04}", title=f"Item {n}", price=Decimal(n)), pos="aim"
            )
    skus = [*sorted({u.sku for u in units}), "P0000", "Q"]  # one twice, one unknown

    products = store.products_of(skus)
    assert sorted(products) == [f"P{n:04}" for n in range(0, 550, 2)]
    assert products == {sku: store.get_product(sku) for sku in products}
    assert products == Store.products_of(store, skus)  # the default, one at a time

    by_sku = store.units_of_skus(skus)
    assert len(by_sku) == 550  # "Q" has no units: left out
    assert by_sku == {sku: store.units_of(sku) for sku in by_sku}
    assert by_sku == Store.units_of_skus(store, skus)
    assert store.products_of([]) == {} and store.units_of_skus([]) == {}


def test_units_to_plan_leaves_out_only_units_in_stock_live_with_their_own_current_hash(
    store: SQLStore,
) -> None:
    units = [_unit(f"P{n // 4:04}", f"S{n:04}") for n in range(2400)]  # over one statement
    sold = {u.serial for u in units[1::4]}
    gone = {u.serial for u in units[2::8]}
    with store.transaction():
        for unit in units:
            status = UnitStatus.SOLD if unit.serial in sold else UnitStatus.IN_STOCK
            store.put_unit(unit, status=status)
        for serial in gone:
            store.set_unit_deleted(serial, True)
    hashes = {u.serial: "g1:same" for u in units}
    hashes["S0003"] = "g0:old"  # an earlier release's hash: planned again
    hashes["S0007"] = "unpriced"
    del hashes["S0027"]  # no hash recorded
    store.set_unit_hashes(hashes)
    listed = [ListingRecord("shop", u.serial, u.sku, ListingState.LIVE, "g1:same") for u in units]
    listed[11] = ListingRecord("shop", "S0011", "P0002", ListingState.LIVE, "g1:other")
    listed[15] = ListingRecord("shop", "S0015", "P0003", ListingState.FAILED, "g1:same")
    listed[23] = ListingRecord("shop", "S0023", "P0005", ListingState.LIVE)  # hash forgotten
    del listed[19]  # S0019 never listed
    store.put_listings(listed)
    skus = [*sorted({u.sku for u in units}), "Q"]

    planned = store.units_to_plan("shop", skus, hash_prefix="g1:")
    assert planned == Store.units_to_plan(store, "shop", skus, hash_prefix="g1:")
    serials = {u.unit.serial for found in planned.values() for u in found}
    expected = sold | gone | {"S0003", "S0007", "S0011", "S0015", "S0019", "S0023", "S0027"}
    assert serials == expected
    assert all(found == sorted(found, key=lambda u: u.unit.serial) for found in planned.values())
    # On a channel where nothing is listed, every unit may change.
    assert sum(map(len, store.units_to_plan("web", skus, hash_prefix="g1:").values())) == 2400
    with pytest.raises(ValueError, match="wildcard"):
        store.units_to_plan("shop", skus, hash_prefix="g_:")


def test_many_oversell_windows_are_read_and_closed_at_once(store: SQLStore) -> None:
    serials = [f"S{n:04}" for n in range(1100)]  # more than one statement carries
    with store.transaction():
        for n, serial in enumerate(serials):
            store.open_sale_window("shop", f"o{n}", serial, placed_at=T0, claimed_at=T0)
        # Several windows on one unit (two orders of two channels claimed it), one closed.
        store.open_sale_window("web", "w1", "S0007", placed_at=T0, claimed_at=T0)
        store.open_sale_window("mall", "m1", "S0007", placed_at=T0, claimed_at=T0)
        store.close_sale_window("mall", "m1", "S0007", T0)
    wanted = [*serials[:1050], "S0007", "nowhere"]
    windows = store.open_sale_windows_of(wanted)
    expected = [w for serial in sorted(set(wanted)) for w in store.open_sale_windows(serial)]
    assert len(windows) == 1051 and sorted(windows, key=_window_key) == sorted(
        expected, key=_window_key
    )
    assert Store.open_sale_windows_of(store, wanted) == expected
    assert {(w.channel, w.order_id) for w in windows if w.serial == "S0007"} == {
        ("shop", "o7"),
        ("web", "w1"),
    }

    later = T0 + timedelta(seconds=4)
    closing = [w for w in windows if w.channel == "shop"] + [windows[0]]  # one named twice
    [mall] = [w for w in store.sale_windows(limit=2000) if w.channel == "mall"]
    with store.transaction():
        assert store.close_sale_windows([*closing, mall], later) == 1050  # mall's was closed
    assert store.close_sale_windows([], later) == 0
    left = store.open_sale_windows_of(serials)
    assert {(w.channel, w.serial) for w in left} == {("web", "S0007")} | {
        ("shop", serial) for serial in serials[1050:]
    }
    closed = {(w.channel, w.serial): w for w in store.sale_windows(limit=2000)}
    assert closed[("shop", "S0000")].seconds == 4.0
    assert closed[("mall", "S0007")].closed_at == T0  # closed before: left as it was
    # The default, window by window, counts the same way.
    rest = [w for w in left if w.channel == "shop"]
    with store.transaction():
        assert Store.close_sale_windows(store, [*rest, rest[0]], later) == 50
        assert Store.close_sale_windows(store, rest, later) == 0
    assert [(w.channel, w.serial) for w in store.open_sale_windows_of(serials)] == [
        ("web", "S0007")
    ]


def _window_key(window: SaleWindow) -> tuple[str, str, str]:
    return (window.serial, window.channel, window.order_id)

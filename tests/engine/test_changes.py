"""Plan from changes (issue 22 #1, schema 10): a product is marked for a channel by every write
that can change its work there, and stays marked until a look finds it without work; on both
store backends.

The property test drives a store with random writes (units stored, moved, deleted, hashed,
claimed, listed one at a time or several at once, their products changed, references assigned,
visibility remembered) mixed with a channel's look
(:func:`~serialsync.engine.selection.select_work`'s rule: the products without work unmarked),
and checks after every step against an oracle that reads every product the slow way: a product
with work is never left unmarked, and a look right after a look finds nothing without work."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serialsync.engine.hashing import UNPRICED
from serialsync.engine.selection import has_work
from serialsync.engine.siblings import PART_KEY
from serialsync.lifecycle import Move, MoveSource, UnitStatus
from serialsync.model import Product, RemoteIds, SerializedUnit
from serialsync.store import ListingRecord, ListingState, RefGroup, VisibilityRecord
from serialsync.store.sql import SQLStore, utcnow

from tests.engine.conftest import World, build_world
from tests.stores import StoreSpec

SKUS = ["P0", "P1"]
SERIALS = ["S0", "S1", "S2"]
CHANNELS = ["c1", "c2"]
HASHES = [None, "g1:a.b.c", "g1:a.b.d", UNPRICED]
MARK = f'"{PART_KEY}"'
#: The two selection rules a channel may be followed on (visibility settled, or not).
BASES = {"v1": True, "v0": False}

_serial = st.sampled_from(SERIALS)
_sku = st.sampled_from(SKUS)
_channel = st.sampled_from(CHANNELS)
_hash = st.sampled_from(HASHES)
_status = st.sampled_from(list(UnitStatus))
_remote = st.sampled_from(
    [
        None,
        RemoteIds(product_id="10", variant_id="1"),
        RemoteIds(product_id="11", variant_id="2", extra={PART_KEY: "2"}),
    ]
)

_LISTING = st.tuples(
    _channel,
    _serial,
    _sku,
    st.sampled_from(list(ListingState)),
    _hash,
    _remote,
    st.booleans(),
)

_OPS = st.one_of(
    st.tuples(st.just("unit"), _serial, _sku, _status, st.booleans(), _hash),
    st.tuples(st.just("deleted"), _serial, st.booleans()),
    st.tuples(st.just("move"), _serial, _status),
    st.tuples(st.just("hash"), _serial, _hash.filter(lambda h: h is not None)),
    st.tuples(st.just("product"), _sku, st.sampled_from(["Guitar", "Bass"])),
    _LISTING.map(lambda fields: ("listing", *fields)),
    # Several at once (Store.put_listings, as a publish records a call), keys may repeat.
    st.tuples(st.just("listings"), st.lists(_LISTING, min_size=1, max_size=4)),
    st.tuples(st.just("visibility"), _channel, _sku, st.booleans(), _remote),
    st.tuples(st.just("claim"), _serial),
    st.tuples(st.just("release"), _serial),
    st.tuples(st.just("ref"), st.sampled_from(["AAA", "AAB"]), _serial),
    st.tuples(st.just("unref"), st.sampled_from(["AAA", "AAB"])),
    st.tuples(st.just("look"), _channel, st.sampled_from(sorted(BASES))),
)


def _empty(store: SQLStore) -> None:
    with store.transaction():
        for table in (
            "units",
            "products",
            "listings",
            "claims",
            "product_visibility",
            "product_changes",
            "change_channels",
            "refs",
            "ref_groups",
        ):
            store._exec(f"DELETE FROM {table}")  # noqa: S608 - fixed names
        store.put_ref_group(RefGroup("g", "continuous", 10, "AB", 3, utcnow()))
        store.add_refs("g", None, ["AAA", "AAB"])


def _apply(store: SQLStore, op: tuple[object, ...], followed: dict[str, str]) -> None:
    kind = op[0]
    if kind == "unit":
        _, serial, sku, status, deleted, digest = op
        assert isinstance(serial, str) and isinstance(sku, str)
        assert isinstance(status, UnitStatus) and isinstance(deleted, bool)
        unit = SerializedUnit(sku=sku, serial=serial, status=status, price=Decimal("10"))
        store.put_unit(unit, status=status, deleted=deleted, content_hash=digest)  # type: ignore[arg-type]
    elif kind == "deleted" and store.get_unit(str(op[1])):
        store.set_unit_deleted(str(op[1]), bool(op[2]))
    elif kind == "move" and (record := store.get_unit(str(op[1]))) is not None:
        assert isinstance(op[2], UnitStatus)
        move = Move(
            from_status=record.status,
            to_status=op[2],
            at=utcnow(),
            reason="test",
            source=MoveSource.CHANNEL,
            source_ref="t",
        )
        store.record_move(record.unit.serial, record.unit.sku, move)
    elif kind == "hash" and store.get_unit(str(op[1])):
        store.set_unit_hashes({str(op[1]): str(op[2])})
    elif kind == "product":
        product = Product(sku=str(op[1]), title=str(op[2]), price=Decimal("10"))
        store.put_product(product, pos="aim")
    elif kind == "listing":
        store.put_listing(_listing(op[1:]))
    elif kind == "listings":
        assert isinstance(op[1], list)
        store.put_listings([_listing(fields) for fields in op[1]])
    elif kind == "visibility":
        _, channel, sku, visible, remote = op
        store.put_visibility(VisibilityRecord(str(channel), str(sku), 1, bool(visible), remote))  # type: ignore[arg-type]
    elif kind == "claim" and store.get_unit(str(op[1])) and store.get_claim(str(op[1])) is None:
        store.put_claim(str(op[1]), "c1", "order-1")
    elif kind == "release" and (claim := store.get_claim(str(op[1]))) is not None:
        store.release_claim(claim.serial, claim.channel, claim.order_id)
    elif kind == "ref" and store.get_unit(str(op[2])):
        ref = store.get_ref(str(op[1]))
        if ref is not None and not ref.deleted and store.ref_of_unit(str(op[2])) is None:
            with store.transaction():
                store.assign_ref(str(op[1]), str(op[2]))
    elif kind == "unref":
        with store.transaction():
            store.delete_ref(str(op[1]))
    elif kind == "look":
        channel, basis = str(op[1]), str(op[2])
        _look(store, channel, basis)
        followed[channel] = basis


def _listing(fields: tuple[object, ...]) -> ListingRecord:
    channel, serial, sku, state, digest, remote, retryable = fields
    return ListingRecord(
        connector=str(channel),
        serial=str(serial),
        sku=str(sku),
        state=state,  # type: ignore[arg-type]
        content_hash=digest,  # type: ignore[arg-type]
        remote=remote,  # type: ignore[arg-type]
        retryable=bool(retryable),
    )


def _look(store: SQLStore, channel: str, basis: str) -> list[str]:
    """What select_work does: read the marked products, unmark those without work."""
    busy, idle = [], {}
    for row in store.publish_work(channel, unpriced=UNPRICED, sibling_mark=MARK, basis=basis):
        if has_work(row, settles=BASES[basis], sold_out="hide"):
            busy.append(row.sku)
        else:
            idle[row.sku] = row.version
    store.settle_work(channel, idle)
    return busy


def _work_the_slow_way(store: SQLStore, channel: str, sku: str, settles: bool) -> bool:
    """The oracle: the product's work on the channel, from every unit and listing it has."""
    todo = siblings = for_sale = named = False
    for record in store.units_of(sku):
        serial = record.unit.serial
        listing = next((x for x in store.listings_of_unit(serial) if x.connector == channel), None)
        if listing is not None and listing.remote is not None:
            named = True
            siblings |= PART_KEY in listing.remote.extra
        if listing is not None:
            for_sale |= listing.state == ListingState.LIVE or (
                listing.state == ListingState.FAILED and listing.remote is not None
            )
        digest = record.content_hash
        if record.status == UnitStatus.IN_STOCK and not record.deleted and digest != UNPRICED:
            settled = listing is not None and (
                listing.state == ListingState.LIVE
                or (listing.state == ListingState.FAILED and not listing.retryable)
            )
            if digest is None or listing is None or listing.content_hash != digest or not settled:
                todo = True
        elif listing is None:
            todo |= record.status != UnitStatus.IN_STOCK and store.get_claim(serial) is not None
        elif listing.state == ListingState.WITHDRAWN or (
            listing.state == ListingState.FAILED
            and listing.remote is None
            and not listing.retryable
        ):
            pass
        else:
            todo = True
    if todo or siblings:
        return True
    if not settles:
        return False
    shown = [v.visible for v in store.visibility_of(channel, sku).values() if v.remote is not None]
    if not shown:
        return named
    wanted = int(for_sale)
    return (min(shown), max(shown)) != (wanted, wanted)


def _withdrawals_the_slow_way(store: SQLStore, channel: str) -> set[str]:
    """The products with a unit not for sale that the channel may still sell (a listing not
    withdrawn, and not refused for good at its creation: plan_changes leaves that one)."""
    due = set()
    for record in store.all_units():
        listing = store.listings_of(channel, record.unit.sku).get(record.unit.serial)
        if (record.status == UnitStatus.IN_STOCK and not record.deleted) or listing is None:
            continue
        if listing.state == ListingState.WITHDRAWN or (
            listing.state == ListingState.FAILED
            and listing.remote is None
            and not listing.retryable
        ):
            continue
        due.add(record.unit.sku)
    return due


def _marked(store: SQLStore, channel: str) -> set[str]:
    rows = store._all(
        "SELECT sku FROM product_changes WHERE connector = ? AND settled != version", (channel,)
    )
    return {str(r["sku"]) for r in rows}


def test_a_change_is_never_missed(store: SQLStore, store_spec: StoreSpec) -> None:
    # Many short sequences find the orders of writes and looks that matter; PostgreSQL's
    # round trips make its share smaller.
    examples = 400 if store_spec.backend == "sqlite" else 80

    @settings(max_examples=examples, suppress_health_check=[HealthCheck.too_slow])
    @given(ops=st.lists(_OPS, min_size=4, max_size=30), settle=st.booleans())
    def writes_and_looks(ops: list[tuple[object, ...]], settle: bool) -> None:
        _empty(store)
        followed: dict[str, str] = {}
        for op in ops:
            _apply(store, op, followed)
            for channel, basis in followed.items():
                _check(store, channel, basis, op)
                if settle:
                    # Every write then meets a channel with nothing marked but its work.
                    _look(store, channel, basis)
        for channel, basis in followed.items():
            _look(store, channel, basis)
            # A look right after a look: every product it reads has work.
            busy = _look(store, channel, basis)
            assert set(busy) == _marked(store, channel)

    writes_and_looks()


def _check(store: SQLStore, channel: str, basis: str, op: tuple[object, ...]) -> None:
    marked = _marked(store, channel)
    for sku in {r.unit.sku for r in store.all_units()}:
        if _work_the_slow_way(store, channel, sku, BASES[basis]):
            assert sku in marked, (channel, sku, op)
    # Every withdrawal due is among the products the order loop looks at.
    withdrawing = set(store.skus_to_withdraw(channel))
    for sku in _withdrawals_the_slow_way(store, channel):
        assert sku in withdrawing, (channel, sku, op)


def test_a_quiet_look_reads_no_product(store: SQLStore) -> None:
    _empty(store)
    unit = SerializedUnit(sku="P0", serial="S0", status=UnitStatus.IN_STOCK, price=Decimal("1"))
    store.put_unit(unit, status=UnitStatus.IN_STOCK, content_hash="g1:a.b.c")
    assert _look(store, "c1", "v0") == ["P0"]  # a channel seen first: every product
    store.put_listing(
        ListingRecord("c1", "S0", "P0", ListingState.LIVE, "g1:a.b.c", RemoteIds(product_id="1"))
    )
    assert _look(store, "c1", "v0") == []  # looked at once more: settled, unmarked

    assert store.publish_work("c1", unpriced=UNPRICED, sibling_mark=MARK, basis="v0") == []
    assert store.sellable_units(unpriced=UNPRICED) == 1
    # The same unit stored again as it was (a POS read whole) marks nothing.
    store.put_unit(unit, status=UnitStatus.IN_STOCK, content_hash="g1:a.b.c")
    assert _marked(store, "c1") == set()
    # Another basis (the selection rules changed) marks every product once.
    assert _look(store, "c1", "v1") == ["P0"]  # named, visibility never remembered
    assert _marked(store, "c1") == {"P0"}


def test_a_settle_loses_to_a_write_made_since_the_read(store: SQLStore) -> None:
    _empty(store)
    unit = SerializedUnit(sku="P0", serial="S0", status=UnitStatus.IN_STOCK, price=Decimal("1"))
    store.put_unit(unit, status=UnitStatus.SOLD, content_hash="g1:a.b.c")
    [row] = store.publish_work("c1", unpriced=UNPRICED, sibling_mark=MARK)
    assert row.todo == 0
    store.put_claim("S0", "c2", "order-9")  # after the read: the product is marked again
    assert store.settle_work("c1", {row.sku: row.version}) == 0
    assert _marked(store, "c1") == {"P0"}


@pytest.fixture
def world(tmp_path: Path, store_spec: StoreSpec) -> Iterator[World]:
    w = build_world(tmp_path, spec=store_spec)
    w.pos.add_product("A", ["US1", "US2", "US3"])
    w.pos.add_product("B", ["MX1", "MX2"], price="1499.00")
    yield w
    w.host.store.close()


def test_a_quiet_cycle_looks_at_no_product(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.host.inventory_pass()
    world.host.order_pass()
    looked: Counter[str] = Counter()
    publish_work = world.store.publish_work

    def counting(connector: str, **kw: object) -> list:  # type: ignore[type-arg]
        rows = publish_work(connector, **kw)  # type: ignore[arg-type]
        looked.update(r.sku for r in rows)
        return rows

    monkeypatch.setattr(world.store, "publish_work", counting)

    inventory = world.host.inventory_pass()
    orders = world.host.order_pass()

    assert looked == Counter()  # not one product's units aggregated, on either channel
    assert world.store.skus_to_withdraw("shop_a") == []
    assert inventory.counts("shop_a").unchanged == 5
    assert inventory.ok and orders.ok
    # A sale in the POS: its product alone, and settled by the pass that withdraws it.
    world.pos.set_unit("B", "MX1", status="sold")
    world.host.inventory_pass()
    assert set(looked) == {"B"}
    assert "B|||MX1" not in world.a.live()
    looked.clear()
    world.host.inventory_pass()
    assert looked == Counter()


def test_a_whole_read_of_an_unchanged_catalogue_writes_no_unit(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.host.inventory_pass()
    written: list[str] = []
    put_unit = world.store.put_unit

    def counting(unit: SerializedUnit, **kw: object) -> None:
        written.append(unit.serial)
        put_unit(unit, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(world.store, "put_unit", counting)

    summary = world.host.inventory_pass(full=True)

    assert summary.counts("aim").units_in == 5  # every unit read again
    assert written == []  # none hashed or written again
    # A unit the POS changed is stored (and its move recorded) as before.
    world.pos.set_unit("A", "US2", price=Decimal("12.50"))
    world.pos.set_unit("B", "MX1", status="sold")
    world.host.inventory_pass(full=True)
    assert sorted(written) == ["MX1", "US2"]  # the two the POS changed, alone
    assert world.store.get_unit("MX1").status == UnitStatus.SOLD  # type: ignore[union-attr]
    assert "B|||MX1" not in world.a.live()
    [sent] = [c for c in world.a.received if c.unit.serial == "US2" and c.unit.price]
    assert sent.unit.price == Decimal("12.50")

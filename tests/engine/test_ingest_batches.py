"""A POS page's units are stored a product at a time (new units written together): the store
ends exactly as it did when every unit was stored one after the other."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from serialsync.engine import inventory
from serialsync.engine.context import EngineContext
from serialsync.engine.summary import PassSummary
from serialsync.errors import InvalidRecordError
from serialsync.lifecycle import UnitStatus
from serialsync.model import InventoryPage, Product, SerializedUnit, UnreadableRecord
from serialsync.store.records import Hold

from tests.engine.conftest import World, build_world
from tests.stores import StoreSpec, new_spec


def _unit(sku: str, serial: str, **fields: Any) -> SerializedUnit:
    return SerializedUnit(sku=sku, serial=serial, **fields)


def _product(sku: str, *units: SerializedUnit, price: str = "100.00") -> Product:
    return Product(sku=sku, title=f"Guitar {sku}", price=Decimal(price), units=units)


def _before() -> InventoryPage:
    return InventoryPage(
        products=(
            _product(
                "P1",
                _unit("P1", "S1"),
                _unit("P1", "S2"),
                _unit("P1", "S3"),
                _unit("P1", "HELD"),
            ),
        )
    )


def _mixed() -> InventoryPage:
    return InventoryPage(
        products=(
            _product(
                "P1",
                _unit("P1", "N1"),  # new
                _unit("P1", "S1", price=Decimal("90.00")),  # changed
                _unit("P1", "S2", status=UnitStatus.SOLD),  # sold in the POS
                _unit("P1", "S3"),  # read again as stored
                _unit("P1", "HELD", status=UnitStatus.SOLD),  # held by an operator
                _unit("P1", "N2"),  # new, then again in the same product, changed
                _unit("P1", "N2", price=Decimal("80.00")),
                _unit("P1", "PIPE|SERIAL"),  # invalid
                _unit("P9", "ELSEWHERE"),  # under another product than its own
                _unit("P1", "N3"),  # new after the invalid ones
                _unit("P1", " PADDED"),  # invalid
                _unit("P1", "ELSEWHERE"),  # the key of an invalid one, now new and valid
                _unit("P1", "N4"),
                # New and valid, then the same quarantine key (the surrogate escaped) invalid:
                # the second's quarantine stands.
                _unit("P1", "\\ud800"),
                _unit("P1", "\ud800"),
            ),
            _product("P2", _unit("P2", "N5"), _unit("P2", "S1"), _unit("P2", "N1")),  # dups
            _product("P3", _unit("P3", "N6")),  # its refused record put right
            _product("P4", _unit("P4", "N7"), price="0"),  # new and unpriced
            _product("BAD SKU|", _unit("BAD SKU|", "N8")),  # invalid SKU
        ),
        unreadable=(UnreadableRecord(key="P5", reason="no serial field", payload="{}"),),
    )


def _one_at_a_time(ctx: EngineContext, summary: PassSummary, pos: str, product: Product) -> None:
    """The ingest before batching: each unit stored on its own."""
    refs = ctx.store.refs_of_sku(product.sku)
    for unit in product.units:
        summary.counts(pos).units_in += 1
        try:
            inventory.ingest_unit(ctx, summary, pos, product, unit, refs)
        except InvalidRecordError as exc:
            inventory._quarantine_unit(ctx, summary, pos, product, unit, str(exc))


def _ingest(world: World, page: InventoryPage) -> PassSummary:
    ctx = world.host.engine
    summary = PassSummary(kind="inventory", started_at=world.clock[0])
    with world.store.transaction():
        inventory.ingest_page(ctx, summary, "aim", page)
    world.advance(minutes=1)
    return summary


def _state(world: World) -> dict[str, Any]:
    store = world.store
    return {
        "units": [
            (r.unit, r.status, r.deleted, r.content_hash, store.history(r.unit.serial))
            for r in store.all_units()
        ],
        "quarantine": [
            (q.kind, q.key, q.connector, q.reason, q.payload, q.count) for q in store.quarantined()
        ],
        "hold": store.get_hold("HELD"),
    }


def _world(path: Path, spec: StoreSpec) -> World:
    world = build_world(path, spec=spec)
    _ingest(world, _before())
    store = world.store
    store.quarantine(kind="unit", key="P3|||N6", connector="aim", reason="refused before")
    store.quarantine(kind="unit", key="P1|||N3", connector="aim", reason="refused before")
    store.put_hold(Hold("HELD", UnitStatus.IN_STOCK, "ann", "on the wall", world.clock[0]))
    return world


def test_a_mixed_page_ends_as_unit_by_unit(
    tmp_path: Path,
    store_spec: StoreSpec,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batched = _world(tmp_path, store_spec)
    (tmp_path / "single").mkdir()
    single = _world(tmp_path, new_spec(store_spec.backend, tmp_path / "single", request))

    got = _ingest(batched, _mixed())
    with monkeypatch.context() as patch:
        patch.setattr(inventory, "_ingest_units", _one_at_a_time)
        want = _ingest(single, _mixed())

    assert _state(batched) == _state(single)
    assert got.counts("aim") == want.counts("aim")
    # What the page did, so that the comparison is not of two empty stores.
    state = _state(batched)
    reasons = {key: reason for kind, key, _, reason, _, _ in state["quarantine"]}
    assert "'|'" in reasons["P1|||PIPE|SERIAL"]
    assert "whitespace" in reasons["P1||| PADDED"]
    assert "unpaired surrogate" in reasons["P1|||\\ud800"]
    assert "already belongs to SKU 'P1'" in reasons["P2|||S1"]
    assert "already belongs to SKU 'P1'" in reasons["P2|||N1"]
    assert "P4|||N7" in reasons and "BAD SKU||||N8" in reasons and "aim:P5" in reasons
    # Released once stored: refused in an earlier page, or earlier in this one.
    assert not {"P3|||N6", "P1|||N3", "P1|||ELSEWHERE"} & set(reasons)
    units = {u.serial: (u, status) for u, status, _, _, _ in state["units"]}
    assert set(units) == {
        *("S1", "S2", "S3", "HELD", "ELSEWHERE"),
        *("N1", "N2", "N3", "N4", "N5", "N6", "N7", "\\ud800"),
    }
    assert units["N2"][0].price == Decimal("80.00")
    assert units["S2"][1] == UnitStatus.SOLD and units["HELD"][1] == UnitStatus.IN_STOCK
    assert got.counts("aim").units_in == 21

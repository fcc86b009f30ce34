"""Lifecycle moves are never invented, and the audit of stored histories can go red.

Issue 15 #7: the POS's word is recorded as one move marked asserted, never padded with steps
the unit did not take; a sale cancelled before it was reported is one move back, marked as the
reversal of serialsync's own claim, not an invented return. #15: the audit
(:mod:`tests.history`) fails on a history that bypasses the table.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from serialsync import FinancialStatus, RetryableRemoteError
from serialsync.lifecycle import Move, MoveBasis, MoveSource, UnitStatus

from tests.engine.conftest import World, build_world
from tests.history import assert_history_follows_the_lifecycle, history_problems

GUITAR = "0113942719|||US210033734"
WHEN = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


def _moves(world: World, serial: str) -> list[tuple[str, str, str]]:
    return [
        (m.from_status.value, m.to_status.value, m.basis.value) for m in world.store.history(serial)
    ]


@pytest.mark.parametrize("status", ["defective", "returned", "sold", "reserved"])
def test_a_status_the_pos_reports_is_one_asserted_move(world: World, status: str) -> None:
    world.host.inventory_pass()
    world.pos.set_unit("0113942719", "US210033735", status=status)

    world.host.inventory_pass()

    assert _moves(world, "US210033735") == [
        ("in_stock", "in_stock", "asserted"),  # first seen in the POS
        ("in_stock", status, "asserted"),  # no invented sale on the way to defective
    ]
    last = world.store.history("US210033735")[-1]
    assert last.source is MoveSource.POS and last.asserted


def test_a_defective_unit_back_in_stock_is_one_move(world: World) -> None:
    world.pos.set_unit("0113942719", "US210033735", status="sold")
    world.host.inventory_pass()
    world.pos.set_unit("0113942719", "US210033735", status="in_stock")

    world.host.inventory_pass()

    # Not sold -> returned -> in_stock: the POS said in stock, nothing about a return.
    assert _moves(world, "US210033735")[1:] == [("sold", "in_stock", "asserted")]


def test_a_sale_cancelled_before_it_was_reported_is_one_reversal(world: World) -> None:
    world.host.inventory_pass()
    world.pos.report_failures.append(RetryableRemoteError("AIM is down"))
    order_id = world.a.place_order([(GUITAR, 1)])
    world.host.order_pass()
    world.a.set_order_status(order_id, FinancialStatus.CANCELLED)
    world.advance(hours=2)

    world.host.order_pass()

    assert _moves(world, "US210033734")[1:] == [
        ("in_stock", "sold", "table"),
        ("sold", "in_stock", "reversal"),  # not sold -> returned -> in_stock
    ]
    reversal = world.store.history("US210033734")[-1]
    assert reversal.source_ref == f"shop_a:order/{order_id}"


def test_a_reservation_cancelled_is_one_move_the_table_allows(world: World) -> None:
    world.host.inventory_pass()
    order_id = world.b.place_order([(GUITAR, 1)], status=FinancialStatus.PENDING)
    world.host.order_pass()
    world.b.set_order_status(order_id, FinancialStatus.CANCELLED)

    world.host.order_pass()

    assert _moves(world, "US210033734")[1:] == [
        ("in_stock", "reserved", "table"),
        ("reserved", "in_stock", "table"),
    ]


def test_a_cancelled_reservation_leaves_a_unit_the_pos_sold_meanwhile_sold(
    world: World,
) -> None:
    world.host.inventory_pass()
    order_id = world.b.place_order([(GUITAR, 1)], status=FinancialStatus.PENDING)
    world.host.order_pass()
    world.pos.set_unit("0113942719", "US210033734", status="sold")  # sold at the counter
    world.host.inventory_pass()
    world.b.set_order_status(order_id, FinancialStatus.CANCELLED)

    world.host.order_pass()

    # The web order takes back only its own claim; the POS's sale stands, nothing relisted.
    assert world.store.get_unit("US210033734").status == UnitStatus.SOLD  # type: ignore[union-attr]
    assert GUITAR not in world.a.live() | world.b.live()


# -- the audit ---------------------------------------------------------------------------------


def test_the_audit_passes_a_real_history(world: World) -> None:
    world.host.inventory_pass()
    world.a.place_order([(GUITAR, 1)])
    world.host.order_pass()
    world.pos.set_unit("0113942719", "US210033735", status="defective")
    world.host.inventory_pass()

    assert history_problems(world.store) == []


@pytest.fixture
def broken(tmp_path: Path) -> Iterator[World]:
    """A world outside the ``world`` fixture, whose own audit these tests would trip."""
    w = build_world(tmp_path)
    w.pos.add_product("0113942719", ["US210033735"])
    w.host.inventory_pass()
    yield w
    w.host.store.close()


def _record(world: World, done: Move) -> None:
    with world.store.transaction():
        world.store.record_move("US210033735", "0113942719", done)


def test_the_audit_fails_a_status_recorded_bypassing_the_table(broken: World) -> None:
    assert history_problems(broken.store) == []
    bypass = Move(
        from_status=UnitStatus.IN_STOCK,
        to_status=UnitStatus.DEFECTIVE,
        reason="the POS reports the unit defective",
        source=MoveSource.POS,
        at=WHEN,
    )
    _record(broken, bypass)

    problems = history_problems(broken.store)

    assert len(problems) == 1 and "not allowed by the table" in problems[0]
    with pytest.raises(AssertionError, match="1 move"):
        assert_history_follows_the_lifecycle(broken.store)


@pytest.mark.parametrize(
    ("done", "why"),
    [
        (
            Move(
                from_status=UnitStatus.IN_STOCK,
                to_status=UnitStatus.DEFECTIVE,
                reason="r",
                source=MoveSource.CHANNEL,
                basis=MoveBasis.ASSERTED,
            ),
            "only the POS or a person asserts",
        ),
        (
            Move(
                from_status=UnitStatus.IN_STOCK,
                to_status=UnitStatus.SOLD,
                reason="r",
                source=MoveSource.CHANNEL,
                source_ref="shop_a:order/9",
                basis=MoveBasis.REVERSAL,
            ),
            "a reversal of no claim",
        ),
        (
            Move(
                from_status=UnitStatus.SOLD,
                to_status=UnitStatus.DEFECTIVE,
                reason="r",
                source=MoveSource.POS,
            ),
            "where the previous move did not end",
        ),
    ],
)
def test_the_audit_fails_a_move_marked_wrongly(broken: World, done: Move, why: str) -> None:
    _record(broken, done)

    problems = history_problems(broken.store)

    assert any(why in p for p in problems), problems

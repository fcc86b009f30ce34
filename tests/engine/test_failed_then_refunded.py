"""A sale the POS refused for good (FAILED), then refunded or cancelled in the shop.

The chaos helper's finding (session 5): the POS never had the sale, yet its unit stayed sold
(off every channel) until a full resync, and the failed sale stayed in ``sales list --state
failed`` for an operator to "retry": reporting to the POS a sale the shop had refunded. It is
an order cancelled before it was reported: the unit goes back to where it stood (unless the POS
says otherwise or an operator holds it), and the sale ends cancelled, so no retry reports it.
A sale still pending (backing off) that ends is unchanged: see ``test_order_pass``.
"""

from __future__ import annotations

import pytest
from serialsync import FinancialStatus, UnitStatus
from serialsync.lifecycle import MoveBasis
from serialsync.operations.marking import mark
from serialsync.settings import SyncSettings
from serialsync.store import OutboxState

from tests.engine.conftest import World, build_world
from tests.engine.memory import RefusedError
from tests.engine.test_late_refunds import ENDED, GUITAR, SERIAL, SKU, status_of

OTHER_SERIAL = "US210033735"
OTHER = f"{SKU}|||{OTHER_SERIAL}"


def state_of(world: World, order_id: str) -> OutboxState:
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None
    return record.state


def refused(world: World, lines: list[tuple[str | None, int]], refusals: int = 1) -> str:
    """``lines`` listed, sold on shop A, withdrawn everywhere, and refused by the POS for good."""
    world.host.inventory_pass()
    for _ in range(refusals):
        world.pos.report_failures.append(RefusedError("AIM: ValidationError"))
    order_id = world.a.place_order(lines)
    world.host.order_pass()
    assert state_of(world, order_id) == OutboxState.FAILED
    assert status_of(world) == UnitStatus.SOLD and world.store.get_claim(SERIAL) is not None
    assert GUITAR not in world.a.live() | world.b.live()
    return order_id


def assert_relisted_and_cancelled(world: World, order_id: str) -> None:
    """Once the order pass read the end and the next pass ran: in stock and listed again."""
    world.host.order_pass()
    world.host.inventory_pass()
    assert status_of(world) == UnitStatus.IN_STOCK
    assert GUITAR in world.a.live() and GUITAR in world.b.live()
    assert_cancelled_for_good(world, order_id)


def assert_cancelled_for_good(world: World, order_id: str) -> None:
    """Cancelled with a note saying why, and no retry can report it."""
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.CANCELLED
    assert "refused" in (record.note or "") and "nothing to report" in (record.note or "")
    assert not world.host.retry_sale("shop_a", order_id)
    world.host.order_pass()
    assert world.pos.orders == {}


@pytest.mark.parametrize("ended", ENDED)
def test_a_refused_sale_ended_in_the_shop_puts_the_unit_back_on_sale(
    world: World, ended: FinancialStatus
) -> None:
    order_id = refused(world, [(GUITAR, 1)])
    world.a.set_order_status(order_id, ended)

    world.host.order_pass()

    assert status_of(world) == UnitStatus.IN_STOCK
    assert world.store.get_claim(SERIAL) is None
    last = world.store.history(SERIAL)[-1]
    assert (last.from_status, last.to_status, last.basis) == (
        UnitStatus.SOLD,
        UnitStatus.IN_STOCK,
        MoveBasis.REVERSAL,
    )
    assert "refused" in last.reason and ended.value in last.reason
    assert_cancelled_for_good(world, order_id)
    world.host.inventory_pass()  # nothing new in the POS: the next pass lists it
    assert GUITAR in world.a.live() and GUITAR in world.b.live()


def test_a_refused_sale_with_a_plain_line_ended_in_the_shop_puts_the_unit_back(
    world: World,
) -> None:
    # Refused with the strings, then refused again without them: failed for good.
    order_id = refused(world, [(GUITAR, 1), ("STRINGS", 1)], refusals=2)
    world.a.set_order_status(order_id, FinancialStatus.REFUNDED)

    assert_relisted_and_cancelled(world, order_id)


def test_a_partial_refund_of_a_refused_sale_lets_go_only_of_a_line_refunded_whole(
    world: World,
) -> None:
    order_id = refused(world, [(GUITAR, 1), (OTHER, 1), ("STRINGS", 1)], refusals=2)
    world.a.set_order_status(order_id, FinancialStatus.PARTIALLY_REFUNDED)  # the strings
    world.host.order_pass()
    assert status_of(world) == status_of(world, OTHER_SERIAL) == UnitStatus.SOLD
    assert state_of(world, order_id) == OutboxState.FAILED

    world.a.state["orders"][order_id]["lines"][0]["quantity_refunded"] = 1  # the guitar
    world.a.edit_order(order_id)
    world.host.order_pass()
    world.host.inventory_pass()

    assert status_of(world) == UnitStatus.IN_STOCK and world.store.get_claim(SERIAL) is None
    assert GUITAR in world.a.live() and GUITAR in world.b.live()
    # The other unit's sale stands: still sold, held, and failed for a person.
    assert status_of(world, OTHER_SERIAL) == UnitStatus.SOLD
    assert world.store.get_claim(OTHER_SERIAL) is not None
    assert OTHER not in world.a.live() | world.b.live()
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.FAILED
    assert SERIAL not in {line.serial for line in record.sale.lines}  # a retry sends the rest
    assert "refunded" in (record.note or "")
    assert world.host.retry_sale("shop_a", order_id)
    world.host.order_pass()
    [sale] = world.pos.orders.values()
    assert [SKU, SERIAL, 1] not in sale["lines"] and [SKU, OTHER_SERIAL, 1] in sale["lines"]


def test_a_partial_refund_of_every_unit_of_a_refused_sale_cancels_it(world: World) -> None:
    # Only the strings stand: no unit of ours is left to report, so nothing is left to retry.
    order_id = refused(world, [(GUITAR, 1), ("STRINGS", 1)], refusals=2)
    world.a.state["orders"][order_id]["lines"][0]["quantity_refunded"] = 1
    world.a.set_order_status(order_id, FinancialStatus.PARTIALLY_REFUNDED)

    assert_relisted_and_cancelled(world, order_id)


def test_an_operators_hold_on_the_unit_of_a_refused_sale_stands(world: World) -> None:
    order_id = refused(world, [(GUITAR, 1)])
    with world.store.transaction():
        mark(world.store, SERIAL, "defective", reason="cracked neck", by="ana")
    world.a.set_order_status(order_id, FinancialStatus.REFUNDED)

    world.host.order_pass()
    world.host.inventory_pass()

    assert status_of(world) == UnitStatus.DEFECTIVE
    assert world.store.get_hold(SERIAL) is not None
    assert GUITAR not in world.a.live() | world.b.live()
    assert_cancelled_for_good(world, order_id)


@pytest.mark.parametrize("said", [UnitStatus.SOLD, UnitStatus.RESERVED])
def test_a_unit_the_pos_moved_itself_takes_its_word_when_the_refused_sale_ends(
    world: World, said: UnitStatus
) -> None:
    # The POS never had the web sale; it sold (or reserved) the unit at the counter meanwhile.
    order_id = refused(world, [(GUITAR, 1)])
    world.pos.set_unit(SKU, SERIAL, status=said.value)
    world.host.inventory_pass()
    assert status_of(world) == UnitStatus.SOLD  # the web sale held it
    world.a.set_order_status(order_id, FinancialStatus.CANCELLED)

    world.host.order_pass()
    world.host.inventory_pass()

    assert status_of(world) == said
    assert world.store.get_claim(SERIAL) is None
    assert GUITAR not in world.a.live() | world.b.live()
    assert_cancelled_for_good(world, order_id)


def test_a_refused_sale_of_plain_lines_ended_in_the_shop_is_cancelled(tmp_path) -> None:
    # Reporting every order: the POS refuses its only (plain) line, then the shop refunds it.
    w = build_world(tmp_path, sync=SyncSettings(workers=1, report_orders="all"))
    w.pos.plain_skus = set()
    order_id = w.a.place_order([("PLAIN-STRAP", 1)])
    w.host.order_pass()
    assert state_of(w, order_id) == OutboxState.FAILED
    w.a.set_order_status(order_id, FinancialStatus.REFUNDED)

    w.host.order_pass()

    record = w.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.CANCELLED
    assert "refunded after the POS refused it: nothing to report" in (record.note or "")
    assert "units" not in (record.note or "")
    assert not w.host.retry_sale("shop_a", order_id)
    w.store.close()

"""A shop's refund read late, after the POS already put the unit back on the shelf.

The chaos test's failure (CI, session 4): a paid order reported to the POS, then refunded at the
shop; the POS's staff restock the unit, and an inventory pass reads that restock *before* the
order pass reads the refund. While the reported sale stands, the POS's "available" is a
discrepancy (never relisted on its own), and the inventory cursor moves past it; when the
refund is read, nothing read the unit again, so it stayed sold until a full resync. The web
sale ending settles the discrepancy: the POS's word it kept applies, and the unit is listed
again on the next pass. Never while the web sale stands.
"""

from __future__ import annotations

import pytest
from serialsync import FinancialStatus, UnitStatus
from serialsync.operations.discrepancies import discrepancies

from tests.engine.conftest import World

SKU, SERIAL = "0113942719", "US210033734"
GUITAR = f"{SKU}|||{SERIAL}"
ENDED = [FinancialStatus.REFUNDED, FinancialStatus.CANCELLED]


def status_of(world: World, serial: str = SERIAL) -> UnitStatus:
    record = world.store.get_unit(serial)
    assert record is not None
    return record.status


def sold_and_reported(world: World) -> str:
    """The guitar listed, sold on shop A, withdrawn everywhere and reported to the POS."""
    world.host.inventory_pass()
    order_id = world.a.place_order([(GUITAR, 1)])
    world.host.order_pass()
    assert status_of(world) == UnitStatus.SOLD and world.pos.orders
    return order_id


def assert_back_on_sale(world: World) -> None:
    """In stock, its discrepancy settled (not left dangling), listed on both shops."""
    assert status_of(world) == UnitStatus.IN_STOCK
    assert open_discrepancies(world) == []
    assert GUITAR in world.a.live() and GUITAR in world.b.live()


def open_discrepancies(world: World) -> list[str]:
    return [q.key for q in discrepancies(world.store)]


def pos_stamp(world: World) -> str:
    return str(world.pos.state["units"][f"{SKU}\x00{SERIAL}"]["changed_at"])


def restamp(world: World, stamp: str) -> None:
    """Give the unit's last POS change this time (AIM keeps whole seconds: two changes in one
    second carry one time)."""
    world.pos.state["units"][f"{SKU}\x00{SERIAL}"]["changed_at"] = stamp


@pytest.mark.parametrize("ended", ENDED)
def test_a_restock_read_before_the_refund_lists_the_unit_once_the_refund_is_read(
    world: World, ended: FinancialStatus
) -> None:
    order_id = sold_and_reported(world)
    world.a.set_order_status(order_id, ended)  # at the shop; no order pass has read it yet
    world.pos.set_unit(SKU, SERIAL, status="in_stock")  # back on the shelf
    world.host.inventory_pass()
    # The web sale still stands for serialsync: kept off sale, a discrepancy for a person.
    assert status_of(world) == UnitStatus.SOLD
    assert open_discrepancies(world) == [GUITAR]
    assert GUITAR not in world.a.live() | world.b.live()

    world.host.order_pass()  # reads the refund

    assert status_of(world) == UnitStatus.IN_STOCK
    assert open_discrepancies(world) == []  # settled, not left dangling
    last = world.store.history(SERIAL)[-1]
    assert (last.from_status, last.to_status, last.asserted) == (
        UnitStatus.SOLD,
        UnitStatus.IN_STOCK,
        True,
    )
    assert last.source.value == "pos"
    assert order_id in last.reason
    world.host.inventory_pass()  # nothing new in the POS: the next pass lists it
    assert GUITAR in world.a.live() and GUITAR in world.b.live()
    assert len(world.pos.orders) == 1  # the sale was reported once, nothing more


@pytest.mark.parametrize("ended", ENDED)
def test_a_refund_read_before_the_restock_lists_the_unit_once_the_restock_is_read(
    world: World, ended: FinancialStatus
) -> None:
    order_id = sold_and_reported(world)
    world.a.set_order_status(order_id, ended)
    world.host.order_pass()
    assert status_of(world) == UnitStatus.SOLD  # the POS decides
    world.host.inventory_pass()
    assert GUITAR not in world.a.live() | world.b.live()

    world.pos.set_unit(SKU, SERIAL, status="in_stock")
    world.host.inventory_pass()

    assert_back_on_sale(world)


def test_a_restock_in_the_second_of_an_earlier_read_after_the_sale_is_kept_for_the_refund(
    world: World,
) -> None:
    # The POS changed the sold unit (a price) and showed it available: a discrepancy. Its
    # restock in the same whole second carries the same time, so it reads as "not changed
    # since"; the discrepancy already holds the POS's word, and the refund applies it.
    order_id = sold_and_reported(world)
    world.pos.set_unit(SKU, SERIAL, price="899.00")
    world.host.inventory_pass()
    assert open_discrepancies(world) == [GUITAR]
    stamp = pos_stamp(world)
    world.pos.set_unit(SKU, SERIAL, status="in_stock")
    restamp(world, stamp)
    world.host.inventory_pass()
    assert status_of(world) == UnitStatus.SOLD

    world.a.set_order_status(order_id, FinancialStatus.REFUNDED)
    world.host.order_pass()
    assert status_of(world) == UnitStatus.IN_STOCK  # applied when the refund is read
    world.host.inventory_pass()

    assert_back_on_sale(world)


def test_a_pos_that_shows_the_sold_unit_as_it_was_before_the_sale_decides_nothing(
    world: World,
) -> None:
    # The POS's record of the unit is exactly the one read before the sale (same whole second,
    # same status): nothing tells a restock from a POS that has not caught up with the sale,
    # so the refund relists nothing. The POS's next change decides (or a whole read).
    stamp = pos_stamp(world)
    order_id = sold_and_reported(world)
    world.pos.set_unit(SKU, SERIAL, status="in_stock")
    restamp(world, stamp)
    world.host.inventory_pass()
    assert open_discrepancies(world) == []

    world.a.set_order_status(order_id, FinancialStatus.REFUNDED)
    world.host.order_pass()
    world.host.inventory_pass()
    assert status_of(world) == UnitStatus.SOLD
    assert GUITAR not in world.a.live() | world.b.live()

    world.host.inventory_pass(full=True)  # the POS read whole: its word now stands alone
    assert status_of(world) == UnitStatus.IN_STOCK
    assert GUITAR in world.a.live() and GUITAR in world.b.live()


def test_a_discrepancy_stays_while_the_web_sale_stands(world: World) -> None:
    order_id = sold_and_reported(world)
    world.pos.set_unit(SKU, SERIAL, status="in_stock")
    world.host.inventory_pass()
    world.a.edit_order(order_id)  # fulfilled, a note: the sale stands
    world.host.order_pass()
    world.host.inventory_pass()

    assert status_of(world) == UnitStatus.SOLD
    assert open_discrepancies(world) == [GUITAR]
    assert GUITAR not in world.a.live() | world.b.live()


def with_strings_restocked_before_a_refund(world: World) -> str:
    """The guitar sold with a plain line and reported; then back on the POS's shelf (read)."""
    world.host.inventory_pass()
    order_id = world.a.place_order([(GUITAR, 1), ("STRINGS", 1)])
    world.host.order_pass()
    world.pos.set_unit(SKU, SERIAL, status="in_stock")
    world.host.inventory_pass()
    return order_id


def test_a_partial_refund_of_another_line_leaves_the_unit_sold(world: World) -> None:
    order_id = with_strings_restocked_before_a_refund(world)
    assert open_discrepancies(world) == [GUITAR]

    world.a.set_order_status(order_id, FinancialStatus.PARTIALLY_REFUNDED)  # the strings
    world.host.order_pass()
    world.pos.set_unit(SKU, "US210033735", price="1100.00")  # the POS reads the item again
    world.host.inventory_pass()

    # The guitar's sale stands: the order still holds it, whatever the POS shows.
    assert status_of(world) == UnitStatus.SOLD
    assert world.store.get_claim(SERIAL) is not None
    assert open_discrepancies(world) == [GUITAR]
    assert GUITAR not in world.a.live() | world.b.live()

    world.a.set_order_status(order_id, FinancialStatus.REFUNDED)  # then all of it
    world.host.order_pass()
    world.host.inventory_pass()
    assert_back_on_sale(world)


def test_a_partial_refund_of_the_units_line_lets_go_of_the_unit(world: World) -> None:
    order_id = with_strings_restocked_before_a_refund(world)

    world.a.state["orders"][order_id]["lines"][0]["quantity_refunded"] = 1  # the guitar
    world.a.set_order_status(order_id, FinancialStatus.PARTIALLY_REFUNDED)
    world.host.order_pass()
    world.host.inventory_pass()

    assert world.store.get_claim(SERIAL) is None
    assert_back_on_sale(world)

"""Messy orders, as merchants' shops really hold them, never oversell and never lose a sale.

Through the sandbox's fakes over loopback HTTP, on all four channels (issue 15 #1, #8, #16):

* a paid order with a guitar beside lines that are no serialsync unit (a custom "Setup
  service" line and a tip with no SKU, a gift card, shipping protection, a strap AIM does not
  carry, strings AIM does carry): the guitar is sold, withdrawn everywhere and reported; the
  strings travel with it; AIM's refusal of the rest costs one more call, never the sale, and the
  sale's note says what was left out;
* a unit reserved by an unpaid web order and then sold at the AIM counter: the web payment
  becomes a conflict for a person, never a second report of the serial;
* a reported order changed afterwards (fulfilled, a note or the address edited): read again,
  never reported again.

AIM's report *calls* are counted (the orders it holds hide a repeated report).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from serialsync import FinancialStatus, UnitStatus
from serialsync.sandbox import Sandbox
from serialsync.store import OutboxState
from serialsync.testing import FakeChannel
from serialsync_aim_pos.fake import FakeAim

from tests.reliability import harness as h

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(h.timeout())]

CLOCK = h.VirtualTime()
#: Lines beside the guitar: (SKU or None for a custom line, quantity, does AIM carry it).
OTHER_LINES: list[tuple[str | None, int, bool]] = [
    (None, 1, False),  # "Setup service": a custom line with no SKU
    (None, 1, False),  # a tip
    ("GIFT-CARD-50", 1, False),
    ("ROUTEINS", 1, False),  # shipping protection
    ("PLAIN-STRAP", 1, False),
    ("STRINGS-10", 2, True),
]


def aim_of(sandbox: Sandbox) -> FakeAim:
    pos = sandbox.pos_fakes()[h.POS]
    assert isinstance(pos, FakeAim)
    return pos


def test_an_order_is_never_held_hostage_by_lines_that_are_no_unit(tmp_path: Path) -> None:
    catalogue = h.catalogue(skus=2, units=12, seed=h.seed())
    units = [u for p in catalogue for u in p.units]
    with Sandbox(catalogue=catalogue, plugins=h.sandbox_plugins(CLOCK)) as sandbox:
        aim = aim_of(sandbox)
        aim.add_plain_item("STRINGS-10", "Strings 10-46", Decimal("8.99"))
        fakes = sandbox.channel_fakes()
        with h.open_host(h.write_config(sandbox, tmp_path), CLOCK) as host:
            assert h.run_until_quiet(host, sandbox, max_passes=5).quiet_after is not None
            sold = {}
            for number, name in enumerate(h.CHANNELS):
                unit = units[number]
                lines = [(unit.integration_id, 1)] + [(sku, qty) for sku, qty, _ in OTHER_LINES]
                sold[name] = (fakes[name].create_order(lines), unit)

            quiet = h.run_until_quiet(host, sandbox, max_passes=10)
            assert quiet.quiet_after is not None, quiet.why.most_common(5)

            plain = {sku for sku, _, _ in OTHER_LINES if sku is not None}
            h.check_listings(host.store, sandbox, extra_ok=plain)
            recorded = {r.order_number: r for r in aim.recorded_orders()}
            for name, (order_id, unit) in sold.items():
                assert host.store.get_unit(unit.serial).status == UnitStatus.SOLD  # type: ignore[union-attr]
                record = host.store.get_outbox(name, order_id)
                assert record is not None and record.state == OutboxState.REPORTED, name
                aim_order = h.aim_number(record)
                assert sorted(recorded[aim_order].lines, key=str) == sorted(
                    [(unit.sku, unit.serial, 1), ("STRINGS-10", None, 2)], key=str
                ), name
                note = record.note or ""
                assert note.count("has no SKU") == 2, (name, note)
                for sku, _, carried in OTHER_LINES:
                    if sku is not None:
                        assert (sku in note) is not carried, (name, sku, note)
                # Refused once for the SKUs AIM does not carry, then taken: two calls.
                assert aim.report_calls(aim_order) == 2, name
            assert host.store.quarantined() == []
            assert len(aim.recorded_orders()) == len(h.CHANNELS)


def test_a_reserved_unit_sold_at_the_counter_makes_the_web_payment_a_conflict(
    tmp_path: Path,
) -> None:
    catalogue = h.catalogue(skus=1, units=8, seed=h.seed())
    units = [u for p in catalogue for u in p.units]
    with Sandbox(catalogue=catalogue, plugins=h.sandbox_plugins(CLOCK)) as sandbox:
        aim = aim_of(sandbox)
        fakes = sandbox.channel_fakes()
        with h.open_host(h.write_config(sandbox, tmp_path), CLOCK) as host:
            assert h.run_until_quiet(host, sandbox, max_passes=5).quiet_after is not None
            reserved = {}
            for number, name in enumerate(h.CHANNELS):
                unit = units[number]
                order_id = fakes[name].create_order(
                    [(unit.integration_id, 1)], status=FinancialStatus.PENDING
                )
                reserved[name] = (order_id, unit)
            host.run_once()
            for name, (_, unit) in reserved.items():
                assert host.store.get_unit(unit.serial).status == UnitStatus.RESERVED, name  # type: ignore[union-attr]
                aim.mark_sold(unit.sku, unit.serial)  # a customer at the counter
            host.inventory_pass()
            for name, (order_id, _) in reserved.items():
                fakes[name].set_order_status(order_id, FinancialStatus.PAID)

            quiet = h.run_until_quiet(host, sandbox, max_passes=10)
            assert quiet.quiet_after is not None, quiet.why.most_common(5)

            assert aim.report_calls() == 0  # never a second sale of the serial
            assert aim.recorded_orders() == []
            conflicts = {q.key: q.reason for q in host.store.quarantined(kind="conflict")}
            for name, (order_id, unit) in reserved.items():
                record = host.store.get_outbox(name, order_id)
                assert record is not None and record.state == OutboxState.CONFLICT, name
                reason = conflicts[f"{name}:{order_id}"]
                assert "sold in the POS" in reason and unit.serial in reason, reason
                assert host.store.get_unit(unit.serial).status == UnitStatus.SOLD  # type: ignore[union-attr]
            h.check_listings(host.store, sandbox)


def _fulfil_or_edit(name: str, fake: FakeChannel) -> Callable[[str], None]:
    """What each shop's staff do to a paid order that changes it without changing the sale."""
    if name == "bigcommerce":
        return lambda order_id: fake.set_order_status_id(order_id, 2)  # type: ignore[attr-defined]  # Shipped
    if name == "woocommerce":
        return lambda order_id: fake.set_order_woo_status(order_id, "completed")  # type: ignore[attr-defined]
    # Shopify and Magento: the order saved again (a note, the address), still paid.
    return lambda order_id: fake.set_order_status(order_id, FinancialStatus.PAID)


def test_a_reported_order_changed_afterwards_is_never_reported_again(tmp_path: Path) -> None:
    catalogue = h.catalogue(skus=1, units=8, seed=h.seed())
    units = [u for p in catalogue for u in p.units]
    # Every shop stamps its orders on the virtual clock (whole seconds on most): the edit is
    # made a few seconds later, so each order's last change is newer than what was reported.
    clocks: dict[str, dict[str, Any]] = {
        "woocommerce": {"now": CLOCK.time},
        "shopify": {"now": lambda: datetime.fromtimestamp(CLOCK.time(), UTC)},
    }
    with Sandbox(catalogue=catalogue, plugins=h.sandbox_plugins(CLOCK, clocks)) as sandbox:
        aim = aim_of(sandbox)
        fakes = sandbox.channel_fakes()
        with h.open_host(h.write_config(sandbox, tmp_path), CLOCK) as host:
            assert h.run_until_quiet(host, sandbox, max_passes=5).quiet_after is not None
            paid = {
                name: fakes[name].create_order([(units[number].integration_id, 1)])
                for number, name in enumerate(h.CHANNELS)
            }
            assert h.run_until_quiet(host, sandbox, max_passes=10).quiet_after is not None
            first = {name: host.store.get_outbox(name, paid[name]) for name in h.CHANNELS}
            for name, record in first.items():
                assert record is not None and record.state == OutboxState.REPORTED, name
                assert aim.report_calls(h.aim_number(record)) == 1, name

            CLOCK.sleep(5)
            for name, order_id in paid.items():
                _fulfil_or_edit(name, fakes[name])(order_id)
            assert h.run_until_quiet(host, sandbox, max_passes=10).quiet_after is not None

            for name, record in first.items():
                assert record is not None
                again = host.store.get_outbox(name, paid[name])
                assert again is not None and again.state == OutboxState.REPORTED, name
                # Read again (its last change is newer), never reported again.
                assert again.order_updated_at > record.order_updated_at, name
                assert again.receipt == record.receipt
                assert aim.report_calls(h.aim_number(record)) == 1, name
            assert len(aim.recorded_orders()) == len(h.CHANNELS)

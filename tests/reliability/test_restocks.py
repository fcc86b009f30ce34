"""A channel that restocks a cancelled or refunded order must not put a sold unit back on sale.

WooCommerce restocks what a cancelled order held (Shopify too, when asked; it is the usual
setting). When the order ends but the unit stays sold — the POS has the sale and decides after a
refund, or the order lost a double sale to another channel — serialsync must take the unit
off that channel again, or a one-of-a-kind unit is for sale twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from serialsync import FinancialStatus, SerializedUnit, UnitStatus
from serialsync.host import Host
from serialsync.sandbox import Sandbox
from serialsync.store import OutboxState
from serialsync_aim_pos.fake import FakeAim

from tests.reliability import harness as h

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(h.timeout())]

#: One virtual clock for the fakes' rate limits and the host's sleeps: waits cost nothing.
CLOCK = h.VirtualTime()


def world(
    tmp_path: Path, aim_clock: Callable[[], datetime] | None = None
) -> tuple[Sandbox, Host, list[SerializedUnit]]:
    catalogue = h.catalogue(skus=1, units=4, seed=h.seed())
    options = {h.POS: {"clock": aim_clock}} if aim_clock else None
    sandbox = Sandbox(
        catalogue=catalogue,
        types=["aim_pos", "shopify", "woocommerce"],
        plugins=h.sandbox_plugins(CLOCK, options),
    ).start()
    # One worker: channels are read in name order, so Shopify's order wins a double sale.
    host = h.open_host(h.write_config(sandbox, tmp_path, sync={"workers": 1}), CLOCK)
    host.run_once()
    return sandbox, host, [u for p in catalogue for u in p.units]


def test_an_order_cancelled_after_it_was_reported_does_not_relist_a_unit_the_pos_has_sold(
    tmp_path,
) -> None:
    sandbox, host, units = world(tmp_path)
    try:
        woo = sandbox.channel_fakes()["woocommerce"]
        order = woo.create_order([(units[0].integration_id, 1)])
        host.run_once()
        woo.set_order_status(order, FinancialStatus.CANCELLED)  # WooCommerce restocks it
        host.run_once()

        record = host.store.get_outbox("woocommerce", order)
        assert record is not None and record.state == OutboxState.REPORTED
        assert "the POS decides" in (record.note or "")
        assert host.store.get_unit(units[0].serial).status == UnitStatus.SOLD  # type: ignore[union-attr]
        h.check_listings(host.store, sandbox)  # not for sale on WooCommerce again
        h.check_history(host.store)
    finally:
        host.close()
        sandbox.stop()


def test_cancelling_the_losing_order_of_a_double_sale_does_not_relist_the_unit(tmp_path) -> None:
    sandbox, host, units = world(tmp_path)
    try:
        shop, woo = sandbox.channel_fakes()["shopify"], sandbox.channel_fakes()["woocommerce"]
        shop.create_order([(units[1].integration_id, 1)])
        losing = woo.create_order([(units[1].integration_id, 1)])
        host.run_once()
        record = host.store.get_outbox("woocommerce", losing)
        assert record is not None and record.state == OutboxState.CONFLICT

        woo.set_order_status(losing, FinancialStatus.CANCELLED)  # restocked on WooCommerce
        host.run_once()

        record = host.store.get_outbox("woocommerce", losing)
        assert record is not None and record.state == OutboxState.CANCELLED
        assert host.store.get_unit(units[1].serial).status == UnitStatus.SOLD  # type: ignore[union-attr]
        h.check_listings(host.store, sandbox)
        h.check_history(host.store)
    finally:
        host.close()
        sandbox.stop()


def test_a_refund_read_after_aim_restocked_the_unit_puts_it_back_on_sale(tmp_path) -> None:
    # The chaos test's CI failure, one pass at a time: AIM's restock is read while the reported
    # sale stands (a discrepancy, and the cursor moves a second past it), then the refund.
    aim_now = [datetime.now(UTC) - timedelta(minutes=10)]  # AIM's clock, behind ours
    sandbox, host, units = world(tmp_path, aim_clock=lambda: aim_now[0])
    try:
        woo, aim = sandbox.channel_fakes()["woocommerce"], sandbox.pos_fakes()[h.POS]
        assert isinstance(aim, FakeAim)
        unit = units[2]
        order = woo.create_order([(unit.integration_id, 1)])
        host.run_once()  # sold, withdrawn, reported
        woo.set_order_status(order, FinancialStatus.REFUNDED)  # at the shop, not read yet
        aim_now[0] += timedelta(minutes=5)
        aim.set_status(unit.sku, unit.serial, "Available")  # back on the shelf
        host.inventory_pass()
        assert [q.key for q in host.store.quarantined(kind="discrepancy")] == [unit.integration_id]

        host.order_pass()  # the refund
        host.inventory_pass()

        assert host.store.get_unit(unit.serial).status == UnitStatus.IN_STOCK  # type: ignore[union-attr]
        assert host.store.quarantined(kind="discrepancy") == []
        h.check_listings(host.store, sandbox)  # listed again on both shops
        h.check_history(host.store)
        assert len(aim.recorded_orders()) == 1
    finally:
        host.close()
        sandbox.stop()

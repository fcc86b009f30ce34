"""One order WooCommerce or Magento holds that their plugin cannot read never blocks the store.

A buggy extension or a broken import leaves orders no plugin can map: a negative quantity, a
missing field, a state the platform does not define. Before, the first such order stopped the
channel's whole order stream: every later order, paid ones included, was never read, its unit
stayed for sale on every channel, and the cursor stayed put. Through the sandbox's fakes over
loopback HTTP, every later paid order must be sold, withdrawn everywhere and reported; each
damaged order waits in the quarantine, and `quarantine retry` reads it again from its store.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from serialsync import FinancialStatus, UnitStatus
from serialsync.sandbox import Sandbox
from serialsync.store import OutboxState
from serialsync.testing import OrderDamage

from tests.reliability import harness as h

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(h.timeout())]

CLOCK = h.VirtualTime()
CHANNELS = ("magento", "woocommerce")
DAMAGES: tuple[OrderDamage, ...] = ("negative-quantity", "missing-field", "unknown-status")


def test_damaged_orders_do_not_hold_the_later_paid_orders_of_their_store(tmp_path) -> None:
    catalogue = h.catalogue(skus=1, units=10, seed=h.seed())
    units = [u for p in catalogue for u in p.units]
    with Sandbox(
        catalogue=catalogue, types=["aim_pos", *CHANNELS], plugins=h.sandbox_plugins(CLOCK)
    ) as sandbox:
        fakes = sandbox.channel_fakes()
        with h.open_host(h.write_config(sandbox, tmp_path, sync={"workers": 1}), CLOCK) as host:
            host.run_once()
            pool = iter(units)
            damaged: dict[str, list[str]] = {name: [] for name in CHANNELS}
            paid: dict[str, str] = {}
            sold = {}
            for name in CHANNELS:
                fake = fakes[name]
                for damage in DAMAGES:
                    order_id = fake.create_order([(next(pool).integration_id, 1)])
                    fake.damage_order(order_id, damage)
                    damaged[name].append(order_id)
                # Placed after the damaged ones, so read after them.
                unit = next(pool)
                paid[name] = fake.create_order([(unit.integration_id, 1)])
                sold[name] = unit

            summary = host.run_once()

            for name in CHANNELS:
                assert not summary.counts(name).errors, summary.counts(name).errors
                record = host.store.get_outbox(name, paid[name])
                assert record is not None and record.state == OutboxState.REPORTED, name
                unit = sold[name]
                assert host.store.get_unit(unit.serial).status == UnitStatus.SOLD  # type: ignore[union-attr]
                for other, fake in fakes.items():
                    assert unit.integration_id not in h.live_on(fake), (name, other)
                for order_id in damaged[name]:
                    assert host.store.get_outbox(name, order_id) is None
                # The cursor moved past every order read, the damaged ones included.
                cursor = host.store.get_cursor(name, "orders")
                assert cursor is not None
                assert datetime.fromisoformat(cursor) >= record.order_updated_at
            reported = {
                serial
                for order in sandbox.pos_fakes()[h.POS].recorded_orders()
                for _sku, serial, _quantity in order.lines
            }
            assert reported == {sold[name].serial for name in CHANNELS}

            # Each damaged order waits in the quarantine with its reason and its raw order.
            held = {q.key: q for q in host.store.quarantined(kind="order")}
            expected = {f"{n}:{order_id}" for n in CHANNELS for order_id in damaged[n]}
            assert set(held) == expected
            for name in CHANNELS:
                negative, missing, unknown = (held[f"{name}:{o}"] for o in damaged[name])
                assert "is negative" in negative.reason, negative.reason
                assert "missing field" in missing.reason, missing.reason
                assert "unknown order st" in unknown.reason, unknown.reason
                for held_order in (negative, missing, unknown):
                    assert held_order.connector == name and held_order.payload
                    assert "Shopper" not in held_order.payload  # the customer's name is masked

            # Staff put the unknown-status orders right; `quarantine retry` reads them again
            # from the store and sells their units, before any further pass.
            fakes["woocommerce"].set_order_woo_status(damaged["woocommerce"][2], "processing")  # type: ignore[attr-defined]
            fakes["magento"].set_order_status(damaged["magento"][2], FinancialStatus.PAID)
            for name in CHANNELS:
                negative, _missing, unknown = (held[f"{name}:{o}"] for o in damaged[name])
                assert host.retry_quarantined(unknown.id) == "processed", name
                record = host.store.get_outbox(name, damaged[name][2])
                assert record is not None and record.state == OutboxState.PENDING, name
                assert host.retry_quarantined(negative.id).startswith("still quarantined")
            host.run_once()
            for name in CHANNELS:
                record = host.store.get_outbox(name, damaged[name][2])
                assert record is not None and record.state == OutboxState.REPORTED, name
            assert {q.key for q in host.store.quarantined(kind="order")} == expected - {
                f"{n}:{damaged[n][2]}" for n in CHANNELS
            }

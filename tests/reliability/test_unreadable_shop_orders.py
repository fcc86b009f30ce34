"""One order Shopify or BigCommerce holds that their plugin cannot read never blocks the store.

The same damage as on WooCommerce and Magento (test_unreadable_channel_orders): a negative
quantity, a line without its quantity, a status the platform does not define. Before, the
Shopify plugin read an unknown status as pending (a guess) and stopped the whole page on the
others; the BigCommerce plugin stopped the stream on all three, so every later order stayed
unread, its unit for sale, the cursor put. Through the sandbox's fakes over loopback HTTP:
every later paid order is sold, withdrawn everywhere and reported, the cursor moves on, each
damaged order waits in the quarantine, and `quarantine retry` reads it again from its store.
The real-world lines of issue 15 #4 (a custom line with no SKU, a plain shop product) come
back from each store as they were sold.
"""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from serialsync import FinancialStatus, Order, UnitStatus
from serialsync.cli import app
from serialsync.sandbox import Sandbox
from serialsync.store import OutboxState
from serialsync.testing import OrderDamage
from typer.testing import CliRunner

from tests.reliability import harness as h

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(h.timeout())]

CLOCK = h.VirtualTime()
CHANNELS = ("bigcommerce", "shopify")
DAMAGES: tuple[OrderDamage, ...] = ("negative-quantity", "missing-field", "unknown-status")
runner = CliRunner()
REASONS = {
    "bigcommerce": ("negative quantity (-1)", "quantity is missing", "unknown status id 99"),
    "shopify": (
        "negative quantity (-1)",
        "has no whole quantity",
        "unknown financial status 'DISPUTED'",
    ),
}


def test_damaged_orders_do_not_hold_the_later_paid_orders_and_retry_reads_them_again(
    tmp_path,
) -> None:
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
                unit = next(pool)  # placed after the damaged ones, so read after them
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
                cursor = host.store.get_cursor(name, "orders")
                assert cursor is not None
                assert datetime.fromisoformat(cursor) >= record.order_updated_at
            reported = {
                serial
                for order in sandbox.pos_fakes()[h.POS].recorded_orders()
                for _sku, serial, _quantity in order.lines
            }
            assert reported == {sold[name].serial for name in CHANNELS}

            held = {q.key: q for q in host.store.quarantined(kind="order")}
            expected = {f"{n}:{order_id}" for n in CHANNELS for order_id in damaged[n]}
            assert set(held) == expected
            for name in CHANNELS:
                for order_id, reason in zip(damaged[name], REASONS[name], strict=True):
                    waiting = held[f"{name}:{order_id}"]
                    assert reason in waiting.reason, (name, waiting.reason)
                    assert waiting.connector == name and waiting.payload
                    for email in ("ada@example.com", "shopper@example.com"):
                        assert email not in waiting.payload  # the customer is masked

            # Staff put the unknown-status orders right; `quarantine retry` reads each again
            # from its store (its cursor has long moved past it) and sells its unit.
            for name in CHANNELS:
                fakes[name].set_order_status(damaged[name][2], FinancialStatus.PAID)
                negative, _missing, unknown = (held[f"{name}:{o}"] for o in damaged[name])
                assert host.retry_quarantined(unknown.id) == "processed", name
                assert host.retry_quarantined(negative.id).startswith("still quarantined: ")
            host.run_once()
            for name in CHANNELS:
                record = host.store.get_outbox(name, damaged[name][2])
                assert record is not None and record.state == OutboxState.REPORTED, name
            assert {q.key for q in host.store.quarantined(kind="order")} == expected - {
                f"{n}:{damaged[n][2]}" for n in CHANNELS
            }


def test_custom_lines_and_plain_products_come_back_as_sold(tmp_path) -> None:
    catalogue = h.catalogue(skus=1, units=4, seed=h.seed())
    units = [u for p in catalogue for u in p.units]
    with Sandbox(
        catalogue=catalogue, types=["aim_pos", *CHANNELS], plugins=h.sandbox_plugins(CLOCK)
    ) as sandbox:
        fakes = sandbox.channel_fakes()
        with h.open_host(h.write_config(sandbox, tmp_path, sync={"workers": 1}), CLOCK) as host:
            host.run_once()
            for name, unit in zip(CHANNELS, units, strict=False):
                order_id = fakes[name].create_order(
                    [(unit.integration_id, 1), (None, 1), ("PLAIN-STRAP", 2)]
                )
                found = host.plugins.fetch_order(name, order_id)
                assert isinstance(found, Order), found
                assert [(line.raw_sku, line.quantity) for line in found.lines] == [
                    (unit.integration_id, 1),
                    (None, 1),
                    ("PLAIN-STRAP", 2),
                ]
                page = host.plugins.fetch_orders(name, None, None)
                assert [o for o in page.orders if o.order_id == order_id] == [found]


def test_the_cli_lists_a_damaged_order_and_retry_reads_it_again(tmp_path) -> None:
    catalogue = h.catalogue(skus=1, units=4, seed=h.seed())
    units = [u for p in catalogue for u in p.units]
    with Sandbox(catalogue=catalogue, types=["aim_pos", "shopify"]) as sandbox:
        config = ["--config", str(h.write_config(sandbox, tmp_path, sync={"workers": 1}))]
        shop = sandbox.channel_fakes()["shopify"]
        assert runner.invoke(app, ["run", "--once", *config]).exit_code == 0
        bad = shop.create_order([(units[0].integration_id, 1)])
        shop.damage_order(bad, "unknown-status")
        paid = shop.create_order([(units[1].integration_id, 1)])

        assert runner.invoke(app, ["run", "--once", *config]).exit_code == 1  # one quarantined
        listed = runner.invoke(app, ["quarantine", "list", "--json", *config])
        [record] = json.loads(listed.stdout)["quarantine"]
        assert record["key"] == f"shopify:{bad}"
        assert "unknown financial status 'DISPUTED'" in record["reason"]
        sales = json.loads(runner.invoke(app, ["sales", "list", "--json", *config]).stdout)
        assert [(s["order_id"], s["state"]) for s in sales["sales"]] == [(paid, "reported")]

        still = runner.invoke(app, ["quarantine", "retry", str(record["id"]), *config])
        assert still.exit_code == 1 and "still quarantined" in still.stdout
        shop.set_order_status(bad, FinancialStatus.PAID)  # staff put it right
        retried = runner.invoke(app, ["quarantine", "retry", str(record["id"]), *config])
        assert retried.exit_code == 0, retried.output
        assert "processed" in retried.stdout
        assert runner.invoke(app, ["run", "--once", *config]).exit_code == 0
        sales = json.loads(runner.invoke(app, ["sales", "list", "--json", *config]).stdout)
        assert {(s["order_id"], s["state"]) for s in sales["sales"]} == {
            (paid, "reported"),
            (bad, "reported"),
        }
        assert units[0].integration_id not in h.live_on(shop)


def test_orders_with_plain_products_and_custom_lines_sell_their_guitars(tmp_path) -> None:
    catalogue = h.catalogue(skus=1, units=4, seed=h.seed())
    units = [u for p in catalogue for u in p.units]
    with Sandbox(
        catalogue=catalogue, types=["aim_pos", *CHANNELS], plugins=h.sandbox_plugins(CLOCK)
    ) as sandbox:
        fakes = sandbox.channel_fakes()
        with h.open_host(h.write_config(sandbox, tmp_path, sync={"workers": 1}), CLOCK) as host:
            host.run_once()
            orders = {
                name: fakes[name].create_order(
                    [(units[i].integration_id, 1), ("PLAIN-STRAP", 1), (None, 1)]
                )
                for i, name in enumerate(CHANNELS)
            }

            host.run_once()

            assert host.store.quarantined(kind="order") == []
            recorded = sandbox.pos_fakes()[h.POS].recorded_orders()
            reported = [serial for r in recorded for _sku, serial, _n in r.lines if serial]
            assert sorted(reported) == sorted(units[i].serial for i in range(len(CHANNELS)))
            for i, name in enumerate(CHANNELS):
                unit = units[i]
                assert host.store.get_unit(unit.serial).status == UnitStatus.SOLD  # type: ignore[union-attr]
                for other, fake in fakes.items():
                    assert unit.integration_id not in h.live_on(fake), (name, other)
                record = host.store.get_outbox(name, orders[name])
                assert record is not None and record.state == OutboxState.REPORTED, name
                assert "PLAIN-STRAP" in (record.note or ""), (name, record.note)
                assert "has no SKU" in (record.note or ""), (name, record.note)
            h.check_listings(host.store, sandbox)

"""A lost store never relists sold units, nor records their sales twice (issue 15, #10).

Through the sandbox's fakes over HTTP: units sold on every channel (and one reserved), the
sales reported to AIM; one more sale placed after the last pass. The store is then lost
(deleted, its marker left beside it). Starting again is refused until a new store is asked
for; the new store's first pass reads the channels' recent orders before it publishes
anything: no sold or reserved unit is put back on sale at any moment, AIM is posted none of the
reported sales again (asked once about each, it answers that it has it), and the sale placed
after the last pass is not lost.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from serialsync import FinancialStatus, StoreError
from serialsync.engine.summary import PassSummary
from serialsync.host import Host
from serialsync.sandbox import Sandbox
from serialsync.settings import load_settings
from serialsync.store import OutboxState, SQLiteStore

from tests.reliability import harness as h

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(h.timeout())]

CLOCK = h.VirtualTime()


def for_sale(sandbox: Sandbox, serials: set[str]) -> dict[str, list[str]]:
    """Which of ``serials`` a shopper can buy now, per channel."""
    found: dict[str, list[str]] = {}
    for name, fake in sandbox.channel_fakes().items():
        live = {sku.rpartition("|||")[2] for sku in h.live_on(fake)}
        if live & serials:
            found[name] = sorted(live & serials)
    return found


def test_a_lost_store_relists_no_sold_unit_and_reports_no_sale_twice(tmp_path: Path) -> None:
    seed = h.seed()
    catalogue = h.catalogue(skus=3, units=36, seed=seed)
    units = [u for p in catalogue for u in p.units]
    with Sandbox(catalogue=catalogue, seed=seed, plugins=h.sandbox_plugins(CLOCK)) as sb:
        config = h.write_config(sb, tmp_path)
        fakes = sb.channel_fakes()
        aim = sb.pos_fakes()[h.POS]
        with h.open_host(config, CLOCK) as host:
            assert h.run_until_quiet(host, sb, max_passes=6).quiet_after is not None
            sold = {}
            for number, channel in enumerate(h.CHANNELS):
                unit = units[number * 3]
                sold[unit.serial] = fakes[channel].create_order([(unit.integration_id, 1)])
            reserved = units[20]
            fakes["shopify"].create_order(
                [(reserved.integration_id, 1)], status=FinancialStatus.PENDING
            )
            assert h.run_until_quiet(host, sb, max_passes=6).quiet_after is not None
            h.check_listings(host.store, sb)
        reported_before = Counter(r.order_number for r in aim.recorded_orders())
        assert len(reported_before) == len(sold)
        # A sale made after the last pass: its report would have been lost with the store.
        late = units[30]
        late_order = fakes["bigcommerce"].create_order([(late.integration_id, 1)])

        store_path = tmp_path / "state.db"
        for path in tmp_path.glob("state.db*"):
            if not path.name.endswith(".marker"):
                path.unlink()
        with pytest.raises(StoreError, match="--new-store"):
            h.open_host(config, CLOCK)

        gone = set(sold) | {reserved.serial, late.serial}
        relisted: list[tuple[str, dict[str, list[str]]]] = []

        def watched(step: str, run: PassSummary) -> PassSummary:
            # After every pass of the new store, no unit sold or reserved is for sale anywhere.
            found = for_sale(sb, gone)
            if found:
                relisted.append((step, found))
            return run

        store = SQLiteStore.open(store_path, new=True)
        with Host.from_settings(load_settings(config), sleep=CLOCK.sleep, store=store) as host:
            watched("first inventory pass", host.inventory_pass())
            quiet = h.run_until_quiet(
                host, sb, max_passes=6, step=lambda x: watched("pass", x.run_once())
            )
            assert quiet.quiet_after is not None, quiet.why.most_common(3)
            assert not relisted, f"sold units put back on sale: {relisted}"
            h.check_listings(host.store, sb)

            reported = Counter(r.order_number for r in aim.recorded_orders())
            repeats = {n: c for n, c in reported.items() if c > 1}
            assert not repeats, f"sales recorded in AIM twice: {repeats}"
            # The new store cannot know which sales of the look-back window reached AIM: each
            # is reported once more, and AIM's lookup (report_sale's idempotency) answers that
            # it has it; nothing is posted again, and no sale is asked about twice.
            for aim_order in reported_before:
                assert h.report_calls(aim, aim_order) == 2, aim_order
            new = [r for r in aim.recorded_orders() if r.order_number not in reported_before]
            assert [[serial for _, serial, _ in r.lines] for r in new] == [[late.serial]], (
                "the sale placed after the last pass was not reported exactly once"
            )
            outbox = {(r.channel, r.order_id): r.state for r in host.store.outbox()}
            for number, serial in enumerate(sold):
                channel = h.CHANNELS[number]
                assert outbox[(channel, sold[serial])] == OutboxState.REPORTED, serial
            assert outbox[("bigcommerce", late_order)] == OutboxState.REPORTED
            assert [r.state for r in host.store.outbox() if r.channel == "shopify"].count(
                OutboxState.WAITING
            ) == 1
        h.report(
            "lost store",
            seed=seed,
            sold_before=len(sold),
            reported_to_aim=sum(reported.values()),
            relisted=len(relisted),
        )

"""Every fake injects every fault; after passes until quiet nothing is lost and nothing doubled.

A catalogue of units over SKUs is listed on the four channels while every platform answers
429s, 5xx, HTML error pages, truncated JSON, dropped connections and timeouts at the same
rate. Shoppers then place orders over the four channels — paid, pending then paid, pending
then cancelled, paid and refunded after the POS has it, paid and cancelled before any pass, two
units in one order, and serials bought on two channels at once — and the passes go on with the
faults still on until two passes in a row change nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from serialsync.engine.summary import PassSummary
from serialsync.host import Host
from serialsync.sandbox import Sandbox
from serialsync.store import OutboxState

from tests.reliability import harness as h
from tests.reliability.pos_mess import KINDS, check_pos_mess, mess_up_pos, messy_products

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(h.timeout())]

MAX_PASSES = 60


def test_under_every_fault_every_invariant_holds(tmp_path) -> None:
    size, seed = h.size(), h.seed()
    rate = h.fault_rate(0.1)
    catalogue = h.catalogue(skus=size.skus, units=size.units, seed=seed)
    units = [u for p in catalogue for u in p.units]
    # Beside the clean catalogue, what a real store's data holds (never sold online).
    catalogue += messy_products()
    clock = h.VirtualTime()
    started = time.monotonic()
    faults = {"*": h.faults(rate, seed=seed, stall=0.6)}
    with Sandbox(
        faults=faults, catalogue=catalogue, seed=seed, plugins=h.sandbox_plugins(clock)
    ) as sandbox:
        config = h.write_config(sandbox, tmp_path, read_timeout=0.5)
        with h.open_host(config, clock) as host:
            phases: dict[str, h.PassLog] = {}

            def until_quiet(name: str, step: Callable[[Host], PassSummary] | None = None) -> None:
                log = h.run_until_quiet(host, sandbox, max_passes=MAX_PASSES, step=step)
                phases[name] = log
                assert log.quiet_after is not None, (
                    f"{name}: not quiet after {log.passes} passes; {log.why.most_common(5)}"
                )

            scenario = h.Scenario()
            try:
                until_quiet("listing", step=lambda x: x.inventory_pass())
                h.check_listings(host.store, sandbox)
                check_pos_mess(host.store, sandbox, None)

                scenario = h.place_orders(
                    sandbox, units, orders=size.orders, doubles=size.doubles, seed=seed
                )
                until_quiet("orders")
                h.move_orders_on(sandbox, scenario)
                h.settle_conflicts(sandbox, scenario, host.store)
                mess = mess_up_pos(sandbox, scenario, units)
                until_quiet("paid/cancelled/refunded")
                # Sold units stay off every channel even where a shop restocked a cancellation.
                h.check_listings(host.store, sandbox)
                h.restock_refunds(sandbox, scenario, {u.serial: u.sku for u in units})
                until_quiet("restocked")
            finally:
                injected = h.injected(sandbox)
                h.report(
                    "faults",
                    seed=seed,
                    scale=h.scale(),
                    size=f"{len(units)} units over {len(catalogue)} SKUs, "
                    f"{len(scenario.orders)} orders {dict(scenario.kinds())}, "
                    f"{len(scenario.doubles)} double sales ({len(scenario.settled)} settled "
                    "by the shop cancelling the losing order)",
                    fault_rate=f"{rate:.0%} of each kind (timeouts {rate / 5:.0%})",
                    injected=injected,
                    requests={name: len(fake.requests) for name, fake in sandbox.fakes.items()},
                    passes_until_quiet={k: v.quiet_after for k, v in phases.items()},
                    failed_then_retried={k: v.failures + v.errors for k, v in phases.items()},
                    seconds=round(time.monotonic() - started, 1),
                    slept_virtually=round(clock.slept, 1),
                )
            # Progress was made under faults: every kind was injected into every fake (at the
            # default rate; a lower SERIALSYNC_RELIABILITY_RATE may leave a rare kind out).
            if rate >= 0.05:
                for name, counts in injected.items():
                    for kind in ("429", "5xx", "html", "malformed", "drop"):
                        assert counts.get(kind, 0) > 0, (name, kind, counts)
                assert sum(c.get("timeout", 0) for c in injected.values()) > 0

            h.check_listings(host.store, sandbox)
            # A report is repeated only where the runner could not know it was taken: a fault
            # on AIM's answer (each injected fault can cost at most one repeat).
            pos_faults = sum(injected[h.POS].values())
            repeated = h.check_orders(
                host.store, sandbox.pos_fakes()[h.POS], scenario, repeats=pos_faults
            )
            h.report("repeated report calls", repeated=repeated, allowed=pos_faults)
            h.check_history(host.store)
            check_pos_mess(host.store, sandbox, mess)
            # The quarantine holds the double sales' losers and the messy POS records only.
            assert {q.kind for q in host.store.quarantined()} <= {"conflict", *KINDS}
            quarantined = host.store.quarantined(kind="conflict")
            conflicts = host.store.outbox(states=(OutboxState.CONFLICT,), limit=100_000)
            assert len(quarantined) == len(conflicts)
            assert len(conflicts) == len(scenario.doubles) - len(scenario.settled)

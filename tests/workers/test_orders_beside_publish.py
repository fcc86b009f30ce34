"""Orders never wait behind a publish, in worker mode too (issue 16 §1): two ``serialsync
worker`` processes, one running a merchant's long inventory publish, the other its order pass
at the same time. The order pass ends while the publish still runs, and a unit sold meanwhile
is never left listed by the publish: the product it belongs to is held by the other process,
whose holder is asked to plan it again (the listing locks across processes).

The publish is held inside the slow shop (its writes wait at a gate) while the test looks, so
"still running" does not depend on the publish's latency outlasting a worker's start and an
order pass, which a loaded machine stretches (it failed once at load 20).
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from serialsync.merchants.registry import MerchantRegistry
from serialsync.sandbox import Sandbox
from serialsync.settings import load_settings
from serialsync.store import OutboxState
from serialsync.store.opening import open_store
from serialsync.testing import FakeChannel, Faults

from tests.merchants.world import invoke, start_worker, wait_until
from tests.reliability import harness as h

UNITS = 24
SLOW = "woocommerce"  # every request of its fake is slowed down: a long publish
FAST = "shopify"

pytestmark = pytest.mark.timeout(300)


def _jobs(deployment: Path) -> dict[str, dict[str, int]]:
    shown = invoke(deployment, "merchants", "show", "acme", "--json")
    assert shown.exit_code == 0, shown.output
    jobs: dict[str, dict[str, int]] = json.loads(shown.stdout)["jobs"]
    return jobs


class _Gate:
    """A fake's ``on_request``: a write (the publisher's, on the slow shop) waits here once
    ``shut_when`` holds, until the test lets the writes go. Reads pass (the order pass reads
    the shop's orders). A hang guard lets a held write through after two minutes."""

    def __init__(self, shut_when: Callable[[], bool]) -> None:
        self._lock = threading.Lock()
        self._shut_when = shut_when
        self._go = threading.Event()
        #: Set once a write was held at the gate since it was last opened.
        self.holding = threading.Event()

    def __call__(self, request: httpx.Request) -> None:
        if request.method == "GET":
            return
        with self._lock:
            shut_when, go = self._shut_when, self._go
        if shut_when():
            self.holding.set()
            go.wait(timeout=120)

    def open(self, *, shut_again_when: Callable[[], bool]) -> None:
        """Let the held writes go, and hold the writes again once ``shut_again_when`` holds."""
        with self._lock:
            go, self._go = self._go, threading.Event()
            self._shut_when = shut_again_when
            self.holding.clear()
        go.set()


def test_an_order_pass_runs_and_withdraws_beside_another_workers_publish(
    deployment: Path, tmp_path: Path, workers: list[subprocess.Popen[str]]
) -> None:
    products = h.catalogue(skus=1, units=UNITS, seed=h.seed(), prefix="AC")
    units = [u for p in products for u in p.units]
    with Sandbox(
        catalogue=products,
        seed=h.seed(),
        types=[h.POS, SLOW, FAST],
        faults={SLOW: Faults(latency=0.4)},
    ) as sandbox:
        config = h.write_config(
            sandbox,
            tmp_path,
            read_timeout=10.0,
            # One product, published two units a call: the product stays held for the whole
            # long publish, and each call plans again from the store.
            sync={"publish_chunk": 2, "orders_interval": 3600, "reconcile_every": 0},
        )
        text = re.sub(r"\[store\]\npath = [^\n]*\n", "", config.read_text())
        config.write_text(text.replace("interval = 30", "interval = 3600"))
        added = invoke(deployment, "merchants", "add", "acme", "--config", str(config))
        assert added.exit_code == 0, added.output

        fast, slow = sandbox.fakes[FAST], sandbox.fakes[SLOW]
        assert isinstance(fast, FakeChannel) and isinstance(slow, FakeChannel)

        def both_listed() -> set[str]:
            return set(h.live_on(fast)) & set(h.live_on(slow))

        # The publish is held at its first write to SLOW after two units are on both shops.
        gate = _Gate(shut_when=lambda: len(both_listed()) >= 2)
        slow.on_request = gate
        try:
            # The first worker, one job at a time: the first order pass (nothing to read), then
            # the first publish, slow on SLOW.
            publisher = start_worker(deployment, tmp_path, "publisher", concurrency=1)
            workers.append(publisher)

            wait_until(gate.holding.is_set, "the publish to list units on both shops")
            assert len(h.live_on(slow)) < UNITS, "the publish ended before the order: too fast"
            assert _jobs(deployment).get("inventory") == {"doing": 1}

            # A shopper buys a unit listed on both shops, while the product is being published.
            sold = sorted(both_listed())[0]
            order_id = fast.create_order([(sold, 1)])
            # The second worker takes the order pass the tick queued (or this queues it now).
            assert invoke(deployment, "schedule", "--now").exit_code == 0
            taker = start_worker(deployment, tmp_path, "orders", concurrency=1)
            workers.append(taker)

            pos = sandbox.pos_fakes()[h.POS]
            wait_until(
                lambda: bool(pos.recorded_orders()), "the sale to reach the POS", timeout=120
            )
            # The order pass ended while the publish still runs: orders did not wait for it.
            jobs = _jobs(deployment)
            assert jobs.get("inventory", {}).get("doing") == 1, jobs
            assert len(h.live_on(slow)) < UNITS - 1, "the publish ended before the order pass"
            # The sold unit is off the other shop well before the publish ends: the publisher,
            # asked (or planning again before its next call), withdrew it. Its next write waits.
            gate.open(shut_again_when=lambda: sold not in h.live_on(slow))
            wait_until(gate.holding.is_set, "the sold unit off the other shop")
            assert sold not in h.live_on(slow)
            assert _jobs(deployment).get("inventory", {}).get("doing") == 1
            assert len(h.live_on(slow)) < UNITS - 1, "the publish ended before the withdrawal"
            gate.open(shut_again_when=lambda: False)

            # It went through the listing locks across processes: the order pass found the product
            # held by the other worker and asked; the publisher planned it again before letting go.
            wait_until(lambda: _jobs(deployment) == {}, "the publish to end", timeout=240)
            assert "listing_locks.asked" in (tmp_path / "worker-orders.log").read_text()
            assert "listing_locks.plan_again" in (tmp_path / "worker-publisher.log").read_text()
            time.sleep(1)
            with MerchantRegistry.open(load_settings(deployment)) as registry:
                settings = registry.settings("acme")
            with open_store(settings.store, lock=False) as store:
                # Every unit but the sold one listed once on both shops, the sold one nowhere;
                # the sale reported once.
                h.check_listings(store, sandbox)
                record = store.get_outbox(FAST, order_id)
                assert record is not None and record.state == OutboxState.REPORTED
            assert sold not in h.live_on(slow) and sold not in h.live_on(fast)
            assert len(pos.recorded_orders()) == 1
            assert {u.integration_id for u in units} - {sold} == set(h.live_on(slow))
        finally:
            gate.open(shut_again_when=lambda: False)  # nothing left held at the end

"""Many merchants, three workers, SIGKILLs at random (issue 18, done when).

Every merchant has its own sandbox (AIM and the four channels' fakes, served over loopback in this
process on ports of their own) and a catalogue whose SKUs and serials carry its own prefix. Three
``serialsync worker`` processes run every merchant's passes from a PostgreSQL queue while the test
places orders (double sales included) and kills a worker at random, starting another in its place.
Each phase ends when the workers alone have brought every merchant to the reliability suite's
invariants (:mod:`tests.reliability.harness`): every sellable unit listed once on every channel,
nothing sold for sale, every paid order reported once, each double sale one conflict; and no
merchant's store, shops or POS holds anything of another's.

The suite runs two merchants (about 2.5 minutes on a loaded 2-core machine); the issue's
fifty with ``SERIALSYNC_CHAOS_MERCHANTS=50``.
"""

from __future__ import annotations

import functools
import os
import random
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from serialsync.merchants.registry import MerchantRegistry
from serialsync.model import SerializedUnit
from serialsync.sandbox import Sandbox
from serialsync.settings import load_settings
from serialsync.store import OutboxState, Store
from serialsync.store.opening import open_store

from tests.merchants.world import invoke, start_worker
from tests.reliability import harness as h

WORKERS = 3
#: Merchants in the suite (a 2-core machine); the issue's 50 through the environment.
MERCHANTS = int(os.environ.get("SERIALSYNC_CHAOS_MERCHANTS", "2"))
UNITS, SKUS, ORDERS, DOUBLES = 16, 3, 9, 2

pytestmark = pytest.mark.timeout(300 + 30 * MERCHANTS)


@dataclass
class Merchant:
    """One merchant of the test: its name, prefix, sandbox, units and orders."""

    name: str
    prefix: str
    sandbox: Sandbox
    units: list[SerializedUnit]
    scenario: h.Scenario = field(default_factory=h.Scenario)


@dataclass
class Chaos:
    """The worker processes, and the kills dealt to them."""

    deployment: Path
    folder: Path
    rng: random.Random
    running: list[subprocess.Popen[str]] = field(default_factory=list)
    started: list[subprocess.Popen[str]] = field(default_factory=list)
    kills: int = 0

    def start(self) -> None:
        """One more worker."""
        proc = start_worker(self.deployment, self.folder, f"w{len(self.started)}", concurrency=2)
        self.running.append(proc)
        self.started.append(proc)

    def kill_one(self) -> None:
        """SIGKILL a worker picked at random (its job stays 'doing') and start another."""
        victim = self.rng.choice(self.running)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=20)
        self.running.remove(victim)
        self.kills += 1
        self.start()

    def rage(self, seconds: float) -> None:
        """Kill a worker every one to three seconds for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(self.rng.uniform(1.0, 3.0))
            for proc in self.running:
                assert proc.poll() is None, f"a worker stopped by itself ({proc.returncode})"
            self.kill_one()

    def stop(self) -> None:
        """Stop every worker cleanly (killed if it hangs)."""
        for proc in self.running:
            proc.send_signal(signal.SIGTERM)
        for proc in self.started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def chaos(deployment: Path, tmp_path: Path) -> Iterator[Chaos]:
    running = Chaos(deployment, tmp_path, random.Random(h.seed()))
    try:
        yield running
    finally:
        running.stop()


def _merchant_config(sandbox: Sandbox, folder: Path) -> Path:
    """The harness's configuration of the sandbox, less ``[store]`` (the deployment gives one),
    with passes every few seconds.

    Reconciles run too, every ten seconds, as a deployment's do: a third flow sharing the
    merchant's lock with the other two.
    """
    config = h.write_config(
        sandbox, folder, read_timeout=2.0, sync={"orders_interval": 5, "reconcile_every": 10}
    )
    text = re.sub(r"\[store\]\npath = [^\n]*\n", "", config.read_text())
    config.write_text(text.replace("interval = 30", "interval = 5"))
    return config


def _open_stores(deployment: Path, merchants: list[Merchant], stack: ExitStack) -> dict[str, Store]:
    """Each merchant's store, read beside the workers (without the runner lock)."""
    with MerchantRegistry.open(load_settings(deployment)) as registry:
        settings = {m.name: registry.settings(m.name) for m in merchants}
    return {
        name: stack.enter_context(open_store(s.store, lock=False)) for name, s in settings.items()
    }


def _holds(check: Callable[[], object]) -> bool:
    try:
        check()
    except AssertionError:
        return False
    return True


def _settle(
    chaos: Chaos, merchants: list[Merchant], stores: dict[str, Store], *, orders: str
) -> None:
    """Wait (no more kills) until the workers have brought every merchant to the invariants."""
    waiting = {m.name for m in merchants}
    deadline = time.monotonic() + 120 + 10 * len(merchants)
    while waiting:
        for merchant in merchants:
            if merchant.name in waiting and _holds(
                functools.partial(
                    _check, merchant, stores[merchant.name], chaos.kills, orders=orders
                )
            ):
                waiting.discard(merchant.name)
        if time.monotonic() > deadline:
            # Fail on the first merchant still out of line, with the invariant it breaks.
            first = next(m for m in merchants if m.name in waiting)
            _check(first, stores[first.name], chaos.kills, orders=orders)
            pytest.fail(f"merchants never settled: {sorted(waiting)}")
        time.sleep(1.0)


def _restock_early(
    merchants: list[Merchant], stores: dict[str, Store], early: dict[str, list[h.PlacedOrder]]
) -> None:
    """Put ``early``'s units back on each merchant's POS shelf (their sales reported: phase 2
    settled on it) and wait, no kills, until the workers have read each restock as a
    discrepancy: the web sale still stands."""
    for merchant in merchants:
        skus = {u.serial: u.sku for u in merchant.units}
        h.restock_refunds(merchant.sandbox, merchant.scenario, skus, early[merchant.name])

    def unread() -> dict[str, list[str]]:
        missing = {}
        for merchant in merchants:
            kept = {q.key for q in stores[merchant.name].quarantined(kind="discrepancy")}
            serials = {s for o in early[merchant.name] for s in o.serials}
            ids = [u.integration_id for u in merchant.units if u.serial in serials]
            if left := [i for i in ids if i not in kept]:
                missing[merchant.name] = left
        return missing

    deadline = time.monotonic() + 60 + 10 * len(merchants)
    while missing := unread():
        assert time.monotonic() < deadline, f"restocks never read as discrepancies: {missing}"
        time.sleep(0.5)


def _check(merchant: Merchant, store: Store, repeats: int, *, orders: str) -> None:
    """The reliability suite's invariants for one merchant, and its isolation.

    :param orders: ``none`` (none placed yet), ``seen`` (every order placed is in the outbox,
        every paid one reported, none twice), ``moved`` (``seen``, and every order its shop
        moved on read again since: :func:`h.check_moved`) or ``final`` (each order's whole
        story, :func:`h.check_orders`).
    """
    known = {u.unit.serial for u in store.all_units()}
    assert known == {u.serial for u in merchant.units}, "the store lacks units of the POS"
    h.check_listings(store, merchant.sandbox)
    pos = merchant.sandbox.pos_fakes()[h.POS]
    if orders == "final":
        # A report repeats only where a worker was killed between AIM's answer and the receipt.
        h.check_orders(store, pos, merchant.scenario, repeats=repeats)
    elif orders in ("seen", "moved"):
        for placed in merchant.scenario.orders:
            assert store.get_outbox(placed.channel, placed.order_id) is not None, placed.key
        # A sale refunded in the next phase is one refunded after the POS had it.
        pending = store.outbox(states=(OutboxState.PENDING,))
        assert not pending, f"not reported yet: {[(r.channel, r.order_id) for r in pending]}"
        numbers = [r.order_number for r in pos.recorded_orders()]
        assert len(numbers) == len(set(numbers)), f"reported twice: {numbers}"
        if orders == "moved":
            h.check_moved(store, merchant.scenario)
    else:
        assert not pos.recorded_orders()
    h.check_history(store)
    # Isolation: its store, its shops and its POS hold its own units and nothing else.
    assert all(u.unit.serial.startswith(merchant.prefix) for u in store.all_units())
    assert all(sku.startswith(merchant.prefix) for sku in store.product_skus())
    for name, fake in merchant.sandbox.channel_fakes().items():
        strays = [x.sku for x in fake.listings() if not x.sku.startswith(merchant.prefix)]
        assert not strays, f"{merchant.name}'s {name} holds another's variants: {strays[:5]}"
    reported = {s for r in pos.recorded_orders() for _, s, _ in r.lines if s}
    assert all(s.startswith(merchant.prefix) for s in reported), sorted(reported)


def test_many_merchants_survive_killed_workers(
    deployment: Path, tmp_path: Path, chaos: Chaos
) -> None:
    seed = h.seed()
    options = {"bigcommerce": {"quota": 10**6}, "shopify": {"restore_rate": 10**6}}
    started = time.monotonic()
    with ExitStack() as stack:
        merchants = []
        for number in range(MERCHANTS):
            name, prefix = f"m{number:02}", f"M{number:02}"
            products = h.catalogue(skus=SKUS, units=UNITS, seed=seed + number, prefix=prefix)
            sandbox = stack.enter_context(
                Sandbox(
                    catalogue=products,
                    seed=seed + number,
                    plugins=h.sandbox_plugins(options=options),
                )
            )
            folder = tmp_path / name
            folder.mkdir()
            config = _merchant_config(sandbox, folder)
            added = invoke(deployment, "merchants", "add", name, "--config", str(config))
            assert added.exit_code == 0, added.output
            units = [u for p in products for u in p.units]
            merchants.append(Merchant(name, prefix, sandbox, units))
        stores = _open_stores(deployment, merchants, stack)
        for _ in range(WORKERS):
            chaos.start()

        # 1. Every merchant's first publish, workers killed under it.
        chaos.rage(12)
        _settle(chaos, merchants, stores, orders="none")
        # 2. Orders of every kind on every merchant's shops, double sales included.
        for number, merchant in enumerate(merchants):
            merchant.scenario = h.place_orders(
                merchant.sandbox, merchant.units, orders=ORDERS, doubles=DOUBLES, seed=seed + number
            )
        chaos.rage(12)
        _settle(chaos, merchants, stores, orders="seen")
        # 3. Units back at the counter before their shop refunds the order (every other
        #    merchant's): AIM's "available" is read while the reported sale stands (a
        #    discrepancy), and the refund read after it must put them back on sale. Left to the
        #    kills' timing, this failed CI once (session 4). Then paid, cancelled, refunded;
        #    conflicts settled by the shops; and the phase waits until each was read.
        early = {m.name: h.restocked(m.scenario)[n % 2 :: 2] for n, m in enumerate(merchants)}
        _restock_early(merchants, stores, early)
        for merchant in merchants:
            h.move_orders_on(merchant.sandbox, merchant.scenario)
            h.settle_conflicts(merchant.sandbox, merchant.scenario, stores[merchant.name])
        chaos.rage(8)
        _settle(chaos, merchants, stores, orders="moved")
        # 4. The POS's staff put the other refunded and cancelled units back on the shelf (the
        #    early ones are not touched again: nothing but the refund puts them back on sale).
        for merchant in merchants:
            late = [o for o in h.restocked(merchant.scenario) if o not in early[merchant.name]]
            skus = {u.serial: u.sku for u in merchant.units}
            h.restock_refunds(merchant.sandbox, merchant.scenario, skus, late)
        chaos.rage(8)
        _settle(chaos, merchants, stores, orders="final")

        time.sleep(6)  # another round of passes: a late double report or relisting lands here
        for merchant in merchants:
            _check(merchant, stores[merchant.name], chaos.kills, orders="final")
        h.report(
            "many merchants, killed workers",
            seed=seed,
            merchants=MERCHANTS,
            units=MERCHANTS * UNITS,
            orders=sum(len(m.scenario.orders) for m in merchants),
            sigkills=chaos.kills,
            workers_started=len(chaos.started),
            seconds=round(time.monotonic() - started, 1),
        )

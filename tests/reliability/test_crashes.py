"""SIGKILL the runner at random points, restart it each time: the invariants still hold.

The sandbox is served by this process; the runner (``tests.reliability.runner``) is a separate
process doing passes against it, as ``serialsync run`` would. A seeded plan decides each kill:

* at the N-th request the platforms receive, **before** it is applied (the platform never saw
  it) or **after** it is applied and before the answer leaves (the runner never learns it was
  done: the case idempotency and adoption exist for);
* or after a random delay, wherever the runner happens to be (a store write, a transaction).

With one worker the runner's requests come in a fixed order, so a seed replays the same kills.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from serialsync.sandbox import Sandbox
from serialsync.store import SQLiteStore
from serialsync.testing import FakePlatform

from tests.reliability import harness as h
from tests.reliability.pos_mess import check_pos_mess, mess_up_pos, messy_products

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(h.timeout())]

ROOT = Path(__file__).resolve().parents[2]
PASSES_PER_RUN = 3


@dataclass
class KillSwitch:
    """Kills the runner from inside the platforms, at the N-th request they receive."""

    served: int = 0
    target: int | None = None
    after_apply: bool = False
    pid: int | None = None
    fired: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, name: str, fake: FakePlatform) -> None:
        handle = fake.handle

        def killing_handle(request: httpx.Request) -> httpx.Response:
            with self.lock:
                self.served += 1
                hit = self.pid is not None and self.target is not None
                hit = hit and self.served >= self.target  # type: ignore[operator]
                pid, after = self.pid, self.after_apply
                if hit:
                    self.pid = None
            if hit and not after:
                self._kill(pid, f"{name} {request.method} {request.url.path} (before)")
                return httpx.Response(503)  # never applied; nobody is listening anyway
            response = handle(request)
            if hit:
                self._kill(pid, f"{name} {request.method} {request.url.path} (after)")
            return response

        fake.handle = killing_handle  # type: ignore[method-assign]

    def _kill(self, pid: int | None, where: str) -> None:
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        self.fired.append(where)

    def arm(self, pid: int, *, in_requests: int, after_apply: bool) -> None:
        with self.lock:
            self.pid, self.target, self.after_apply = pid, self.served + in_requests, after_apply

    def disarm(self) -> None:
        with self.lock:
            self.pid = self.target = None


@dataclass
class CrashLog:
    runs: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    finished: int = 0
    #: Requests the last run that was not killed made: kill points are drawn below it.
    span: int = 150


def start_runner(config: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.runner", str(config), str(PASSES_PER_RUN)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def crash_runs(
    config: Path, switch: KillSwitch, rng: random.Random, kills: int, log: CrashLog
) -> None:
    """Start the runner again and again, killing it ``kills`` times at seeded points."""
    killed = 0
    for _ in range(kills * 3):
        if killed >= kills:
            return
        runner = start_runner(config)
        log.runs += 1
        served = switch.served
        mode = rng.random()
        if mode < 0.8:
            after = rng.random() < 0.6
            switch.arm(runner.pid, in_requests=rng.randint(1, log.span), after_apply=after)
            kind = "after a request was applied" if after else "before a request was applied"
        else:
            time.sleep(rng.uniform(0.6, 2.0))
            kind = "after a random delay"
            if runner.poll() is None:
                runner.send_signal(signal.SIGKILL)
        _, err = runner.communicate(timeout=180)
        switch.disarm()
        if runner.returncode == -signal.SIGKILL:
            killed += 1
            log.kills[kind] += 1
        else:
            assert runner.returncode == 0, err.decode()[-3000:]
            log.finished += 1
            log.span = max(5, switch.served - served)
    assert killed >= kills, f"only {killed} of {kills} kills landed"


def test_sigkill_at_random_points_loses_nothing_and_repeats_nothing(tmp_path) -> None:
    size, seed = h.size(), h.seed()
    rng = random.Random(seed)
    skus, units_count = max(4, size.skus // 2), max(40, size.units // 4)
    catalogue = h.catalogue(skus=skus, units=units_count, seed=seed)
    units = [u for p in catalogue for u in p.units]
    # Beside the clean catalogue, what a real store's data holds (never sold online).
    catalogue += messy_products()
    # Wide quotas: the runner's sleeps are real (capped), so throttling would only slow it.
    options = {"bigcommerce": {"quota": 10**6}, "shopify": {"restore_rate": 10**6}}
    faults = {"*": h.faults(0.02, seed=seed, stall=0.6)}
    started = time.monotonic()
    switch = KillSwitch()
    log = CrashLog()
    per_phase = [size.kills * 2 // 5, size.kills * 2 // 5]
    per_phase.append(size.kills - sum(per_phase))
    with Sandbox(
        faults=faults, catalogue=catalogue, seed=seed, plugins=h.sandbox_plugins(options=options)
    ) as sandbox:
        for name, fake in sandbox.fakes.items():
            switch.install(name, fake)
        config = h.write_config(sandbox, tmp_path, read_timeout=0.5, sync={"workers": 1})

        def settle() -> h.PassLog:
            with h.open_host(config) as host:
                quiet = h.run_until_quiet(host, sandbox, max_passes=40)
                assert quiet.quiet_after is not None, quiet.why.most_common(5)
                h.check_listings(host.store, sandbox)
            return quiet

        # 1. The first listing of every unit on every channel, killed again and again.
        crash_runs(config, switch, rng, per_phase[0], log)
        settle()
        with SQLiteStore.open(tmp_path / "state.db", lock=False) as store:
            check_pos_mess(store, sandbox, None)
        # 2. Orders of every kind, double sales included.
        scenario = h.place_orders(
            sandbox, units, orders=size.orders // 2, doubles=max(2, size.doubles // 2), seed=seed
        )
        crash_runs(config, switch, rng, per_phase[1], log)
        settle()
        # 3. Paid, cancelled, refunded; the POS restocks the refunded units.
        h.move_orders_on(sandbox, scenario)
        with SQLiteStore.open(tmp_path / "state.db", lock=False) as store:
            h.settle_conflicts(sandbox, scenario, store)
        mess = mess_up_pos(sandbox, scenario, units)
        crash_runs(config, switch, rng, per_phase[2] // 2, log)
        settle()
        h.restock_refunds(sandbox, scenario, {u.serial: u.sku for u in units})
        crash_runs(config, switch, rng, per_phase[2] - per_phase[2] // 2, log)
        final = settle()

        with h.open_host(config) as host:
            h.check_listings(host.store, sandbox)
            # A report is repeated only where the runner could not know it was taken: killed
            # between AIM's answer and the stored receipt, or a fault on AIM's answer.
            repeats = sum(log.kills.values()) + sum(sandbox.fakes[h.POS].injected.values())
            repeated = h.check_orders(
                host.store, sandbox.pos_fakes()[h.POS], scenario, repeats=repeats
            )
            h.report("repeated report calls", repeated=repeated, allowed=repeats)
            h.check_history(host.store)
            check_pos_mess(host.store, sandbox, mess)
        h.report(
            "crashes",
            seed=seed,
            scale=h.scale(),
            size=f"{len(units)} units over {len(catalogue)} SKUs, {len(scenario.orders)} orders",
            runner_starts=log.runs,
            sigkills=dict(log.kills),
            runs_that_finished=log.finished,
            kill_points=switch.fired[:12] + (["…"] if len(switch.fired) > 12 else []),
            injected=h.injected(sandbox),
            final_passes_until_quiet=final.quiet_after,
            seconds=round(time.monotonic() - started, 1),
        )
        assert sum(log.kills.values()) >= size.kills

"""`serialsync run`: one pass, passes on an interval, and a clean stop on SIGTERM."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from rich.console import Console
from serialsync import StoreError
from serialsync.cli.run import (
    INVENTORY_TASKS,
    ORDER_TASKS,
    ProgressBars,
    Scheduler,
    Stopper,
    StopRequested,
    intervals,
)
from serialsync.settings import SyncSettings
from serialsync.store import SQLiteStore

from tests.cli.conftest import SERIALS_A, SKU_A, SKU_B, CliWorld, config_toml, table_rows

ROOT = Path(__file__).resolve().parents[2]


def test_run_once_prints_a_summary_table_and_exits_0(world: CliWorld):
    result = world.invoke("run", "--once")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "inventory+orders pass" in out and ": ok" in out
    for heading in (
        "connector",
        "created",
        "updated",
        "withdrawn",
        "unchanged",
        "failed",
        "orders",
        "reported",
        "conflicts",
        "quarantined",
    ):
        assert heading in out
    rows = {row[0]: row[1:] for row in table_rows(out)}
    assert rows["shop_a"][:3] == ["5", "0", "0"]  # five units created on shop_a
    assert rows["aim"] == ["0"] * 9
    assert set(world.channel("shop_b").live()) == {f"{SKU_A}|||{s}" for s in SERIALS_A} | {
        f"{SKU_B}|||MX1001",
        f"{SKU_B}|||MX1002",
    }


def test_run_once_json_is_one_summary_object(world: CliWorld):
    data = world.json("run", "--once")
    assert data["kind"] == "inventory+orders"
    assert data["ok"] is True
    assert data["connectors"]["shop_a"]["created"] == 5
    assert data["connectors"]["aim"]["units_in"] == 5
    # A second pass over an unchanged catalogue sends nothing.
    writes = world.channel("shop_a").writes
    again = world.json("run", "--once")
    assert [again["connectors"]["shop_a"][k] for k in ("created", "updated", "withdrawn")] == [
        0,
        0,
        0,
    ]
    assert world.channel("shop_a").writes == writes


def test_logs_are_json_lines_when_stderr_is_not_a_terminal(world: CliWorld):
    result = world.invoke("run", "--once")
    events = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert any(e["event"] == "pass.finished" and e["ok"] is True for e in events)
    assert all("timestamp" in e and "level" in e for e in events)


def test_run_once_exits_1_when_the_pass_had_failures(synced: CliWorld):
    synced.sell("shop_a", [f"{SKU_A}|||{SERIALS_A[0]}"])
    synced.sell("shop_b", [f"{SKU_A}|||{SERIALS_A[0]}"])  # the same unit, sold twice
    result = synced.invoke("run", "--once")
    assert result.exit_code == 1, result.output
    assert "had failures" in result.stdout
    data = synced.json("run", "--once")  # nothing new: this pass is clean again
    assert data["ok"] is True


def test_interval_below_5_seconds_is_a_usage_error(world: CliWorld):
    result = world.invoke("run", "--interval", "1")
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def test_sigterm_mid_pass_stops_at_a_checkpoint_and_exits_143(world: CliWorld):
    # The channel sends SIGTERM to this very process after its 1st publish call.
    world.config.write_text(config_toml(world.folder, channel_extra="sigterm_after_publishes = 1"))
    before = signal.getsignal(signal.SIGTERM)
    result = world.invoke("run", "--once")
    assert result.exit_code == 143, result.output  # --once cut short: not a whole pass
    assert "stopped cleanly" in result.stdout
    assert signal.getsignal(signal.SIGTERM) is before  # handlers put back
    with SQLiteStore.open(world.folder / "state.db", lock=False) as store:
        # Stopped after the first product: the second was never sent, nothing half-recorded.
        listed = {
            r.unit.integration_id
            for r in store.all_units()
            if store.listings_of_unit(r.unit.serial)
        }
        assert listed == set(world.channel("shop_a").variants)
        assert len(listed) < 5
        last = store.runs(limit=1)[0]
        assert last.finished_at is not None and last.summary["interrupted"] is True


def _signal_once_both_passes_ended(
    world: CliWorld, stop: threading.Event, ours: object, failures: list[BaseException]
) -> None:
    """SIGTERM this process once ``run`` has installed its handler and ended one pass of each
    loop (a signal before the handler is in place would reach only the test's own no-op).

    ``run`` may still be creating the store when it is first looked at: a read-only open then
    refuses with :class:`StoreError` (it is no store yet), and this looks again. Anything else
    is recorded and the signal sent anyway, so that the test fails with it instead of waiting
    out the ten-minute interval.
    """
    while not stop.wait(0.05):
        if signal.getsignal(signal.SIGTERM) is ours:
            continue  # run's handler is not in place yet
        state = world.folder / "state.db"
        if not state.exists():
            continue
        try:
            with SQLiteStore.open(state, read_only=True) as store:
                ended = {r.kind for r in store.runs() if r.finished_at is not None}
        except StoreError:
            continue
        except BaseException as exc:
            failures.append(exc)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        if {"inventory", "orders"} <= ended:
            os.kill(os.getpid(), signal.SIGTERM)
            return


def test_sigterm_between_passes_ends_the_wait_at_once(world: CliWorld):
    stop = threading.Event()
    failures: list[BaseException] = []

    def ours(*_: object) -> None:
        """Never the test runner's death, should a signal come outside ``run``."""

    before = signal.signal(signal.SIGTERM, ours)
    sender = threading.Thread(
        target=_signal_once_both_passes_ended, args=(world, stop, ours, failures)
    )
    started = time.monotonic()
    sender.start()
    try:
        result = world.invoke("run", "--interval", "600", "--json")
    finally:
        stop.set()
        sender.join()
        signal.signal(signal.SIGTERM, before)
    assert failures == []
    # Waiting out the interval would take ten minutes: the wait was cut (a generous bound, so
    # a loaded machine never fails it).
    assert time.monotonic() - started < 300
    assert result.exit_code == 0, result.output
    passes = [json.loads(line) for line in result.stdout.splitlines()]
    # One pass of each loop, then both waits were cut.
    assert sorted(p["kind"] for p in passes) == ["inventory", "orders"]
    assert all(p["ok"] is True for p in passes)
    assert "stopped cleanly" in result.stderr  # stdout stays pure JSON lines


def test_sigterm_to_a_running_serialsync_process(world: CliWorld, tmp_path: Path):
    """The real thing: a subprocess, slow publishing, SIGTERM while a pass runs."""
    pos = world.pos()
    for n in range(20):
        pos.add_product(f"SLOW{n:03d}", [f"SL{n:05d}"])
    marker = tmp_path / "publishing"
    world.config.write_text(
        config_toml(
            world.folder,
            channel_extra=f'publish_delay = 0.05\npublishing_marker = "{marker}"',
        )
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SERIALSYNC_EXTRA_PLUGINS": "tests.cli.plugin:PLUGIN",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "serialsync.cli", "run", "--config", str(world.config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120  # a hang guard: a loaded machine starts Python slowly
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never started publishing"
            time.sleep(0.02)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "stopped cleanly" in stdout
    assert "Traceback" not in stderr
    with SQLiteStore.open(world.folder / "state.db", lock=False) as store:
        live = {
            f"{li.sku}|||{li.serial}"
            for u in store.all_units()
            for li in store.listings_of_unit(u.unit.serial)
            if li.connector == "shop_a"
        }
    # What the channel holds is exactly what the store recorded: nothing lost, nothing extra.
    assert live == set(world.channel("shop_a").variants)
    assert 0 < len(live) < 25
    # The next run picks up where the stopped one left off.
    world.config.write_text(config_toml(world.folder))
    done = world.json("run", "--once")
    assert done["ok"] is True
    assert done["connectors"]["shop_a"]["created"] == 25 - len(live)


def test_stopper_turns_the_flag_into_stop_requested_but_not_between_call_and_record():
    stopper = Stopper()
    stopper.checkpoint("publish.recorded")  # no stop asked: nothing happens
    stopper.requested = True
    stopper.checkpoint("publish.after_call")  # remote work done, not recorded yet: go on
    with pytest.raises(StopRequested, match=r"^publish\.recorded$"):
        stopper.checkpoint("publish.recorded")
    slept: list[float] = []
    stopper.wait(30, sleep=slept.append)
    assert slept == []  # a stop already asked for: not one slice slept (no wall clock read)
    waiting = Stopper()

    def slice_then_signal(seconds: float) -> None:
        slept.append(seconds)
        waiting.requested = len(slept) == 2  # the signal comes during the second slice

    waiting.wait(30, sleep=slice_then_signal)
    assert slept == [0.2, 0.2]  # slept in short slices, and stopped at the first after it


def test_intervals_inventory_from_the_interval_orders_every_60_seconds_by_default():
    assert intervals(SyncSettings()) == (300.0, 60.0)
    assert intervals(SyncSettings(), 30.0) == (30.0, 30.0)  # --interval shorter than 60 s
    assert intervals(SyncSettings(interval=timedelta(minutes=10))) == (600.0, 60.0)
    assert intervals(
        SyncSettings(inventory_interval=timedelta(hours=1), orders_interval=timedelta(seconds=20))
    ) == (3600.0, 20.0)
    assert intervals(SyncSettings(orders_interval=timedelta(seconds=1)))[1] == 5.0  # floor


def test_a_long_inventory_pass_never_holds_the_order_loop_back():
    stopper = Stopper()
    orders_ran = []
    three = threading.Event()

    def inventory() -> None:  # a 5,000-second publish, as far as the order loop can tell
        assert three.wait(30), "the order loop waited for the inventory pass"
        stopper.requested = True

    def orders() -> None:
        orders_ran.append(threading.current_thread().name)
        if len(orders_ran) == 3:
            three.set()

    scheduler = Scheduler(stopper)
    scheduler.add("inventory", 300, inventory)
    scheduler.add("orders", 0, orders)
    scheduler.run()

    assert len(orders_ran) >= 3 and set(orders_ran) == {"orders-loop"}
    assert not scheduler.failures


def test_a_stop_at_a_checkpoint_ends_that_loop_and_a_stop_request_ends_the_others():
    stopper = Stopper()
    stopper.install()
    try:

        def inventory() -> None:
            os.kill(os.getpid(), signal.SIGTERM)  # the operator, mid-pass
            while True:
                stopper.checkpoint("publish.recorded")  # the pass's next boundary stops it
                time.sleep(0.01)

        scheduler = Scheduler(stopper)
        scheduler.add("inventory", 300, inventory)
        scheduler.add("orders", 300, lambda: None)  # waiting for its next pass
        scheduler.run()
    finally:
        stopper.restore()
    assert [str(s) for s in scheduler.stopped] == ["publish.recorded"]
    assert stopper.signal_name == "SIGTERM"


def test_a_loop_that_fails_stops_the_other_and_the_error_surfaces():
    stopper = Stopper()
    seen = []

    def orders() -> None:
        seen.append("orders")

    def inventory() -> None:
        raise RuntimeError("the store is gone")

    scheduler = Scheduler(stopper)
    scheduler.add("orders", 0.01, orders)
    scheduler.add("inventory", 300, inventory)
    with pytest.raises(RuntimeError, match="the store is gone"):
        scheduler.run()
    assert stopper.requested


def test_progress_bars_follow_the_engine_callback():
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    bars = ProgressBars(console)
    with bars:
        bars("publish", "shop_a", 1, 4)
        bars("publish", "shop_a", 3, 4)
        bars("fetch_orders", "shop_b", 2, None)
        tasks = {t.description: (t.completed, t.total) for t in bars.progress.tasks}
    assert tasks == {"shop_a: publishing": (3, 4), "shop_b: reading orders": (2, None)}


def test_progress_bars_of_two_passes_side_by_side_go_with_their_own_pass():
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    bars = ProgressBars(console)
    with bars.showing(INVENTORY_TASKS):
        bars("publish", "shop_a", 1, 400)  # a long publish
        with bars.showing(ORDER_TASKS):  # an order pass starts and ends meanwhile
            bars("fetch_orders", "shop_a", 2, None)
            bars("withdraw", "shop_a", 3, 3)
        left = {t.description for t in bars.progress.tasks}
        assert left == {"shop_a: publishing"}
        assert bars.progress.live.is_started  # the inventory pass still draws
    assert not bars.progress.tasks and not bars.progress.live.is_started

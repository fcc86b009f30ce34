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
from pathlib import Path

import pytest
from rich.console import Console
from serialsync.cli.run import ProgressBars, Stopper, StopRequested, _Schedule
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


def test_sigterm_mid_pass_stops_at_a_checkpoint_and_exits_0(world: CliWorld):
    # The channel sends SIGTERM to this very process after its 1st publish call.
    world.config.write_text(config_toml(world.folder, channel_extra="sigterm_after_publishes = 1"))
    before = signal.getsignal(signal.SIGTERM)
    result = world.invoke("run", "--once")
    assert result.exit_code == 0, result.output
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


def test_sigterm_between_passes_ends_the_wait_at_once(world: CliWorld):
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    started = time.monotonic()
    timer.start()
    try:
        result = world.invoke("run", "--interval", "30", "--json")
    finally:
        timer.cancel()
    assert time.monotonic() - started < 5
    assert result.exit_code == 0, result.output
    passes = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(passes) == 1 and passes[0]["ok"] is True  # one pass, then the wait was cut
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
        deadline = time.monotonic() + 15
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never started publishing"
            time.sleep(0.02)
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=10)
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
    started = time.monotonic()
    stopper.wait(30)
    assert time.monotonic() - started < 0.1


def test_schedule_runs_inventory_and_orders_on_their_own_intervals():
    schedule = _Schedule(inventory_every=300, orders_every=60)
    assert schedule.due(0) == (True, True)
    schedule.ran(0, True, True)
    assert schedule.due(59) == (False, False)
    assert schedule.wait_from(0) == 60
    assert schedule.due(60) == (False, True)
    schedule.ran(60, False, True)
    assert schedule.due(300) == (True, True)


def test_progress_bars_follow_the_engine_callback():
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    bars = ProgressBars(console)
    with bars:
        bars("publish", "shop_a", 1, 4)
        bars("publish", "shop_a", 3, 4)
        bars("fetch_orders", "shop_b", 2, None)
        tasks = {t.description: (t.completed, t.total) for t in bars.progress.tasks}
    assert tasks == {"shop_a: publishing": (3, 4), "shop_b: reading orders": (2, None)}

"""Ctrl-C / SIGTERM stop `serialsync run` at once, even in a retry wait (issue 21 #1)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serialsync.store import SQLiteStore

from tests.cli.unreachable import dead_config, subprocess_env


def _start_run(config: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "serialsync.cli", "run", "--config", str(config), *args],
        cwd=config.parent,
        env={**subprocess_env(), "SERIALSYNC_LOG__FORMAT": "json"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_a_retry(proc: subprocess.Popen[str]) -> list[str]:
    """Read stderr until the runner reports a refused connection: it is now in a retry wait."""
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if "http.transport_error" in line:
            return seen
    raise AssertionError(f"the runner never tried to connect: {''.join(seen)}")


def _events(lines: list[str]) -> list[dict[str, object]]:
    events = []
    for line in lines:
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_a_retry_wait_stops_run_once_before_the_order_pass(
    tmp_path: Path, signum: signal.Signals, code: int
):
    config = dead_config(tmp_path)
    proc = _start_run(config, "--once")
    try:
        before = _wait_for_a_retry(proc)
        proc.send_signal(signum)
        # A hang guard only: the retries left would take 15 s per request, and a pass many.
        stdout, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    events = _events(before + rest.splitlines())
    names = [e.get("event") for e in events]
    assert proc.returncode == code, rest
    assert "stopped cleanly" in stdout
    assert "Traceback" not in rest
    # The inventory pass was cut in its wait; no order pass started after the signal.
    started = [e.get("operation") for e in events if e.get("event") == "pass.started"]
    assert started == ["inventory_pass"], started
    assert "pass.interrupted" in names
    # No request was sent after the stop (the last transport error precedes the interruption).
    tries = [i for i, n in enumerate(names) if n == "http.transport_error"]
    assert tries and tries[-1] < names.index("pass.interrupted")
    assert "http.gave_up" not in names  # it stopped waiting, not gave up after every retry
    with SQLiteStore.open(tmp_path / "state.db", lock=False) as store:
        runs = store.runs(limit=5)
    assert [r.kind for r in runs] == ["inventory"]
    assert runs[0].finished_at is not None and runs[0].summary["interrupted"] is True


def test_sigterm_stops_the_looping_runner_in_a_retry_wait_with_exit_0(tmp_path: Path):
    config = dead_config(tmp_path)
    proc = _start_run(config, "--interval", "30")
    try:
        _wait_for_a_retry(proc)
        time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr  # a service manager's stop is a normal end
    assert "stopped cleanly" in stdout
    assert "Traceback" not in stderr
    assert "http.gave_up" not in stderr


def test_run_help_documents_the_exit_codes_of_a_stop():
    from serialsync.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "130 (Ctrl-C) or 143 (SIGTERM)" in text
    assert "stopped cleanly" in text

"""The CLI against the sandbox: every platform's fake over real HTTP on loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serialsync.cli import app
from serialsync.settings import load_settings
from typer.testing import CliRunner

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERIALSYNC_CONFIG", raising=False)
    monkeypatch.delenv("SERIALSYNC_EXTRA_PLUGINS", raising=False)
    return tmp_path


def test_demo_leaves_a_store_the_other_commands_read(isolated: Path):
    result = runner.invoke(app, ["demo", "--dir", "demo"])
    assert result.exit_code == 0, result.output
    told_all = (
        "Units listed per channel",
        "Sales reported to the POS",
        "withdrawn everywhere",
        "Withdrawn by webhook",
    )
    for told in told_all:
        assert told in result.stdout
    assert "[bold]" not in result.stdout, "markup printed as text"
    assert "still for sale" not in result.stdout, "a webhook sale was not withdrawn everywhere"
    config = ["--config", str(isolated / "demo" / "serialsync.toml")]
    status = json.loads(runner.invoke(app, ["status", "--json", *config]).stdout)
    assert sum(status["units"].values()) == 20
    channels = [c for c in status["connectors"] if c["plugin"] != "aim_pos"]
    assert channels and all(c["units"]["live"] + c["units"]["withdrawn"] == 20 for c in channels)
    # Each connector's last pass says what it asked of its platform, in the table too.
    human = " ".join(runner.invoke(app, ["status", *config]).stdout.split())
    for connector in status["connectors"]:
        http = connector["last_pass"]["http"]
        assert http["requests"] > 0, connector["name"]
        assert f"({http['requests']} requests, {http['throttled']} throttled)" in human
    units = json.loads(runner.invoke(app, ["serials", "list", "--json", *config]).stdout)["units"]
    sold = [u for u in units if u["status"] == "sold"]
    assert sold and all(set(u["listings"].values()) == {"withdrawn"} for u in sold)
    conflicts = runner.invoke(app, ["sales", "list", "--state", "conflict", "--json", *config])
    assert len(json.loads(conflicts.stdout)["sales"]) == 1
    shown = runner.invoke(app, ["serials", "show", sold[0]["serial"], *config])
    assert shown.exit_code == 0 and "reported" in shown.stdout
    # It ends with the panel's address and a one-time login for this run: it lets one in once.
    import re

    from serialsync.panel.users import login_state, spend_login
    from serialsync.store import SQLiteStore

    words = " ".join(result.stdout.split())
    link = re.search(
        r"one-time login for the demo .*? http://127\.0\.0\.1:8788/login/once/(\S+)", words
    )
    assert link, result.stdout[-600:]
    assert "password" not in words.lower()
    with SQLiteStore.open(isolated / "demo" / "serialsync.db", lock=False) as store:
        assert login_state(store, link.group(1)) == "ready"
        user = spend_login(store, link.group(1))
        assert user is not None and (user.name, user.role) == ("demo", "operator")
        assert spend_login(store, link.group(1)) is None
        assert login_state(store, link.group(1)) == "used"


def test_sandbox_serve_with_faults_then_run_and_check_against_it(isolated: Path):
    config = isolated / "sandbox.toml"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SERIALSYNC_EXTRA_PLUGINS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "serialsync.cli", "sandbox", "serve",
         "--faults", "5xx=0.03,drop=0.01,latency=0.001", "--write-config", str(config),
         "--store", str(isolated / "state.db")],
        cwd=isolated, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # A hang guard, not a measure: a loaded machine starts Python and the fakes slowly.
        deadline = time.monotonic() + 120
        while True:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the sandbox never wrote its configuration"
            if config.exists():
                try:
                    if load_settings(config).connectors:
                        break
                except Exception:  # noqa: S110 - still being written
                    pass
            time.sleep(0.05)
        check = runner.invoke(app, ["check", "--json", "--config", str(config)])
        assert check.exit_code == 0, check.output
        assert {c["connector"] for c in json.loads(check.stdout)["connectors"]} >= {"aim_pos"}
        first = runner.invoke(app, ["run", "--once", "--json", "--config", str(config)])
        assert first.exit_code in (0, 1), first.output
        summary = json.loads(first.stdout)
        assert summary["connectors"]["aim_pos"]["units_in"] == 20
        # Faults are transient: passes converge on every unit live on every channel.
        for _ in range(3):
            if summary["ok"]:
                break
            again = runner.invoke(app, ["run", "--once", "--json", "--config", str(config)])
            summary = json.loads(again.stdout)
        status = json.loads(
            runner.invoke(app, ["status", "--json", "--config", str(config)]).stdout
        )
        channels = [c for c in status["connectors"] if c["plugin"] != "aim_pos"]
        assert channels and all(c["units"]["live"] == 20 for c in channels), channels
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, stderr
    assert "sandbox stopped" in stdout
    assert "[connectors.aim_pos]" in stdout  # it printed the configuration to use

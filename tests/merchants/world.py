"""A deployment of merchants for tests: the run's PostgreSQL database, a register of the test's
own, and merchants of memory connectors (each its own POS and shops in a folder)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serialsync.cli import app
from serialsync.merchants import SECRET_KEY_ENV, new_key
from typer.testing import CliRunner, Result

from tests.cli.conftest import EXTRA, SECRETS, SKU_A, config_toml
from tests.engine.memory import MemoryPos

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def deployment(tmp_path: Path, postgres_database: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A deployment's configuration: the run's database, a register schema of this test's."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERIALSYNC_CONFIG", raising=False)
    monkeypatch.delenv("SERIALSYNC_MERCHANT", raising=False)
    monkeypatch.setenv("SERIALSYNC_EXTRA_PLUGINS", EXTRA)
    monkeypatch.setenv(SECRET_KEY_ENV, new_key())
    config = tmp_path / "deployment.toml"
    register = f"r_{uuid.uuid4().hex[:12]}"
    config.write_text(
        f'[store]\nurl = "{postgres_database}"\n\n[merchants]\nschema = "{register}"\n'
    )
    return config


def merchant_file(folder: Path, serials: tuple[str, ...], channel_extra: str = "") -> Path:
    """A merchant of memory connectors (its own POS and shops under ``folder``)."""
    folder.mkdir(parents=True, exist_ok=True)
    pos = MemoryPos(folder / "aim.json")
    pos.add_product(SKU_A, serials)
    text = config_toml(folder, channel_extra=channel_extra)
    # A merchant's configuration has no [store]: the deployment gives it one.
    text = text.replace('[store]\npath = "state.db"\n', "")
    path = folder / "merchant.toml"
    path.write_text(text)
    return path


def invoke(deployment: Path, *args: str) -> Result:
    result = CliRunner().invoke(app, ["--config", str(deployment), *args])
    for secret in SECRETS.values():
        assert secret not in result.stdout and secret not in result.stderr, args
    return result


def wait_until(check: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    """Poll ``check`` until it holds; fail naming ``what`` after ``timeout`` (a hang guard for
    tests that watch other processes, not a measure of speed)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)


def start_worker(
    deployment: Path, cwd: Path, name: str, *, concurrency: int = 2
) -> subprocess.Popen[str]:
    """A ``serialsync worker`` process of the deployment, sending a heartbeat every second (so a
    killed one's jobs are given to others after three); its output goes to ``worker-NAME.log``
    in ``cwd`` (a pipe nobody reads would fill and stop it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "serialsync.cli", "--config", str(deployment), "worker"]
    with (cwd / f"worker-{name}.log").open("a") as log:
        return subprocess.Popen(
            [*command, "--heartbeat", "1", "--concurrency", str(concurrency), "--name", name],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )


@pytest.fixture
def workers() -> Iterator[list[subprocess.Popen[str]]]:
    """Worker processes a test started (append them): stopped after it, killed if they hang."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

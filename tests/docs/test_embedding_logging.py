"""Embedding: a standard-library logger, a store the host did not open, a silent library
(issue 21 #13, #14)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import structlog
from serialsync.host import Host
from serialsync.logging import adapt_logger
from serialsync.manager import PluginManager
from serialsync.settings import Settings
from serialsync.store import SQLiteStore

from tests.docs.test_embedding_example import examples

ROOT = Path(__file__).resolve().parents[2]


def test_from_settings_takes_a_standard_library_logger(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    settings = Settings(store={"path": tmp_path / "state.db"})
    with (
        caplog.at_level(logging.INFO, logger="app"),
        Host.from_settings(
            settings, logger=logging.getLogger("app"), load_entrypoints=False
        ) as host,
    ):
        assert host.inventory_pass().ok
    records = [r for r in caplog.records if r.name == "app"]
    messages = [r.getMessage() for r in records]
    assert any(
        m.startswith("event='pass.started'") and "operation='inventory_pass'" in m for m in messages
    ), messages
    assert {r.levelno for r in records} == {logging.INFO}


def test_a_standard_library_logger_gets_masked_events_at_its_own_level(
    caplog: pytest.LogCaptureFixture,
):
    from serialsync.redaction import register_secret

    register_secret("sk-embed-SECRET-42")
    log = adapt_logger(logging.getLogger("app.quiet")).bind(connector="shop")
    with caplog.at_level(logging.WARNING, logger="app.quiet"):
        log.info("http.response", status=200)  # below the level: not even rendered
        log.warning("http.retry", token="sk-embed-SECRET-42")
    [record] = [r for r in caplog.records if r.name == "app.quiet"]
    assert record.levelno == logging.WARNING
    assert "sk-embed-SECRET-42" not in record.getMessage()
    assert "connector='shop'" in record.getMessage()


def test_a_structlog_logger_is_taken_as_it_is_and_other_objects_are_refused():
    log = structlog.get_logger("app")
    assert adapt_logger(log) is log
    assert adapt_logger(None) is None
    with pytest.raises(TypeError, match=r"logging\.Logger"):
        adapt_logger(print)


def test_a_host_never_closes_a_store_it_did_not_open(tmp_path: Path):
    with SQLiteStore.open(tmp_path / "state.db") as store:
        with Host(plugins=PluginManager(load_entrypoints=False), store=store) as host:
            host.inventory_pass()
        assert len(store.runs(limit=5)) == 1  # still open after the host closed
        settings = Settings(store={"path": tmp_path / "other.db"})
        with Host.from_settings(settings, store=store, load_entrypoints=False) as host:
            host.order_pass()
        assert len(store.runs(limit=5)) == 2
    # The store it opened from [store] it closes: the runner lock is free again at once.
    settings = Settings(store={"path": tmp_path / "own.db"})
    Host.from_settings(settings, load_entrypoints=False).close()
    SQLiteStore.open(tmp_path / "own.db").close()


def test_the_guides_first_example_prints_only_its_own_lines(tmp_path: Path):
    """Run as an application would, logging unconfigured: no debug or info line appears."""
    script = tmp_path / "example.py"
    script.write_text(examples()["embedding"])
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT), "TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 3, lines
    assert lines[0].startswith("inventory pass: ok=True")
    assert done.stderr == ""

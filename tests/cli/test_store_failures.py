"""What a person sees when the state store cannot be used: one line, exit code 3, no
traceback; read-only commands still read a read-only store (issue 15, #10 and #11)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from serialsync.store import SQLiteStore
from typer.testing import Result

from tests.cli.conftest import CliWorld
from tests.readonly import ReadOnly

ROOT = Path(__file__).resolve().parents[2]


def one_line(result: Result, code: int = 3) -> str:
    """The one line a refused command says (asserting the exit code, no traceback); the rest
    of stderr is log records."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = [x for x in result.stderr.splitlines() if not x.startswith("{")]
    assert len(lines) == 1, lines
    assert lines[0].startswith("serialsync: ")
    return lines[0]


def store_files(world: CliWorld) -> list[Path]:
    return [world.folder / f"state.db{suffix}" for suffix in ("", "-wal", "-shm")]


def test_run_help_documents_the_exit_codes(world: CliWorld) -> None:
    result = world.invoke("run", "--help", config=False)
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "3 when the state store cannot be used" in text
    assert "--new-store" in text


def test_a_lost_store_is_refused_until_new_store_is_asked_for(synced: CliWorld) -> None:
    for path in store_files(synced):
        path.unlink(missing_ok=True)
    line = one_line(synced.invoke("run", "--once"))
    assert "state.db is missing" in line and "--new-store" in line
    assert not (synced.folder / "state.db").exists()
    assert "is missing" in one_line(synced.invoke("status"))
    started = synced.invoke("run", "--once", "--new-store")
    assert started.exit_code == 0, started.output
    assert synced.invoke("run", "--once").exit_code == 0  # the new store is the one now


def test_an_emptied_store_is_refused(synced: CliWorld) -> None:
    for path in store_files(synced)[1:]:
        path.unlink(missing_ok=True)
    (synced.folder / "state.db").write_bytes(b"")
    assert "state.db is empty" in one_line(synced.invoke("run", "--once"))


@pytest.mark.parametrize("command", [("run", "--once"), ("status",), ("sales", "list")])
def test_a_damaged_header_is_one_line(world: CliWorld, command: tuple[str, ...]) -> None:
    (world.folder / "state.db").write_bytes(b"this is no database " * 500)
    line = one_line(world.invoke(*command))
    assert "state.db is damaged" in line and "restore it from a backup" in line


def test_a_damaged_interior_is_one_line(synced: CliWorld) -> None:
    pos = synced.pos()
    for number in range(30):  # enough rows for the tables to span many pages
        pos.add_product(f"BULK{number:03}", [f"BK{number:05}{n}" for n in range(5)])
    assert synced.invoke("run", "--once").exit_code == 0
    path = synced.folder / "state.db"
    pages = path.stat().st_size // 4096
    assert pages > 8
    with path.open("r+b") as raw:  # the header and the schema stay; the tables are garbage
        raw.seek(4096 * 2)
        raw.write(b"\xff" * 4096 * (pages - 3))
    assert "state.db is damaged" in one_line(synced.invoke("status"))
    assert "state.db is damaged" in one_line(synced.invoke("run", "--once"))


def test_a_read_only_store_is_read_by_status_and_refused_by_run(
    synced: CliWorld, read_only: ReadOnly
) -> None:
    read_only(synced.folder / "state.db")
    status = synced.invoke("status")
    assert status.exit_code == 0, status.output
    assert "shop_a" in status.stdout
    assert synced.invoke("serials", "find", "US21").exit_code == 0
    assert synced.invoke("sales", "list").exit_code == 0
    assert synced.invoke("quarantine", "list").exit_code == 0
    line = one_line(synced.invoke("run", "--once"))
    assert "state.db is read-only" in line and "make it writable" in line


def test_a_read_only_folder_is_one_line_for_run_and_status_still_reads(
    synced: CliWorld, read_only: ReadOnly
) -> None:
    read_only(synced.folder)
    assert synced.invoke("status").exit_code == 0
    line = one_line(synced.invoke("run", "--once"))
    assert f"make the folder {synced.folder} writable" in line


def test_a_full_disk_stops_the_pass_with_one_line(
    world: CliWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = SQLiteStore.open

    def on_a_full_disk(*args: object, **kwargs: object) -> SQLiteStore:
        store = opened(*args, **kwargs)  # type: ignore[arg-type]
        if not kwargs.get("read_only"):
            pages = store._db.execute("PRAGMA page_count").fetchone()[0]
            store._db.execute(f"PRAGMA max_page_count = {pages}")  # no page more fits
        return store

    monkeypatch.setattr(SQLiteStore, "open", on_a_full_disk)
    pos = world.pos()
    for number in range(40):  # more than the store's first pages hold
        pos.add_product(f"BULK{number:03}", [f"BK{number:05}{n}" for n in range(5)])
    line = one_line(world.invoke("run", "--once"))
    assert "state.db: the disk is full" in line and "free some space" in line


def test_a_store_deleted_under_a_running_service_stops_it(world: CliWorld, tmp_path: Path) -> None:
    """The real thing: `serialsync run` as a process; its store deleted between passes."""
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SERIALSYNC_EXTRA_PLUGINS": "tests.cli.plugin:PLUGIN",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "serialsync.cli", "run", "--json", "--config", str(world.config)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first_pass = proc.stdout.readline()  # one JSON line per pass
        assert '"kind"' in first_pass, proc.communicate(timeout=10)
        for path in store_files(world):
            path.unlink(missing_ok=True)
        deadline = time.monotonic() + 120  # a hang guard: it ends as soon as the runner does
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        still_running = proc.poll() is None
    finally:
        if proc.poll() is None:
            proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert not still_running, "the runner went on without its store"
    assert proc.returncode == 3, stderr
    assert "Traceback" not in stderr
    [line] = [x for x in stderr.splitlines() if x.startswith("serialsync:")]
    assert "was deleted while serialsync was using it" in line

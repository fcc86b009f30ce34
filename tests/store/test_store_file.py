"""The store file's guards: one runner per file by any path, a lost store refused, one-line
errors for a damaged, read-only or full store (issue 15, #10-#12)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from serialsync import SerializedUnit, StoreError, StoreLockedError, UnitStatus
from serialsync.store import SQLiteStore
from serialsync.store.file import FileLock

from tests.readonly import ReadOnly

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def runner_holding(path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that opened the store at ``path`` as a runner and keeps it open."""
    code = "\n".join(
        [
            "import sys",
            "from serialsync.store import SQLiteStore",
            f"store = SQLiteStore.open({str(path)!r})",
            "print('holding', flush=True)",
            "sys.stdin.readline()",
            "store.close()",
        ]
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "holding", proc.communicate(timeout=10)
        yield proc
    finally:
        if proc.poll() is None:
            proc.communicate("\n", timeout=10)


def add_units(store: SQLiteStore, count: int, prefix: str = "S") -> None:
    with store.transaction():
        for number in range(count):
            store.put_unit(
                SerializedUnit(sku="A", serial=f"{prefix}{number:05}"), status=UnitStatus.IN_STOCK
            )


# -- #12: one runner per store file, whatever the path -------------------------------------------


def test_a_symlinked_path_to_a_held_store_is_refused(tmp_path: Path) -> None:
    store = tmp_path / "state.db"
    alias = tmp_path / "alias.db"
    alias.symlink_to(store)
    with (
        runner_holding(store) as holder,
        pytest.raises(StoreLockedError, match=rf"in use by another runner \(pid {holder.pid}\)"),
    ):
        SQLiteStore.open(alias)
    SQLiteStore.open(alias).close()  # free once the other runner is gone


def test_a_store_held_through_a_symlinked_folder_is_refused_by_its_real_path(
    tmp_path: Path,
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with runner_holding(tmp_path / "link" / "state.db"), pytest.raises(StoreLockedError):
        SQLiteStore.open(tmp_path / "real" / "state.db")


def test_deleting_a_lock_file_lets_no_second_runner_in(tmp_path: Path) -> None:
    store = tmp_path / "state.db"
    with runner_holding(store):
        for lock_file in tmp_path.glob("*.lock"):
            lock_file.unlink()  # what an operator "cleaning up" would do
        with pytest.raises(StoreLockedError, match="in use by another runner"):
            SQLiteStore.open(store)


def test_read_only_users_still_read_while_a_runner_holds_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore.open(path) as store:
        add_units(store, 3)
    with runner_holding(path), SQLiteStore.open(path, read_only=True) as reader:
        assert len(reader.all_units()) == 3


def test_a_store_a_runner_is_still_creating_is_refused_to_readers_as_being_created(
    tmp_path: Path,
) -> None:
    """``status`` started beside a first ``run``: the file exists, the runner holds it, its
    schema is not committed yet. The reader is told so in one line, at once, and changes
    nothing (it used to say "run `serialsync run --once` first" to someone who just had)."""
    path = tmp_path / "state.db"
    runner = FileLock.open(path, lock=True)  # what SQLiteStore.open does first
    try:
        with pytest.raises(StoreError, match=rf"being created by a runner \(pid {os.getpid()}\)"):
            SQLiteStore.open(path, read_only=True)
        # The runner's migration is under way, not committed: still being created.
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("BEGIN IMMEDIATE")
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
        with pytest.raises(StoreError, match="being created by a runner") as refused:
            SQLiteStore.open(path, read_only=True)
        assert "\n" not in str(refused.value)
        db.execute("ROLLBACK")
        db.close()
    finally:
        runner.close()
    # No runner holds it: an empty file is no store yet, as before.
    with pytest.raises(StoreError, match=r"no state store .* yet \(run `serialsync run --once`"):
        SQLiteStore.open(path, read_only=True)
    with SQLiteStore.open(path) as store:  # the reader left nothing in the runner's way
        add_units(store, 1)


# -- #10: a lost store is refused, a new one only when asked -------------------------------------


def test_a_missing_store_where_one_was_used_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore.open(path) as store:
        add_units(store, 2)
    for file in tmp_path.glob("state.db"):
        file.unlink()
    with pytest.raises(StoreError, match=r"state.db is missing.*--new-store") as refused:
        SQLiteStore.open(path)
    assert "\n" not in str(refused.value)
    assert not path.exists()  # refusing created nothing
    with pytest.raises(StoreError, match="is missing"):
        SQLiteStore.open(path, read_only=True)
    with SQLiteStore.open(path, new=True) as fresh:
        assert fresh.all_units() == []
    SQLiteStore.open(path).close()  # the new store is the one the marker names now


def test_an_emptied_store_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore.open(path) as store:
        add_units(store, 2)
    path.write_bytes(b"")
    with pytest.raises(StoreError, match=r"state.db is empty.*--new-store"):
        SQLiteStore.open(path)
    # An empty SQLite database (no store in it) is as empty as an empty file.
    path.unlink()
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(StoreError, match="is empty"):
        SQLiteStore.open(path)


def test_another_store_put_in_its_place_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SQLiteStore.open(path).close()
    other = tmp_path / "elsewhere" / "state.db"
    with SQLiteStore.open(other) as store:
        add_units(store, 1)
    with SQLiteStore.open(other) as store, store.transaction():
        store.set_cursor("shop", "orders", "2026-11-01T00:00:00+00:00")
        store.set_cursor("aim", "inventory", "2026-11-01T00:00:00+00:00")
    shutil.copy(other, path)
    with pytest.raises(StoreError, match="not the one serialsync last used here"):
        SQLiteStore.open(path)
    with SQLiteStore.open(path, new=True) as accepted:
        assert len(accepted.all_units()) == 1
        # Accepted as a new store: every channel's recent orders are read again first.
        assert accepted.get_cursor("shop", "orders") is None
        assert accepted.get_cursor("aim", "inventory") is not None
    SQLiteStore.open(path).close()


def test_a_store_from_before_markers_gets_an_identity_and_a_marker(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore.open(path) as store:
        add_units(store, 1)
    db = sqlite3.connect(path)
    db.execute("DELETE FROM meta WHERE key = 'store_id'")
    db.commit()
    db.close()
    (tmp_path / "state.db.marker").unlink()
    with SQLiteStore.open(path) as store:
        identity = store.store_id
        assert identity and len(store.all_units()) == 1
    assert identity in (tmp_path / "state.db.marker").read_text()


def test_a_store_deleted_or_replaced_under_a_runner_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore.open(path) as store:
        store.check_in_place()
        path.unlink()
        with pytest.raises(StoreError, match="was deleted while serialsync was using it"):
            store.check_in_place()
    path.unlink(missing_ok=True)
    with SQLiteStore.open(path, new=True) as store:
        replacement = tmp_path / "other.db"
        replacement.write_bytes(path.read_bytes())
        replacement.replace(path)
        with pytest.raises(StoreError, match="was replaced by another file"):
            store.check_in_place()


# -- #11: one line for what goes wrong with the file ---------------------------------------------


def test_a_full_disk_is_one_line_naming_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore.open(path) as store:
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full now
        with pytest.raises(StoreError, match=r"state.db: the disk is full") as full:
            add_units(store, 500)
        assert "\n" not in str(full.value)
        # Nothing half-written, and the store goes on answering.
        assert store.all_units() == []
        with pytest.raises(StoreError, match="disk is full"):
            add_units(store, 500)


def test_a_damaged_interior_is_one_line_naming_the_store(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore.open(path) as store:
        add_units(store, 2000)
    with path.open("r+b") as raw:
        raw.seek(4096 * 5)
        raw.write(b"\xff" * 4096 * 3)
    with SQLiteStore.open(path) as store, pytest.raises(StoreError, match="is damaged") as bad:
        store.all_units()
    assert "restore it from a backup" in str(bad.value)


def test_a_read_only_store_is_read_by_read_only_users_and_refused_to_runners(
    tmp_path: Path, read_only: ReadOnly
) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore.open(path) as store:
        add_units(store, 2)
    read_only(path)
    with pytest.raises(StoreError, match=r"state\.db is read-only") as refused:
        SQLiteStore.open(path)
    assert "\n" not in str(refused.value)
    with SQLiteStore.open(path, read_only=True) as reader:
        assert len(reader.all_units()) == 2


def test_a_read_only_folder_is_one_line_for_runners_and_readable_for_readers(
    tmp_path: Path, read_only: ReadOnly
) -> None:
    folder = tmp_path / "state"
    with SQLiteStore.open(folder / "state.db") as store:
        add_units(store, 2)
    read_only(folder)
    with pytest.raises(StoreError, match=r"make the folder .*state writable") as refused:
        SQLiteStore.open(folder / "state.db")
    assert "\n" not in str(refused.value)
    with SQLiteStore.open(folder / "state.db", read_only=True) as reader:
        assert len(reader.all_units()) == 2

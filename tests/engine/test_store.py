"""The SQLite state store: created on first use, versioned, transactional."""

from __future__ import annotations

import sqlite3

import pytest
from serialsync import SchemaVersionError, SerializedUnit, StoreError, UnitStatus
from serialsync.store import SQLiteStore
from serialsync.store.schema import LATEST_VERSION


def test_created_on_first_use_in_wal_mode(tmp_path) -> None:
    path = tmp_path / "nested" / "state.db"
    with SQLiteStore.open(path) as store:
        assert store.schema_version == LATEST_VERSION
    assert path.exists()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_a_newer_database_is_refused_with_a_clear_message(tmp_path) -> None:
    path = tmp_path / "state.db"
    SQLiteStore.open(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    with pytest.raises(SchemaVersionError, match=r"schema version 99.*upgrade serialsync"):
        SQLiteStore.open(path)


def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path) -> None:
    path = tmp_path / "state.db"
    with SQLiteStore.open(path) as store, store.transaction():
        store.put_unit(SerializedUnit(sku="A", serial="1"), status=UnitStatus.IN_STOCK)
    with SQLiteStore.open(path) as store:
        record = store.get_unit("1")
        assert record is not None and record.unit.sku == "A"


def test_a_failed_transaction_leaves_nothing_behind(tmp_path) -> None:
    with SQLiteStore.open(tmp_path / "state.db") as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.put_unit(SerializedUnit(sku="A", serial="1"), status=UnitStatus.IN_STOCK)
            raise RuntimeError("crash")
        assert store.get_unit("1") is None


def test_not_a_database_is_a_store_error(tmp_path) -> None:
    path = tmp_path / "state.db"
    path.write_text("this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"state\.db is damaged \(file is not a database\)"):
        SQLiteStore.open(path)


def test_quarantine_counts_repeats(tmp_path) -> None:
    with SQLiteStore.open(tmp_path / "state.db") as store:
        for _ in range(3):
            with store.transaction():
                store.quarantine(kind="order", key="shop:1", connector="shop", reason="bad")
        [record] = store.quarantined()
        assert record.count == 3 and record.reason == "bad"

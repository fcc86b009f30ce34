"""The SQLite state store: created on first use, versioned, transactional."""

from __future__ import annotations

import sqlite3

import pytest
from serialsync import SchemaVersionError, SerializedUnit, StoreError, UnitStatus
from serialsync.lifecycle import MoveBasis
from serialsync.store import SQLiteStore
from serialsync.store.schema import LATEST_VERSION, MIGRATIONS


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


def test_a_store_of_schema_1_gains_each_moves_basis_and_keeps_its_history(tmp_path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("INSERT INTO meta (key, value) VALUES ('schema_version', '1')")
    db.execute(
        "INSERT INTO unit_moves (serial, sku, from_status, to_status, at, reason, source, "
        "source_ref) VALUES ('1', 'A', 'in_stock', 'sold', '2026-11-23T10:00:00+00:00', "
        "'sold online', 'channel', 'shop:order/1')"
    )
    db.commit()
    db.close()

    with SQLiteStore.open(path) as store:
        assert store.schema_version == LATEST_VERSION
        [old] = store.history("1")
    assert (old.from_status, old.to_status, old.basis) == (
        UnitStatus.IN_STOCK,
        UnitStatus.SOLD,
        MoveBasis.TABLE,
    )

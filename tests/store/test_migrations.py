"""Schema versions: a store written by an earlier serialsync is upgraded without losing a row,
on its own when a runner opens it or by `serialsync store migrate`; `serialsync store version`
reports without changing anything (issue 18 #1).

``fixtures/store-v2.db`` is a store written by the release before PostgreSQL stores (schema
version 2): the engine tests' scenario after a pass (units listed, paid, pending and double
sales, a conflict, cursors, runs) plus a quarantined order. Keep it as it is: it is what an
operator's file looks like.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from serialsync.cli import app
from serialsync.store import SQLiteStore
from serialsync.store.schema import LATEST_VERSION, MIGRATIONS
from typer.testing import CliRunner

from tests.stores import StoreSpec

FIXTURE = Path(__file__).parent / "fixtures" / "store-v2.db"

#: The tables and columns of schema version 2, which every later version must keep.
V2_TABLES = {
    "meta": "key, value",
    "products": "sku, pos, data, updated_at",
    "units": "serial, sku, status, deleted, data, updated_at",
    "unit_moves": "id, serial, sku, from_status, to_status, at, reason, source, source_ref, basis",
    "listings": "connector, serial, sku, state, content_hash, remote, last_error, retryable, "
    "attempts, updated_at",
    "cursors": "connector, stream, value, updated_at",
    "outbox": "channel, order_id, order_number, state, financial_status, order_updated_at, "
    "sale, attempts, last_error, next_attempt_at, receipt, note, created_at, updated_at, "
    "reported_at",
    "claims": "serial, channel, order_id, claimed_at",
    "quarantine": "id, kind, record_key, connector, reason, payload, first_seen, last_seen, "
    "seen_count",
    "runs": "id, kind, started_at, finished_at, ok, summary",
}


def _rows(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every version-2 table, in the version-2 columns (the version left out)."""
    db = sqlite3.connect(path)
    try:
        return {
            table: sorted(
                db.execute(f"SELECT {columns} FROM {table} WHERE {_not_version(table)}")  # noqa: S608 - fixed names
            )
            for table, columns in V2_TABLES.items()
        }
    finally:
        db.close()


def _not_version(table: str) -> str:
    return "key != 'schema_version'" if table == "meta" else "1 = 1"


def _config(tmp_path: Path, spec: StoreSpec | None = None) -> Path:
    config = tmp_path / "serialsync.toml"
    if spec is None or spec.url is None:
        config.write_text('[store]\npath = "state.db"\n')
    else:
        config.write_text(f'[store]\nurl = "{spec.url}"\n')
    return config


def _cli(config: Path, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture
def old_store(tmp_path: Path) -> Path:
    path = tmp_path / "state.db"
    shutil.copy(FIXTURE, path)
    return path


def test_the_fixture_is_a_version_2_store() -> None:
    db = sqlite3.connect(FIXTURE)
    [(version,)] = db.execute("SELECT value FROM meta WHERE key = 'schema_version'")
    [(units,)] = db.execute("SELECT COUNT(*) FROM units")
    db.close()
    assert (version, units) == ("2", 12)


def test_a_store_of_the_release_before_opens_with_every_row_kept(old_store: Path) -> None:
    before = _rows(old_store)
    with SQLiteStore.open(old_store) as store:
        assert store.schema_version == LATEST_VERSION
        # The engine reads it as it wrote it.
        assert {r.state.value for r in store.outbox()} == {
            "reported",
            "waiting",
            "conflict",
        }
        assert store.get_claim("S04") is not None
        assert [m.to_status.value for m in store.history("S00")][-1] == "sold"
        assert len(store.quarantined()) == 2
    assert _rows(old_store) == before


def test_a_version_1_store_gets_the_move_basis_and_keeps_its_moves(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    db = sqlite3.connect(path)
    for statement in MIGRATIONS[0]:
        db.execute(statement)
    db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    db.execute(
        "INSERT INTO unit_moves (serial, sku, from_status, to_status, at, reason, source, "
        "source_ref) VALUES ('1', 'A', 'in_stock', 'sold', '2026-11-23T09:00:00+00:00', "
        "'sold in the POS', 'pos', 'aim')"
    )
    db.commit()
    db.close()
    config = _config(tmp_path)
    assert _cli(config, "store", "version") == {
        "store": str(path),
        "version": 1,
        "latest": LATEST_VERSION,
    }
    assert _cli(config, "store", "migrate") == {"store": str(path), "from": 1, "to": LATEST_VERSION}
    with SQLiteStore.open(path) as store:
        [move] = store.history("1")
        assert (move.reason, move.basis.value) == ("sold in the POS", "table")


def test_store_version_changes_nothing_and_migrate_twice_is_a_no_op(old_store: Path) -> None:
    config = _config(old_store.parent)
    content = old_store.read_bytes()
    assert _cli(config, "store", "version")["version"] == 2
    assert old_store.read_bytes() == content  # not even a journal replayed into it
    first = _cli(config, "store", "migrate")
    assert first["to"] == LATEST_VERSION
    assert _cli(config, "store", "migrate") == {
        "store": str(old_store),
        "from": LATEST_VERSION,
        "to": LATEST_VERSION,
    }


def test_store_version_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["store", "version", "--config", str(_config(tmp_path))])
    assert result.exit_code == 3
    assert "there is no state store at" in result.stderr


def test_store_commands_on_postgres(tmp_path: Path, postgres_database: str) -> None:
    import psycopg

    # A database of its own, whose public schema is the store the URL names.
    url = postgres_database.rpartition("/")[0] + "/" + f"{postgres_database.rpartition('/')[2]}_cli"
    with psycopg.connect(postgres_database, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{url.rpartition("/")[2]}"')
    try:
        config = _config(tmp_path, StoreSpec("postgres", tmp_path, url))
        assert _cli(config, "store", "version")["version"] is None
        assert _cli(config, "store", "migrate")["to"] == LATEST_VERSION
        answer = _cli(config, "store", "version")
        assert answer["version"] == LATEST_VERSION and answer["store"].endswith("_cli (public)")
        status = CliRunner().invoke(app, ["status", "--config", str(config), "--json"])
        assert status.exit_code == 0, status.output
        assert json.loads(status.stdout)["store"] == answer["store"]
    finally:
        with psycopg.connect(postgres_database, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{url.rpartition("/")[2]}" WITH (FORCE)')

"""What only the PostgreSQL store has: locks held across processes, one store per schema, the
URL and password kept apart, its migrations."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from serialsync import ConfigurationError, SerializedUnit, StoreError, StoreLockedError, UnitStatus
from serialsync.settings import load_settings
from serialsync.store.opening import open_store
from serialsync.store.postgres import PostgresStore, describe, postgres_ddl
from serialsync.store.schema import LATEST_VERSION, MIGRATIONS

from tests.stores import StoreSpec, new_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def spec(tmp_path: Path, request: pytest.FixtureRequest) -> StoreSpec:
    return new_spec("postgres", tmp_path, request)


@contextmanager
def other_process(spec: StoreSpec, *lines: str) -> Iterator[subprocess.Popen[str]]:
    """A process that opens ``spec``'s store (as ``store``), runs ``lines``, says "ready" and
    waits for a line on stdin (or a kill)."""
    code = "\n".join(
        [
            "import sys",
            "from tests.stores import parse",
            f"store = parse({spec.argv()!r}).open(lock=False)",
            *lines,
            "print('ready', flush=True)",
            "sys.stdin.readline()",
        ]
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def test_a_runner_on_another_machine_is_refused_and_its_death_frees_the_store(spec) -> None:
    spec.open().close()  # create it
    lines = ["from serialsync.store.postgres import PostgresStore", "store.close()"]
    lines.append(f"runner = PostgresStore.open({spec.url!r}, schema={spec.schema!r})")
    with other_process(spec, *lines) as proc:
        with pytest.raises(StoreLockedError, match="in use by another runner"):
            spec.open()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    # The server dropped the dead runner's lock with its connection.
    spec.open().close()


def test_one_sale_is_reported_by_one_process_at_a_time(spec) -> None:
    lines = [
        "held = store.reporting('shop', '1')",
        "assert held.__enter__() is True",
    ]
    with spec.open() as store, other_process(spec, *lines) as proc:
        with store.reporting("shop", "1") as mine:
            assert mine is False  # the other process is reporting it: skip
        with store.reporting("shop", "2") as mine:
            assert mine is True  # another sale is free
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        with store.reporting("shop", "1") as mine:
            assert mine is True  # a killed worker's sale is free at once


def test_stores_in_two_schemas_of_one_database_are_apart(spec, tmp_path, request) -> None:
    other = new_spec("postgres", tmp_path, request)
    with spec.open() as one, other.open() as two:  # both runners: their locks differ
        with one.transaction():
            one.put_unit(SerializedUnit(sku="A", serial="1"), status=UnitStatus.IN_STOCK)
        assert two.get_unit("1") is None
        assert one.get_unit("1") is not None


def test_a_store_of_schema_version_1_is_upgraded_without_loss(spec) -> None:
    import psycopg

    assert spec.url is not None
    with psycopg.connect(spec.url, autocommit=True) as db:
        db.execute(f'CREATE SCHEMA "{spec.schema}"')
        db.execute(f'SET search_path TO "{spec.schema}"')
        for statement in MIGRATIONS[0]:
            db.execute(postgres_ddl(statement))
        db.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        db.execute(
            "INSERT INTO unit_moves (serial, sku, from_status, to_status, at, reason, source, "
            "source_ref) VALUES ('1', 'A', 'in_stock', 'sold', '2026-11-23T09:00:00+00:00', "
            "'sold in the POS', 'pos', 'aim')"
        )
    with PostgresStore.open(spec.url, schema=spec.schema, migrate=False, read_only=True) as old:
        assert old.stored_version == 1
    with spec.open() as store:
        assert store.schema_version == LATEST_VERSION
        [move] = store.history("1")
        assert move.reason == "sold in the POS" and move.basis.value == "table"


def test_the_url_must_not_hold_the_password(tmp_path, monkeypatch) -> None:
    config = tmp_path / "serialsync.toml"
    config.write_text('[store]\nurl = "postgresql://app:s3cret-pw@db.example:5432/state"\n')
    with pytest.raises(ConfigurationError) as caught:
        load_settings(config)
    assert "SERIALSYNC_STORE__PASSWORD" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)


def test_the_password_comes_from_the_environment_and_is_never_shown(
    spec, tmp_path, monkeypatch
) -> None:
    assert spec.url is not None
    config = tmp_path / "serialsync.toml"
    config.write_text(f'[store]\nurl = "{spec.url}"\n')
    monkeypatch.setenv("SERIALSYNC_STORE__PASSWORD", "s3cret-pw")
    settings = load_settings(config)
    assert settings.store.password is not None
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in str(settings.store)
    # Trust authentication ignores the password; the store opens with it all the same.
    with open_store(settings.store) as store:
        assert "s3cret-pw" not in repr(store) and "s3cret-pw" not in store.location
        assert isinstance(store, PostgresStore)


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    url = "postgresql://app@127.0.0.1:1/state?connect_timeout=2"
    with pytest.raises(StoreError, match=r"cannot be reached .*PostgreSQL is running") as caught:
        PostgresStore.open(url, password="s3cret-pw")
    assert "s3cret-pw" not in str(caught.value)
    assert "\n" not in str(caught.value)
    assert describe(url) == "postgresql://app@127.0.0.1:1/state (public)"


def test_stores_opened_in_turn_share_a_pool_and_leave_nothing_on_its_connections(
    spec, tmp_path, request
) -> None:
    from serialsync.store.postgres import connection_pool

    assert spec.url is not None
    others = [new_spec("postgres", tmp_path, request) for _ in range(3)]
    with connection_pool(spec.url, max_size=1) as pool:
        for round_ in range(2):
            for number, merchant in enumerate([spec, *others]):
                store = PostgresStore.open(merchant.url or "", schema=merchant.schema, pool=pool)
                with store.transaction():
                    unit = SerializedUnit(sku=f"M{number}", serial=f"{number}-{round_}")
                    store.put_unit(unit, status=UnitStatus.IN_STOCK)
                # One connection for all: the last store's schema and runner lock are gone.
                assert {r.unit.sku for r in store.all_units()} == {f"M{number}"}
                store.close()
                store.close()  # twice is harmless: the connection is the pool's again
        # Every runner lock was released with its store.
        for merchant in [spec, *others]:
            merchant.open().close()
        with PostgresStore.open(spec.url, schema=spec.schema, pool=pool, read_only=True) as r:
            assert len(r.all_units()) == 2
        with PostgresStore.open(spec.url, schema=spec.schema, pool=pool) as w, w.transaction():
            w.set_cursor("shop", "orders", "x")  # not read-only: that was undone too

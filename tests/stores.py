"""Both store backends for tests: a SQLite file, and a PostgreSQL schema on a real server.

A test run makes one database of its own on the server (``SERIALSYNC_TEST_POSTGRES``, by default
``postgresql://postgres@127.0.0.1:5432/test``, trust authentication), gives every test a schema
of its own in it (a store is a schema), and drops the database at the end. Where no server
answers, the PostgreSQL half skips with the reason; CI has one, so it runs there.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from serialsync.store.sql import SQLStore
from serialsync.store.sqlite import SQLiteStore

SERVER = os.environ.get("SERIALSYNC_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["sqlite", "postgres"]


@dataclass(frozen=True)
class StoreSpec:
    """Where one test's store lives: a file, or a schema in the run's database."""

    backend: str
    path: Path
    url: str | None = None
    schema: str = "public"

    def open(self, **options: Any) -> SQLStore:
        """Open this store (``lock``, ``read_only``, ``new`` as the backend's ``open`` takes)."""
        if self.url is None:
            return SQLiteStore.open(self.path, **options)
        from serialsync.store.postgres import PostgresStore

        return PostgresStore.open(self.url, schema=self.schema, **options)

    def argv(self) -> list[str]:
        """This spec as command-line words, for a runner in another process (:func:`parse`)."""
        return [self.backend, str(self.path), self.url or "-", self.schema]


def parse(words: list[str]) -> StoreSpec:
    """The spec :meth:`StoreSpec.argv` wrote."""
    backend, path, url, schema = words
    return StoreSpec(backend, Path(path), None if url == "-" else url, schema)


def _with_database(server: str, name: str) -> str:
    base, _, _ = server.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """The URL of a database made for this test run (dropped at its end)."""
    try:
        import psycopg
    except ImportError:  # pragma: no cover - the dev extra installs it
        pytest.skip("psycopg is not installed (pip install -e '.[dev]')")
    try:
        admin = psycopg.connect(SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL server answers at {SERVER}: {str(exc).splitlines()[0]}")
    name = f"serialsync_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield _with_database(SERVER, name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def new_spec(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> StoreSpec:
    """A fresh, empty store of ``backend`` for one test."""
    if backend == "sqlite":
        return StoreSpec("sqlite", tmp_path / "state.db")
    url = request.getfixturevalue("postgres_database")
    return StoreSpec("postgres", tmp_path / "state.db", url, f"t_{uuid.uuid4().hex[:16]}")


@pytest.fixture(params=BACKENDS)
def store_spec(request: pytest.FixtureRequest, tmp_path: Path) -> StoreSpec:
    """A fresh store on each backend in turn."""
    return new_spec(str(request.param), tmp_path, request)


@pytest.fixture
def store(store_spec: StoreSpec) -> Iterator[SQLStore]:
    """A fresh, open store on each backend in turn (closed after the test)."""
    opened = store_spec.open()
    yield opened
    opened.close()

"""The state store on SQLite: one file, WAL, created on first use.

Every method runs inside :meth:`SQLiteStore.transaction` (the engine opens one per unit of
work: a page of inventory, one order, one product's outcomes), so what a step did is either all
there after a crash or not at all. The SQL is kept portable so that a PostgreSQL store can
implement the same methods.

Only one runner may write to a store: :meth:`SQLiteStore.open` takes an exclusive lock on the
store file itself, resolved through symlinks (released by the kernel if the process dies, even
by SIGKILL), and refuses with :class:`~serialsync.errors.StoreLockedError` while another runner
holds it. A marker beside the file tells a lost store from a first start. Read-only users
(``serialsync status``) open it with ``read_only=True``. See :mod:`serialsync.store.file`.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from serialsync.errors import SchemaVersionError, StoreError
from serialsync.store.file import (
    FileLock,
    explain,
    lost_store_message,
    marker_path,
    new_store_id,
    read_marker,
    real_path,
    replaced_store_message,
    runner_pid,
    sqlite_errors,
    write_marker,
)
from serialsync.store.schema import LATEST_VERSION, MIGRATIONS
from serialsync.store.sql import Row, SQLStore


class SQLiteStore(SQLStore):
    """The :class:`Store` on one SQLite file (WAL); use :meth:`open`. See :class:`Store`."""

    def __init__(self, path: Path, connection: sqlite3.Connection, file: FileLock | None):
        self.path = path
        self._db = connection
        self._file = file
        self._mutex = threading.RLock()
        self._depth = 0

    # -- opening and closing -------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        path: Path | str,
        *,
        lock: bool = True,
        read_only: bool = False,
        new: bool = False,
    ) -> SQLiteStore:
        """Open (creating it if needed) the store at ``path`` and bring its schema up to date.

        :param lock: take the single-runner lock (refused with :class:`StoreLockedError` while
            another runner holds it, whatever path it opened the file by).
        :param read_only: open without writing anything, not even the lock: what ``status``
            and the other read-only commands use; works on a read-only file and while a runner
            runs. The file must exist.
        :param new: accept starting a new store where the marker beside it says another one
            was used (``--new-store``): the file is missing, empty, or not the one last used.
        :raises StoreError: with one line naming the file and what to do (lost, replaced,
            damaged, read-only, disk full); :class:`StoreLockedError` when it is in use.
        """
        if str(path) == ":memory:":
            db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            db.row_factory = sqlite3.Row
            store = cls(Path(":memory:"), db, None)
            store._migrate()
            return store
        shown = Path(path)
        real = real_path(shown)
        if read_only:
            return cls._open_read_only(shown, real)
        try:
            real.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the folder {real.parent} for the state store {shown} "
                f"({exc.strerror}): create it, or set [store] path to a folder that exists"
            ) from None
        marker = read_marker(real)
        missing = not real.exists()
        if marker is not None and not new and (missing or real.stat().st_size == 0):
            raise StoreError(lost_store_message(shown, marker_path(real), empty=not missing))
        file = FileLock.open(real, lock=lock)
        try:
            if marker is not None and not new and file.size() == 0:
                raise StoreError(lost_store_message(shown, marker_path(real), empty=True))
            with sqlite_errors(shown):
                db = sqlite3.connect(
                    str(real), isolation_level=None, check_same_thread=False, timeout=30.0
                )
        except BaseException:
            file.close()
            raise
        store = cls(shown, db, file)
        try:
            with sqlite_errors(shown):
                db.row_factory = sqlite3.Row
                stored = store._stored_identity()
                if marker is not None and not new:
                    if store._stored_version() is None:
                        raise StoreError(lost_store_message(shown, marker_path(real), empty=True))
                    if marker and stored != marker:
                        raise StoreError(replaced_store_message(shown, marker_path(real)))
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")
                db.execute("PRAGMA foreign_keys=ON")
                store._migrate()
                identity = store._claim_identity(stored or new_store_id())
                if new and marker and stored is not None and stored != marker:
                    store._forget_order_cursors()
            if marker != identity:
                write_marker(real, identity)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def _open_read_only(cls, shown: Path, real: Path) -> SQLiteStore:
        marker = read_marker(real)
        if not real.exists():
            if marker is not None:
                raise StoreError(lost_store_message(shown, marker_path(real), empty=False))
            raise StoreError(
                f"there is no state store at {shown} yet (run `serialsync run --once` first)"
            )
        try:
            store, version = cls._connect_read_only(shown, real, immutable=False)
        except sqlite3.OperationalError as exc:
            wal = real.with_name(real.name + "-wal")
            if _primary(exc) != sqlite3.SQLITE_CANTOPEN or (wal.exists() and wal.stat().st_size):
                raise StoreError(explain(shown, exc)) from None
            # A read-only folder: SQLite cannot create the shared-memory file a WAL reader
            # needs. No runner can be writing there (it could not create its journal either)
            # and nothing waits in a journal, so the file alone is the whole store.
            try:
                store, version = cls._connect_read_only(shown, real, immutable=True)
            except sqlite3.Error as again:
                raise StoreError(explain(shown, again)) from None
        except sqlite3.Error as exc:
            raise StoreError(explain(shown, exc)) from None
        if version is None:
            store.close()
            # A runner holds the file but has not committed the schema yet: it is creating the
            # store this moment (a first start, or --new-store). Say so, rather than "run
            # serialsync first" or "lost" to an operator who just started one.
            pid = runner_pid(real)
            if pid is not None:
                raise StoreError(
                    f"the state store {shown} is being created by a runner (pid {pid}): "
                    "try again in a moment"
                )
            if marker is not None:
                raise StoreError(lost_store_message(shown, marker_path(real), empty=True))
            raise StoreError(
                f"there is no state store at {shown} yet (run `serialsync run --once` first)"
            )
        if version > LATEST_VERSION:
            store.close()
            raise SchemaVersionError(_newer_schema(shown, version))
        if version < LATEST_VERSION:
            # Written by an older serialsync: bring it up to date once (a write), then read.
            store.close()
            return cls.open(shown, lock=False)
        return store

    @classmethod
    def _connect_read_only(
        cls, shown: Path, real: Path, *, immutable: bool
    ) -> tuple[SQLiteStore, int | None]:
        uri = f"file:{urllib.parse.quote(str(real))}?mode=ro"
        if immutable:
            uri += "&immutable=1"
        db = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30.0)
        store = cls(shown, db, None)
        try:
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA query_only=ON")
            return store, store._stored_version()
        except BaseException:
            store.close()
            raise

    @classmethod
    def open_unmigrated(cls, path: Path | str) -> SQLiteStore:
        """Open an existing store read-only and as it is, an older schema left alone (what
        ``serialsync store version`` reports on)."""
        shown = Path(path)
        real = real_path(shown)
        if not real.exists():
            raise StoreError(f"there is no state store at {shown} yet")
        try:
            store, _ = cls._connect_read_only(shown, real, immutable=False)
        except sqlite3.Error as exc:
            raise StoreError(explain(shown, exc)) from None
        return store

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def stored_version(self) -> int | None:
        with self._mutex, sqlite_errors(self.path):
            return self._stored_version()

    def close(self) -> None:
        with self._mutex:
            self._db.close()
            # Only after the database: closing a descriptor of the file drops the process's
            # POSIX locks on it, SQLite's included.
            if self._file is not None:
                self._file.close()
                self._file = None

    def check_in_place(self) -> None:
        """Raise :class:`StoreError` if the file was deleted or replaced since it was opened."""
        if self._file is not None:
            self._file.check_in_place(self.path)

    def __enter__(self) -> SQLiteStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stored_version(self) -> int | None:
        """The schema version the file records; ``None`` for a file with no store in it."""
        has_meta = self._db.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name='meta'"
        ).fetchone()
        if not has_meta:
            return None
        row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row["value"]) if row else 0

    def _stored_identity(self) -> str | None:
        """The store id kept in ``meta``; ``None`` for a file with no store (or id) in it."""
        if self._stored_version() is None:
            return None
        row = self._db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
        return str(row["value"]) if row else None

    def _claim_identity(self, identity: str) -> str:
        """Keep ``identity`` as this store's id (a store from before ids gets one now)."""
        with self.transaction():
            row = self._db.execute("SELECT value FROM meta WHERE key='store_id'").fetchone()
            if row is not None:
                return str(row["value"])
            self._db.execute("INSERT INTO meta (key, value) VALUES ('store_id', ?)", (identity,))
        return identity

    def _forget_order_cursors(self) -> None:
        """Have every channel's orders read again from the look-back window before anything
        is published there (an older copy accepted with ``--new-store``: the units sold since
        it was taken are in stock in it). The stream name is the engine's ``ORDERS_STREAM``."""
        with self.transaction():
            self._db.execute("DELETE FROM cursors WHERE stream = 'orders'")

    def _migrate(self) -> None:
        with self.transaction():
            version = self._stored_version() or 0
            if version > LATEST_VERSION:
                raise SchemaVersionError(_newer_schema(self.path, version))
            for number in range(version, LATEST_VERSION):
                for statement in MIGRATIONS[number]:
                    self._db.execute(statement)
                self._db.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (str(number + 1),),
                )

    @property
    def schema_version(self) -> int:
        with self._mutex, sqlite_errors(self.path):
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(row["value"])

    @property
    def store_id(self) -> str | None:
        """This store's identity (also recorded in the marker beside the file)."""
        with self._mutex, sqlite_errors(self.path):
            return self._stored_identity()

    # -- transactions --------------------------------------------------------------------------

    def _begin(self) -> None:
        with sqlite_errors(self.path):
            self._db.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        with sqlite_errors(self.path):
            self._db.execute("COMMIT")

    def _rollback(self) -> None:
        # SQLite may have rolled back already (a full disk does): then there is nothing to
        # undo, and an error here must not hide the one that got us here.
        if self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> sqlite3.Row | None:
        with self._mutex, sqlite_errors(self.path):
            row: sqlite3.Row | None = self._db.execute(sql, params).fetchone()
            return row

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        with self._mutex, sqlite_errors(self.path):
            return list(self._db.execute(sql, params).fetchall())

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with self._mutex, sqlite_errors(self.path):
            return int(self._db.execute(sql, params).rowcount)

    def _exec_many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        with self._mutex, sqlite_errors(self.path):
            self._db.executemany(sql, rows)

    def _insert(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with self._mutex, sqlite_errors(self.path):
            return int(self._db.execute(sql, params).lastrowid or 0)


def _primary(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _newer_schema(path: Path, version: int) -> str:
    return (
        f"the state store {path} has schema version {version}, but this serialsync knows only "
        f"up to {LATEST_VERSION}: upgrade serialsync"
    )

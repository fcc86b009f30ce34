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
import json
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from serialsync.errors import SchemaVersionError, StoreError
from serialsync.lifecycle import Move, UnitStatus
from serialsync.model import Product, RemoteIds, SerializedUnit
from serialsync.store.base import Store
from serialsync.store.file import (
    FileLock,
    explain,
    lost_store_message,
    marker_path,
    new_store_id,
    read_marker,
    real_path,
    replaced_store_message,
    sqlite_errors,
    write_marker,
)
from serialsync.store.records import (
    Claim,
    ListingRecord,
    ListingState,
    OutboxRecord,
    OutboxState,
    QuarantineRecord,
    RunRecord,
    UnitRecord,
)
from serialsync.store.schema import LATEST_VERSION, MIGRATIONS


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class SQLiteStore(Store):
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

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with self._mutex:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            with sqlite_errors(self.path):
                self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield
            except BaseException:
                self._rollback()
                raise
            else:
                try:
                    with sqlite_errors(self.path):
                        self._db.execute("COMMIT")
                except StoreError:
                    self._rollback()
                    raise
            finally:
                self._depth = 0

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

    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        with self._mutex, sqlite_errors(self.path):
            return list(self._db.execute(sql, params).fetchall())

    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        with self._mutex, sqlite_errors(self.path):
            cursor = self._db.execute(sql, params)
            return int(cursor.lastrowid or 0)

    # -- products ------------------------------------------------------------------------------

    def put_product(self, product: Product, *, pos: str) -> None:
        data = product.model_copy(update={"units": ()}).model_dump_json()
        self._exec(
            "INSERT INTO products (sku, pos, data, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (sku) DO UPDATE SET pos = excluded.pos, data = excluded.data, "
            "updated_at = excluded.updated_at",
            (product.sku, pos, data, _ts(utcnow())),
        )

    def get_product(self, sku: str) -> Product | None:
        row = self._one("SELECT data FROM products WHERE sku = ?", (sku,))
        return None if row is None else Product.model_validate_json(row["data"])

    def product_pos(self, sku: str) -> str | None:
        row = self._one("SELECT pos FROM products WHERE sku = ?", (sku,))
        return None if row is None else str(row["pos"])

    def product_skus(self) -> list[str]:
        return [r["sku"] for r in self._all("SELECT DISTINCT sku FROM units ORDER BY sku")]

    # -- units ---------------------------------------------------------------------------------

    def get_unit(self, serial: str) -> UnitRecord | None:
        row = self._one("SELECT * FROM units WHERE serial = ?", (serial,))
        return None if row is None else _unit(row)

    def units_of(self, sku: str) -> list[UnitRecord]:
        rows = self._all("SELECT * FROM units WHERE sku = ? ORDER BY serial", (sku,))
        return [_unit(r) for r in rows]

    def find_units(self, text: str, *, limit: int = 100) -> list[UnitRecord]:
        like = f"%{text.lower()}%"
        rows = self._all(
            "SELECT * FROM units WHERE lower(serial) LIKE ? OR lower(sku) LIKE ? "
            "ORDER BY sku, serial LIMIT ?",
            (like, like, limit),
        )
        return [_unit(r) for r in rows]

    def all_units(self, *, limit: int | None = None) -> list[UnitRecord]:
        sql = "SELECT * FROM units ORDER BY sku, serial"
        rows = self._all(sql + " LIMIT ?", (limit,)) if limit else self._all(sql)
        return [_unit(r) for r in rows]

    def put_unit(self, unit: SerializedUnit, *, status: UnitStatus, deleted: bool = False) -> None:
        data = unit.model_copy(update={"status": status}).model_dump_json()
        self._exec(
            "INSERT INTO units (serial, sku, status, deleted, data, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (serial) DO UPDATE SET sku = excluded.sku, "
            "status = excluded.status, deleted = excluded.deleted, data = excluded.data, "
            "updated_at = excluded.updated_at",
            (unit.serial, unit.sku, status.value, int(deleted), data, _ts(utcnow())),
        )

    def set_unit_deleted(self, serial: str, deleted: bool) -> None:
        self._exec(
            "UPDATE units SET deleted = ?, updated_at = ? WHERE serial = ?",
            (int(deleted), _ts(utcnow()), serial),
        )

    def record_move(self, serial: str, sku: str, move: Move) -> None:
        self._exec(
            "UPDATE units SET status = ?, updated_at = ? WHERE serial = ?",
            (move.to_status.value, _ts(utcnow()), serial),
        )
        self._exec(
            "INSERT INTO unit_moves (serial, sku, from_status, to_status, at, reason, source, "
            "source_ref, basis) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                serial,
                sku,
                move.from_status.value,
                move.to_status.value,
                _ts(move.at),
                move.reason,
                move.source.value,
                move.source_ref,
                move.basis.value,
            ),
        )

    def history(self, serial: str) -> list[Move]:
        rows = self._all("SELECT * FROM unit_moves WHERE serial = ? ORDER BY id", (serial,))
        return [
            Move(
                from_status=UnitStatus(r["from_status"]),
                to_status=UnitStatus(r["to_status"]),
                at=_dt(r["at"]) or utcnow(),
                reason=r["reason"],
                source=r["source"],
                source_ref=r["source_ref"],
                basis=r["basis"],
            )
            for r in rows
        ]

    # -- listings ------------------------------------------------------------------------------

    def listings_of(self, connector: str, sku: str) -> dict[str, ListingRecord]:
        rows = self._all("SELECT * FROM listings WHERE connector = ? AND sku = ?", (connector, sku))
        return {r["serial"]: _listing(r) for r in rows}

    def listings_of_unit(self, serial: str) -> list[ListingRecord]:
        rows = self._all("SELECT * FROM listings WHERE serial = ? ORDER BY connector", (serial,))
        return [_listing(r) for r in rows]

    def put_listing(self, record: ListingRecord) -> None:
        self._exec(
            "INSERT INTO listings (connector, serial, sku, state, content_hash, remote, "
            "last_error, retryable, attempts, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (connector, serial) DO UPDATE SET sku = excluded.sku, "
            "state = excluded.state, content_hash = excluded.content_hash, "
            "remote = excluded.remote, last_error = excluded.last_error, "
            "retryable = excluded.retryable, attempts = excluded.attempts, "
            "updated_at = excluded.updated_at",
            (
                record.connector,
                record.serial,
                record.sku,
                record.state.value,
                record.content_hash,
                record.remote.model_dump_json() if record.remote else None,
                record.last_error,
                int(record.retryable),
                record.attempts,
                _ts(utcnow()),
            ),
        )

    def skus_to_withdraw(self, connector: str) -> list[str]:
        rows = self._all(
            "SELECT DISTINCT l.sku FROM listings l JOIN units u ON u.serial = l.serial "
            "WHERE l.connector = ? AND l.state != ? AND (u.status != ? OR u.deleted = 1) "
            "ORDER BY l.sku",
            (connector, ListingState.WITHDRAWN.value, UnitStatus.IN_STOCK.value),
        )
        return [str(r["sku"]) for r in rows]

    # -- cursors -------------------------------------------------------------------------------

    def get_cursor(self, connector: str, stream: str) -> str | None:
        row = self._one(
            "SELECT value FROM cursors WHERE connector = ? AND stream = ?", (connector, stream)
        )
        return None if row is None else str(row["value"])

    def set_cursor(self, connector: str, stream: str, value: str) -> None:
        self._exec(
            "INSERT INTO cursors (connector, stream, value, updated_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (connector, stream) DO UPDATE SET value = excluded.value, "
            "updated_at = excluded.updated_at",
            (connector, stream, value, _ts(utcnow())),
        )

    def cursors(self) -> list[tuple[str, str, str, datetime | None]]:
        rows = self._all("SELECT * FROM cursors ORDER BY connector, stream")
        return [(r["connector"], r["stream"], r["value"], _dt(r["updated_at"])) for r in rows]

    # -- claims --------------------------------------------------------------------------------

    def get_claim(self, serial: str) -> Claim | None:
        row = self._one("SELECT * FROM claims WHERE serial = ?", (serial,))
        if row is None:
            return None
        return Claim(row["serial"], row["channel"], row["order_id"], _dt(row["claimed_at"]))

    def put_claim(self, serial: str, channel: str, order_id: str) -> None:
        self._exec(
            "INSERT INTO claims (serial, channel, order_id, claimed_at) VALUES (?, ?, ?, ?)",
            (serial, channel, order_id, _ts(utcnow())),
        )

    def release_claim(self, serial: str, channel: str, order_id: str) -> None:
        self._exec(
            "DELETE FROM claims WHERE serial = ? AND channel = ? AND order_id = ?",
            (serial, channel, order_id),
        )

    # -- outbox --------------------------------------------------------------------------------

    def get_outbox(self, channel: str, order_id: str) -> OutboxRecord | None:
        row = self._one(
            "SELECT * FROM outbox WHERE channel = ? AND order_id = ?", (channel, order_id)
        )
        return None if row is None else _outbox(row)

    def put_outbox(self, record: OutboxRecord) -> None:
        now = _ts(utcnow())
        self._exec(
            "INSERT INTO outbox (channel, order_id, order_number, state, financial_status, "
            "order_updated_at, sale, attempts, last_error, next_attempt_at, receipt, note, "
            "created_at, updated_at, reported_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (channel, order_id) DO UPDATE SET order_number = excluded.order_number, "
            "state = excluded.state, financial_status = excluded.financial_status, "
            "order_updated_at = excluded.order_updated_at, sale = excluded.sale, "
            "attempts = excluded.attempts, last_error = excluded.last_error, "
            "next_attempt_at = excluded.next_attempt_at, receipt = excluded.receipt, "
            "note = excluded.note, updated_at = excluded.updated_at, "
            "reported_at = excluded.reported_at",
            (
                record.channel,
                record.order_id,
                record.order_number,
                record.state.value,
                record.financial_status,
                _ts(record.order_updated_at),
                record.sale_json,
                record.attempts,
                record.last_error,
                _ts(record.next_attempt_at),
                record.receipt,
                record.note,
                now,
                now,
                _ts(record.reported_at),
            ),
        )

    def outbox(
        self, *, states: tuple[OutboxState, ...] = (), limit: int = 1000
    ) -> list[OutboxRecord]:
        if states:
            marks = ", ".join("?" for _ in states)
            rows = self._all(
                f"SELECT * FROM outbox WHERE state IN ({marks}) ORDER BY created_at LIMIT ?",  # noqa: S608 - placeholders only
                (*[s.value for s in states], limit),
            )
        else:
            rows = self._all("SELECT * FROM outbox ORDER BY created_at LIMIT ?", (limit,))
        return [_outbox(r) for r in rows]

    def due_reports(self, now: datetime) -> list[OutboxRecord]:
        rows = self._all(
            "SELECT * FROM outbox WHERE state = ? AND (next_attempt_at IS NULL OR "
            "next_attempt_at <= ?) ORDER BY created_at",
            (OutboxState.PENDING.value, _ts(now)),
        )
        return [_outbox(r) for r in rows]

    # -- quarantine ----------------------------------------------------------------------------

    def quarantine(
        self, *, kind: str, key: str, connector: str, reason: str, payload: str | None = None
    ) -> None:
        now = _ts(utcnow())
        self._exec(
            "INSERT INTO quarantine (kind, record_key, connector, reason, payload, first_seen, "
            "last_seen, seen_count) VALUES (?, ?, ?, ?, ?, ?, ?, 1) "
            "ON CONFLICT (kind, record_key) DO UPDATE SET reason = excluded.reason, "
            "payload = excluded.payload, last_seen = excluded.last_seen, "
            "seen_count = quarantine.seen_count + 1",
            (kind, key, connector, reason, payload, now, now),
        )

    def release_quarantine(self, kind: str, key: str) -> bool:
        with self._mutex, sqlite_errors(self.path):
            cursor = self._db.execute(
                "DELETE FROM quarantine WHERE kind = ? AND record_key = ?", (kind, key)
            )
            return cursor.rowcount > 0

    def quarantined(self, *, kind: str | None = None) -> list[QuarantineRecord]:
        if kind is None:
            rows = self._all("SELECT * FROM quarantine ORDER BY id")
        else:
            rows = self._all("SELECT * FROM quarantine WHERE kind = ? ORDER BY id", (kind,))
        return [_quarantine(r) for r in rows]

    def get_quarantined(self, record_id: int) -> QuarantineRecord | None:
        row = self._one("SELECT * FROM quarantine WHERE id = ?", (record_id,))
        return None if row is None else _quarantine(row)

    def drop_quarantined(self, record_id: int) -> bool:
        with self._mutex, sqlite_errors(self.path):
            return (
                self._db.execute("DELETE FROM quarantine WHERE id = ?", (record_id,)).rowcount > 0
            )

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, kind: str) -> int:
        return self._exec(
            "INSERT INTO runs (kind, started_at) VALUES (?, ?)", (kind, _ts(utcnow()))
        )

    def finish_run(self, run_id: int, *, ok: bool, summary: dict[str, Any]) -> None:
        self._exec(
            "UPDATE runs SET finished_at = ?, ok = ?, summary = ? WHERE id = ?",
            (_ts(utcnow()), int(ok), json.dumps(summary, default=str), run_id),
        )

    def runs(self, *, limit: int = 20) -> list[RunRecord]:
        rows = self._all("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
        return [
            RunRecord(
                id=r["id"],
                kind=r["kind"],
                started_at=_dt(r["started_at"]) or utcnow(),
                finished_at=_dt(r["finished_at"]),
                ok=None if r["ok"] is None else bool(r["ok"]),
                summary=json.loads(r["summary"]) if r["summary"] else {},
            )
            for r in rows
        ]

    # -- counts for status ---------------------------------------------------------------------

    def counts(
        self, sql_table: str, group_by: str, where: str = "", params: tuple[Any, ...] = ()
    ) -> dict[str, int]:
        allowed = {
            ("units", "status"),
            ("listings", "state"),
            ("outbox", "state"),
            ("quarantine", "kind"),
        }
        if (sql_table, group_by) not in allowed:
            raise ValueError(f"no count of {sql_table}.{group_by}")
        sql = f"SELECT {group_by} AS k, COUNT(*) AS n FROM {sql_table}"  # noqa: S608 - allow-listed
        if where:
            sql += f" WHERE {where}"
        rows = self._all(sql + f" GROUP BY {group_by}", params)
        return {str(r["k"]): int(r["n"]) for r in rows}


def _primary(exc: sqlite3.Error) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _newer_schema(path: Path, version: int) -> str:
    return (
        f"the state store {path} has schema version {version}, but this serialsync knows only "
        f"up to {LATEST_VERSION}: upgrade serialsync"
    )


def _unit(row: sqlite3.Row) -> UnitRecord:
    return UnitRecord(
        unit=SerializedUnit.model_validate_json(row["data"]),
        status=UnitStatus(row["status"]),
        deleted=bool(row["deleted"]),
    )


def _listing(row: sqlite3.Row) -> ListingRecord:
    return ListingRecord(
        connector=row["connector"],
        serial=row["serial"],
        sku=row["sku"],
        state=ListingState(row["state"]),
        content_hash=row["content_hash"],
        remote=RemoteIds.model_validate_json(row["remote"]) if row["remote"] else None,
        last_error=row["last_error"],
        retryable=bool(row["retryable"]),
        attempts=int(row["attempts"]),
        updated_at=_dt(row["updated_at"]),
    )


def _outbox(row: sqlite3.Row) -> OutboxRecord:
    return OutboxRecord(
        channel=row["channel"],
        order_id=row["order_id"],
        order_number=row["order_number"],
        state=OutboxState(row["state"]),
        financial_status=row["financial_status"],
        order_updated_at=_dt(row["order_updated_at"]) or utcnow(),
        sale_json=row["sale"],
        attempts=int(row["attempts"]),
        last_error=row["last_error"],
        next_attempt_at=_dt(row["next_attempt_at"]),
        receipt=row["receipt"],
        note=row["note"],
        created_at=_dt(row["created_at"]),
        reported_at=_dt(row["reported_at"]),
    )


def _quarantine(row: sqlite3.Row) -> QuarantineRecord:
    return QuarantineRecord(
        id=int(row["id"]),
        kind=row["kind"],
        key=row["record_key"],
        connector=row["connector"],
        reason=row["reason"],
        payload=row["payload"],
        first_seen=_dt(row["first_seen"]) or utcnow(),
        last_seen=_dt(row["last_seen"]) or utcnow(),
        count=int(row["seen_count"]),
    )

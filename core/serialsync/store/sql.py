"""The store's queries in portable SQL, shared by the SQLite and the PostgreSQL store.

Each backend supplies five primitives (:meth:`SQLStore._one`, :meth:`SQLStore._all`,
:meth:`SQLStore._exec`, :meth:`SQLStore._exec_many`, :meth:`SQLStore._insert`) and its own
opening, locking and transactions; the queries use ``?`` placeholders, which a backend with
another paramstyle translates. Every value is stored as text or an integer (timestamps as ISO
8601 UTC text, which sorts as it compares), so both backends hold and return the very same
rows.
"""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from abc import abstractmethod
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any, Protocol, Self

from serialsync.errors import StoreError
from serialsync.lifecycle import Move, UnitStatus
from serialsync.model import Product, RemoteIds, SerializedUnit
from serialsync.store.base import Store
from serialsync.store.records import (
    Claim,
    Hold,
    ListingRecord,
    ListingState,
    OperatorAction,
    OutboxRecord,
    OutboxState,
    PanelLogin,
    PanelUser,
    QuarantineRecord,
    Reference,
    RefGroup,
    RunRecord,
    SaleWindow,
    SkuWork,
    UnitDetails,
    UnitRecord,
    VisibilityRecord,
)


class Row(Protocol):
    """A result row read by column name (``sqlite3.Row``, or psycopg's ``dict_row``)."""

    def __getitem__(self, key: str, /) -> Any:
        """The value of column ``key``."""


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat()


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class SQLStore(Store):
    """Every :class:`Store` query, on top of a backend's four primitives."""

    #: Held by every statement and for a whole transaction (the runner's loops share a store).
    _mutex: threading.RLock
    #: How deep the transactions open on this store are nested (0: none open).
    _depth: int

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One transaction; a nested one joins the transaction already open."""
        with self._mutex:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._begin()
            self._depth = 1
            try:
                yield
            except BaseException:
                self._rollback()
                raise
            else:
                try:
                    self._commit()
                except StoreError:
                    self._rollback()
                    raise
            finally:
                self._depth = 0

    @abstractmethod
    def _begin(self) -> None:
        """Open a write transaction (a :class:`StoreError` when the backend refuses)."""

    @abstractmethod
    def _commit(self) -> None:
        """Commit it (a :class:`StoreError` when the backend refuses)."""

    @abstractmethod
    def _rollback(self) -> None:
        """Undo it; never raises (the error that got us here is the one to show)."""

    @property
    @abstractmethod
    def location(self) -> str:
        """Where the store is, for people: a file path, or a database URL without password."""

    def reporting_scope(self) -> str:
        """The store itself (its location), however many connections this process opened."""
        return self.location

    @property
    @abstractmethod
    def stored_version(self) -> int | None:
        """The schema version the database records, migrated or not (``None``: no store)."""

    @abstractmethod
    def _one(self, sql: str, params: tuple[Any, ...] = ()) -> Row | None:
        """The first row of a query, or ``None``."""

    @abstractmethod
    def _all(self, sql: str, params: tuple[Any, ...] = ()) -> list[Row]:
        """Every row of a query."""

    @abstractmethod
    def _exec(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run a statement; returns how many rows it changed."""

    @abstractmethod
    def _exec_many(self, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
        """Run one statement once for each of ``rows`` (the driver's ``executemany``)."""

    @abstractmethod
    def _insert(self, sql: str, params: tuple[Any, ...] = ()) -> int:
        """Run an ``INSERT`` into a table with an ``id`` key; returns the new row's id."""

    def _one_of(self, column: str, values: Sequence[str]) -> Iterator[tuple[str, tuple[Any, ...]]]:
        """Conditions that ``column`` is one of ``values``, with their parameters: one
        ``column IN (?, ...)`` per :data:`_CHUNK` values, since SQLite caps the placeholders of
        a statement (a backend that takes an array in one parameter yields one condition);
        none for no values."""
        for start in range(0, len(values), _CHUNK):
            chunk = tuple(values[start : start + _CHUNK])
            yield f"{column} IN ({', '.join('?' * len(chunk))})", chunk

    # -- products ------------------------------------------------------------------------------

    def put_product(self, product: Product, *, pos: str) -> None:
        data = product.model_copy(update={"units": ()}).model_dump_json()
        with self.transaction():
            # What a channel shows of each unit includes its product: a product that changed
            # leaves its units' hashes unknown until each is stored again (or published).
            if self._exec(
                "UPDATE units SET content_hash = NULL WHERE sku = ? AND content_hash IS NOT NULL "
                "AND EXISTS (SELECT 1 FROM products p WHERE p.sku = ? AND p.data != ?)",
                (product.sku, product.sku, data),
            ):
                self._mark(_EVERY_CHANNEL, (product.sku,))
            self._exec(
                "INSERT INTO products (sku, pos, data, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (sku) DO UPDATE SET pos = excluded.pos, data = excluded.data, "
                "updated_at = excluded.updated_at",
                (product.sku, pos, data, _ts(utcnow())),
            )

    def get_product(self, sku: str) -> Product | None:
        row = self._one("SELECT data FROM products WHERE sku = ?", (sku,))
        return None if row is None else _parsed_product(row["data"])

    def products_of(self, skus: Collection[str]) -> dict[str, Product]:
        found: dict[str, Product] = {}
        for condition, params in self._one_of("sku", list(dict.fromkeys(skus))):
            for r in self._all(f"SELECT sku, data FROM products WHERE {condition}", params):  # noqa: S608 - placeholders only
                found[r["sku"]] = _parsed_product(r["data"])
        return found

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

    def units_to_plan(
        self, connector: str, skus: Collection[str], *, hash_prefix: str
    ) -> dict[str, list[UnitRecord]]:
        found: dict[str, list[UnitRecord]] = {}
        unchanged = (
            "u.status = ? AND u.deleted = 0 AND u.content_hash IS NOT NULL "
            "AND u.content_hash LIKE ? AND l.serial IS NOT NULL AND l.state = ? "
            "AND l.content_hash IS NOT NULL AND l.content_hash = u.content_hash"
        )
        # Every term is false, never NULL, where a value is missing (a unit never listed, a
        # hash forgotten): NOT of a NULL would leave the unit out.
        if "%" in hash_prefix or "_" in hash_prefix:
            raise ValueError(f"a hash prefix holds no LIKE wildcard: {hash_prefix!r}")
        like = hash_prefix + "%"
        for condition, params in self._one_of("u.sku", list(dict.fromkeys(skus))):
            sql = (
                "SELECT u.* FROM units u LEFT JOIN listings l "  # noqa: S608 - placeholders only
                f"ON l.connector = ? AND l.serial = u.serial WHERE {condition} "
                f"AND NOT ({unchanged}) ORDER BY u.sku, u.serial"
            )
            rows = self._all(
                sql,
                (connector, *params, UnitStatus.IN_STOCK.value, like, ListingState.LIVE.value),
            )
            for r in rows:
                found.setdefault(r["sku"], []).append(_unit(r))
        return found

    def units_by_serials(self, serials: Collection[str]) -> list[UnitRecord]:
        found: list[UnitRecord] = []
        for condition, params in self._one_of("serial", list(dict.fromkeys(serials))):
            rows = self._all(f"SELECT * FROM units WHERE {condition}", params)  # noqa: S608 - placeholders only
            found += [_unit(r) for r in rows]
        return sorted(found, key=lambda record: record.unit.serial)

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

    def units_page(
        self,
        *,
        status: UnitStatus | None = None,
        contains: str | None = None,
        after: tuple[str, str] | None = None,
        before: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> list[UnitRecord]:
        where: list[str] = []
        params: list[Any] = []
        if status is not None:
            where.append("status = ?")
            params.append(status.value)
        if contains:
            like = f"%{contains.lower()}%"
            where.append("(lower(serial) LIKE ? OR lower(sku) LIKE ?)")
            params += [like, like]
        order = "sku, serial"
        if after is not None:
            where.append("(sku > ? OR (sku = ? AND serial > ?))")
            params += [after[0], after[0], after[1]]
        elif before is not None:
            where.append("(sku < ? OR (sku = ? AND serial < ?))")
            params += [before[0], before[0], before[1]]
            order = "sku DESC, serial DESC"
        sql = "SELECT * FROM units"
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = self._all(f"{sql} ORDER BY {order} LIMIT ?", (*params, limit))
        units = [_unit(r) for r in rows]
        return units[::-1] if before is not None and after is None else units

    def put_unit(
        self,
        unit: SerializedUnit,
        *,
        status: UnitStatus,
        deleted: bool = False,
        content_hash: str | None = None,
    ) -> None:
        data = unit.model_copy(update={"status": status}).model_dump_json()
        with self.transaction():
            # Marked only when what a publish selects by changes (a unit stored again as it
            # was, as a POS read whole gives it, marks nothing); and the product it leaves.
            self._mark(
                "SELECT c.connector, CAST(? AS TEXT), 1, 0 FROM change_channels c WHERE NOT "
                "EXISTS (SELECT 1 FROM units u WHERE u.serial = ? AND u.sku = ? AND u.status = ? "
                "AND u.deleted = ? AND (u.content_hash = ? "
                "OR (u.content_hash IS NULL AND CAST(? AS TEXT) IS NULL))) "
                "UNION SELECT c.connector, u.sku, 1, 0 FROM change_channels c, units u "
                "WHERE u.serial = ? AND u.sku != ?",
                (
                    unit.sku,
                    unit.serial,
                    unit.sku,
                    status.value,
                    int(deleted),
                    content_hash,
                    content_hash,
                    unit.serial,
                    unit.sku,
                ),
            )
            self._exec(
                "INSERT INTO units (serial, sku, status, deleted, data, updated_at, content_hash) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (serial) DO UPDATE SET "
                "sku = excluded.sku, status = excluded.status, deleted = excluded.deleted, "
                "data = excluded.data, updated_at = excluded.updated_at, "
                "content_hash = excluded.content_hash",
                (
                    unit.serial,
                    unit.sku,
                    status.value,
                    int(deleted),
                    data,
                    _ts(utcnow()),
                    content_hash,
                ),
            )

    def put_units_new(self, units: Sequence[tuple[SerializedUnit, str | None, Move]]) -> None:
        if not units:
            return
        now = _ts(utcnow())
        rows: list[tuple[Any, ...]] = []
        for unit, content_hash, move in units:
            status = move.to_status
            stored = unit if unit.status == status else unit.model_copy(update={"status": status})
            data = stored.model_dump_json()
            rows.append((unit.serial, unit.sku, status.value, data, now, content_hash))
        with self.transaction():
            # A unit seen first changes its product on every followed channel (what put_unit
            # marks); its first move keeps the status it is stored at, so that marks nothing.
            skus = dict.fromkeys(unit.sku for unit, _, _ in units)
            self._exec_many(_MARK_EVERY_CHANNEL, [(sku,) for sku in skus])
            self._exec_many(_INSERT_NEW_UNIT, rows)
            self._exec_many(
                _INSERT_MOVE, [_move_row(unit.serial, unit.sku, move) for unit, _, move in units]
            )

    def set_unit_hashes(self, hashes: dict[str, str]) -> None:
        with self.transaction():
            for serial, digest in hashes.items():
                self._mark(
                    _UNIT_CHANNELS + " AND (u.content_hash IS NULL OR u.content_hash != ?)",
                    (serial, digest),
                )
                self._exec("UPDATE units SET content_hash = ? WHERE serial = ?", (digest, serial))

    def publish_work(
        self, connector: str, *, unpriced: str, sibling_mark: str, basis: str = ""
    ) -> list[SkuWork]:
        self._track(connector, basis)
        # One row per product marked for the channel (see schema 10), read in one pass over its
        # units joined by key to the channel's listings (and the claims); each CASE mirrors a
        # branch of the engine's plan_changes. A product without units comes with no work.
        sellable = (
            "(u.status = ? AND u.deleted = 0 AND (u.content_hash IS NULL OR u.content_hash != ?))"
        )
        rows = self._all(
            f"SELECT m.sku AS sku, m.version AS version, SUM(CASE WHEN {sellable} THEN (CASE "  # noqa: S608 - fixed text
            "WHEN u.content_hash IS NULL OR l.serial IS NULL OR l.content_hash IS NULL "
            "OR l.content_hash != u.content_hash THEN 1 "
            "WHEN l.state = ? THEN 0 WHEN l.state = ? AND l.retryable = 0 THEN 0 ELSE 1 END) "
            "WHEN u.serial IS NULL THEN 0 "
            "ELSE (CASE WHEN l.serial IS NULL THEN (CASE WHEN u.status != ? "
            "AND c.serial IS NOT NULL THEN 1 ELSE 0 END) "
            "WHEN l.state = ? THEN 0 "
            "WHEN l.state = ? AND l.remote IS NULL AND l.retryable = 0 THEN 0 ELSE 1 END) END) "
            f"AS todo, SUM(CASE WHEN {sellable} THEN 1 ELSE 0 END) AS sellable, "
            "MAX(CASE WHEN l.state = ? OR (l.state = ? AND l.remote IS NOT NULL) "
            "THEN 1 ELSE 0 END) AS for_sale, "
            "MAX(CASE WHEN l.remote IS NOT NULL THEN 1 ELSE 0 END) AS named, "
            "MAX(CASE WHEN l.remote LIKE ? THEN 1 ELSE 0 END) AS siblings "
            "FROM product_changes m LEFT JOIN units u ON u.sku = m.sku "
            "LEFT JOIN listings l ON l.connector = ? AND l.serial = u.serial "
            "LEFT JOIN claims c ON c.serial = u.serial "
            "WHERE m.connector = ? AND m.settled != m.version "
            "GROUP BY m.sku, m.version ORDER BY m.sku",
            (
                UnitStatus.IN_STOCK.value,
                unpriced,
                ListingState.LIVE.value,
                ListingState.FAILED.value,
                UnitStatus.IN_STOCK.value,
                ListingState.WITHDRAWN.value,
                ListingState.FAILED.value,
                UnitStatus.IN_STOCK.value,
                unpriced,
                ListingState.LIVE.value,
                ListingState.FAILED.value,
                f"%{sibling_mark}%",
                connector,
                connector,
            ),
        )
        if not rows:
            return []
        shown = {
            str(r["sku"]): (int(r["lo"]), int(r["hi"]))
            for r in self._all(
                "SELECT v.sku AS sku, MIN(v.visible) AS lo, MAX(v.visible) AS hi "
                "FROM product_changes m JOIN product_visibility v ON v.connector = m.connector "
                "AND v.sku = m.sku WHERE m.connector = ? AND m.settled != m.version "
                "AND v.remote IS NOT NULL GROUP BY v.sku",
                (connector,),
            )
        }
        return [
            SkuWork(
                sku=str(r["sku"]),
                todo=int(r["todo"] or 0),
                sellable=int(r["sellable"] or 0),
                for_sale=bool(r["for_sale"]),
                named=bool(r["named"]),
                siblings=bool(r["siblings"]),
                shown=shown.get(str(r["sku"])),
                version=int(r["version"]),
            )
            for r in rows
        ]

    def settle_work(self, connector: str, versions: dict[str, int]) -> int:
        settled = 0
        with self.transaction():
            for sku, version in versions.items():
                settled += self._exec(
                    "UPDATE product_changes SET settled = version "
                    "WHERE connector = ? AND sku = ? AND version = ?",
                    (connector, sku, version),
                )
        return settled

    def change_version(self, connector: str, sku: str) -> int | None:
        # Joined to the channels followed: a channel no longer followed is not marked, so
        # its old version would wrongly say nothing changed.
        row = self._one(
            "SELECT m.version AS version FROM product_changes m JOIN change_channels c "
            "ON c.connector = m.connector WHERE m.connector = ? AND m.sku = ?",
            (connector, sku),
        )
        return None if row is None else int(row["version"])

    def sellable_units(self, *, unpriced: str) -> int:
        row = self._one(
            "SELECT COUNT(*) AS n FROM units WHERE status = ? AND deleted = 0 "
            "AND (content_hash IS NULL OR content_hash != ?)",
            (UnitStatus.IN_STOCK.value, unpriced),
        )
        return 0 if row is None else int(row["n"])

    def _track(self, connector: str, basis: str) -> None:
        """Follow ``connector``'s changes from now on, every product marked for it once: a
        channel not followed yet, or followed on another ``basis``, has its whole catalogue
        to look at (a store from before schema 10, changed selection rules)."""
        row = self._one("SELECT basis FROM change_channels WHERE connector = ?", (connector,))
        if row is not None and row["basis"] == basis:
            return
        # In one write transaction: every writer marks its products in its own transaction
        # (one at a time: SQLite's, or the PostgreSQL store's writer lock), so a write is
        # either before this (its product marked here) or after (it marks for this channel).
        with self.transaction():
            self._exec(
                "INSERT INTO change_channels (connector, basis, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT (connector) DO UPDATE SET basis = excluded.basis, "
                "updated_at = excluded.updated_at",
                (connector, basis, _ts(utcnow())),
            )
            self._mark(
                "SELECT DISTINCT CAST(? AS TEXT), sku, 1, 0 FROM units WHERE 1 = 1",
                (connector,),
            )

    def _mark(self, select: str, params: tuple[Any, ...]) -> None:
        """Mark products as changed for channels: ``select`` gives ``(connector, sku, 1, 0)``
        rows (it must end in a ``WHERE``: SQLite's upsert after a ``SELECT`` needs one)."""
        self._exec(
            "INSERT INTO product_changes (connector, sku, version, settled) "
            f"{select} ON CONFLICT (connector, sku) "
            "DO UPDATE SET version = product_changes.version + 1",
            params,
        )

    def set_unit_deleted(self, serial: str, deleted: bool) -> None:
        with self.transaction():
            self._mark(_UNIT_CHANNELS + " AND u.deleted != ?", (serial, int(deleted)))
            self._exec(
                "UPDATE units SET deleted = ?, updated_at = ? WHERE serial = ?",
                (int(deleted), _ts(utcnow()), serial),
            )

    def record_move(self, serial: str, sku: str, move: Move) -> None:
        with self.transaction():
            self._mark(_UNIT_CHANNELS + " AND u.status != ?", (serial, move.to_status.value))
            self._exec(
                "UPDATE units SET status = ?, updated_at = ? WHERE serial = ?",
                (move.to_status.value, _ts(utcnow()), serial),
            )
            self._exec(_INSERT_MOVE, _move_row(serial, sku, move))

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

    # -- the registry's side of a unit ----------------------------------------------------------

    def unit_details(self) -> dict[str, UnitDetails]:
        rows = self._all("SELECT * FROM unit_details ORDER BY serial")
        return {
            r["serial"]: UnitDetails(
                lot=r["lot"],
                warehouse=r["warehouse"],
                location=r["location"],
                purchase_date=_day(r["purchase_date"]),
                warranty_expiry=_day(r["warranty_expiry"]),
            )
            for r in rows
        }

    def put_unit_details(self, serial: str, details: UnitDetails) -> None:
        self._exec(
            "INSERT INTO unit_details (serial, lot, warehouse, location, purchase_date, "
            "warranty_expiry, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (serial) "
            "DO UPDATE SET lot = excluded.lot, warehouse = excluded.warehouse, "
            "location = excluded.location, purchase_date = excluded.purchase_date, "
            "warranty_expiry = excluded.warranty_expiry, updated_at = excluded.updated_at",
            (
                serial,
                details.lot,
                details.warehouse,
                details.location,
                _iso(details.purchase_date),
                _iso(details.warranty_expiry),
                _ts(utcnow()),
            ),
        )

    def get_hold(self, serial: str) -> Hold | None:
        row = self._one("SELECT * FROM unit_holds WHERE serial = ?", (serial,))
        return None if row is None else _hold(row)

    def holds(self) -> list[Hold]:
        return [_hold(r) for r in self._all("SELECT * FROM unit_holds ORDER BY serial")]

    def put_hold(self, hold: Hold) -> None:
        self._exec(
            "INSERT INTO unit_holds (serial, status, held_by, reason, at, pos_status) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (serial) DO UPDATE SET "
            "status = excluded.status, held_by = excluded.held_by, reason = excluded.reason, "
            "at = excluded.at, pos_status = excluded.pos_status",
            (
                hold.serial,
                hold.status.value,
                hold.held_by,
                hold.reason,
                _ts(hold.at),
                hold.pos_status.value if hold.pos_status else None,
            ),
        )

    def set_hold_pos_status(self, serial: str, pos_status: UnitStatus | None) -> None:
        self._exec(
            "UPDATE unit_holds SET pos_status = ? WHERE serial = ?",
            (pos_status.value if pos_status else None, serial),
        )

    def drop_hold(self, serial: str) -> bool:
        return self._exec("DELETE FROM unit_holds WHERE serial = ?", (serial,)) > 0

    # -- serial references ---------------------------------------------------------------------

    def put_ref_group(self, group: RefGroup) -> None:
        self._exec(
            "INSERT INTO ref_groups (name, kind, ref_limit, alphabet, length, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                group.name,
                group.kind,
                group.limit,
                group.alphabet,
                group.length,
                _ts(group.created_at),
            ),
        )

    def ref_groups(self) -> list[RefGroup]:
        return [
            RefGroup(
                name=r["name"],
                kind=r["kind"],
                limit=int(r["ref_limit"]),
                alphabet=r["alphabet"],
                length=int(r["length"]),
                created_at=_dt(r["created_at"]) or utcnow(),
            )
            for r in self._all("SELECT * FROM ref_groups ORDER BY name")
        ]

    def put_ref_batch(self, group: str, name: str) -> None:
        self._exec(
            "INSERT INTO ref_batches (grp, name, created_at) VALUES (?, ?, ?)",
            (group, name, _ts(utcnow())),
        )

    def ref_batches(self, group: str) -> list[tuple[str, datetime, int]]:
        rows = self._all(
            "SELECT b.name AS name, b.created_at AS created_at, COUNT(r.id) AS n "
            "FROM ref_batches b LEFT JOIN refs r ON r.grp = b.grp AND r.batch = b.name "
            "AND r.deleted = 0 WHERE b.grp = ? GROUP BY b.name, b.created_at "
            "ORDER BY b.created_at, b.name",
            (group,),
        )
        return [(r["name"], _dt(r["created_at"]) or utcnow(), int(r["n"])) for r in rows]

    def has_ref_batch(self, group: str, name: str) -> bool:
        row = self._one("SELECT 1 AS x FROM ref_batches WHERE grp = ? AND name = ?", (group, name))
        return row is not None

    def count_refs(self, group: str) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM refs WHERE grp = ? AND deleted = 0", (group,))
        return 0 if row is None else int(row["n"])

    def taken(self, codes: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(codes), _CHUNK):
            chunk = tuple(codes[start : start + _CHUNK])
            marks = ", ".join("?" * len(chunk))
            in_refs = f"SELECT ref AS code FROM refs WHERE ref IN ({marks})"  # noqa: S608 - placeholders only
            in_units = f"SELECT serial AS code FROM units WHERE serial IN ({marks})"  # noqa: S608 - placeholders only
            found.update(r["code"] for r in self._all(in_refs, chunk))
            found.update(r["code"] for r in self._all(in_units, chunk))
        return found

    def add_refs(self, group: str, batch: str | None, codes: list[str]) -> None:
        now = _ts(utcnow())
        for start in range(0, len(codes), _CHUNK):
            chunk = codes[start : start + _CHUNK]
            values = ", ".join(["(?, ?, ?, ?)"] * len(chunk))
            params: list[Any] = []
            for code in chunk:
                params += [code, group, batch, now]
            self._exec(
                f"INSERT INTO refs (ref, grp, batch, created_at) VALUES {values}",  # noqa: S608 - placeholders only
                tuple(params),
            )

    def refs(
        self,
        *,
        group: str | None = None,
        batch: str | None = None,
        contains: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Reference]:
        sql = "SELECT * FROM refs WHERE deleted = 0"
        params: list[Any] = []
        if group is not None:
            sql += " AND grp = ?"
            params.append(group)
        if batch is not None:
            sql += " AND batch = ?"
            params.append(batch)
        if contains is not None:
            sql += " AND upper(ref) LIKE ?"
            params.append(f"%{contains.upper()}%")
        sql += " ORDER BY id"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [limit, offset]
        return [_reference(r) for r in self._all(sql, tuple(params))]

    def get_ref(self, ref: str) -> Reference | None:
        row = self._one("SELECT * FROM refs WHERE ref = ?", (ref,))
        return None if row is None else _reference(row)

    def ref_of_unit(self, serial: str) -> Reference | None:
        row = self._one("SELECT * FROM refs WHERE serial = ? AND deleted = 0", (serial,))
        return None if row is None else _reference(row)

    def delete_ref(self, ref: str) -> bool:
        with self.transaction():
            self._forget_ref_hash(ref)
            return (
                self._exec(
                    "UPDATE refs SET deleted = 1, serial = NULL WHERE ref = ? AND deleted = 0",
                    (ref,),
                )
                > 0
            )

    def assign_ref(self, ref: str, serial: str) -> None:
        # A unit shows its reference: the units it leaves and joins must be hashed anew.
        with self.transaction():
            self._forget_ref_hash(ref)
            self._exec("UPDATE refs SET serial = ? WHERE ref = ?", (serial, ref))
            self._forget_hash(serial)

    def _forget_ref_hash(self, ref: str) -> None:
        row = self._one("SELECT serial FROM refs WHERE ref = ?", (ref,))
        if row is not None and row["serial"] is not None:
            self._forget_hash(str(row["serial"]))

    def _forget_hash(self, serial: str) -> None:
        self._mark(_UNIT_CHANNELS + " AND u.content_hash IS NOT NULL", (serial,))
        self._exec("UPDATE units SET content_hash = NULL WHERE serial = ?", (serial,))

    def refs_of_sku(self, sku: str) -> dict[str, str]:
        rows = self._all(
            "SELECT r.ref AS ref, r.serial AS serial FROM refs r JOIN units u "
            "ON u.serial = r.serial WHERE u.sku = ? AND r.deleted = 0",
            (sku,),
        )
        return {r["serial"]: r["ref"] for r in rows}

    # -- listings ------------------------------------------------------------------------------

    def listings_of(self, connector: str, sku: str) -> dict[str, ListingRecord]:
        rows = self._all("SELECT * FROM listings WHERE connector = ? AND sku = ?", (connector, sku))
        return {r["serial"]: _listing(r) for r in rows}

    def listings_of_unit(self, serial: str) -> list[ListingRecord]:
        rows = self._all("SELECT * FROM listings WHERE serial = ? ORDER BY connector", (serial,))
        return [_listing(r) for r in rows]

    def listings_of_units(self, serials: Collection[str]) -> list[ListingRecord]:
        found: list[ListingRecord] = []
        for condition, params in self._one_of("serial", sorted(set(serials))):
            rows = self._all(f"SELECT * FROM listings WHERE {condition}", params)  # noqa: S608 - placeholders only
            found += [_listing(r) for r in rows]
        return sorted(found, key=lambda listing: (listing.serial, listing.connector))

    def listings_of_skus(
        self, connector: str, skus: Collection[str]
    ) -> dict[str, dict[str, ListingRecord]]:
        rows = self._rows_of_skus("listings", connector, skus)
        return {sku: {r["serial"]: _listing(r) for r in mine} for sku, mine in rows.items()}

    def _rows_of_skus(
        self, table: str, connector: str, skus: Collection[str]
    ) -> dict[str, list[Row]]:
        """The rows of one channel's ``table`` (a fixed name) for each of ``skus``, by SKU."""
        found: dict[str, list[Row]] = {}
        for condition, params in self._one_of("sku", list(dict.fromkeys(skus))):
            for r in self._all(
                f"SELECT * FROM {table} WHERE connector = ? AND {condition}",  # noqa: S608 - a fixed name, placeholders
                (connector, *params),
            ):
                found.setdefault(r["sku"], []).append(r)
        return found

    def put_listing(self, record: ListingRecord) -> None:
        self.put_listings([record])

    def put_listings(self, records: Sequence[ListingRecord]) -> None:
        if not records:
            return
        with self.transaction():
            stored = self._listing_keys(records)
            # Per channel, the products and the units whose listings changed (dicts: in order).
            marks: dict[str, tuple[dict[str, None], dict[str, None]]] = {}
            rows: list[tuple[Any, ...]] = []
            now = _ts(utcnow())
            for record in records:
                remote = record.remote.model_dump_json() if record.remote else None
                key = (record.connector, record.serial)
                kept = (
                    record.sku,
                    record.state.value,
                    record.content_hash,
                    remote,
                    record.retryable,
                )
                # Its own channel alone (the others' work does not read it), and only when what
                # a publish selects by changes (a retry failing again marks nothing): the
                # listing's product, and its unit's (the query joins units to listings by
                # serial). Compared with the row as this batch left it, should a key repeat.
                if stored.get(key) != kept:
                    changed = marks.setdefault(record.connector, ({}, {}))
                    changed[0][record.sku] = None
                    changed[1][record.serial] = None
                stored[key] = kept
                rows.append(
                    (
                        record.connector,
                        record.serial,
                        record.sku,
                        record.state.value,
                        record.content_hash,
                        remote,
                        record.last_error,
                        int(record.retryable),
                        record.attempts,
                        now,
                    )
                )
            for connector, (skus, serials) in marks.items():
                self._mark_listed(connector, list(skus), list(serials))
            self._exec_many(_UPSERT_LISTING, rows)

    def _mark_listed(self, connector: str, skus: list[str], serials: list[str]) -> None:
        """Mark ``connector`` (if followed) for the listed products and for the products of
        the listed units, each product once per statement."""
        self._exec_many(_MARK_CHANNEL, [(sku, connector) for sku in skus])
        for condition, params in self._one_of("u.serial", serials):
            self._mark(
                "SELECT DISTINCT c.connector, u.sku, 1, 0 FROM change_channels c, units u "  # noqa: S608 - placeholders only
                f"WHERE c.connector = ? AND {condition}",
                (connector, *params),
            )

    def _listing_keys(
        self, records: Sequence[ListingRecord]
    ) -> dict[tuple[str, str], tuple[Any, ...]]:
        """What a publish selects by, of the stored listings of ``records``: ``{(connector,
        serial): (sku, state, content hash, remote, retryable)}``, read in one query per
        channel (see :meth:`_one_of`)."""
        serials: dict[str, dict[str, None]] = {}
        for record in records:
            serials.setdefault(record.connector, {})[record.serial] = None
        found: dict[tuple[str, str], tuple[Any, ...]] = {}
        for connector, wanted in serials.items():
            for condition, params in self._one_of("serial", list(wanted)):
                for r in self._all(
                    "SELECT serial, sku, state, content_hash, remote, retryable FROM listings "  # noqa: S608 - placeholders only
                    f"WHERE connector = ? AND {condition}",
                    (connector, *params),
                ):
                    found[(connector, r["serial"])] = (
                        r["sku"],
                        r["state"],
                        r["content_hash"],
                        r["remote"],
                        bool(r["retryable"]),
                    )
        return found

    def visibility_of(self, connector: str, sku: str) -> dict[int, VisibilityRecord]:
        rows = self._all(
            "SELECT * FROM product_visibility WHERE connector = ? AND sku = ?", (connector, sku)
        )
        return {int(r["part"]): _visibility(r) for r in rows}

    def visibility_of_skus(
        self, connector: str, skus: Collection[str]
    ) -> dict[str, dict[int, VisibilityRecord]]:
        rows = self._rows_of_skus("product_visibility", connector, skus)
        return {sku: {int(r["part"]): _visibility(r) for r in mine} for sku, mine in rows.items()}

    def put_visibility(self, record: VisibilityRecord) -> None:
        with self.transaction():
            self._exec(_MARK_CHANNEL, (record.sku, record.connector))
            self._write_visibility(record)

    def _write_visibility(self, record: VisibilityRecord) -> None:
        self._exec(
            "INSERT INTO product_visibility (connector, sku, part, visible, remote, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (connector, sku, part) DO UPDATE SET "
            "visible = excluded.visible, remote = excluded.remote, "
            "updated_at = excluded.updated_at",
            (
                record.connector,
                record.sku,
                record.part,
                int(record.visible),
                record.remote.model_dump_json() if record.remote else None,
                _ts(utcnow()),
            ),
        )

    def skus_to_withdraw(self, connector: str) -> list[str]:
        # A withdrawal due is work its product's mark keeps open until it is done (see
        # publish_work): a followed channel looks at its open marks alone, read first (SQLite
        # keeps a CROSS JOIN's order; PostgreSQL plans it as any join).
        followed = self._one("SELECT 1 AS x FROM change_channels WHERE connector = ?", (connector,))
        due = (
            "l.connector = ? AND l.state != ? AND (u.status != ? OR u.deleted = 1) "
            "AND u.serial = l.serial"
        )
        params = (connector, ListingState.WITHDRAWN.value, UnitStatus.IN_STOCK.value)
        if followed:
            rows = self._all(
                "SELECT DISTINCT l.sku AS sku FROM product_changes m CROSS JOIN listings l "  # noqa: S608 - fixed text
                f"CROSS JOIN units u WHERE m.connector = ? AND m.settled != m.version "
                f"AND l.sku = m.sku AND {due} ORDER BY l.sku",
                (connector, *params),
            )
        else:
            rows = self._all(
                f"SELECT DISTINCT l.sku AS sku FROM listings l, units u WHERE {due} "  # noqa: S608 - fixed text
                "ORDER BY l.sku",
                params,
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

    # -- webhook events ------------------------------------------------------------------------

    def first_delivery(self, connector: str, event_id: str, at: datetime) -> bool:
        with self.transaction():
            added = self._exec(
                "INSERT INTO webhook_events (connector, event_id, seen_at) VALUES (?, ?, ?) "
                "ON CONFLICT (connector, event_id) DO NOTHING",
                (connector, event_id, _ts(at)),
            )
        return added == 1

    def forget_deliveries(self, before: datetime) -> int:
        with self.transaction():
            return self._exec("DELETE FROM webhook_events WHERE seen_at < ?", (_ts(before),))

    # -- claims --------------------------------------------------------------------------------

    def get_claim(self, serial: str) -> Claim | None:
        row = self._one("SELECT * FROM claims WHERE serial = ?", (serial,))
        if row is None:
            return None
        return Claim(row["serial"], row["channel"], row["order_id"], _dt(row["claimed_at"]))

    def put_claim(self, serial: str, channel: str, order_id: str) -> None:
        with self.transaction():
            self._mark(_UNIT_CHANNELS, (serial,))
            self._exec(
                "INSERT INTO claims (serial, channel, order_id, claimed_at) VALUES (?, ?, ?, ?)",
                (serial, channel, order_id, _ts(utcnow())),
            )

    def release_claim(self, serial: str, channel: str, order_id: str) -> None:
        with self.transaction():
            if self._exec(
                "DELETE FROM claims WHERE serial = ? AND channel = ? AND order_id = ?",
                (serial, channel, order_id),
            ):
                self._mark(_UNIT_CHANNELS, (serial,))
            self._exec(
                "DELETE FROM sale_windows WHERE serial = ? AND channel = ? AND order_id = ? "
                "AND closed_at IS NULL",
                (serial, channel, order_id),
            )

    # -- oversell windows ----------------------------------------------------------------------

    def open_sale_window(
        self, channel: str, order_id: str, serial: str, *, placed_at: datetime, claimed_at: datetime
    ) -> None:
        self._exec(
            "INSERT INTO sale_windows (channel, order_id, serial, placed_at, claimed_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (channel, order_id, serial) DO NOTHING",
            (channel, order_id, serial, _ts(placed_at), _ts(claimed_at)),
        )

    def open_sale_windows(self, serial: str) -> list[SaleWindow]:
        rows = self._all(
            "SELECT * FROM sale_windows WHERE serial = ? AND closed_at IS NULL", (serial,)
        )
        return [_sale_window(r) for r in rows]

    def close_sale_window(self, channel: str, order_id: str, serial: str, at: datetime) -> bool:
        return (
            self._exec(
                "UPDATE sale_windows SET closed_at = ? WHERE channel = ? AND order_id = ? "
                "AND serial = ? AND closed_at IS NULL",
                (_ts(at), channel, order_id, serial),
            )
            > 0
        )

    def open_sale_windows_of(self, serials: Collection[str]) -> list[SaleWindow]:
        found: list[SaleWindow] = []
        for condition, params in self._one_of("serial", sorted(set(serials))):
            rows = self._all(
                f"SELECT * FROM sale_windows WHERE closed_at IS NULL AND {condition}",  # noqa: S608 - placeholders only
                params,
            )
            found += [_sale_window(r) for r in rows]
        return sorted(found, key=lambda w: (w.serial, w.channel, w.order_id))

    def close_sale_windows(self, windows: Collection[SaleWindow], at: datetime) -> int:
        keys = list({(w.channel, w.order_id, w.serial): None for w in windows})
        closed = 0
        with self.transaction():
            # Row values matched against a VALUES list (both backends take it; the subquery
            # lets SQLite look each one up by the primary key instead of scanning the table).
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                values = ", ".join(["(?, ?, ?)"] * len(chunk))
                closed += self._exec(
                    "UPDATE sale_windows SET closed_at = ? WHERE closed_at IS NULL "  # noqa: S608 - placeholders only
                    "AND (channel, order_id, serial) IN (SELECT column1, column2, column3 "
                    f"FROM (VALUES {values}) AS v)",
                    (_ts(at), *(value for key in chunk for value in key)),
                )
        return closed

    def sale_windows(self, *, limit: int = 200) -> list[SaleWindow]:
        rows = self._all(
            "SELECT * FROM sale_windows ORDER BY claimed_at DESC, channel, order_id, serial "
            "LIMIT ?",
            (limit,),
        )
        return [_sale_window(r) for r in reversed(rows)]

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
        return (
            self._exec("DELETE FROM quarantine WHERE kind = ? AND record_key = ?", (kind, key)) > 0
        )

    def release_quarantines(self, kind: str, keys: Collection[str]) -> int:
        released = 0
        for condition, params in self._one_of("record_key", list(dict.fromkeys(keys))):
            released += self._exec(
                f"DELETE FROM quarantine WHERE kind = ? AND {condition}",  # noqa: S608 - placeholders only
                (kind, *params),
            )
        return released

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
        return self._exec("DELETE FROM quarantine WHERE id = ?", (record_id,)) > 0

    # -- runs ----------------------------------------------------------------------------------

    def start_run(self, kind: str) -> int:
        return self._insert(
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

    # -- the admin panel -----------------------------------------------------------------------

    def put_panel_user(self, user: PanelUser) -> None:
        now = _ts(utcnow())
        self._exec(
            "INSERT INTO panel_users (name, role, password_hash, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET role = excluded.role, "
            "password_hash = excluded.password_hash, updated_at = excluded.updated_at",
            (user.name, user.role, user.password_hash, now, now),
        )

    def get_panel_user(self, name: str) -> PanelUser | None:
        row = self._one("SELECT * FROM panel_users WHERE name = ?", (name,))
        return None if row is None else _panel_user(row)

    def panel_users(self) -> list[PanelUser]:
        return [_panel_user(r) for r in self._all("SELECT * FROM panel_users ORDER BY name")]

    def put_panel_login(self, login: PanelLogin) -> None:
        self._exec(
            "INSERT INTO panel_logins (token_hash, name, created_at, expires_at, used_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                login.token_hash,
                login.name,
                _ts(login.created_at),
                _ts(login.expires_at),
                _ts(login.used_at),
            ),
        )

    def get_panel_login(self, token_hash: str) -> PanelLogin | None:
        row = self._one("SELECT * FROM panel_logins WHERE token_hash = ?", (token_hash,))
        return None if row is None else _panel_login(row)

    def spend_panel_login(self, token_hash: str, at: datetime) -> PanelLogin | None:
        with self.transaction():
            # One UPDATE decides: of two tries at once, the second finds used_at set.
            spent = self._exec(
                "UPDATE panel_logins SET used_at = ? WHERE token_hash = ? AND used_at IS NULL "
                "AND expires_at > ?",
                (_ts(at), token_hash, _ts(at)),
            )
            return self.get_panel_login(token_hash) if spent else None

    def record_action(
        self, *, who: str, action: str, target: str, reason: str, outcome: str
    ) -> int:
        return self._insert(
            "INSERT INTO operator_actions (at, who, action, target, reason, outcome) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (_ts(utcnow()), who, action, target, reason, outcome),
        )

    def operator_actions(
        self, *, target: str | None = None, limit: int = 100
    ) -> list[OperatorAction]:
        if target is None:
            rows = self._all("SELECT * FROM operator_actions ORDER BY id DESC LIMIT ?", (limit,))
        else:
            rows = self._all(
                "SELECT * FROM operator_actions WHERE target = ? ORDER BY id DESC LIMIT ?",
                (target, limit),
            )
        return [
            OperatorAction(
                id=int(r["id"]),
                at=_dt(r["at"]) or utcnow(),
                who=r["who"],
                action=r["action"],
                target=r["target"],
                reason=r["reason"],
                outcome=r["outcome"],
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


def _unit(row: Row) -> UnitRecord:
    return UnitRecord(
        unit=_parsed_unit(row["data"]),
        status=UnitStatus(row["status"]),
        deleted=bool(row["deleted"]),
        content_hash=row["content_hash"],
    )


def _move_row(serial: str, sku: str, move: Move) -> tuple[Any, ...]:
    return (
        serial,
        sku,
        move.from_status.value,
        move.to_status.value,
        _ts(move.at),
        move.reason,
        move.source.value,
        move.source_ref,
        move.basis.value,
    )


def _iso(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


#: Mark for every followed channel: the product given as the one parameter.
_EVERY_CHANNEL = "SELECT connector, CAST(? AS TEXT), 1, 0 FROM change_channels WHERE 1 = 1"
#: Mark for every followed channel: the product of the unit given first (its serial); more
#: conditions on the unit (``u``) may follow.
_UNIT_CHANNELS = (
    "SELECT c.connector, u.sku, 1, 0 FROM change_channels c, units u WHERE u.serial = ?"
)

#: Mark every followed channel for one product (the parameter).
_MARK_EVERY_CHANNEL = (
    "INSERT INTO product_changes (connector, sku, version, settled) "
    f"{_EVERY_CHANNEL} ON CONFLICT (connector, sku) "
    "DO UPDATE SET version = product_changes.version + 1"
)

#: A unit the store does not hold yet (a serial it holds is refused by the key).
_INSERT_NEW_UNIT = (
    "INSERT INTO units (serial, sku, status, deleted, data, updated_at, content_hash) "
    "VALUES (?, ?, ?, 0, ?, ?, ?)"
)

#: One lifecycle move appended to a unit's history (see :func:`_move_row`).
_INSERT_MOVE = (
    "INSERT INTO unit_moves (serial, sku, from_status, to_status, at, reason, source, "
    "source_ref, basis) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)

#: Mark one channel (the second parameter), if followed, for one product (the first).
_MARK_CHANNEL = (
    "INSERT INTO product_changes (connector, sku, version, settled) "
    "SELECT connector, CAST(? AS TEXT), 1, 0 FROM change_channels WHERE connector = ? "
    "ON CONFLICT (connector, sku) DO UPDATE SET version = product_changes.version + 1"
)
#: Insert or replace one listing.
_UPSERT_LISTING = (
    "INSERT INTO listings (connector, serial, sku, state, content_hash, remote, "
    "last_error, retryable, attempts, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (connector, serial) DO UPDATE SET sku = excluded.sku, "
    "state = excluded.state, content_hash = excluded.content_hash, "
    "remote = excluded.remote, last_error = excluded.last_error, "
    "retryable = excluded.retryable, attempts = excluded.attempts, "
    "updated_at = excluded.updated_at"
)

#: How many values one statement carries (SQLite allows 32,766 placeholders; 500 rows of four
#: stay far below, and below PostgreSQL's 65,535).
_CHUNK = 500


# The models a row holds as JSON, validated once per text: a publish reads each product and its
# units several times per channel (planned, asked about, planned again), and listings' ids as
# often. The models are frozen, so one instance may serve every reader; a text that changed is
# another key. Bounded, so memory does not grow with the catalogue.
# A few products per channel at once is all a publish rereads: 512 units (about 3 MB).
_parsed_unit = functools.lru_cache(maxsize=512)(SerializedUnit.model_validate_json)
_parsed_product = functools.lru_cache(maxsize=64)(Product.model_validate_json)
_parsed_remote = functools.lru_cache(maxsize=512)(RemoteIds.model_validate_json)


def _reference(row: Row) -> Reference:
    return Reference(
        ref=row["ref"],
        group=row["grp"],
        batch=row["batch"],
        serial=row["serial"],
        deleted=bool(row["deleted"]),
        created_at=_dt(row["created_at"]) or utcnow(),
    )


def _sale_window(row: Row) -> SaleWindow:
    return SaleWindow(
        channel=row["channel"],
        order_id=row["order_id"],
        serial=row["serial"],
        placed_at=_dt(row["placed_at"]) or utcnow(),
        claimed_at=_dt(row["claimed_at"]) or utcnow(),
        closed_at=_dt(row["closed_at"]),
    )


def _panel_login(row: Row) -> PanelLogin:
    return PanelLogin(
        token_hash=row["token_hash"],
        name=row["name"],
        created_at=_dt(row["created_at"]) or utcnow(),
        expires_at=_dt(row["expires_at"]) or utcnow(),
        used_at=_dt(row["used_at"]),
    )


def _panel_user(row: Row) -> PanelUser:
    return PanelUser(
        name=row["name"],
        role=row["role"],
        password_hash=row["password_hash"],
        created_at=_dt(row["created_at"]),
    )


def _hold(row: Row) -> Hold:
    return Hold(
        serial=row["serial"],
        status=UnitStatus(row["status"]),
        held_by=row["held_by"],
        reason=row["reason"],
        at=_dt(row["at"]) or utcnow(),
        pos_status=UnitStatus(row["pos_status"]) if row["pos_status"] else None,
    )


def _listing(row: Row) -> ListingRecord:
    return ListingRecord(
        connector=row["connector"],
        serial=row["serial"],
        sku=row["sku"],
        state=ListingState(row["state"]),
        content_hash=row["content_hash"],
        remote=_parsed_remote(row["remote"]) if row["remote"] else None,
        last_error=row["last_error"],
        retryable=bool(row["retryable"]),
        attempts=int(row["attempts"]),
        updated_at=_dt(row["updated_at"]),
    )


def _visibility(row: Row) -> VisibilityRecord:
    return VisibilityRecord(
        connector=row["connector"],
        sku=row["sku"],
        part=int(row["part"]),
        visible=bool(row["visible"]),
        remote=_parsed_remote(row["remote"]) if row["remote"] else None,
        updated_at=_dt(row["updated_at"]),
    )


def _outbox(row: Row) -> OutboxRecord:
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


def _quarantine(row: Row) -> QuarantineRecord:
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

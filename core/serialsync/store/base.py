"""The state store's interface: what the engine, the host and the CLI ask of it.

:class:`~serialsync.store.sqlite.SQLiteStore` implements it on one SQLite file,
:class:`~serialsync.store.postgres.PostgresStore` on a shared PostgreSQL (many runners, one
database), both with the same portable SQL (:mod:`serialsync.store.sql`); the engine does not
change. Every method runs inside :meth:`Store.transaction` when it writes.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

from serialsync.lifecycle import Move, UnitStatus
from serialsync.model import Product, SerializedUnit
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

_IN_FLIGHT_MUTEX = threading.Lock()
_IN_FLIGHT: set[tuple[str, str, str]] = set()  # (store, channel, order id) being reported


class Store(ABC):
    """Durable, transactional state: units, listings, cursors, the outbox, quarantine, runs.

    A store that cannot do what it is asked (its file damaged, read-only, on a full disk)
    raises :class:`~serialsync.errors.StoreError` with one line saying what to do; the engine
    lets it stop the pass, since nothing more could be recorded.
    """

    @abstractmethod
    def close(self) -> None:
        """Close the database and release the runner lock."""

    def check_in_place(self) -> None:  # noqa: B027 - optional, a no-op where nothing can vanish
        """Raise :class:`~serialsync.errors.StoreError` when the store was deleted or replaced
        under the runner since it was opened; a runner calls it between its steps."""

    @property
    @abstractmethod
    def schema_version(self) -> int:
        """The schema version of the open database."""

    @abstractmethod
    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """All or nothing: commit on success, roll back on any exception; an inner one joins."""

    @abstractmethod
    def put_product(self, product: Product, *, pos: str) -> None:
        """Remember a product as the POS describes it (its units are stored separately)."""

    @abstractmethod
    def get_product(self, sku: str) -> Product | None:
        """The product ``sku`` (without units), or ``None``."""

    def products_of(self, skus: Collection[str]) -> dict[str, Product]:
        """The products of ``skus``, ``{sku: product}``, as :meth:`get_product` gives each (an
        SKU the store does not hold is left out; a store with SQL reads them in one query per
        few hundred SKUs, which a burst's withdrawal asks of hundreds at once)."""
        found = {sku: self.get_product(sku) for sku in dict.fromkeys(skus)}
        return {sku: product for sku, product in found.items() if product is not None}

    @abstractmethod
    def product_pos(self, sku: str) -> str | None:
        """The POS connector that reported product ``sku``."""

    @abstractmethod
    def product_skus(self) -> list[str]:
        """Every product SKU that has units, sorted."""

    @abstractmethod
    def get_unit(self, serial: str) -> UnitRecord | None:
        """The unit with this serial, or ``None``."""

    @abstractmethod
    def units_of(self, sku: str) -> list[UnitRecord]:
        """Every unit of one SKU (deleted ones included), by serial."""

    def units_of_skus(self, skus: Collection[str]) -> dict[str, list[UnitRecord]]:
        """The units of each of ``skus``, ``{sku: [unit, ...]}``, as :meth:`units_of` gives
        each (an SKU without units is left out). The withdraw step reads through
        :meth:`units_to_plan`, which a store with SQL answers in one query per few hundred
        SKUs."""
        found = {sku: self.units_of(sku) for sku in dict.fromkeys(skus)}
        return {sku: units for sku, units in found.items() if units}

    def units_to_plan(
        self, connector: str, skus: Collection[str], *, hash_prefix: str
    ) -> dict[str, list[UnitRecord]]:
        """The units of ``skus`` whose plan on ``connector`` may change, as
        :meth:`units_of_skus` gives them less those that cannot: in stock, not deleted, with a
        content hash that starts with ``hash_prefix`` (this release's) and a live listing on
        the channel carrying that same hash. A burst's withdrawal plans a few sold units of
        each of hundreds of products, and reading (and parsing) every unit of each was most
        of its work. (The plan skips each of them: a unit's recorded hash of this release
        means it was priced when recorded, an unpriced one records another mark, and a
        changed product clears its units' hashes.)"""
        found: dict[str, list[UnitRecord]] = {}
        listed = self.listings_of_skus(connector, skus)
        for sku, units in self.units_of_skus(skus).items():
            listings = listed.get(sku, {})
            mine = [
                u for u in units if not _unchanged_live(u, listings.get(u.unit.serial), hash_prefix)
            ]
            if mine:
                found[sku] = mine
        return found

    @abstractmethod
    def units_by_serials(self, serials: Collection[str]) -> list[UnitRecord]:
        """The units with these serials (deleted ones included), by serial; a serial the store
        does not hold is left out. Reads only the named rows, in one query (a few where the
        backend limits a statement's values), whatever the size of their products: a publish
        asks it before each request that would make units sellable."""

    @abstractmethod
    def find_units(self, text: str, *, limit: int = 100) -> list[UnitRecord]:
        """Units whose serial or SKU contains ``text`` (case-insensitive)."""

    @abstractmethod
    def all_units(self, *, limit: int | None = None) -> list[UnitRecord]:
        """Every unit, by SKU and serial."""

    @abstractmethod
    def units_page(
        self,
        *,
        status: UnitStatus | None = None,
        contains: str | None = None,
        after: tuple[str, str] | None = None,
        before: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> list[UnitRecord]:
        """One page of units by SKU and serial, keyed by the last (``after``) or first
        (``before``) ``(sku, serial)`` of the page beside it rather than by an offset, so a unit
        added meanwhile never shifts a page or shows twice. ``contains`` as in
        :meth:`find_units`; the page is always in ascending order."""

    @abstractmethod
    def put_unit(
        self,
        unit: SerializedUnit,
        *,
        status: UnitStatus,
        deleted: bool = False,
        content_hash: str | None = None,
    ) -> None:
        """Insert or replace a unit's data and status, with the content hash the engine
        computed of it (``None``: not known)."""

    def put_units_new(self, units: Sequence[tuple[SerializedUnit, str | None, Move]]) -> None:
        """Store units seen for the first time, each ``(unit, content hash, first move)``, in
        one transaction, as :meth:`put_unit` (at the move's status) then :meth:`record_move`
        would one after the other. A serial the store holds already, or named twice, is a
        :class:`~serialsync.errors.StoreError` where the store checks it (SQL: a unique key),
        nothing written; a store with SQL overrides it with a few statements for all."""
        with self.transaction():
            for unit, content_hash, move in units:
                self.put_unit(unit, status=move.to_status, content_hash=content_hash)
                self.record_move(unit.serial, unit.sku, move)

    @abstractmethod
    def set_unit_hashes(self, hashes: dict[str, str]) -> None:
        """Record the content hash of units (by serial) whose hash was not known."""

    @abstractmethod
    def publish_work(
        self, connector: str, *, unpriced: str, sibling_mark: str, basis: str = ""
    ) -> list[SkuWork]:
        """Per product marked as changed for ``connector`` since it was last settled (see
        :meth:`settle_work`), what a publish there has to do, in one query.

        Every write that can change a product's work on a channel marks the product for it
        (a unit's hash, status or deletion, a claim: every channel; a listing or a visibility:
        its own), so a quiet pass reads nothing. A channel seen for the first time, or with
        another ``basis`` (the engine's selection rules: visibility settled or not, sold-out
        products shown or hidden), has every product marked first.

        ``unpriced`` is the content hash that marks a unit without a valid price (never
        sellable); ``sibling_mark`` is text that only the ids of a listing in a sibling product
        contain. See :class:`~serialsync.store.records.SkuWork`.
        """

    @abstractmethod
    def settle_work(self, connector: str, versions: dict[str, int]) -> int:
        """Unmark products (SKU: the version :meth:`publish_work` read them at) found without
        work on ``connector``; a product marked again since stays marked. Returns how many
        were unmarked."""

    @abstractmethod
    def change_version(self, connector: str, sku: str) -> int | None:
        """The version of ``sku``'s change mark for ``connector`` (see :meth:`publish_work`):
        every write that can change the product's work there raises it, so an equal version
        read twice means no such write came between. ``None`` while the channel's changes are
        not followed (or the product was never marked for it): nothing can be told then."""

    @abstractmethod
    def sellable_units(self, *, unpriced: str) -> int:
        """How many units are in stock, not deleted and priced (their hash is not
        ``unpriced``), counted without reading them."""

    @abstractmethod
    def set_unit_deleted(self, serial: str, deleted: bool) -> None:
        """Mark a unit deleted in the POS (or back)."""

    @abstractmethod
    def record_move(self, serial: str, sku: str, move: Move) -> None:
        """Apply a lifecycle move: set the unit's status and append the move to its history."""

    @abstractmethod
    def history(self, serial: str) -> list[Move]:
        """Every lifecycle move of a unit, oldest first."""

    # -- the registry's side of a unit (issue 20) ---------------------------------------------

    @abstractmethod
    def unit_details(self) -> dict[str, UnitDetails]:
        """What people recorded about units beside the POS, by serial."""

    @abstractmethod
    def put_unit_details(self, serial: str, details: UnitDetails) -> None:
        """Insert or replace what is recorded about one unit beside the POS."""

    @abstractmethod
    def get_hold(self, serial: str) -> Hold | None:
        """The operator's hold on a unit, or ``None``."""

    @abstractmethod
    def holds(self) -> list[Hold]:
        """Every operator's hold, by serial."""

    @abstractmethod
    def put_hold(self, hold: Hold) -> None:
        """Insert or replace the operator's hold on a unit."""

    @abstractmethod
    def set_hold_pos_status(self, serial: str, pos_status: UnitStatus | None) -> None:
        """Record what the POS says of a held unit when it disagrees (``None``: it agrees)."""

    @abstractmethod
    def drop_hold(self, serial: str) -> bool:
        """Lift the hold on a unit; True when there was one."""

    # -- serial references (issue 20 #3) -------------------------------------------------------

    @abstractmethod
    def put_ref_group(self, group: RefGroup) -> None:
        """Create a group of references (its name must be new)."""

    @abstractmethod
    def ref_groups(self) -> list[RefGroup]:
        """Every group of references, by name."""

    @abstractmethod
    def put_ref_batch(self, group: str, name: str) -> None:
        """Create a named batch in a group (its name must be new in the group)."""

    @abstractmethod
    def ref_batches(self, group: str) -> list[tuple[str, datetime, int]]:
        """A group's batches: ``(name, created_at, live references)``, oldest first."""

    @abstractmethod
    def has_ref_batch(self, group: str, name: str) -> bool:
        """Whether group ``group`` has a batch ``name``."""

    @abstractmethod
    def count_refs(self, group: str) -> int:
        """How many live (not deleted) references a group holds."""

    @abstractmethod
    def taken(self, codes: list[str]) -> set[str]:
        """Which of ``codes`` are references already minted (deleted ones included) or unit
        serials."""

    @abstractmethod
    def add_refs(self, group: str, batch: str | None, codes: list[str]) -> None:
        """Insert minted references, in the order given."""

    @abstractmethod
    def refs(
        self,
        *,
        group: str | None = None,
        batch: str | None = None,
        contains: str | None = None,
        offset: int = 0,
        limit: int | None = None,
    ) -> list[Reference]:
        """Live references, in minting order, of a group (a batch), or containing ``contains``
        (case-insensitive)."""

    @abstractmethod
    def get_ref(self, ref: str) -> Reference | None:
        """One reference (deleted ones too), or ``None``."""

    @abstractmethod
    def ref_of_unit(self, serial: str) -> Reference | None:
        """The live reference assigned to a unit, or ``None``."""

    @abstractmethod
    def delete_ref(self, ref: str) -> bool:
        """Mark a reference deleted (kept so it is never minted again); True if it was live."""

    @abstractmethod
    def assign_ref(self, ref: str, serial: str) -> None:
        """Link a reference to a unit."""

    @abstractmethod
    def refs_of_sku(self, sku: str) -> dict[str, str]:
        """The live references assigned to one SKU's units: ``{serial: reference}``."""

    @abstractmethod
    def listings_of(self, connector: str, sku: str) -> dict[str, ListingRecord]:
        """A channel's listings of one SKU's units, by serial."""

    @abstractmethod
    def listings_of_unit(self, serial: str) -> list[ListingRecord]:
        """Every channel's listing of one unit."""

    def listings_of_units(self, serials: Collection[str]) -> list[ListingRecord]:
        """Every channel's listing of each of ``serials``, by serial and channel, as
        :meth:`listings_of_unit` gives each (a store with SQL reads them in one query per few
        hundred serials, which a burst's withdrawals ask of thousands at once)."""
        return [
            listing for serial in sorted(set(serials)) for listing in self.listings_of_unit(serial)
        ]

    def listings_of_skus(
        self, connector: str, skus: Collection[str]
    ) -> dict[str, dict[str, ListingRecord]]:
        """A channel's listings of each of ``skus``, ``{sku: {serial: listing}}``, as
        :meth:`listings_of` gives each (an SKU without listings is left out; a store with SQL
        reads them in one query per few hundred SKUs)."""
        found = {sku: self.listings_of(connector, sku) for sku in dict.fromkeys(skus)}
        return {sku: listings for sku, listings in found.items() if listings}

    @abstractmethod
    def put_listing(self, record: ListingRecord) -> None:
        """Insert or replace one listing."""

    def put_listings(self, records: Sequence[ListingRecord]) -> None:
        """Insert or replace several listings in one transaction, as :meth:`put_listing` would
        one after the other (a store with SQL overrides it with a few statements for all)."""
        with self.transaction():
            for record in records:
                self.put_listing(record)

    @abstractmethod
    def visibility_of(self, connector: str, sku: str) -> dict[int, VisibilityRecord]:
        """Whether ``connector`` shows each part of product ``sku``, as last set, by part
        (a part without a row is shown, as the channel created it)."""

    def visibility_of_skus(
        self, connector: str, skus: Collection[str]
    ) -> dict[str, dict[int, VisibilityRecord]]:
        """:meth:`visibility_of` for each of ``skus``, ``{sku: {part: record}}`` (an SKU with
        no row is left out; a store with SQL reads them in one query per few hundred SKUs)."""
        found = {sku: self.visibility_of(connector, sku) for sku in dict.fromkeys(skus)}
        return {sku: rows for sku, rows in found.items() if rows}

    @abstractmethod
    def put_visibility(self, record: VisibilityRecord) -> None:
        """Insert or replace what is remembered of one product's visibility on one channel."""

    def skus_to_withdraw(self, connector: str) -> list[str]:
        """SKUs with a unit not sellable whose listing on ``connector`` is not withdrawn.

        The order loop withdraws these between inventory passes (a withdrawal that failed is
        retried at the next order pass, not only at the next inventory pass). This default
        reads every SKU; a store with SQL overrides it with one query (over the products
        marked for the channel, once :meth:`publish_work` follows it: a withdrawal due keeps
        its product marked).
        """
        found = []
        for sku in self.product_skus():
            listings = self.listings_of(connector, sku)
            for record in self.units_of(sku):
                listing = listings.get(record.unit.serial)
                unsellable = record.status != UnitStatus.IN_STOCK or record.deleted
                if unsellable and listing is not None and listing.state != ListingState.WITHDRAWN:
                    found.append(sku)
                    break
        return found

    @abstractmethod
    def get_cursor(self, connector: str, stream: str) -> str | None:
        """The saved cursor of one connector's stream (``"inventory"``, ``"orders"``)."""

    @abstractmethod
    def set_cursor(self, connector: str, stream: str, value: str) -> None:
        """Save a cursor. Call it in the transaction that commits what the cursor covers."""

    def advance_cursor(self, connector: str, stream: str, value: datetime) -> bool:
        """Save a timestamp cursor if it moves the saved one forward; True if it did.

        Two workers reading one stream at once each end with the high-water mark of what they
        read: the one that read less must not take back the cursor the other saved. Call it in
        a transaction (the writer lock makes the read and the write one step).
        """
        with self.transaction():
            saved = self.get_cursor(connector, stream)
            if saved is not None and datetime.fromisoformat(saved) >= value:
                return False
            self.set_cursor(connector, stream, value.isoformat())
            return True

    @abstractmethod
    def cursors(self) -> list[tuple[str, str, str, datetime | None]]:
        """Every cursor: ``(connector, stream, value, updated_at)``."""

    # -- webhook events ------------------------------------------------------------------------

    @abstractmethod
    def first_delivery(self, connector: str, event_id: str, at: datetime) -> bool:
        """Remember a webhook event of ``connector``; True the first time it is seen, False for
        one seen before (a replay), across restarts and runners sharing the store."""

    @abstractmethod
    def forget_deliveries(self, before: datetime) -> int:
        """Forget the webhook events first seen before ``before``; how many were forgotten."""

    @abstractmethod
    def get_claim(self, serial: str) -> Claim | None:
        """Which order holds this unit, if any."""

    @abstractmethod
    def put_claim(self, serial: str, channel: str, order_id: str) -> None:
        """Record that an order holds this unit."""

    @abstractmethod
    def release_claim(self, serial: str, channel: str, order_id: str) -> None:
        """Drop the claim of this order on this unit (no-op when another order holds it), and
        its oversell window if still open (a unit let go is for sale again: nothing to time)."""

    # -- oversell windows ----------------------------------------------------------------------

    @abstractmethod
    def open_sale_window(
        self, channel: str, order_id: str, serial: str, *, placed_at: datetime, claimed_at: datetime
    ) -> None:
        """Start timing a unit an order claimed while it was for sale elsewhere (kept as it is
        when that order's window on that unit exists already)."""

    @abstractmethod
    def open_sale_windows(self, serial: str) -> list[SaleWindow]:
        """The windows of ``serial`` not closed yet."""

    @abstractmethod
    def close_sale_window(self, channel: str, order_id: str, serial: str, at: datetime) -> bool:
        """Close an open window at ``at``; True when this call closed it (each is closed once)."""

    def open_sale_windows_of(self, serials: Collection[str]) -> list[SaleWindow]:
        """The windows not closed yet of any of ``serials``, as :meth:`open_sale_windows`
        gives each (a store with SQL reads them in one query per few hundred serials)."""
        return [w for serial in sorted(set(serials)) for w in self.open_sale_windows(serial)]

    def close_sale_windows(self, windows: Collection[SaleWindow], at: datetime) -> int:
        """Close these open windows at ``at``, as :meth:`close_sale_window` would each; how
        many this call closed (one already closed is left as it is). Call it in the
        transaction that read them open: writers take turns, so then it closes each of them.
        A store with SQL closes them in one statement per few hundred windows."""
        with self.transaction():
            return sum(
                self.close_sale_window(w.channel, w.order_id, w.serial, at)
                for w in {(w.channel, w.order_id, w.serial): w for w in windows}.values()
            )

    @abstractmethod
    def sale_windows(self, *, limit: int = 200) -> list[SaleWindow]:
        """The latest ``limit`` windows by the time they were claimed, oldest first."""

    @abstractmethod
    def get_outbox(self, channel: str, order_id: str) -> OutboxRecord | None:
        """The outbox row of one channel order."""

    @abstractmethod
    def put_outbox(self, record: OutboxRecord) -> None:
        """Insert or replace one outbox row."""

    @abstractmethod
    def outbox(
        self, *, states: tuple[OutboxState, ...] = (), limit: int = 1000
    ) -> list[OutboxRecord]:
        """Outbox rows (of the given states), oldest first."""

    @abstractmethod
    def due_reports(self, now: datetime) -> list[OutboxRecord]:
        """Pending sales whose next attempt is due."""

    @contextlib.contextmanager
    def reporting(self, channel: str, order_id: str) -> Iterator[bool]:
        """The right to report one sale now, held for the ``with`` block.

        Yields ``True`` to the one caller that holds it and ``False`` to any other while it is
        held: that one skips the sale (whoever holds it reports it, and re-reads the outbox row
        first, so a sale reported meanwhile is not reported again). Reporting is a call to the
        POS between two transactions, so no transaction can guard it. This default guards the
        threads of one process (the order loop and the webhook worker of one runner); a store
        shared by many processes also guards them against each other.
        """
        key = (self.reporting_scope(), channel, order_id)
        with _IN_FLIGHT_MUTEX:
            mine = key not in _IN_FLIGHT
            _IN_FLIGHT.add(key)
        try:
            yield mine
        finally:
            if mine:
                with _IN_FLIGHT_MUTEX:
                    _IN_FLIGHT.discard(key)

    def reporting_scope(self) -> str:
        """What :meth:`reporting` guards in this process: this store object, unless several
        objects of one process can be the same store (a file, a database)."""
        return f"object {id(self)}"

    @abstractmethod
    def quarantine(
        self, *, kind: str, key: str, connector: str, reason: str, payload: str | None = None
    ) -> None:
        """Put a record in quarantine, or count it again if it is there already."""

    @abstractmethod
    def release_quarantine(self, kind: str, key: str) -> bool:
        """Take a record out of quarantine (it was processed after all); True if it was there."""

    def release_quarantines(self, kind: str, keys: Collection[str]) -> int:
        """Take several records of one kind out of quarantine, as :meth:`release_quarantine`
        would each; returns how many were there (a store with SQL deletes them in one
        statement per few hundred keys)."""
        return sum(self.release_quarantine(kind, key) for key in dict.fromkeys(keys))

    @abstractmethod
    def quarantined(self, *, kind: str | None = None) -> list[QuarantineRecord]:
        """Every quarantined record (of one kind), oldest first."""

    @abstractmethod
    def get_quarantined(self, record_id: int) -> QuarantineRecord | None:
        """One quarantined record by id."""

    @abstractmethod
    def drop_quarantined(self, record_id: int) -> bool:
        """Delete one quarantined record by id; True if it existed."""

    @abstractmethod
    def start_run(self, kind: str) -> int:
        """Record the start of a pass; returns its id."""

    @abstractmethod
    def finish_run(self, run_id: int, *, ok: bool, summary: dict[str, Any]) -> None:
        """Record the end of a pass with its counts."""

    @abstractmethod
    def runs(self, *, limit: int = 20) -> list[RunRecord]:
        """The latest passes, newest first."""

    # -- the admin panel (issue 19) ------------------------------------------------------------

    @abstractmethod
    def put_panel_user(self, user: PanelUser) -> None:
        """Insert a panel user, or replace one of that name (its role and password hash)."""

    @abstractmethod
    def get_panel_user(self, name: str) -> PanelUser | None:
        """The panel user ``name``, or ``None``."""

    @abstractmethod
    def panel_users(self) -> list[PanelUser]:
        """Every panel user, by name."""

    @abstractmethod
    def put_panel_login(self, login: PanelLogin) -> None:
        """Keep a one-time login (its token's hash only)."""

    @abstractmethod
    def get_panel_login(self, token_hash: str) -> PanelLogin | None:
        """The one-time login of that token hash, spent or not, or ``None``."""

    @abstractmethod
    def spend_panel_login(self, token_hash: str, at: datetime) -> PanelLogin | None:
        """Spend a one-time login: the login when it was unspent and unexpired at ``at`` (it is
        spent now, once, even with two tries at one instant), else ``None``."""

    @abstractmethod
    def record_action(
        self, *, who: str, action: str, target: str, reason: str, outcome: str
    ) -> int:
        """Append what a person did to the operator log; returns its id. Call it in the
        transaction of the act itself where there is one, so that the act and its record go
        together."""

    @abstractmethod
    def operator_actions(
        self, *, target: str | None = None, limit: int = 100
    ) -> list[OperatorAction]:
        """The latest actions people took (on one record), newest first."""

    @abstractmethod
    def counts(
        self, sql_table: str, group_by: str, where: str = "", params: tuple[Any, ...] = ()
    ) -> dict[str, int]:
        """``{value: count}`` of one column of a table (for ``serialsync status``)."""


def _unchanged_live(record: UnitRecord, listing: ListingRecord | None, hash_prefix: str) -> bool:
    """Whether a unit is in stock and live on a channel with its own, current content hash."""
    digest = record.content_hash
    return (
        record.status == UnitStatus.IN_STOCK
        and not record.deleted
        and digest is not None
        and digest.startswith(hash_prefix)
        and listing is not None
        and listing.state == ListingState.LIVE
        and listing.content_hash == digest
    )

"""The inventory pass: POS → units → state → the difference → every channel.

::

    fetch_inventory (page by page, from the cursor)
      → quarantine each record the plugin could not read, and go on
      → validate each unit (identifiers, organisation serial rules, uniqueness, a price)
      → upsert units and record the POS's statuses as asserted moves  (one transaction per page)
      → save the cursor                                        (after every page is committed)
      → read the recent orders of a channel never read yet     (a new store: see orders.py)
      → publish the difference to every channel                (see publish.py)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from functools import partial

from serialsync.connector import Role
from serialsync.diagnosis import describe
from serialsync.engine.context import EngineContext
from serialsync.engine.hashing import (
    UNPRICED,
    known_hash,
    product_part,
    referenced,
    unit_hash,
)
from serialsync.engine.orders import read_unread_channels
from serialsync.engine.paging import pages
from serialsync.engine.publish import publish_all
from serialsync.engine.summary import PassSummary
from serialsync.errors import DuplicateSerialError, InvalidRecordError, StoreError
from serialsync.integration_id import validate_pair
from serialsync.lifecycle import Move, MoveSource, UnitStatus, asserted_move, pos_reports
from serialsync.model import InventoryPage, Product, SerializedUnit, UnitKey
from serialsync.operations.discrepancies import record_discrepancy, settle_discrepancy
from serialsync.operations.marking import keep_hold
from serialsync.store import OutboxState, UnitRecord
from serialsync.validation import check_identifier, loggable, price_problem, shown

INVENTORY_STREAM = "inventory"
#: When each POS was last read whole (a cursor of its own, beside the incremental one).
FULL_RESYNC_STREAM = "inventory_full"
#: The quarantine kind of a POS record the plugin could not map.
POS_ITEM = "pos_item"

# While an order holds a unit, the POS may not have heard of the sale yet: its "in stock" is
# stale, and believing it would relist a sold unit. Only these POS statuses override an order.
_POS_OVERRIDES_ORDER = {UnitStatus.SOLD, UnitStatus.RETURNED, UnitStatus.DEFECTIVE}


def inventory_pass(ctx: EngineContext, summary: PassSummary, *, full: bool = False) -> None:
    """Fetch what changed in every POS, store it, and publish the difference to every channel.

    A POS is read whole (its cursor ignored) when ``full`` is asked (``serialsync run --full``)
    or its last whole read is older than ``[sync] full_resync_every``.
    """
    for pos in ctx.plugins.connectors(Role.POS):
        try:
            ingest_pos(ctx, summary, pos.name, full=full or full_resync_due(ctx, pos.name))
        except StoreError:
            raise  # nothing more can be recorded: the pass stops (see Store)
        except Exception as exc:  # one POS down must not stop the channels' work
            reason = f"{type(exc).__name__}: {exc}"
            ctx.log(connector=pos.name, operation="fetch_inventory").error(
                "inventory.fetch_failed", error=reason
            )
            summary.counts(pos.name).errors.append(
                describe(exc, connector=pos.name, settings=pos.settings)
            )
    # A new store reads each channel's recent orders before it publishes anything there.
    read_unread_channels(ctx, summary)
    publish_all(ctx, summary)


def full_resync_due(ctx: EngineContext, pos: str) -> bool:
    """Whether the last whole read of ``pos`` is older than ``full_resync_every`` (0: never).

    A POS never read whole is due only once it has an incremental cursor: a first read is whole
    anyway, and is recorded as one.
    """
    every = ctx.sync.full_resync_every
    if every <= timedelta(0) or ctx.store.get_cursor(pos, INVENTORY_STREAM) is None:
        return False
    last = ctx.store.get_cursor(pos, FULL_RESYNC_STREAM)
    return last is None or ctx.now() - datetime.fromisoformat(last) >= every


def ingest_pos(ctx: EngineContext, summary: PassSummary, pos: str, *, full: bool = False) -> None:
    """Read one POS from its cursor (from the start when ``full``) to the end; move the cursor
    once every page is stored (never back: a whole read ends where the catalogue does)."""
    saved = ctx.store.get_cursor(pos, INVENTORY_STREAM)
    started = ctx.now()
    since = datetime.fromisoformat(saved) if saved and not full else None
    if since is None:
        # A whole read: a change the incremental read missed (a serial edited without its
        # item's change date moving) is caught here.
        ctx.log(connector=pos, operation="fetch_inventory").info(
            "inventory.full_resync", had_cursor=saved is not None
        )
    high_water = since
    fetch = partial(ctx.plugins.fetch_inventory, pos, since)
    for page in pages(fetch, what=f"{pos}: fetch_inventory"):
        with ctx.store.transaction():
            ingest_page(ctx, summary, pos, page)
        ctx.checkpoint("inventory.page_committed")
        ctx.progress("fetch_inventory", pos, summary.counts(pos).units_in, None)
        if page.high_water and (high_water is None or page.high_water > high_water):
            high_water = page.high_water
    if high_water is not None and high_water != since:
        ctx.store.advance_cursor(pos, INVENTORY_STREAM, high_water)
    if since is None:
        # Only a read that reached the end counts as the whole catalogue (a failure raised).
        with ctx.store.transaction():
            ctx.store.set_cursor(pos, FULL_RESYNC_STREAM, started.isoformat())


def ingest_page(ctx: EngineContext, summary: PassSummary, pos: str, page: InventoryPage) -> None:
    """Store one page: products, their units (validated), the units the POS deleted, and
    the records the plugin could not read (quarantined; the page goes on past them).

    A POS plugin that keys an unreadable record by its product's SKU has it released as soon
    as a page brings that product again without it: the item was put right in the POS.
    """
    counts = summary.counts(pos)
    for record in page.unreadable:
        counts.quarantined += 1
        ctx.store.quarantine(
            kind=POS_ITEM,
            key=storable(f"{pos}:{record.key}"),
            connector=pos,
            reason=storable(record.reason),
            payload=storable(record.payload) or None,
        )
        ctx.log(connector=pos, operation="ingest").warning(
            "inventory.item_unreadable",
            key=loggable(record.key),
            reason=loggable(record.reason),
        )
    for product in page.products:
        try:
            check_identifier(product.sku, "sku")
        except InvalidRecordError as exc:
            # No unit of it can be named: each is quarantined with the product's reason.
            for unit in product.units or (None,):
                counts.units_in += unit is not None
                _quarantine_unit(ctx, summary, pos, product, unit, str(exc))
            continue
        ctx.store.put_product(product, pos=pos)
        _ingest_units(ctx, summary, pos, product)
    for key in page.deleted:
        mark_deleted(ctx, key)
    # A product read whole again lets go of an unreadable record its POS keyed by its SKU.
    still = {record.key for record in page.unreadable}
    for product in page.products:
        if product.sku not in still:
            ctx.store.release_quarantine(POS_ITEM, storable(f"{pos}:{product.sku}"))


class _FirstSeen:
    """A product's units seen for the first time, valid and priced, waiting to be written
    together: each with its hash and first move, and the quarantine keys they let go of."""

    def __init__(self) -> None:
        self.units: list[tuple[SerializedUnit, str | None, Move]] = []
        self.released: list[str] = []

    def write(self, ctx: EngineContext) -> None:
        """Write what waits (a few statements for all) and start again empty."""
        if self.released:
            ctx.store.release_quarantines("unit", self.released)
        ctx.store.put_units_new(self.units)
        self.units, self.released = [], []


def _ingest_units(ctx: EngineContext, summary: PassSummary, pos: str, product: Product) -> None:
    """Store the units of one product as :func:`ingest_unit` would, one after the other.

    Their stored records are read at once, and the product's serial references. A unit the
    store does not hold, valid and priced (a new catalogue is nothing else) is written with
    the others like it, in a few statements; any other unit goes through :func:`ingest_unit`
    once the ones before it are written, so the writes keep their order. A serial met twice
    in the product is read again, after the first is written.
    """
    counts = summary.counts(pos)
    refs = ctx.store.refs_of_sku(product.sku)
    # Only valid ids are looked up, as ingest_unit checks a unit before it reads (a serial the
    # store cannot take, such as an unpaired surrogate, would fail the read).
    valid = [_ids_valid(ctx, product, unit) for unit in product.units]
    wanted = [unit.serial for unit, ok in zip(product.units, valid, strict=True) if ok]
    stored = {r.unit.serial: r for r in ctx.store.units_by_serials(wanted)}
    waiting = _FirstSeen()
    seen: set[str] = set()
    shared = ""
    for unit, ok in zip(product.units, valid, strict=True):
        counts.units_in += 1
        # Two quarantine keys are one only for one serial, or for a serial escaped (invalid)
        # and one written as its escape: a unit of either kind writes what waits first.
        again = unit.serial in seen
        seen.add(unit.serial)
        try:
            if again or not ok:
                waiting.write(ctx)
                ingest_unit(ctx, summary, pos, product, unit, refs)  # refused with the reason
                continue
            existing = stored.get(unit.serial)
            _check_owner(unit, existing)
            if existing is None and price_problem(unit.price, product.price) is None:
                # The product's part of the hash is the same for each of its units.
                shared = shared or product_part(product)
                digest = unit_hash(
                    product, referenced(unit, refs.get(unit.serial)), product_hash=shared
                )
                waiting.units.append((unit, digest, _first_move(ctx, unit, f"{pos}:{unit.sku}")))
                waiting.released.append(unit_key(unit.sku, unit.serial))
                continue
            waiting.write(ctx)
            _apply_unit(ctx, summary, pos, product, unit, refs, existing)
        except InvalidRecordError as exc:
            _quarantine_unit(ctx, summary, pos, product, unit, str(exc))
    waiting.write(ctx)


def unit_key(sku: str, serial: str) -> str:
    """The quarantine key of a unit: its integration id as written, escaped only where the
    text cannot be stored at all (an unpaired surrogate)."""
    return storable(f"{sku}|||{serial}")


def storable(text: str) -> str:
    """``text`` unchanged when it can be stored as UTF-8; otherwise with each unencodable
    character written as a ``\\uXXXX`` escape, so a record is kept rather than lost."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _quarantine_unit(
    ctx: EngineContext,
    summary: PassSummary,
    pos: str,
    product: Product,
    unit: SerializedUnit | None,
    reason: str,
) -> None:
    summary.counts(pos).quarantined += 1
    record: Product | SerializedUnit = unit if unit is not None else product
    ctx.store.quarantine(
        kind="unit",
        key=unit_key(product.sku, unit.serial if unit is not None else ""),
        connector=pos,
        reason=reason,
        payload=storable(_json(record)),
    )
    ctx.log(connector=pos, operation="ingest").warning(
        "inventory.unit_quarantined",
        sku=loggable(product.sku),
        serial=loggable(unit.serial) if unit is not None else None,
        reason=reason,
    )


def _json(record: Product | SerializedUnit) -> str:
    try:
        return record.model_dump_json()
    except ValueError:  # text that UTF-8 cannot carry: keep the record, escaped
        return json.dumps(record.model_dump(mode="python"), default=str)


def ingest_unit(
    ctx: EngineContext,
    summary: PassSummary,
    pos: str,
    product: Product,
    unit: SerializedUnit,
    refs: Mapping[str, str] | None = None,
) -> None:
    """Validate one unit and upsert it, applying the POS's status as one asserted move.

    The unit is stored with its content hash (with its serial reference, from ``refs``: the
    product's, by serial; read from the store when not given), computed here once for every
    channel (see :mod:`serialsync.engine.selection`).

    A unit without a valid price is stored (so its life is traced) but quarantined with the
    reason and never published (see :func:`~serialsync.engine.publish.plan_changes`); it is
    listed once the POS gives it a price.
    """
    _check_ids(ctx, product, unit)
    existing = ctx.store.get_unit(unit.serial)  # a serial the store could not take is refused
    _check_owner(unit, existing)
    _apply_unit(ctx, summary, pos, product, unit, refs, existing)


def _check_ids(ctx: EngineContext, product: Product, unit: SerializedUnit) -> None:
    """Refuse a unit (:class:`InvalidRecordError`, with the reason) under another product than
    its own, with a bad integration id, or against the organisation's serial rules."""
    if unit.sku != product.sku:
        raise InvalidRecordError(
            f"unit {shown(unit.serial)} names SKU {shown(unit.sku)} but came under product "
            f"{shown(product.sku)}"
        )
    validate_pair(unit.sku, unit.serial)
    ctx.sync.serial_rules().check(unit.serial)


def _ids_valid(ctx: EngineContext, product: Product, unit: SerializedUnit) -> bool:
    """Whether :func:`_check_ids` lets the unit through."""
    try:
        _check_ids(ctx, product, unit)
    except InvalidRecordError:
        return False
    return True


def _check_owner(unit: SerializedUnit, existing: UnitRecord | None) -> None:
    """Refuse a unit whose serial is stored (``existing``) under another SKU."""
    if existing is not None and existing.unit.sku != unit.sku:
        raise DuplicateSerialError(
            f"serial {unit.serial!r} of SKU {unit.sku!r} already belongs to SKU "
            f"{existing.unit.sku!r}: serials are unique within the organisation"
        )


def _apply_unit(
    ctx: EngineContext,
    summary: PassSummary,
    pos: str,
    product: Product,
    unit: SerializedUnit,
    refs: Mapping[str, str] | None,
    existing: UnitRecord | None,
) -> None:
    """Store a checked unit (see :func:`ingest_unit`) whose stored record is ``existing``."""
    ref = f"{pos}:{unit.sku}"
    unpriced = price_problem(unit.price, product.price)
    if unpriced is None:
        # The quarantine is for records that *could not* be processed; this one now can.
        ctx.store.release_quarantine("unit", unit_key(unit.sku, unit.serial))
    else:
        _quarantine_unit(ctx, summary, pos, product, unit, unpriced)
    # A unit read again as it is stored (a POS read whole) is neither hashed nor written again.
    if existing is None or not _stored_as_is(existing, unit):
        if refs is None:
            refs = ctx.store.refs_of_sku(unit.sku)
        digest = unit_hash(product, referenced(unit, refs.get(unit.serial)))
        _store_unit(ctx, unit, existing, digest, source_ref=ref)
    if existing is None:
        return
    if existing.deleted:
        ctx.store.set_unit_deleted(unit.serial, False)
    if keep_hold(ctx.store, pos=pos, sku=unit.sku, serial=unit.serial, pos_status=unit.status):
        # An operator's hold outranks the POS until a person returns the unit to stock.
        return
    if unit.status == existing.status:
        if unit.status != UnitStatus.IN_STOCK:
            # The POS agrees again (it invoiced the web order): nothing left to look at.
            settle_discrepancy(ctx.store, unit.sku, unit.serial)
        return
    claim = ctx.store.get_claim(unit.serial)
    if claim is not None and unit.status not in _POS_OVERRIDES_ORDER:
        outbox = ctx.store.get_outbox(claim.channel, claim.order_id)
        if outbox is None or outbox.state != OutboxState.CANCELLED:
            if (
                outbox is not None
                and outbox.state == OutboxState.REPORTED
                and unit.status == UnitStatus.IN_STOCK
                and _changed_since(unit, existing.unit)
            ):
                # The POS had the web sale and, changing the unit since, shows it available
                # again: a return at the counter, or an open order not invoiced. A person
                # decides; never relisted on its own while the web sale stands. (A unit the POS
                # has not touched since it was last read is only behind: nothing to look at.)
                record_discrepancy(
                    ctx.store,
                    pos=pos,
                    unit=unit,
                    status=existing.status,
                    channel=claim.channel,
                    order_id=claim.order_id,
                    order_number=outbox.order_number,
                )
                return
            ctx.log(connector=pos, operation="ingest").debug(
                "inventory.pos_behind_order",
                serial=unit.serial,
                pos_status=unit.status.value,
                order=f"{claim.channel}:{claim.order_id}",
            )
            return
    done = pos_reports(existing.status, unit.status, source_ref=ref, at=ctx.now())
    ctx.store.record_move(unit.serial, unit.sku, done)
    settle_discrepancy(ctx.store, unit.sku, unit.serial)
    if claim is not None and unit.status in _POS_OVERRIDES_ORDER - {UnitStatus.SOLD}:
        # Returned or defective in the POS: the order no longer holds it.
        ctx.store.release_claim(unit.serial, claim.channel, claim.order_id)


def _stored_as_is(existing: UnitRecord, unit: SerializedUnit) -> bool:
    """Whether the store holds ``unit`` as the POS gives it now, with its hash known.

    The hash is a function of the unit, its product and its reference; a product or a
    reference that changed since leaves the unit's hash unknown (``None``, see the store), so
    a known hash with the same unit is the hash this unit would be given again.
    """
    if existing.content_hash != UNPRICED and known_hash(existing) is None:
        return False
    return existing.unit == unit.model_copy(update={"status": existing.status})


def _store_unit(
    ctx: EngineContext,
    unit: SerializedUnit,
    existing: UnitRecord | None,
    digest: str,
    *,
    source_ref: str,
) -> None:
    """Store a unit read from the POS with its hash; a unit seen first is recorded with its
    first (asserted) move."""
    if existing is not None:
        ctx.store.put_unit(unit, status=existing.status, content_hash=digest)
        return
    ctx.store.put_unit(unit, status=unit.status, content_hash=digest)
    ctx.store.record_move(unit.serial, unit.sku, _first_move(ctx, unit, source_ref))


def _first_move(ctx: EngineContext, unit: SerializedUnit, source_ref: str) -> Move:
    """The move a unit seen first is recorded with: the POS asserts its status."""
    return asserted_move(
        unit.status,
        unit.status,
        reason="first seen in the POS",
        source=MoveSource.POS,
        source_ref=source_ref,
        at=ctx.now(),
    )


def _changed_since(unit: SerializedUnit, before: SerializedUnit) -> bool:
    """Whether the POS changed its record of the unit since serialsync last read it (a POS
    that gives no change times is taken at its word)."""
    if unit.changed_at is None or before.changed_at is None:
        return True
    return unit.changed_at > before.changed_at


def mark_deleted(ctx: EngineContext, key: UnitKey) -> None:
    """The POS no longer offers this unit: it will be withdrawn from every channel."""
    existing = ctx.store.get_unit(key.serial)
    if existing is None or existing.unit.sku != key.sku or existing.deleted:
        return
    ctx.store.set_unit_deleted(key.serial, True)

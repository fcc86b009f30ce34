"""The inventory pass: POS → units → state → the difference → every channel.

::

    fetch_inventory (page by page, from the cursor)
      → validate each unit (integration id rules, organisation serial rules, uniqueness)
      → upsert units and apply the POS's lifecycle moves      (one transaction per page)
      → save the cursor                                        (after every page is committed)
      → publish the difference to every channel                (see publish.py)
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from serialsync.connector import Role
from serialsync.engine.context import EngineContext
from serialsync.engine.paging import pages
from serialsync.engine.publish import publish_all
from serialsync.engine.summary import PassSummary
from serialsync.errors import DuplicateSerialError, InvalidRecordError
from serialsync.integration_id import validate_pair
from serialsync.lifecycle import Move, MoveSource, UnitStatus, move, path_to
from serialsync.model import InventoryPage, Product, SerializedUnit, UnitKey
from serialsync.store import OutboxState

INVENTORY_STREAM = "inventory"

# While an order holds a unit, the POS may not have heard of the sale yet: its "in stock" is
# stale, and believing it would relist a sold unit. Only these POS statuses override an order.
_POS_OVERRIDES_ORDER = {UnitStatus.SOLD, UnitStatus.RETURNED, UnitStatus.DEFECTIVE}


def inventory_pass(ctx: EngineContext, summary: PassSummary) -> None:
    """Fetch what changed in every POS, store it, and publish the difference to every channel."""
    for pos in ctx.plugins.connectors(Role.POS):
        try:
            ingest_pos(ctx, summary, pos.name)
        except Exception as exc:  # one POS down must not stop the channels' work
            reason = f"{type(exc).__name__}: {exc}"
            ctx.log(connector=pos.name, operation="fetch_inventory").error(
                "inventory.fetch_failed", error=reason
            )
            summary.counts(pos.name).errors.append(reason)
    publish_all(ctx, summary)


def ingest_pos(ctx: EngineContext, summary: PassSummary, pos: str) -> None:
    """Read one POS from its cursor to the end; move the cursor once every page is stored."""
    saved = ctx.store.get_cursor(pos, INVENTORY_STREAM)
    since = datetime.fromisoformat(saved) if saved else None
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
        with ctx.store.transaction():
            ctx.store.set_cursor(pos, INVENTORY_STREAM, high_water.isoformat())


def ingest_page(ctx: EngineContext, summary: PassSummary, pos: str, page: InventoryPage) -> None:
    """Store one page: products, their units (validated), and the units the POS deleted."""
    counts = summary.counts(pos)
    for product in page.products:
        ctx.store.put_product(product, pos=pos)
        for unit in product.units:
            counts.units_in += 1
            try:
                ingest_unit(ctx, pos, product, unit)
            except InvalidRecordError as exc:
                counts.quarantined += 1
                ctx.store.quarantine(
                    kind="unit",
                    key=f"{unit.sku}|||{unit.serial}",
                    connector=pos,
                    reason=str(exc),
                    payload=unit.model_dump_json(),
                )
                ctx.log(connector=pos, operation="ingest").warning(
                    "inventory.unit_quarantined", sku=unit.sku, serial=unit.serial, reason=str(exc)
                )
    for key in page.deleted:
        mark_deleted(ctx, key)


def ingest_unit(ctx: EngineContext, pos: str, product: Product, unit: SerializedUnit) -> None:
    """Validate one unit and upsert it, applying the POS's status through the lifecycle."""
    if unit.sku != product.sku:
        raise InvalidRecordError(
            f"unit {unit.serial!r} names SKU {unit.sku!r} but came under product {product.sku!r}"
        )
    validate_pair(unit.sku, unit.serial)
    ctx.sync.serial_rules().check(unit.serial)
    existing = ctx.store.get_unit(unit.serial)
    if existing is not None and existing.unit.sku != unit.sku:
        raise DuplicateSerialError(
            f"serial {unit.serial!r} of SKU {unit.sku!r} already belongs to SKU "
            f"{existing.unit.sku!r}: serials are unique within the organisation"
        )
    # The quarantine is for records that *could not* be processed; this one now can.
    ctx.store.release_quarantine("unit", f"{unit.sku}|||{unit.serial}")
    ref = f"{pos}:{unit.sku}"
    if existing is None:
        ctx.store.put_unit(unit, status=unit.status)
        first = Move(
            from_status=unit.status,
            to_status=unit.status,
            at=ctx.now(),
            reason="first seen in the POS",
            source=MoveSource.POS,
            source_ref=ref,
        )
        ctx.store.record_move(unit.serial, unit.sku, first)
        return
    ctx.store.put_unit(unit, status=existing.status)
    if existing.deleted:
        ctx.store.set_unit_deleted(unit.serial, False)
    if unit.status == existing.status:
        return
    claim = ctx.store.get_claim(unit.serial)
    if claim is not None and unit.status not in _POS_OVERRIDES_ORDER:
        outbox = ctx.store.get_outbox(claim.channel, claim.order_id)
        if outbox is None or outbox.state != OutboxState.CANCELLED:
            ctx.log(connector=pos, operation="ingest").debug(
                "inventory.pos_behind_order",
                serial=unit.serial,
                pos_status=unit.status.value,
                order=f"{claim.channel}:{claim.order_id}",
            )
            return
    current = existing.status
    for step in path_to(current, unit.status):
        done = move(
            current,
            step,
            reason=f"the POS reports the unit {unit.status.value}",
            source=MoveSource.POS,
            source_ref=ref,
            at=ctx.now(),
        )
        ctx.store.record_move(unit.serial, unit.sku, done)
        current = step
    if claim is not None and unit.status in _POS_OVERRIDES_ORDER - {UnitStatus.SOLD}:
        # Returned or defective in the POS: the order no longer holds it.
        ctx.store.release_claim(unit.serial, claim.channel, claim.order_id)


def mark_deleted(ctx: EngineContext, key: UnitKey) -> None:
    """The POS no longer offers this unit: it will be withdrawn from every channel."""
    existing = ctx.store.get_unit(key.serial)
    if existing is None or existing.unit.sku != key.sku or existing.deleted:
        return
    ctx.store.set_unit_deleted(key.serial, True)

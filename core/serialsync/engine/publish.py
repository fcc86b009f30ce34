"""Publishing: from what a unit should look like on a channel to what the channel is sent.

For each channel and product, :func:`plan_changes` compares every unit with what the channel
was last given (the listing) and keeps only the difference: a sellable unit whose content hash
is unchanged and whose listing is live costs nothing. :func:`publish_channel` sends the
difference, one ``publish_variants`` call per product (or per sibling product, past the
channel's per-product capacity: see :mod:`serialsync.engine.siblings`), and records each
unit's outcome. A failure is that unit's alone: it is retried in a later pass and never
blocks the others. Each product is planned, sent and recorded under its listing lock (see
:class:`~serialsync.engine.context.ListingLocks`), so the order loop's withdrawals
(:mod:`serialsync.engine.withdraw`) never cross it, in calls of at most ``sync.publish_chunk``
units with a new plan before each (:func:`publish_product`): a unit sold while its product is
being published is never sent after its sale, and withdrawn at once if a call already under
way listed it. A plugin may also ask, just before it makes units sellable, which are still
for sale (:func:`still_for_sale`), and leave a unit sold meanwhile unsellable from the start.
Withdrawals never wait for a publish to succeed: those of a call that raised are sent again on
their own (:func:`withdraw_apart`), and a publish that breaks withdraws its product's sold
units before it gives the product back (:func:`withdraw_only`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from serialsync.connector import Role
from serialsync.engine.context import EngineContext, ListingTurn
from serialsync.engine.hashing import (
    UNPRICED,
    changed_groups,
    content_hash,
    is_legacy,
    known_hash,
    legacy_content_hash,
    referenced,
    unit_hash,
)
from serialsync.engine.selection import select_work
from serialsync.engine.siblings import (
    Planned,
    assign_parts,
    emptied_parts,
    group_by_part,
    part_of,
    sibling,
    with_part,
)
from serialsync.engine.summary import PassSummary
from serialsync.engine.visibility import forget_retired, settle_visibility
from serialsync.engine.windows import close_windows
from serialsync.errors import PermanentRemoteError
from serialsync.lifecycle import UnitStatus
from serialsync.metering import in_this_context
from serialsync.model import (
    FieldGroup,
    ListingAction,
    ListingChange,
    Product,
    PublishOutcome,
    PublishResult,
    StillForSale,
)
from serialsync.store import ListingRecord, ListingState, UnitRecord
from serialsync.urgency import urgent
from serialsync.validation import price_problem

_LIVE_RESULTS = {PublishResult.CREATED, PublishResult.UPDATED, PublishResult.UNCHANGED}

#: The cursor of each channel's order stream (kept by the order pass). Its presence says the
#: channel's orders were read at least once, which publishing waits for.
ORDERS_STREAM = "orders"


def is_sellable(record: UnitRecord, product: Product) -> bool:
    """True when the unit should be listed: in stock, not deleted in the POS, and priced
    (its own price, else the product's; see :func:`~serialsync.validation.price_problem`)."""
    return (
        record.status == UnitStatus.IN_STOCK
        and not record.deleted
        and price_problem(record.unit.price, product.price) is None
    )


def plan_changes(
    product: Product,
    units: Iterable[UnitRecord],
    listings: dict[str, ListingRecord],
    held: Container[str] = (),
) -> list[tuple[ListingChange, str | None]]:
    """The changes one channel needs for one product, each with its content hash.

    Sellable units (:func:`is_sellable`) are upserted unless live with the same hash (or
    refused for good with the same hash: that waits for a person or a change); an upsert of a
    live unit names only the field groups that changed (``ListingChange.changed``). Units not
    sellable are withdrawn unless already withdrawn, or never listed. A unit an order holds
    (serials in ``held``, see :func:`held_serials`) counts as listed everywhere: an order names
    it by an id serialsync published, and a new store (a lost one started again) cannot know
    where, so it is withdrawn wherever no withdrawal is recorded.
    """
    changes: list[tuple[ListingChange, str | None]] = []
    for record in units:
        listing = listings.get(record.unit.serial)
        remote = listing.remote if listing else None
        if is_sellable(record, product):
            digest = known_hash(record) or content_hash(product, record.unit)
            if listing is not None and listing.content_hash == digest:
                if listing.state == ListingState.LIVE:
                    continue
                if listing.state == ListingState.FAILED and not listing.retryable:
                    continue
            if (
                listing is not None
                and listing.state == ListingState.LIVE
                and is_legacy(listing.content_hash)
                and listing.content_hash == legacy_content_hash(product, record.unit)
            ):
                continue  # unchanged since a release before field groups
            # A unit live on the channel is sent only the groups that differ; any other state
            # (failed, withdrawn, never listed) gets every group, as the channel may lack any.
            changed = (
                changed_groups(listing.content_hash, digest)
                if listing is not None and listing.state == ListingState.LIVE
                else frozenset(FieldGroup)
            )
            change = ListingChange(
                unit=record.unit, action=ListingAction.UPSERT, remote=remote, changed=changed
            )
            changes.append((change, digest))
        else:
            if listing is None and record.unit.serial not in held:
                continue
            if listing is not None and listing.state == ListingState.WITHDRAWN:
                continue
            if (
                listing is not None
                and listing.state == ListingState.FAILED
                and remote is None
                and not listing.retryable
            ):
                continue  # refused at creation: there is nothing on the channel to withdraw
            change = ListingChange(unit=record.unit, action=ListingAction.WITHDRAW, remote=remote)
            changes.append((change, None))
    return changes


def held_serials(
    ctx: EngineContext, units: Iterable[UnitRecord], listings: dict[str, ListingRecord]
) -> set[str]:
    """The units an order holds that this channel has no listing of (see :func:`plan_changes`)."""
    return {
        u.unit.serial
        for u in units
        if u.unit.serial not in listings
        and u.status != UnitStatus.IN_STOCK  # an order holds only reserved or sold units
        and ctx.store.get_claim(u.unit.serial) is not None
    }


def orders_read(ctx: EngineContext, channel: str) -> bool:
    """True once the channel's orders were read (its order cursor is saved)."""
    return ctx.store.get_cursor(channel, ORDERS_STREAM) is not None


def publish_all(
    ctx: EngineContext, summary: PassSummary, skus: Sequence[str] | None = None
) -> None:
    """Bring every channel in line with the units, channels side by side.

    A channel whose orders were never read (a new store whose first read of it failed) is
    left alone: until its recent orders are known, a unit sold there looks in stock.
    """
    channels = []
    for handle in ctx.plugins.connectors(Role.CHANNEL):
        if not orders_read(ctx, handle.name):
            ctx.log(connector=handle.name, operation="publish").warning(
                "publish.waits_for_orders",
                why="the channel's recent orders have not been read yet",
            )
            continue
        channels.append(handle.name)
    if not channels:
        return
    if skus is not None:
        every = list(skus)
        for_each_channel(
            ctx,
            lambda channel: publish_channel(ctx, summary, channel, every),
            name="publish",
            channels=channels,
        )
        return
    for_each_channel(
        ctx,
        lambda channel: publish_changes(ctx, summary, channel),
        name="publish",
        channels=channels,
    )


def publish_changes(ctx: EngineContext, summary: PassSummary, channel: str) -> None:
    """Publish to one channel only the products the store's query finds work in.

    A product whose every unit is as its listing on the channel says (same content hash, same
    state) and whose storefront visibility is settled is neither read nor hashed: its sellable
    units count as unchanged. A product with work is planned whole (:func:`publish_channel`),
    and looked at once more after the publish (:func:`select_work`), which unmarks it when
    the publish settled it.
    """
    work = select_work(ctx, channel)
    summary.counts(channel).unchanged += work.unchanged
    if work.publish:
        publish_channel(ctx, summary, channel, work.publish)
        # The publish marked what it recorded: looked at again now, what it settled is
        # unmarked, so the next pass does not find it (the rest waits for that pass).
        select_work(ctx, channel)


def for_each_channel(
    ctx: EngineContext,
    work: Callable[[str], None],
    *,
    name: str,
    channels: Sequence[str] | None = None,
) -> None:
    """Run ``work(channel)`` for every channel connector (or those in ``channels``), side by
    side up to ``sync.workers``."""
    if channels is None:
        channels = [h.name for h in ctx.plugins.connectors(Role.CHANNEL)]
    if len(channels) <= 1 or ctx.sync.workers == 1:
        for channel in channels:
            work(channel)
        return
    with ThreadPoolExecutor(
        max_workers=min(ctx.sync.workers, len(channels)), thread_name_prefix=name
    ) as pool:
        # In this context: each channel's requests count in the pass (serialsync.metering).
        for future in [pool.submit(in_this_context(work), c) for c in channels]:
            future.result()


def publish_channel(
    ctx: EngineContext, summary: PassSummary, channel: str, skus: Sequence[str]
) -> None:
    """Send one channel the difference for each product, and record the outcomes."""
    counts = summary.counts(channel)
    try:
        capacity = ctx.plugins.product_capacity(channel)
    except Exception as exc:  # without it, units could be sent past a product's limit
        reason = f"{type(exc).__name__}: {exc}"
        ctx.log(connector=channel, operation="publish").error(
            "publish.capacity_unknown", error=reason
        )
        counts.errors.append(f"product_capacity: {reason}")
        return
    for done, sku in enumerate(skus, 1):
        ctx.progress("publish", channel, done, len(skus))
        publish_product(ctx, summary, channel, sku, capacity)


def publish_product(
    ctx: EngineContext, summary: PassSummary, channel: str, sku: str, capacity: int | None
) -> None:
    """Send one channel one product's difference, in calls of at most ``sync.publish_chunk``
    units, planning again from the store before each call and once after the last.

    Everything happens under the product's listing lock. Planning again between calls is what
    keeps a sale made while a call is under way from being undone: a unit claimed meanwhile is
    not sent in a later call, and a unit the call under way listed again is withdrawn by the
    next one, before the product is given back (as is any unit an order pass asked about
    meanwhile: see :class:`~serialsync.engine.context.ListingLocks`).
    """
    with ctx.locks.hold(channel, sku) as turn:
        try:
            _publish_held(ctx, summary, channel, sku, capacity, turn)
        except Exception:
            # A unit sold while the product was held may have been asked of this publish (see
            # ListingLocks): it is withdrawn before the lock goes, whatever broke the publish.
            withdraw_only(ctx, summary, channel, sku)
            raise


def _publish_held(
    ctx: EngineContext,
    summary: PassSummary,
    channel: str,
    sku: str,
    capacity: int | None,
    turn: ListingTurn,
) -> None:
    """The body of :func:`publish_product`, under the product's listing lock.

    The plan is made again after each call, except after a call that sent the plan's last
    changes when the product's change mark (:meth:`~serialsync.store.Store.change_version`)
    shows that nothing but this publish's own record was written since the plan was read:
    a new plan would then find only what was sent already, so the listings as recorded stand
    in for it (a unit sold meanwhile has moved the mark, and is planned again).
    """
    sent: set[tuple[str, ListingAction]] = set()
    first = True
    recorded: Recorded | None = None
    while True:
        version = ctx.store.change_version(channel, sku)
        if recorded is not None and version is not None and version == recorded.version:
            listings = recorded.listings
        else:
            plan = plan_product(ctx, channel, sku)
            if plan is None:
                return
            product, units, listings, planned = plan
            if first:
                upserts = sum(1 for c, _ in planned if c.action == ListingAction.UPSERT)
                summary.counts(channel).unchanged += (
                    sum(1 for u in units if is_sellable(u, product)) - upserts
                )
                first = False
            chunk = next_chunk(planned, sent, ctx.sync.publish_chunk)
            if chunk:
                sent.update((change.unit.serial, change.action) for change, _ in chunk)
                parts = assign_parts(chunk, listings, capacity)
                recorded = send_product(
                    ctx, summary, channel, product, chunk, listings, parts, expect=version
                )
                if next_chunk(planned, sent, 1):
                    recorded = None  # more of this plan to send: planned again first
                continue
        # Only a product that has siblings can leave one empty (a second read otherwise).
        siblings = capacity is not None and any(
            (part_of(listing.remote) or 1) > 1 for listing in listings.values()
        )
        if siblings:
            retire_emptied(ctx, summary, channel, product)
        # Shown while a unit is for sale, hidden once none is ([sync] sold_out); the
        # listings hold what the last call recorded (read after it, or as it recorded them).
        settle_visibility(ctx, summary, channel, product, None if siblings else listings)
        if not turn.finish():
            return
        recorded = None  # an order pass asked something of this publish: planned again


def next_chunk(
    planned: list[tuple[ListingChange, str | None]],
    sent: Container[tuple[str, ListingAction]],
    size: int,
) -> list[tuple[ListingChange, str | None]]:
    """The next call's changes: each unit's change not sent yet in this publish (a failure
    waits for the next pass), at most ``size`` in plan order; but withdrawals of units this
    publish listed (sold while it was under way) go first and alone, so that the sold unit is
    off sale after one short call, not after a call of ``size`` creates."""
    todo = [p for p in planned if (p[0].unit.serial, p[0].action) not in sent]
    urgent = [
        p
        for p in todo
        if p[0].action == ListingAction.WITHDRAW
        and (p[0].unit.serial, ListingAction.UPSERT) in sent
    ]
    return (urgent or todo)[:size]


def withdraw_only(ctx: EngineContext, summary: PassSummary, channel: str, sku: str) -> None:
    """Withdraw one product's units that are listed but not sellable, and nothing else.

    Run by a publish that broke under the product's listing lock before it gave the product
    back: an order pass may have asked it to withdraw a unit sold meanwhile (it does not ask
    twice), and the withdrawal must not wait for the publish to succeed. Whatever fails here
    is logged and left to the next order pass; the publish's own error is the one raised.
    """
    try:
        plan = plan_product(ctx, channel, sku)
        if plan is None:
            return
        product, _units, listings, planned = plan
        planned = [p for p in planned if p[0].action == ListingAction.WITHDRAW]
        if planned:
            send_product(ctx, summary, channel, product, planned, listings)
    except Exception as exc:  # the next order pass tries again (skus_to_withdraw)
        ctx.log(connector=channel, operation="publish").error(
            "publish.withdraw_after_failure_failed",
            sku=sku,
            error=f"{type(exc).__name__}: {exc}",
        )


def plan_product(
    ctx: EngineContext, channel: str, sku: str
) -> tuple[Product, list[UnitRecord], dict[str, ListingRecord], list[Planned]] | None:
    """One product's plan on ``channel`` as the store holds it now: the product, its units,
    its listings there and the changes that would make them match (``None``: no product)."""
    read = read_product(ctx, sku)
    if read is None:
        return None
    product, units = read
    listings = ctx.store.listings_of(channel, sku)
    return (
        product,
        units,
        listings,
        plan_changes(product, units, listings, held_serials(ctx, units, listings)),
    )


def read_product(ctx: EngineContext, sku: str) -> tuple[Product, list[UnitRecord]] | None:
    """A product and its units (with their references), each unit's content hash known.

    A unit whose hash is not recorded (a store from before hashes, its product or reference
    changed since it was stored) gets it here, read and written in one transaction so that a
    POS read storing the unit meanwhile is never overwritten with a hash of older data.
    """
    product = ctx.store.get_product(sku)
    if product is None:
        return None
    units = with_references(ctx.store.units_of(sku), ctx.store.refs_of_sku(sku))
    if all(known_hash(u) or u.content_hash == UNPRICED for u in units):
        return product, units
    with ctx.store.transaction():
        product = ctx.store.get_product(sku)
        if product is None:
            return None
        units = with_references(ctx.store.units_of(sku), ctx.store.refs_of_sku(sku))
        fresh = {
            u.unit.serial: unit_hash(product, u.unit)
            for u in units
            if not (known_hash(u) or u.content_hash == UNPRICED)
        }
        ctx.store.set_unit_hashes(fresh)
    return product, [
        replace(u, content_hash=fresh[u.unit.serial]) if u.unit.serial in fresh else u
        for u in units
    ]


def with_references(units: list[UnitRecord], refs: dict[str, str]) -> list[UnitRecord]:
    """The units, each carrying its assigned serial reference (if any) among its attributes,
    so that every channel shows it with the unit's own attributes (a change republishes)."""
    if not refs:
        return units
    return [
        replace(r, unit=referenced(r.unit, refs[serial]))
        if (serial := r.unit.serial) in refs
        else r
        for r in units
    ]


@dataclass(frozen=True)
class Recorded:
    """A product's listings on one channel as a publish's own record left them, and the
    product's change mark right after that record (see :func:`send_product`)."""

    listings: dict[str, ListingRecord]
    version: int


def send_product(
    ctx: EngineContext,
    summary: PassSummary,
    channel: str,
    product: Product,
    planned: list[tuple[ListingChange, str | None]],
    listings: dict[str, ListingRecord],
    parts: dict[str, int] | None = None,
    *,
    expect: int | None = None,
) -> Recorded | None:
    """One ``publish_variants`` call for one product's planned changes, and its record; one
    call per sibling product when the changes span several (``parts``: each unit's part, by
    serial; by default the part each unit was listed in). ``listings`` are the product's as
    planned: none at all makes the call a ``first_publish``.

    With ``expect``, the product's change mark when ``planned`` was read: returns the
    listings as recorded and the mark after the record, if each record found the mark where
    the one before left it (no other write came between); else ``None``.
    """
    if parts is None:
        parts = assign_parts(planned, listings, None)
    mark = expect
    after = dict(listings)
    # No listing of the product was ever recorded here (records are never deleted): the host
    # has never had an answer about it from this channel (see the hookspec's first_publish).
    first = not listings
    for part, mine in group_by_part(planned, parts).items():
        target = sibling(product, part, ctx.sync.sibling_title)
        changes = [change for change, _ in mine]
        ctx.checkpoint("publish.before_call")
        # A call that only withdraws (units sold while the product was being published, or
        # left by a batch) closes an oversell window: urgent, ahead of the publish's creates.
        withdrawing = all(change.action == ListingAction.WITHDRAW for change in changes)
        try:
            with urgent(withdrawing):
                outcomes = ctx.plugins.publish_variants(
                    channel,
                    target,
                    changes,
                    still_for_sale(ctx, product),
                    first_publish=first,
                )
        except Exception as exc:  # one product's failure must not stop the others
            outcomes = failed_call(ctx, summary, channel, target.listing_sku, changes, exc)
            outcomes = withdraw_apart(ctx, summary, channel, target, changes, outcomes)
        ctx.checkpoint("publish.after_call")
        with ctx.store.transaction():
            # Read in the record's own write transaction: no other writer comes between.
            if mark is not None and ctx.store.change_version(channel, product.sku) != mark:
                mark = None
            records = record_outcomes(ctx, summary, channel, mine, outcomes, listings, part=part)
            if mark is not None:
                mark = ctx.store.change_version(channel, product.sku)
        after.update((record.serial, record) for record in records)
        ctx.checkpoint("publish.recorded")
    return None if mark is None else Recorded(after, mark)


def still_for_sale(ctx: EngineContext, product: Product) -> StillForSale:
    """What a ``publish_variants`` call of ``product`` may ask before it makes units sellable:
    those of the named units that are sellable now (:func:`is_sellable`), read from the store
    at the moment of asking. An order's claim is committed before the order pass asks the
    publish to withdraw its unit, so a unit claimed before the plugin asks is never made
    sellable, and one claimed after is withdrawn by the publish's next call."""

    def ask(serials: Collection[str]) -> frozenset[str]:
        # Only the named rows: a large product asked once per batch would otherwise be read
        # whole each time (2,000 units in 20 batches: 40,000 rows read).
        return frozenset(
            record.unit.serial
            for record in ctx.store.units_by_serials(serials)
            if record.unit.sku == product.sku and is_sellable(record, product)
        )

    return ask


def withdraw_apart(
    ctx: EngineContext,
    summary: PassSummary,
    channel: str,
    target: Product,
    changes: Sequence[ListingChange],
    outcomes: list[PublishOutcome],
) -> list[PublishOutcome]:
    """A call that raised carried withdrawals beside upserts: send those again on their own
    (``withdraw_units`` where the plugin has it, else ``publish_variants`` with them alone),
    so that what broke the upserts does not keep sold units on sale until the next order
    pass, urgently (:func:`~serialsync.urgent`). Returns ``outcomes`` with the withdrawals'
    answers in place of their failures."""
    withdrawals = [c for c in changes if c.action == ListingAction.WITHDRAW]
    if not withdrawals or len(withdrawals) == len(changes):
        return outcomes  # nothing apart to send: the same call would be sent again
    wanted = {c.unit.serial for c in withdrawals}
    try:
        with urgent():
            answered = [
                o
                for o in ctx.plugins.withdraw_units(channel, withdrawals) or []
                if o.serial in wanted
            ]
            done = {o.serial for o in answered}
            rest = [c for c in withdrawals if c.unit.serial not in done]
            if rest:
                answered += ctx.plugins.publish_variants(channel, target, rest)
    except Exception as exc:  # each withdrawal stays failed; the next order pass retries it
        answered = failed_call(ctx, summary, channel, target.listing_sku, withdrawals, exc)
    by_serial = {o.serial: o for o in answered if o.serial in wanted}
    return [by_serial.pop(o.serial, o) for o in outcomes]


def retire_emptied(
    ctx: EngineContext, summary: PassSummary, channel: str, product: Product
) -> None:
    """Retire the sibling products of ``product`` that no unit holds any more; their units'
    listings forget the ids of the product retired."""
    listings = ctx.store.listings_of(channel, product.sku)
    for part, remote in emptied_parts(listings).items():
        target = sibling(product, part, ctx.sync.sibling_title)
        try:
            retired = ctx.plugins.retire_product(channel, target, remote)
        except Exception as exc:  # tried again next pass; the units are withdrawn already
            reason = f"{type(exc).__name__}: {exc}"
            ctx.log(connector=channel, operation="retire_product").warning(
                "publish.retire_failed", sku=product.sku, part=part, error=reason
            )
            summary.counts(channel).errors.append(f"{target.listing_sku}: {reason}")
            continue
        if not retired:
            continue
        ctx.log(connector=channel, operation="retire_product").info(
            "publish.sibling_retired", sku=product.sku, part=part
        )
        with ctx.store.transaction():
            ctx.store.put_listings(
                [
                    replace(listing, remote=None)
                    for listing in listings.values()
                    if part_of(listing.remote) == part
                ]
            )
            forget_retired(ctx, channel, product.sku, part)


def failed_call(
    ctx: EngineContext,
    summary: PassSummary,
    channel: str,
    what: str,
    changes: Sequence[ListingChange],
    exc: Exception,
) -> list[PublishOutcome]:
    """A whole call failed: log it, count it, and fail each of its changes."""
    retryable = not isinstance(exc, PermanentRemoteError)
    reason = f"{type(exc).__name__}: {exc}"
    ctx.log(connector=channel, operation="publish").error(
        "publish.call_failed", sku=what, units=len(changes), error=reason
    )
    summary.counts(channel).errors.append(f"{what}: {reason}")
    return [c.failed(reason, retryable=retryable) for c in changes]


def record_outcomes(
    ctx: EngineContext,
    summary: PassSummary,
    channel: str,
    planned: list[tuple[ListingChange, str | None]],
    outcomes: list[PublishOutcome],
    listings: dict[str, ListingRecord],
    *,
    part: int | None = None,
) -> list[ListingRecord]:
    """Remember each planned change's outcome as its listing (a missing outcome is a failure);
    the listings recorded.

    Call it inside the transaction that records the outcomes; the units withdrawn close the
    oversell windows they end (:func:`~serialsync.engine.windows.close_windows`, a few
    statements for all of them: give it every product of a batch at once where it can).

    ``part`` is the sibling product the changes were sent to (by default, each unit's own)."""
    counts = summary.counts(channel)
    log = ctx.log(connector=channel, operation="publish")
    withdrawn: list[str] = []
    records: list[ListingRecord] = []
    by_serial = {o.serial: o for o in outcomes}
    for change, digest in planned:
        outcome = by_serial.pop(change.unit.serial, None)
        if outcome is None:
            outcome = change.failed("the plugin returned no outcome for this unit")
        record = listing_after(
            channel, change, digest, outcome, listings.get(change.unit.serial), part=part
        )
        if record.state == ListingState.FAILED:
            counts.failed += 1
            log.warning(
                "publish.unit_failed",
                integration_id=f"{change.unit.sku}|||{change.unit.serial}",
                action=change.action.value,
                reason=record.last_error,
                retryable=record.retryable,
            )
        elif record.state == ListingState.WITHDRAWN:
            counts.withdrawn += 1
            withdrawn.append(record.serial)
        else:
            counter = _COUNTERS.get(outcome.result, "updated")
            setattr(counts, counter, getattr(counts, counter) + 1)
        records.append(record)
    ctx.store.put_listings(records)  # one batch: a few statements for the whole call
    for stray in by_serial.values():
        log.warning("publish.unexpected_outcome", serial=stray.serial, result=stray.result.value)
    close_windows(ctx, withdrawn, ctx.now())
    return records


_COUNTERS = {
    PublishResult.CREATED: "created",
    PublishResult.UPDATED: "updated",
    PublishResult.UNCHANGED: "unchanged",
}


def listing_after(
    channel: str,
    change: ListingChange,
    digest: str | None,
    outcome: PublishOutcome,
    previous: ListingRecord | None,
    *,
    part: int | None = None,
) -> ListingRecord:
    """What the store remembers of one unit on one channel after a publish's outcome (with
    the sibling product it lives in: ``part``, else the one it was listed in)."""
    listing = ListingRecord(
        connector=channel,
        serial=change.unit.serial,
        sku=change.unit.sku,
        state=ListingState.LIVE,
        content_hash=digest,
        remote=with_part(outcome.remote or change.remote, part or part_of(change.remote) or 1),
    )
    if outcome.result == PublishResult.FAILED:
        return replace(
            listing,
            state=ListingState.FAILED,
            last_error=f"{outcome.code}: {outcome.reason}" if outcome.code else outcome.reason,
            retryable=outcome.retryable,
            attempts=(previous.attempts if previous else 0) + 1,
        )
    if change.action == ListingAction.WITHDRAW or outcome.result == PublishResult.WITHDRAWN:
        # An upsert answered WITHDRAWN: the plugin left the unit unsellable, as
        # ``still_for_sale`` told it (sold while the call was on the wire).
        return replace(listing, state=ListingState.WITHDRAWN, content_hash=None)
    return listing

"""Withdrawals: the units that orders sold or reserved, off every channel, batched across products.

::

    for each channel (side by side):
      the products to look at: those the pass's orders touched, and those with a unit that is
        not sellable but still listed (a withdrawal that failed before is tried again)
      → plan each product (plan_changes), under its listing lock
      → withdraw_units: every product's withdrawals in few calls      (the optional hook)
      → what it left unanswered, or every withdrawal when the plugin lacks the hook, and the
        touched products' other changes (a cancelled order's unit listed again):
        publish_variants, one product at a time
      → each outcome recorded as the unit's listing

The listing locks (:class:`~serialsync.engine.context.ListingLocks`) keep this step and an
inventory publish off the same product on the same channel: the products whose lock is free are
withdrawn in one batch, and a product being published right now is left to that publish, which
plans it again after its call under way and withdraws the unit before it lets the product go.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from serialsync.engine.context import EngineContext
from serialsync.engine.hashing import HASH_PREFIX
from serialsync.engine.publish import (
    failed_call,
    for_each_channel,
    held_serials,
    orders_read,
    plan_changes,
    record_outcomes,
    send_product,
)
from serialsync.engine.summary import PassSummary
from serialsync.engine.visibility import parts_on_sale, settle_products
from serialsync.model import ListingAction, ListingChange, Product, PublishOutcome
from serialsync.store import ListingRecord
from serialsync.urgency import withdrawing

#: Withdrawals handed to one ``withdraw_units`` call (the plugin splits them into requests);
#: bounded so that what was sent is recorded as it goes.
WITHDRAW_CHUNK = 1000


@dataclass
class _ProductPlan:
    product: Product
    listings: dict[str, ListingRecord]
    planned: list[tuple[ListingChange, str | None]]
    #: Whether the plan may change which of the product's parts sell on the channel.
    settle: bool


def withdraw_all(
    ctx: EngineContext,
    summary: PassSummary,
    touched: Collection[str] = (),
    *,
    leftovers: bool = True,
) -> None:
    """Withdraw every unit that is not sellable but listed, from every channel, side by side.

    :param touched: SKUs whose units the pass's orders moved: their other changes (a unit
        listed again after a cancellation) are published too.
    :param leftovers: also look for every other product with a withdrawal due on the channel
        (one that failed before). The order pass does; one webhook order does not (see
        :func:`withdraw_channel`).
    """
    for_each_channel(
        ctx,
        lambda channel: withdraw_channel(ctx, summary, channel, touched, leftovers=leftovers),
        name="withdraw",
    )


def withdraw_channel(
    ctx: EngineContext,
    summary: PassSummary,
    channel: str,
    touched: Collection[str] = (),
    *,
    leftovers: bool = True,
) -> None:
    """Withdraw one channel's unsellable listings (and publish the touched products' changes).

    With ``leftovers=False`` only the touched products are looked at. Finding the others reads
    the listings of every product whose work is open on the channel (every product during a
    first publish) under the store's lock, and the order's other channels, the other orders
    and the publish wait for that lock meanwhile: one order's withdrawal leaves them to the
    order pass, which runs every ``orders_interval`` and looks for them each time.
    """
    if not orders_read(ctx, channel):
        touched = ()  # withdraw only: nothing is listed before the channel's orders are read
    due = ctx.store.skus_to_withdraw(channel) if leftovers else ()
    skus = sorted(set(touched) | set(due))
    if not skus:
        return
    # For progress bars and the bench: the withdrawal runs from here to its last record.
    ctx.progress("withdraw", channel, 0, None)
    ctx.checkpoint("withdraw.started")
    # A product someone holds (a publish under way) is left to its holder, who plans it again
    # before giving it back: this step never waits for a publish. Its requests go before the
    # reads of orders under way on the channel (serialsync.urgency).
    with withdrawing(), ctx.locks.hold_or_ask(channel, skus) as turn:
        held = turn.held
        while held:
            _withdraw(ctx, summary, channel, held, touched)
            held = turn.finish()
    ctx.checkpoint("withdraw.done")


def _withdraw(
    ctx: EngineContext,
    summary: PassSummary,
    channel: str,
    skus: Sequence[str],
    touched: Collection[str],
) -> None:
    plans: dict[str, _ProductPlan] = {}
    # Read in bulk, a query per few hundred products: a burst plans hundreds at once on every
    # channel, and three reads a product, each under the store's lock, kept every channel's
    # step waiting on the others' (and on the reads of orders).
    # Units live with their own current hash are left out: the plan would skip them anyway
    # (a burst sells a unit or two of products of twenty).
    products = ctx.store.products_of(skus)
    units_of = ctx.store.units_to_plan(channel, skus, hash_prefix=HASH_PREFIX)
    listings_of = ctx.store.listings_of_skus(channel, skus)
    for sku in skus:
        product = products.get(sku)
        if product is None:
            continue
        listings = listings_of.get(sku, {})
        units = units_of.get(sku, [])
        planned = plan_changes(product, units, listings, held_serials(ctx, units, listings))
        if sku not in touched:
            # Untouched products are here for their withdrawals only; the rest is the
            # inventory loop's work.
            planned = [p for p in planned if p[0].action == ListingAction.WITHDRAW]
        if planned:
            # Keep only the listings of what is planned: a burst spans hundreds of products,
            # each channel plans them all at once, and the rest is not needed to record it.
            mine = {c.unit.serial for c, _ in planned}
            kept = {serial: rec for serial, rec in listings.items() if serial in mine}
            plans[sku] = _ProductPlan(product, kept, planned, _may_settle(listings, planned))
    withdrawals = [
        (sku, change, digest)
        for sku, plan in plans.items()
        for change, digest in plan.planned
        if change.action == ListingAction.WITHDRAW
    ]
    total = len(withdrawals)
    answered: set[str] = set()
    ctx.progress("withdraw", channel, 0, total)
    for start in range(0, total, WITHDRAW_CHUNK):
        chunk = withdrawals[start : start + WITHDRAW_CHUNK]
        answered |= _withdraw_batch(ctx, summary, channel, plans, chunk)
        ctx.progress("withdraw", channel, min(total, start + WITHDRAW_CHUNK), total)
    # Whatever the batch did not settle goes product by product, as a publish would send it.
    for plan in plans.values():
        rest = [p for p in plan.planned if p[0].unit.serial not in answered]
        if rest:
            send_product(ctx, summary, channel, plan.product, rest, plan.listings)
    # A product whose last unit went is hidden now, not at the next inventory pass.
    settle_products(ctx, summary, channel, [p.product for p in plans.values() if p.settle])
    ctx.progress("withdraw", channel, total, total)


def _may_settle(
    listings: dict[str, ListingRecord], planned: list[tuple[ListingChange, str | None]]
) -> bool:
    """Whether recording ``planned`` may show or hide a part of the product: a change other
    than a withdrawal (a unit listed again), or a withdrawal of a part's last unit for sale.

    Otherwise the parts for sale stay as the last settle saw them: a burst sells a unit or two
    of hundreds of products, and reading each again to find nothing to do kept every channel's
    step a second longer. (A settle that failed before is tried again by the inventory loop.)
    """
    if any(change.action != ListingAction.WITHDRAW for change, _ in planned):
        return True
    leaving = {change.unit.serial for change, _ in planned}
    _, selling = parts_on_sale(listings)
    _, left = parts_on_sale({s: li for s, li in listings.items() if s not in leaving})
    return left != selling


def _withdraw_batch(
    ctx: EngineContext,
    summary: PassSummary,
    channel: str,
    plans: dict[str, _ProductPlan],
    chunk: list[tuple[str, ListingChange, str | None]],
) -> set[str]:
    """One ``withdraw_units`` call; records what it answered and returns those serials.

    Returns nothing when the plugin does not implement the hook (every withdrawal then goes
    through ``publish_variants``).
    """
    changes = [change for _, change, _ in chunk]
    ctx.checkpoint("withdraw.before_call")
    outcomes: list[PublishOutcome] | None
    try:
        outcomes = ctx.plugins.withdraw_units(channel, changes)
    except Exception as exc:  # the whole call failed: each unit is retried later
        outcomes = failed_call(ctx, summary, channel, "withdraw_units", changes, exc)
    if outcomes is None:
        return set()
    ctx.checkpoint("withdraw.after_call")
    wanted = {change.unit.serial for change in changes}
    by_serial: dict[str, PublishOutcome] = {}
    for outcome in outcomes:
        if outcome.serial in wanted:
            by_serial.setdefault(outcome.serial, outcome)
        else:
            ctx.log(connector=channel, operation="withdraw").warning(
                "withdraw.unexpected_outcome", serial=outcome.serial, result=outcome.result.value
            )
    settled = [(change, digest) for _, change, digest in chunk if change.unit.serial in by_serial]
    listings = {
        serial: listing
        for sku in dict.fromkeys(sku for sku, _, _ in chunk)
        for serial, listing in plans[sku].listings.items()
    }
    # Every product of the call in one record (a serial names one unit, of one product): a
    # few statements for the whole call, under the store's lock that the other channels wait
    # for, rather than a few for each product.
    with ctx.store.transaction():
        outcomes = [by_serial[change.unit.serial] for change, _ in settled]
        record_outcomes(ctx, summary, channel, settled, outcomes, listings)
    ctx.checkpoint("withdraw.recorded")
    return set(by_serial)

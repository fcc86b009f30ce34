"""Reconcile: what each channel really holds, compared with the store, and the drift repaired.

Staff edit shops by hand: a variant deleted, a sold unit's stock set back to 1, a variant
duplicated, a SKU retyped. The publish path trusts the store and never looks; this step looks::

    for each channel implementing the optional ``list_listings`` hook:
      read every variant whose SKU is an integration id (the plugin's cheapest listing call)
      → classify against the store:
          oversell      a unit not sellable (sold, reserved, returned, defective, deleted in
                        the POS) that a shopper can buy there                  → withdrawn
          out-of-stock  a sellable unit at 0 there                              → listed again
          missing       a sellable unit the store lists there, gone there       → listed again
          duplicate     the same integration id on two variants or more, an extra one
                        sellable                                                → extras withdrawn
          orphan        an integration id the store never listed there: adopted when the POS
                        knows the unit (its listing recorded, then brought in line), else
                        only reported
      → repairs (unless a dry run), oversells first, through the usual paths: the store forgets
        what it thinks was published (as an ended order does, see
        ``engine.orders._publish_here_again``), then ``withdraw_channel`` and
        ``publish_channel`` send each unit's true state; the extra duplicates are withdrawn by
        their own ids.

The plugins' clients pace every request within the platform's budget, so a reconcile of a large
catalogue costs time, not throttling.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from serialsync.connector import Role
from serialsync.engine.context import EngineContext
from serialsync.engine.publish import is_sellable, orders_read, publish_channel
from serialsync.engine.summary import PassSummary
from serialsync.engine.withdraw import withdraw_channel
from serialsync.errors import IntegrationIdError
from serialsync.integration_id import compose, parse
from serialsync.model import ListingAction, ListingChange, PublishResult, RemoteIds, RemoteListing
from serialsync.store import ListingRecord, ListingState

#: Pages read from one channel before the read is given up as runaway (a plugin whose
#: ``next_page`` never ends).
MAX_PAGES = 100_000


class DriftKind(StrEnum):
    """What kind of difference between a channel and the store was found."""

    OVERSELL = "oversell"
    OUT_OF_STOCK = "out-of-stock"
    MISSING = "missing"
    DUPLICATE = "duplicate"
    ORPHAN = "orphan"


#: The order repairs are made and reported in: an oversell waiting to happen first.
_ORDER = {kind: n for n, kind in enumerate(DriftKind)}


@dataclass(frozen=True)
class Drift:
    """One difference found on one channel."""

    kind: DriftKind
    integration_id: str
    detail: str
    #: False for what is only reported (an orphan the POS does not know).
    repairable: bool = True


@dataclass
class ChannelReconcile:
    """What one channel held, what differed, and what was done."""

    channel: str
    read: int = 0
    drifts: list[Drift] = field(default_factory=list)
    #: Why the channel could not be read (nothing was compared or repaired), or ``None``.
    error: str | None = None
    #: Why it was skipped (the plugin cannot list), or ``None``.
    skipped: str | None = None
    repaired: bool = False
    repair_errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``reconcile --json``)."""
        return {
            "channel": self.channel,
            "read": self.read,
            "error": self.error,
            "skipped": self.skipped,
            "repaired": self.repaired,
            "repair_errors": self.repair_errors,
            "drift": [
                {
                    "kind": d.kind.value,
                    "integration_id": d.integration_id,
                    "detail": d.detail,
                    "repairable": d.repairable,
                }
                for d in self.drifts
            ],
        }


@dataclass
class ReconcileReport:
    """Every channel's reconcile."""

    dry_run: bool
    channels: list[ChannelReconcile] = field(default_factory=list)

    @property
    def drift_found(self) -> bool:
        """True when any channel differs from the store (or could not be read)."""
        return any(c.drifts or c.error for c in self.channels)

    @property
    def ok(self) -> bool:
        """True when every channel was read and every repair went through."""
        return not any(c.error or c.repair_errors for c in self.channels)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready form (``reconcile --json``)."""
        return {
            "dry_run": self.dry_run,
            "drift_found": self.drift_found,
            "channels": [c.as_dict() for c in self.channels],
        }


def reconcile(
    ctx: EngineContext, *, channels: list[str] | None = None, dry_run: bool = False
) -> ReconcileReport:
    """Compare each channel (or those named) with the store; repair unless ``dry_run``."""
    report = ReconcileReport(dry_run=dry_run)
    names = [h.name for h in ctx.plugins.connectors(Role.CHANNEL)]
    for name in channels if channels is not None else names:
        report.channels.append(reconcile_channel(ctx, name, dry_run=dry_run))
    return report


def reconcile_channel(ctx: EngineContext, channel: str, *, dry_run: bool) -> ChannelReconcile:
    """Read one channel's listings, classify the drift, and repair it unless ``dry_run``."""
    result = ChannelReconcile(channel)
    log = ctx.log(connector=channel, operation="reconcile")
    if not ctx.plugins.implements(channel, "list_listings"):
        result.skipped = "its plugin cannot list what the channel holds (no list_listings)"
        log.warning("reconcile.skipped", why=result.skipped)
        return result
    try:
        remote = _read_all(ctx, channel)
    except Exception as exc:  # one channel unread must not stop the others
        result.error = f"{type(exc).__name__}: {exc}"
        log.error("reconcile.unread", error=result.error)
        return result
    result.read = len(remote)
    plan = _classify(ctx, channel, remote)
    result.drifts = sorted(plan.drifts, key=lambda d: (_ORDER[d.kind], d.integration_id))
    log.info("reconcile.compared", read=result.read, drift=len(result.drifts))
    if dry_run or not any(d.repairable for d in result.drifts):
        return result
    _repair(ctx, channel, plan, result)
    return result


@dataclass
class _Plan:
    drifts: list[Drift] = field(default_factory=list)
    #: Store listings to write before the repair (what the store forgets or adopts).
    records: list[ListingRecord] = field(default_factory=list)
    #: Extra duplicate variants to withdraw by their own ids: (sku, serial, remote ids).
    extras: list[tuple[str, str, RemoteIds]] = field(default_factory=list)
    #: Products to publish after the withdrawals.
    skus: set[str] = field(default_factory=set)


def _read_all(ctx: EngineContext, channel: str) -> list[RemoteListing]:
    found: list[RemoteListing] = []
    page: str | None = None
    for _ in range(MAX_PAGES):
        result = ctx.plugins.list_listings(channel, page)
        if result is None:
            break
        found.extend(result.listings)
        ctx.progress("reconcile", channel, len(found), None)
        if result.next_page is None:
            return found
        page = result.next_page
    else:
        raise RuntimeError(f"list_listings gave more than {MAX_PAGES} pages")
    return found


def _classify(ctx: EngineContext, channel: str, remote: list[RemoteListing]) -> _Plan:
    plan = _Plan()
    groups: dict[str, list[RemoteListing]] = defaultdict(list)
    for item in remote:
        groups[item.integration_id].append(item)
    listings: dict[str, dict[str, ListingRecord]] = {}

    def listings_of(sku: str) -> dict[str, ListingRecord]:
        if sku not in listings:
            listings[sku] = ctx.store.listings_of(channel, sku)
        return listings[sku]

    for iid, items in groups.items():
        try:
            parsed = parse(iid)
        except IntegrationIdError as exc:
            plan.drifts.append(
                Drift(DriftKind.ORPHAN, iid, f"not an integration id: {exc}", repairable=False)
            )
            continue
        if parsed.serial is None:
            continue  # a plain SKU: not serialsync's
        sku, serial = parsed.sku, parsed.serial
        unit = ctx.store.get_unit(serial)
        product = ctx.store.get_product(sku)
        if unit is None or unit.unit.sku != sku or product is None:
            plan.drifts.append(
                Drift(DriftKind.ORPHAN, iid, "the POS does not know this unit", repairable=False)
            )
            continue
        listing = listings_of(sku).get(serial)
        primary = _primary(items, listing)
        sellable_here = primary.sellable
        if listing is None:
            plan.drifts.append(
                Drift(DriftKind.ORPHAN, iid, "never listed here by serialsync: adopted")
            )
            plan.records.append(
                ListingRecord(
                    connector=channel,
                    serial=serial,
                    sku=sku,
                    state=ListingState.LIVE if sellable_here else ListingState.WITHDRAWN,
                    remote=primary.remote,
                )
            )
            plan.skus.add(sku)
        else:
            should_sell = is_sellable(unit, product)
            if sellable_here and not should_sell:
                why = "deleted in the POS" if unit.deleted else unit.status.value
                plan.drifts.append(Drift(DriftKind.OVERSELL, iid, f"{why}, but sellable here"))
                plan.records.append(_forget(listing, primary.remote, "sellable by hand"))
            elif should_sell and not sellable_here:
                plan.drifts.append(
                    Drift(DriftKind.OUT_OF_STOCK, iid, "in stock in the POS, at 0 here")
                )
                plan.records.append(_forget(listing, primary.remote, "at 0 by hand"))
                plan.skus.add(sku)
        extras = [i for i in items if i is not primary]
        if any(i.sellable for i in extras):
            plan.drifts.append(
                Drift(DriftKind.DUPLICATE, iid, f"{len(items)} variants hold this integration id")
            )
            plan.extras.extend((sku, serial, i.remote) for i in extras if i.sellable)
    for sku in ctx.store.product_skus():
        product = ctx.store.get_product(sku)
        if product is None:
            continue
        mine = listings_of(sku)
        for record in ctx.store.units_of(sku):
            listing = mine.get(record.unit.serial)
            iid = compose(sku, record.unit.serial)
            if (
                listing is None
                or listing.state != ListingState.LIVE
                or iid in groups
                or not is_sellable(record, product)
            ):
                continue
            plan.drifts.append(Drift(DriftKind.MISSING, iid, "listed by serialsync, gone here"))
            plan.records.append(
                replace(
                    listing,
                    state=ListingState.FAILED,
                    remote=None,
                    content_hash=None,
                    retryable=True,
                    last_error="reconcile: the variant was gone from the channel",
                )
            )
            plan.skus.add(sku)
    return plan


def _primary(items: list[RemoteListing], listing: ListingRecord | None) -> RemoteListing:
    """The variant the store's listing names (else the first read): the one kept."""
    known = listing.remote.variant_id if listing and listing.remote else None
    for item in items:
        if known is not None and item.remote.variant_id == known:
            return item
    return items[0]


def _forget(listing: ListingRecord, remote: RemoteIds, why: str) -> ListingRecord:
    """The listing as the next publish must see it to send the unit's true state again.

    When the variant read is the one the store remembers, the store's ids are kept: they hold
    what a listing read does not (a Magento parent SKU and option id, the photo sent), and a
    plugin without them would send again what the channel already has (a photo uploaded
    twice).
    """
    known = listing.remote
    same = known is not None and known.variant_id == remote.variant_id
    return replace(
        listing,
        state=ListingState.LIVE,
        remote=known if same else remote,
        content_hash=None,
        retryable=True,
        last_error=f"reconcile: {why} on the channel",
    )


def _repair(ctx: EngineContext, channel: str, plan: _Plan, result: ChannelReconcile) -> None:
    ctx.store.put_listings(plan.records)
    summary = PassSummary(kind="reconcile", started_at=ctx.now())
    # Oversells first: everything not sellable but listed is withdrawn before anything else.
    withdraw_channel(ctx, summary, channel)
    _withdraw_extras(ctx, channel, plan.extras, result)
    if plan.skus:
        if orders_read(ctx, channel):
            publish_channel(ctx, summary, channel, sorted(plan.skus))
        else:
            result.repair_errors.append(
                "the channel's orders were never read: nothing is listed there again yet"
            )
    counts = summary.counts(channel)
    result.repair_errors.extend(counts.errors)
    if counts.failed:
        touched = plan.skus | {r.sku for r in plan.records}
        for sku in sorted(touched):
            for serial, listing in sorted(ctx.store.listings_of(channel, sku).items()):
                if listing.state == ListingState.FAILED:
                    why = listing.last_error or "failed"
                    result.repair_errors.append(f"{compose(sku, serial)}: {why}")
    result.repaired = not result.repair_errors
    ctx.log(connector=channel, operation="reconcile").info(
        "reconcile.repaired", drift=len(result.drifts), errors=len(result.repair_errors)
    )


def _withdraw_extras(
    ctx: EngineContext,
    channel: str,
    extras: list[tuple[str, str, RemoteIds]],
    result: ChannelReconcile,
) -> None:
    """Withdraw each extra duplicate by its own ids; the store keeps its record of the one kept."""
    for sku, serial, remote in extras:
        unit = ctx.store.get_unit(serial)
        product = ctx.store.get_product(sku)
        if unit is None or product is None:
            continue
        change = ListingChange(unit=unit.unit, action=ListingAction.WITHDRAW, remote=remote)
        try:
            outcomes = ctx.plugins.withdraw_units(channel, [change])
            if not outcomes:
                outcomes = ctx.plugins.publish_variants(channel, product, [change])
        except Exception as exc:  # the other extras go on
            result.repair_errors.append(f"duplicate {sku}|||{serial}: {type(exc).__name__}: {exc}")
            continue
        for outcome in outcomes:
            if outcome.result == PublishResult.FAILED:
                result.repair_errors.append(f"duplicate {sku}|||{serial}: {outcome.reason}")

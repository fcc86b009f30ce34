"""Sold-out products: hidden from a channel's storefront while none of their units is for sale.

::

    after a product's changes are recorded on a channel (a publish, or a batch of withdrawals)
      → which of its parts (the product, its siblings) still has a unit for sale there
      → wanted: shown when one has, else hidden ([sync] sold_out = "show": always shown)
      → set_product_visibility, only where the wanted state differs from what was last set
      → remembered per channel, product and part, with the ids naming the product

The withdrawals of the order loop go through ``withdraw_units``, which knows nothing of
products, so the engine keeps the state itself (see
:class:`~serialsync.store.records.VisibilityRecord`) rather than asking the plugin. A product
without a row is taken as shown, as every channel creates it; a row whose ids name another
product (the channel's product was deleted and made again) is taken the same way. A plugin
without the optional hook is never asked: its sold-out products stay visible.
"""

from __future__ import annotations

from collections.abc import Sequence

from serialsync.engine.context import EngineContext
from serialsync.engine.siblings import part_of, sibling
from serialsync.engine.summary import PassSummary
from serialsync.model import Product, RemoteIds
from serialsync.store import ListingRecord, ListingState, VisibilityRecord

HOOK = "set_product_visibility"
#: Products whose listings one read of :func:`settle_products` holds (20 units each: 2,000
#: listings in memory at a time).
SETTLE_CHUNK = 100


def for_sale(listing: ListingRecord) -> bool:
    """Whether a listing may be for sale on its channel: live, or failed after the channel
    took it (a failed update or withdrawal leaves the unit as the channel held it)."""
    return listing.state == ListingState.LIVE or (
        listing.state == ListingState.FAILED and listing.remote is not None
    )


def parts_on_sale(listings: dict[str, ListingRecord]) -> tuple[dict[int, RemoteIds], set[int]]:
    """The parts the channel holds a product of (each with ids naming it), and those of them
    with a unit for sale."""
    named: dict[int, RemoteIds] = {}
    selling: set[int] = set()
    for listing in listings.values():
        part = part_of(listing.remote)
        if part is None or listing.remote is None:
            continue
        if listing.remote.product_id:
            named.setdefault(part, listing.remote)
        if for_sale(listing):
            selling.add(part)
    return named, selling


def _same_product(row: VisibilityRecord | None, remote: RemoteIds) -> bool:
    return row is not None and row.remote is not None and row.remote.product_id == remote.product_id


def settle_visibility(
    ctx: EngineContext,
    summary: PassSummary,
    channel: str,
    product: Product,
    listings: dict[str, ListingRecord] | None = None,
    known: dict[int, VisibilityRecord] | None = None,
) -> None:
    """Show or hide each part of ``product`` on ``channel`` as its units' listings ask.

    Call it under the product's listing lock, after its outcomes are recorded; ``listings``
    are the channel's listings of the product as recorded, ``known`` its visibility rows
    (each read when not given). A failure is logged and counted, and tried again at the next
    settle.
    """
    if not ctx.plugins.implements(channel, HOOK):
        return
    if listings is None:
        listings = ctx.store.listings_of(channel, product.sku)
    if known is None:
        known = ctx.store.visibility_of(channel, product.sku)
    named, selling = parts_on_sale(listings)
    for part in sorted(set(named) | set(known)):
        row = known.get(part)
        remote = named.get(part) or (row.remote if row is not None else None)
        if remote is None:
            continue  # retired, or never created: nothing on the storefront to show or hide
        shown = row.visible if row is not None and _same_product(row, remote) else True
        wanted = part in selling or ctx.sync.sold_out == "show"
        if wanted == shown:
            if not _same_product(row, remote):
                # Remember the ids while a listing holds them: withdrawals may drop them.
                with ctx.store.transaction():
                    ctx.store.put_visibility(
                        VisibilityRecord(channel, product.sku, part, shown, remote)
                    )
            continue
        _set(ctx, summary, channel, sibling(product, part, ctx.sync.sibling_title), remote, wanted)


def settle_products(
    ctx: EngineContext, summary: PassSummary, channel: str, products: Sequence[Product]
) -> None:
    """:func:`settle_visibility` for each of ``products``, their listings and visibility read
    a few hundred products at a time rather than twice per product: the order loop's
    withdrawals touch hundreds at once, and each read waits its turn on the store beside the
    other channels' work. Call it under the products' listing locks."""
    if not ctx.plugins.implements(channel, HOOK):
        return
    for start in range(0, len(products), SETTLE_CHUNK):
        chunk = products[start : start + SETTLE_CHUNK]
        skus = [product.sku for product in chunk]
        listings = ctx.store.listings_of_skus(channel, skus)
        known = ctx.store.visibility_of_skus(channel, skus)
        for product in chunk:
            settle_visibility(
                ctx,
                summary,
                channel,
                product,
                listings.get(product.sku, {}),
                known.get(product.sku, {}),
            )


def _set(
    ctx: EngineContext,
    summary: PassSummary,
    channel: str,
    target: Product,
    remote: RemoteIds,
    visible: bool,
) -> None:
    log = ctx.log(connector=channel, operation=HOOK)
    try:
        done = ctx.plugins.set_product_visibility(channel, target, remote, visible)
    except Exception as exc:  # tried again at the next settle; the units are right already
        reason = f"{type(exc).__name__}: {exc}"
        log.warning(
            "publish.visibility_failed",
            sku=target.sku,
            part=target.part,
            visible=visible,
            error=reason,
        )
        summary.counts(channel).errors.append(f"{target.listing_sku}: {reason}")
        return
    log.info(
        "publish.product_shown" if visible else "publish.product_hidden",
        sku=target.sku,
        part=target.part,
        gone=done is False,
    )
    # A product gone from the channel has nothing left to show or hide: remember the wish, so
    # that it is not asked again until the channel names a product for this part anew.
    record = VisibilityRecord(channel, target.sku, target.part, visible, remote)
    with ctx.store.transaction():
        ctx.store.put_visibility(record)


def forget_retired(ctx: EngineContext, channel: str, sku: str, part: int) -> None:
    """A retired sibling has no product left on the channel: its visibility names none."""
    ctx.store.put_visibility(VisibilityRecord(channel, sku, part, False, None))

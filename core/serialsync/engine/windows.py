"""The oversell window of each unit an order claims: from the order's creation on its channel
to the moment the unit is unsellable on every other channel, as the store records both.

A window opens when an order claims a unit that another channel still sells (a unit listed
nowhere else has none), dated by the order's own ``created_at`` (the channel's clock: the
platform's delay before serialsync saw the order is in it). It closes when the withdrawal of
the last other listing is recorded. The dashboard charts the stored windows and ``/metrics``
observes each as it closes (``EngineContext.window_closed``): one definition for both.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime

from serialsync.engine.context import EngineContext
from serialsync.engine.visibility import for_sale
from serialsync.store import ListingRecord, SaleWindow, Store


def sold_elsewhere(listings: Iterable[ListingRecord], channel: str) -> bool:
    """True when one of a unit's ``listings`` on a channel other than ``channel`` may still
    sell it: live, or a failed change left a variant there (a withdrawal that did not go
    through)."""
    return any(listing.connector != channel and for_sale(listing) for listing in listings)


def for_sale_elsewhere(store: Store, channel: str, serial: str) -> bool:
    """True while a channel other than ``channel`` may still sell ``serial`` (see
    :func:`sold_elsewhere`)."""
    return sold_elsewhere(store.listings_of_unit(serial), channel)


def open_window(
    ctx: EngineContext, channel: str, order_id: str, serial: str, placed_at: datetime
) -> None:
    """An order just claimed ``serial``: start its window if another channel still sells it.
    Call it in the transaction that records the claim."""
    if for_sale_elsewhere(ctx.store, channel, serial):
        ctx.store.open_sale_window(
            channel, order_id, serial, placed_at=placed_at, claimed_at=ctx.now()
        )


def close_windows(ctx: EngineContext, serials: Collection[str], at: datetime) -> list[SaleWindow]:
    """Listings of ``serials`` were withdrawn at ``at``: close each of their open windows that
    no channel but the window's own sells any more, and tell ``ctx.window_closed`` of each.
    Call it in the transaction that records the withdrawals.

    A few statements for any number of serials (a burst withdraws thousands in one
    transaction, which every other channel's thread waits for): their open windows, then the
    listings of the units that have one, then the closing.
    """
    if not serials:
        return []
    windows = ctx.store.open_sale_windows_of(serials)
    if not windows:
        return []
    listings: dict[str, list[ListingRecord]] = {}
    for listing in ctx.store.listings_of_units({w.serial for w in windows}):
        listings.setdefault(listing.serial, []).append(listing)
    ending = [w for w in windows if not sold_elsewhere(listings.get(w.serial, ()), w.channel)]
    if not ending:
        return []
    ctx.store.close_sale_windows(ending, at)
    # Read open in this transaction, whose writer lock no other writer shares: each closes now.
    closed = [replace(window, closed_at=at) for window in ending]
    for window in closed:
        ctx.window_closed(window)
    return closed

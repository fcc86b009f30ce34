"""The oversell window of each unit an order claims: from the order's creation on its channel
to the moment the unit is unsellable on every other channel, as the store records both.

A window opens when an order claims a unit that another channel still sells (a unit listed
nowhere else has none), dated by the order's own ``created_at`` (the channel's clock: the
platform's delay before serialsync saw the order is in it). It closes when the withdrawal of
the last other listing is recorded. The dashboard charts the stored windows and ``/metrics``
observes each as it closes (``EngineContext.window_closed``): one definition for both.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from serialsync.engine.context import EngineContext
from serialsync.store import ListingState, SaleWindow, Store


def for_sale_elsewhere(store: Store, channel: str, serial: str) -> bool:
    """True while a channel other than ``channel`` may still sell ``serial``: its listing is
    live, or a failed change left a variant there (a withdrawal that did not go through)."""
    for listing in store.listings_of_unit(serial):
        if listing.connector == channel:
            continue
        if listing.state == ListingState.LIVE:
            return True
        if listing.state == ListingState.FAILED and listing.remote is not None:
            return True
    return False


def open_window(
    ctx: EngineContext, channel: str, order_id: str, serial: str, placed_at: datetime
) -> None:
    """An order just claimed ``serial``: start its window if another channel still sells it.
    Call it in the transaction that records the claim."""
    if for_sale_elsewhere(ctx.store, channel, serial):
        ctx.store.open_sale_window(
            channel, order_id, serial, placed_at=placed_at, claimed_at=ctx.now()
        )


def close_windows(ctx: EngineContext, serial: str, at: datetime) -> list[SaleWindow]:
    """A listing of ``serial`` was withdrawn at ``at``: close each of its open windows that no
    other channel sells any more, and tell ``ctx.window_closed`` of each. Call it in the
    transaction that records the withdrawal."""
    closed = []
    for window in ctx.store.open_sale_windows(serial):
        if for_sale_elsewhere(ctx.store, window.channel, serial):
            continue
        if ctx.store.close_sale_window(window.channel, window.order_id, serial, at):
            closed.append(replace(window, closed_at=at))
    for window in closed:
        ctx.window_closed(window)
    return closed

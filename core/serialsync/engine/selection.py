"""Which products a publish to one channel has work in, found by one store query over what
changed.

::

    per product marked as changed for the channel (Store.publish_work: its units joined by key
    to the channel's listings; a write that can change its work marks it, see schema 10)
      work in its units (a hash that differs or is unknown, a failure to retry, a withdrawal
        due, a unit an order holds), a sibling product, or a storefront visibility that is
        not as its units ask                        → planned whole (publish.py), stays marked
      nothing                                       → unmarked (Store.settle_work)
    every product not marked                        → its sellable units: unchanged, counted

A quiet pass therefore reads no product at all: each unit's content hash was recorded when
the POS's record of it was stored (:func:`~serialsync.engine.hashing.unit_hash`), each listing
keeps the hash it was published with, and a product stays marked until a look finds it without
work. The query's conditions mirror the branches of
:func:`~serialsync.engine.publish.plan_changes`, which still decides what is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from serialsync.engine.context import EngineContext
from serialsync.engine.hashing import UNPRICED
from serialsync.engine.siblings import PART_KEY
from serialsync.engine.visibility import HOOK as VISIBILITY_HOOK
from serialsync.store import SkuWork


@dataclass
class ChannelWork:
    """What one channel's publish has to do: the products to plan, and how many sellable
    units the others hold (all unchanged)."""

    publish: list[str] = field(default_factory=list)
    unchanged: int = 0


def select_work(ctx: EngineContext, channel: str) -> ChannelWork:
    """The products a publish to ``channel`` has work in (see the module's docstring); those
    found without work are unmarked."""
    settles = ctx.plugins.implements(channel, VISIBILITY_HOOK)
    # What the selection depends on besides the store: another value marks every product.
    basis = f"visibility={int(settles)};sold_out={ctx.sync.sold_out}"
    work = ChannelWork()
    idle: dict[str, int] = {}
    busy = 0
    for row in ctx.store.publish_work(
        channel, unpriced=UNPRICED, sibling_mark=f'"{PART_KEY}"', basis=basis
    ):
        if has_work(row, settles=settles, sold_out=ctx.sync.sold_out):
            work.publish.append(row.sku)
            busy += row.sellable
        else:
            idle[row.sku] = row.version
    if idle:
        ctx.store.settle_work(channel, idle)
    work.unchanged = ctx.store.sellable_units(unpriced=UNPRICED) - busy
    return work


def has_work(row: SkuWork, *, settles: bool, sold_out: str) -> bool:
    """Whether a product has work on a channel: in its units, a sibling product (planned on
    every pass), or (where the channel ``settles`` visibility) a visibility not as asked."""
    return bool(row.todo or row.siblings or (settles and visibility_unsettled(row, sold_out)))


def visibility_unsettled(row: SkuWork, sold_out: str) -> bool:
    """Whether a product without sibling products may be shown or hidden otherwise than its
    units ask (or its ids are not remembered yet): then it is settled
    (:func:`~serialsync.engine.visibility.settle_visibility` decides)."""
    if row.shown is None:
        return row.named  # a product on the channel whose visibility was never remembered
    wanted = int(row.for_sale or sold_out == "show")
    return row.shown != (wanted, wanted)

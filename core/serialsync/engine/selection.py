"""Which products a publish to one channel has work in, found by one store query.

::

    per product (Store.publish_work: the units joined by key to the channel's listings)
      work in its units (a hash that differs or is unknown, a failure to retry, a withdrawal
        due, a unit an order holds), a sibling product, or a storefront visibility that is
        not as its units ask                                  → planned whole (publish.py)
      nothing                                                 → its sellable units: unchanged

A quiet pass therefore reads and hashes no unit: each unit's content hash was recorded when
the POS's record of it was stored (:func:`~serialsync.engine.hashing.unit_hash`), and each
listing keeps the hash it was published with. The query's conditions mirror the branches of
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
    """The products a publish to ``channel`` has work in (see the module's docstring)."""
    settles = ctx.plugins.implements(channel, VISIBILITY_HOOK)
    work = ChannelWork()
    for row in ctx.store.publish_work(channel, unpriced=UNPRICED, sibling_mark=f'"{PART_KEY}"'):
        if row.todo or row.siblings or (settles and visibility_unsettled(row, ctx.sync.sold_out)):
            work.publish.append(row.sku)
        else:
            work.unchanged += row.sellable
    return work


def visibility_unsettled(row: SkuWork, sold_out: str) -> bool:
    """Whether a product without sibling products may be shown or hidden otherwise than its
    units ask (or its ids are not remembered yet): then it is settled
    (:func:`~serialsync.engine.visibility.settle_visibility` decides)."""
    if row.shown is None:
        return row.named  # a product on the channel whose visibility was never remembered
    wanted = int(row.for_sale or sold_out == "show")
    return row.shown != (wanted, wanted)

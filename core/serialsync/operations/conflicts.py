"""Conflicts: a paid order naming a unit that another order (or the POS) sold first.

The engine keeps such an order from the POS (outbox state ``conflict``, quarantine kind
``"conflict"``) and a person settles it. :func:`competing` shows the order beside the orders
that hold its units; :func:`settle_conflict` records the person's decision: the conflicting
order was refunded or cancelled by hand on its channel, so nothing is reported to the POS,
every unit the order held is let go (back to where it stood before the order, as the engine
does for a cancellation), and the quarantine entry is closed.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from serialsync.errors import SerialsyncError
from serialsync.lifecycle import MoveSource, reversal
from serialsync.store import Claim, OutboxRecord, OutboxState, Store

#: The quarantine kind of a conflict.
CONFLICT = "conflict"


class SettleRefusedError(SerialsyncError):
    """A settlement refused: no such conflict, or no reason given."""


@dataclass(frozen=True)
class Competitor:
    """What holds one unit of a conflicting order: the claim, and the order's outbox row when
    the holder is a channel order serialsync knows (``None``: the POS sold it)."""

    serial: str
    claim: Claim | None
    order: OutboxRecord | None


@dataclass(frozen=True)
class ConflictView:
    """A conflicting order and, per unit it names, what holds that unit."""

    order: OutboxRecord
    competitors: list[Competitor]


def competing(store: Store, limit: int = 1000) -> list[ConflictView]:
    """Every open conflict, oldest first, each beside the orders holding its units."""
    views = []
    for record in store.outbox(states=(OutboxState.CONFLICT,), limit=limit):
        found = []
        for line in record.sale.lines:
            if line.serial is None:
                continue  # a plain SKU line holds no unit
            claim = store.get_claim(line.serial)
            mine = claim is not None and (claim.channel, claim.order_id) == (
                record.channel,
                record.order_id,
            )
            other = (
                None if claim is None or mine else store.get_outbox(claim.channel, claim.order_id)
            )
            found.append(Competitor(serial=line.serial, claim=None if mine else claim, order=other))
        views.append(ConflictView(order=record, competitors=found))
    return views


def settle_conflict(
    store: Store,
    channel: str,
    order_id: str,
    *,
    reason: str,
    by: str,
    at: datetime | None = None,
) -> OutboxRecord:
    """Settle conflict ``channel``/``order_id``: the order was refunded or cancelled by hand on
    its channel, so it is never reported to the POS (state ``cancelled``, the person's name and
    reason in its note); the units it held are let go. Refused (:class:`SettleRefusedError`,
    nothing written) without a reason or when the order is not in conflict. Call it inside a
    transaction."""
    if not reason.strip():
        raise SettleRefusedError("say why: the reason is kept with the sale")
    record = store.get_outbox(channel, order_id)
    if record is None or record.state != OutboxState.CONFLICT:
        state = "unknown" if record is None else record.state.value
        raise SettleRefusedError(f"sale {channel}/{order_id} is {state}, not in conflict")
    when = at or datetime.now(UTC)
    ref = f"{channel}:order/{order_id}"
    for line in record.sale.lines:
        if line.serial is None:
            continue
        claim = store.get_claim(line.serial)
        if claim is None or (claim.channel, claim.order_id) != (channel, order_id):
            continue  # another order (or the POS) holds it: that sale stands
        store.release_claim(line.serial, channel, order_id)
        unit = store.get_unit(line.serial)
        ours = [m for m in store.history(line.serial) if m.source_ref == ref]
        if unit is None or not ours or ours[-1].to_status != unit.status:
            continue  # the POS moved it since: its word stands
        before = ours[0].from_status
        if before != unit.status:
            store.record_move(
                line.serial,
                unit.unit.sku,
                reversal(
                    unit.status,
                    before,
                    reason=f"conflict settled by {by}: {reason}",
                    source=MoveSource.OPERATOR,
                    source_ref=by,
                    at=when,
                ),
            )
    settled = replace(
        record,
        state=OutboxState.CANCELLED,
        next_attempt_at=None,
        note=f"conflict settled by {by}: {reason} (refunded on the channel; not reported)",
    )
    store.put_outbox(settled)
    store.release_quarantine(CONFLICT, f"{channel}:{order_id}")
    return settled

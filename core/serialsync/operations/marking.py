"""A person moves a unit through its lifecycle: ``serialsync serials mark SERIAL ACTION``.

A person is offered exactly the lifecycle table, as actions:

=============  ==================================
from           actions
=============  ==================================
in_stock       Mark as Sold, Reserve
reserved       Mark as Sold, Return to Stock
sold           Mark as Returned, Mark as Defective
returned       Return to Stock, Mark as Defective
defective      Return to Stock
=============  ==================================

Anything else is refused (:class:`MarkRefusedError`) with the actions the unit allows. Each act
is one move in the unit's history, made by the operator (who, why, when), following the table
strictly (:func:`serialsync.lifecycle.move`). The next pass acts on it: a unit not in stock is
withdrawn from every channel, a unit returned to stock is listed again.

A mark other than *Return to Stock* is a **hold**: the operator's status outranks what the POS
says until a person returns the unit to stock. While the POS disagrees, the unit keeps the
operator's status and the disagreement is shown (``serials show``, ``serialsync status``, and
the quarantine, kind ``"hold"``), never hidden or settled on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from serialsync.errors import SerialsyncError
from serialsync.lifecycle import ALLOWED_MOVES, MoveSource, UnitStatus, move
from serialsync.store import Hold, Store

#: The quarantine kind of an operator's hold the POS disagrees with.
HOLD_DISAGREEMENT = "hold"

#: The actions, by the word ``serials mark`` takes, and the status each moves the unit to.
ACTIONS: dict[str, UnitStatus] = {
    "sold": UnitStatus.SOLD,
    "reserved": UnitStatus.RESERVED,
    "returned": UnitStatus.RETURNED,
    "defective": UnitStatus.DEFECTIVE,
    "in-stock": UnitStatus.IN_STOCK,
}

#: What each move is called where a person sees it.
LABELS: dict[UnitStatus, str] = {
    UnitStatus.SOLD: "Mark as Sold",
    UnitStatus.RESERVED: "Reserve",
    UnitStatus.RETURNED: "Mark as Returned",
    UnitStatus.DEFECTIVE: "Mark as Defective",
    UnitStatus.IN_STOCK: "Return to Stock",
}

_WORDS = {status: word for word, status in ACTIONS.items()}


class MarkRefusedError(SerialsyncError):
    """A mark the lifecycle table does not allow, or of an unknown unit; the message says why
    and which actions the unit allows."""


@dataclass(frozen=True)
class Marked:
    """What :func:`mark` did."""

    sku: str
    serial: str
    from_status: UnitStatus
    to_status: UnitStatus
    held: bool


def actions_from(status: UnitStatus) -> list[str]:
    """The actions a person may take on a unit in ``status``, as ``"Label (word)"``, in the
    table's order."""
    return [
        f"{LABELS[to]} ({_WORDS[to]})" for to in ACTIONS.values() if to in ALLOWED_MOVES[status]
    ]


def mark(
    store: Store,
    serial: str,
    action: str,
    *,
    reason: str,
    by: str,
    at: datetime | None = None,
) -> Marked:
    """Move unit ``serial`` by ``action`` (a key of :data:`ACTIONS`), for ``reason``, by ``by``.

    Follows the lifecycle table strictly; refused (:class:`MarkRefusedError`, nothing written)
    when the unit is unknown, the action unknown, the reason empty, or the table does not allow
    it. *Return to Stock* lifts the operator's hold; any other action places one. An order that
    held the unit lets go of it when the unit is returned, defective or back in stock. Call it
    inside a transaction.
    """
    target = ACTIONS.get(action)
    if target is None:
        raise MarkRefusedError(f"no action {action!r}; the actions are: {', '.join(ACTIONS)}")
    if not reason.strip():
        raise MarkRefusedError("say why (--reason): it is kept in the unit's history")
    record = store.get_unit(serial)
    if record is None:
        raise MarkRefusedError(f"no unit with serial {serial!r}")
    sku = record.unit.sku
    if target not in ALLOWED_MOVES[record.status]:
        raise MarkRefusedError(
            f"{sku}|||{serial} is {record.status.value}: {LABELS[target]} is not allowed; "
            f"from {record.status.value} a person may: {', '.join(actions_from(record.status))}"
        )
    when = at or datetime.now(UTC)
    store.record_move(
        serial,
        sku,
        move(
            record.status,
            target,
            reason=f"{LABELS[target]}: {reason}",
            source=MoveSource.OPERATOR,
            source_ref=by,
            at=when,
        ),
    )
    key = f"{sku}|||{serial}"
    if target is UnitStatus.IN_STOCK:
        store.drop_hold(serial)
        store.release_quarantine(HOLD_DISAGREEMENT, key)
    else:
        store.put_hold(Hold(serial=serial, status=target, held_by=by, reason=reason, at=when))
        store.release_quarantine(HOLD_DISAGREEMENT, key)
    claim = store.get_claim(serial)
    if claim is not None and target in (
        UnitStatus.RETURNED,
        UnitStatus.DEFECTIVE,
        UnitStatus.IN_STOCK,
    ):
        store.release_claim(serial, claim.channel, claim.order_id)
    return Marked(
        sku=sku,
        serial=serial,
        from_status=record.status,
        to_status=target,
        held=target is not UnitStatus.IN_STOCK,
    )


def keep_hold(store: Store, *, pos: str, sku: str, serial: str, pos_status: UnitStatus) -> bool:
    """What the inventory pass does with a unit the POS reports in ``pos_status``: True when an
    operator's hold keeps the unit where it stands (the POS's status is not applied).

    While the POS disagrees, the disagreement is recorded on the hold and kept in the
    quarantine (kind ``"hold"``) with both sides; once the POS agrees, it is settled.
    """
    hold = store.get_hold(serial)
    if hold is None:
        return False
    key = f"{sku}|||{serial}"
    if pos_status == hold.status:
        if hold.pos_status is not None:
            store.set_hold_pos_status(serial, None)
        store.release_quarantine(HOLD_DISAGREEMENT, key)
        return True
    store.set_hold_pos_status(serial, pos_status)
    store.quarantine(
        kind=HOLD_DISAGREEMENT,
        key=key,
        connector=pos,
        reason=(
            f"{pos} says {key} is {pos_status.value}, but {hold.held_by} marked it "
            f"{hold.status.value} ({hold.reason}): the operator's hold stands until a person "
            f"returns the unit to stock (`serialsync serials mark {serial} in-stock --reason …`)"
        ),
    )
    return True

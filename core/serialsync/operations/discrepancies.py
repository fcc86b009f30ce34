"""Discrepancies: a unit sold online that the POS shows available again, and restocking it.

After a web sale was reported, the POS may show the serial available again: a return processed
at the counter, or an open web order the POS has not invoiced yet. serialsync cannot tell the
two apart, and relisting a unit whose sale stands would sell it twice, so it never relists on
its own: the unit stays withdrawn, and the discrepancy is kept (quarantine kind
``"discrepancy"``, shown by ``status`` and ``quarantine list``) until either the POS agrees
again (it shows the unit sold, defective, returned), a person checks and restocks it
(:func:`restock`), or the web sale ends (refunded, cancelled): then the POS's word the
discrepancy kept is applied (:func:`apply_kept_word`), since nothing stands against it any more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from serialsync.errors import SerialsyncError
from serialsync.lifecycle import MoveSource, UnitStatus, asserted_move, pos_reports
from serialsync.model import SerializedUnit
from serialsync.store import QuarantineRecord, Store

#: The quarantine kind of a discrepancy.
DISCREPANCY = "discrepancy"


class RestockRefusedError(SerialsyncError):
    """A restock that would put a unit on sale without grounds; the message says why."""


@dataclass(frozen=True)
class Restocked:
    """What :func:`restock` did: the unit, the status it left, and the web order let go."""

    sku: str
    serial: str
    from_status: UnitStatus
    released_order: str | None


def _key(sku: str, serial: str) -> str:
    return f"{sku}|||{serial}"


def record_discrepancy(
    store: Store,
    *,
    pos: str,
    unit: SerializedUnit,
    status: UnitStatus,
    channel: str,
    order_id: str,
    order_number: str,
) -> None:
    """Keep (or refresh) the discrepancy of ``unit``: ``status`` in serialsync through the
    reported web order ``channel``/``order_id``, available in the POS ``pos``."""
    reason = (
        f"sold online ({channel} order {order_number}, reported to {pos}), but {pos} shows "
        f"{unit.sku}|||{unit.serial} available again: a return at the counter, or the web "
        "order not invoiced yet. It stays off every channel while the web sale stands; check "
        f"the unit, then `serialsync serials restock {unit.serial}` to sell it again"
    )
    store.quarantine(
        kind=DISCREPANCY,
        key=_key(unit.sku, unit.serial),
        connector=pos,
        reason=reason,
        payload=unit.model_dump_json(),
    )


def settle_discrepancy(store: Store, sku: str, serial: str) -> bool:
    """Forget the discrepancy of a unit (the POS agrees again); True when there was one."""
    return store.release_quarantine(DISCREPANCY, _key(sku, serial))


def apply_kept_word(store: Store, sku: str, serial: str, *, why: str, at: datetime) -> bool:
    """The web sale that held a unit ended: apply what the POS showed of it, as its open
    discrepancy kept it, and settle the discrepancy. True when there was one.

    The POS's record that made the discrepancy was read while the sale stood, and the inventory
    cursor moved past it: nothing reads it again until the POS changes the unit, so it is
    applied here, as the inventory pass would have (one move asserted by the POS). ``why`` says
    how the sale ended. An operator's hold outranks the POS: a held unit is left as it stands.
    Call it inside a transaction, once the order no longer holds the unit.
    """
    key = _key(sku, serial)
    kept = next((q for q in discrepancies(store) if q.key == key), None)
    record = store.get_unit(serial)
    if kept is None or kept.payload is None or record is None or store.get_hold(serial):
        return False
    shown = SerializedUnit.model_validate_json(kept.payload)
    if record.status != shown.status:
        store.record_move(
            serial,
            sku,
            pos_reports(
                record.status, shown.status, source_ref=f"{kept.connector}:{sku}", at=at, why=why
            ),
        )
    return settle_discrepancy(store, sku, serial)


def discrepancies(store: Store) -> list[QuarantineRecord]:
    """Every open discrepancy, oldest first."""
    return store.quarantined(kind=DISCREPANCY)


def restock(
    store: Store, serial: str, *, who: str = "an operator", at: datetime | None = None
) -> Restocked:
    """Put a unit with an open discrepancy back on sale, after a person checked it.

    The unit moves to ``in_stock`` in one move, asserted by the operator on the POS's word
    (the POS shows it available), the web order lets go of it, and the discrepancy is settled;
    the next pass lists it again on every channel. Refused (:class:`RestockRefusedError`) when the
    unit is unknown, has no open discrepancy (the POS never showed it available after its web
    sale), or is deleted in the POS. Call it inside a transaction.
    """
    record = store.get_unit(serial)
    if record is None:
        raise RestockRefusedError(f"no unit with serial {serial!r}")
    sku = record.unit.sku
    open_ones = {q.key for q in discrepancies(store)}
    if _key(sku, serial) not in open_ones:
        raise RestockRefusedError(
            f"{sku}|||{serial} is {record.status.value} and has no discrepancy: the POS has not "
            "shown it available since its web sale, so there is nothing to restock"
        )
    if record.deleted:
        raise RestockRefusedError(f"{sku}|||{serial} is deleted in the POS; it cannot be sold")
    claim = store.get_claim(serial)
    released = None
    if claim is not None:
        store.release_claim(serial, claim.channel, claim.order_id)
        released = f"{claim.channel}:{claim.order_id}"
    if record.status != UnitStatus.IN_STOCK:
        store.record_move(
            serial,
            sku,
            asserted_move(
                record.status,
                UnitStatus.IN_STOCK,
                reason=(
                    f"restocked by {who}: the POS shows it available again after web sale "
                    f"{released or 'that was reported'}"
                ),
                source=MoveSource.OPERATOR,
                source_ref=who,
                at=at or datetime.now(UTC),
            ),
        )
    settle_discrepancy(store, sku, serial)
    return Restocked(sku=sku, serial=serial, from_status=record.status, released_order=released)

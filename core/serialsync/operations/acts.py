"""What a person does to the state, each act recorded with who did it and why.

Every face of serialsync that lets a person act (the panel, and the CLI where it asks who acts)
calls these: each performs one operation (:mod:`~serialsync.operations.marking`,
:mod:`~serialsync.operations.conflicts`, :mod:`~serialsync.operations.discrepancies`, the host's
outbox and quarantine calls) and appends it to the operator log (``store.operator_actions``),
in the act's own transaction where it has one. A refused act raises :class:`ActRefusedError`
with the reason and records nothing.

They work beside a running ``serialsync run``: the store takes them as it takes the runner's
writes, one transaction at a time (SQLite's write lock, PostgreSQL's writer lock), and every
rule they depend on is read again inside that transaction.
"""

from __future__ import annotations

from serialsync.errors import SerialsyncError
from serialsync.host import Host
from serialsync.lifecycle import UnitStatus
from serialsync.operations.conflicts import SettleRefusedError, settle_conflict
from serialsync.operations.discrepancies import Restocked, RestockRefusedError, restock
from serialsync.operations.marking import LABELS, Marked, MarkRefusedError, mark
from serialsync.store import OutboxState, Store


class ActRefusedError(SerialsyncError):
    """An act refused (not allowed from where the record stands, unknown, no reason); the
    message says why. Nothing was written."""


def _need_reason(reason: str) -> str:
    if not reason.strip():
        raise ActRefusedError("say why: the reason is kept with the record")
    return reason.strip()


def _record_move(store: Store, done: Marked | Restocked, action: str, reason: str, by: str) -> str:
    """Record a move of one unit in the operator log; returns the outcome recorded."""
    to = done.to_status if isinstance(done, Marked) else UnitStatus.IN_STOCK
    outcome = f"{done.from_status.value} -> {to.value}"
    target = f"{done.sku}|||{done.serial}"
    store.record_action(who=by, action=action, target=target, reason=reason, outcome=outcome)
    return outcome


def record_mark(store: Store, done: Marked, *, reason: str, by: str) -> str:
    """Record a mark :func:`~serialsync.operations.marking.mark` made in the operator log (in
    its transaction); returns the outcome recorded."""
    return _record_move(store, done, LABELS[done.to_status], reason, by)


def mark_unit(host: Host, serial: str, action: str, *, reason: str, by: str) -> str:
    """Move a unit as the lifecycle table allows (``action`` a key of
    :data:`~serialsync.operations.marking.ACTIONS`); returns what happened."""
    store = host.store
    try:
        with store.transaction():
            done = mark(store, serial, action, reason=_need_reason(reason), by=by)
            return record_mark(store, done, reason=reason, by=by)
    except MarkRefusedError as exc:
        raise ActRefusedError(str(exc)) from None


def retry_sale(host: Host, channel: str, order_id: str, *, reason: str, by: str) -> str:
    """Put a failed (or backing-off) sale back, to be reported in the next pass."""
    store = host.store
    with store.transaction():
        why = _need_reason(reason)
        if not host.retry_sale(channel, order_id):
            raise ActRefusedError(_why_no_retry(store, channel, order_id))
        outcome = "will be reported in the next pass"
        store.record_action(
            who=by, action="Retry sale", target=f"{channel}:{order_id}", reason=why, outcome=outcome
        )
    return outcome


def _why_no_retry(store: Store, channel: str, order_id: str) -> str:
    """Why the sale ``channel``/``order_id`` cannot be retried, in a person's words."""
    record = store.get_outbox(channel, order_id)
    if record is None:
        return f"no failed or pending sale {channel}/{order_id} to retry"
    if record.state == OutboxState.CANCELLED:
        # A retry would report to the POS a sale the shop cancelled or refunded.
        why = f" ({record.note})" if record.note else ""
        return (
            f"sale {channel}/{order_id} is cancelled{why}: there is nothing to report, "
            "so it cannot be retried"
        )
    return f"no failed or pending sale {channel}/{order_id} to retry: it is {record.state.value}"


def settle(host: Host, channel: str, order_id: str, *, reason: str, by: str) -> str:
    """Settle a conflict: the order was refunded on its channel (see
    :func:`~serialsync.operations.conflicts.settle_conflict`)."""
    store = host.store
    try:
        with store.transaction():
            settle_conflict(store, channel, order_id, reason=_need_reason(reason), by=by)
            outcome = "cancelled: refunded on the channel, never reported; its units let go"
            store.record_action(
                who=by,
                action="Settle conflict",
                target=f"{channel}:{order_id}",
                reason=reason,
                outcome=outcome,
            )
    except SettleRefusedError as exc:
        raise ActRefusedError(str(exc)) from None
    return outcome


def restock_unit(host: Host, serial: str, *, reason: str, by: str) -> str:
    """Put a unit with a discrepancy back on sale (see
    :func:`~serialsync.operations.discrepancies.restock`)."""
    store = host.store
    try:
        with store.transaction():
            done = restock(store, serial, who=f"{by} ({_need_reason(reason)})")
            return record_restock(store, done, reason=reason, by=by)
    except RestockRefusedError as exc:
        raise ActRefusedError(str(exc)) from None


def record_restock(store: Store, done: Restocked, *, reason: str, by: str) -> str:
    """Record a restock :func:`~serialsync.operations.discrepancies.restock` made in the
    operator log (in its transaction); returns the outcome recorded."""
    return _record_move(store, done, "Restock", reason, by)


def retry_quarantined(host: Host, record_id: int, *, reason: str, by: str) -> str:
    """Process a quarantined order again (read again from its channel where the plugin can);
    returns ``"processed"`` or why it is still there. Recorded either way."""
    why = _need_reason(reason)
    record = host.store.get_quarantined(record_id)
    if record is None:
        raise ActRefusedError(f"no quarantined record {record_id}")
    outcome = host.retry_quarantined(record_id)
    with host.store.transaction():
        host.store.record_action(
            who=by,
            action="Retry quarantined",
            target=f"{record.kind}:{record.key}",
            reason=why,
            outcome=outcome,
        )
    return outcome


def drop_quarantined(host: Host, record_id: int, *, reason: str, by: str) -> str:
    """Forget a quarantined record."""
    store = host.store
    with store.transaction():
        why = _need_reason(reason)
        record = store.get_quarantined(record_id)
        if record is None or not store.drop_quarantined(record_id):
            raise ActRefusedError(f"no quarantined record {record_id}")
        outcome = "dropped"
        store.record_action(
            who=by,
            action="Drop quarantined",
            target=f"{record.kind}:{record.key}",
            reason=why,
            outcome=outcome,
        )
    return outcome

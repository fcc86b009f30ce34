"""The order pass: channel orders → units reserved or sold → withdrawn everywhere → the POS.

::

    fetch_orders (each channel, from its cursor minus an overlap window, page by page)
      → de-duplicate by order id (and last update)
      → parse each line's SKU; quarantine what cannot be processed
      → reserve (unpaid) or sell (paid) each unit, write the outbox row   (one transaction)
      → save the cursor                               (after every order it covers is stored)
      → withdraw every reserved or sold unit from every channel   (batched: see withdraw.py;
        channels read side by side: each channel's units as soon as its read is done, what
        reaches a channel while it withdraws going in its next withdrawal: see handover.py)
      → report pending sales to the POS, each marked reported with the POS's receipt

The outbox row is written in the same transaction as the unit moves, and the cursor only after,
so a crash at any point loses no sale. A sale is marked reported only after the POS's receipt,
and ``report_sale`` is idempotent, so a crash between the two repeats nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial

from serialsync.connector import Role
from serialsync.diagnosis import describe
from serialsync.engine.context import EngineContext
from serialsync.engine.handover import ChannelWithdrawals
from serialsync.engine.order_lines import OrderLines, SerializedLine, read_lines
from serialsync.engine.order_payloads import order_payload
from serialsync.engine.paging import pages
from serialsync.engine.publish import ORDERS_STREAM, for_each_channel
from serialsync.engine.summary import PassSummary
from serialsync.engine.windows import open_window
from serialsync.engine.withdraw import withdraw_all
from serialsync.errors import (
    AuthenticationError,
    PermanentRemoteError,
    SaleLinesRefusedError,
    StoreError,
)
from serialsync.lifecycle import MoveSource, UnitStatus, move, pos_reports, reversal
from serialsync.model import (
    FinancialStatus,
    Order,
    OrderLine,
    Sale,
    SaleLine,
    SaleReceipt,
    UnreadableRecord,
)
from serialsync.operations.discrepancies import apply_kept_word
from serialsync.redaction import redact_personal_data
from serialsync.store import Claim, ListingState, OutboxRecord, OutboxState, UnitRecord
from serialsync.urgency import urgent

_PAID = {FinancialStatus.PAID, FinancialStatus.PARTIALLY_REFUNDED}
_ENDED = {FinancialStatus.CANCELLED, FinancialStatus.REFUNDED}


def order_pass(ctx: EngineContext, summary: PassSummary) -> None:
    """Read every channel's orders, withdraw what sold, and report sales to the POS.

    When the channels are read side by side, what one channel's orders claimed is withdrawn
    from every channel as soon as that channel's read is done, while the others still read:
    one slow read (a channel waiting for its rate limit) delays only its own orders' units.
    Read one after another (``sync.workers`` 1, or one channel), the pass withdraws once after
    the last read, in one batch across channels.

    Reading and withdrawing are urgent work (:func:`~serialsync.urgent`): a publish under way
    yields its channels' budget to them. Reporting is not: no shopper waits for it."""
    with urgent():
        if side_by_side(ctx):
            _read_and_withdraw_each(ctx, summary)
            # What no channel's own step took: a withdrawal that failed in an earlier pass
            # (withdrawals only: the touched products' other changes went with those steps).
            withdraw_all(ctx, summary)
        else:
            touched: set[str] = set()
            for_each_channel(ctx, lambda c: _read_channel(ctx, summary, c, touched), name="orders")
            # Withdraw first: overselling a one-of-a-kind unit costs more than a late report.
            withdraw_all(ctx, summary, touched)
    report_sales(ctx, summary)


def side_by_side(ctx: EngineContext) -> bool:
    """Whether :func:`~serialsync.engine.publish.for_each_channel` runs the channels in
    threads of their own (more than one channel, and more than one worker)."""
    return ctx.sync.workers > 1 and len(ctx.plugins.connectors(Role.CHANNEL)) > 1


def _read_and_withdraw_each(ctx: EngineContext, summary: PassSummary) -> None:
    """Read every channel side by side; hand each channel's claims to withdrawal at once.

    The withdrawals run in threads of their own (:class:`~serialsync.engine.handover.
    ChannelWithdrawals`), so a read's thread is free for the next channel's read as soon as it
    has handed its claims over; on each channel, what is handed over while a withdrawal is under
    way goes together in its next one. Each withdrawal runs under the listing locks, so it never
    crosses a publish (or another withdrawal) on a product: the one that finds a product held
    asks its holder to plan it again (:meth:`~serialsync.engine.context.ListingLocks.
    hold_or_ask`). A unit's claim is committed before its SKU is handed over, so what a
    withdrawal plans includes it.
    """
    channels = [h.name for h in ctx.plugins.connectors(Role.CHANNEL)]
    with ChannelWithdrawals(ctx, summary, channels) as withdrawals:

        def read(channel: str) -> None:
            mine: set[str] = set()
            _read_channel(ctx, summary, channel, mine)
            withdrawals.hand_over(mine)

        for_each_channel(ctx, read, name="orders")


def read_unread_channels(ctx: EngineContext, summary: PassSummary) -> None:
    """Read the orders of every channel never read yet (the first pass of a new store).

    Nothing is published to a channel before its orders were read once (see
    :func:`~serialsync.engine.publish.publish_all`): with a new store (a lost one started
    again), a unit sold online in the look-back window is in stock for the POS until the sale
    reaches it, and publishing first would put it back on sale.
    """
    unread = [
        h.name
        for h in ctx.plugins.connectors(Role.CHANNEL)
        if ctx.store.get_cursor(h.name, ORDERS_STREAM) is None
    ]
    if unread:
        touched: set[str] = set()
        for_each_channel(
            ctx,
            lambda c: _read_channel(ctx, summary, c, touched),
            name="orders",
            channels=unread,
        )


def _read_channel(
    ctx: EngineContext, summary: PassSummary, channel: str, touched: set[str]
) -> None:
    try:
        read_orders(ctx, summary, channel, touched)
    except StoreError:
        raise  # nothing more can be recorded: the pass stops (see Store)
    except Exception as exc:  # one channel down must not stop the others
        reason = f"{type(exc).__name__}: {exc}"
        ctx.log(connector=channel, operation="fetch_orders").error(
            "orders.fetch_failed", error=reason
        )
        settings = ctx.plugins.connector(channel).settings
        summary.counts(channel).errors.append(describe(exc, connector=channel, settings=settings))


def read_orders(
    ctx: EngineContext, summary: PassSummary, channel: str, touched: set[str] | None = None
) -> None:
    """Read one channel's orders from its cursor (minus the overlap) and process each.

    A channel read for the first time (a new store, or a lost one started again) is read
    ``order_lookback`` back, and its cursor is saved even when no order was found: the
    cursor is how :func:`read_unread_channels` knows the channel has been read.

    :param touched: collects the SKUs of the units the orders moved.
    """
    saved = ctx.store.get_cursor(channel, ORDERS_STREAM)
    cursor = datetime.fromisoformat(saved) if saved else None
    since = cursor - ctx.sync.order_overlap if cursor else ctx.now() - ctx.sync.order_lookback
    high_water = cursor or since
    fetch = partial(ctx.plugins.fetch_orders, channel, since)
    for page in pages(fetch, what=f"{channel}: fetch_orders"):
        for record in page.unreadable:
            # One order the plugin could not map must not hold the channel's stream: keep it
            # durably for a person (`quarantine retry` re-reads it) and read on past it.
            with ctx.store.transaction():
                quarantine_unreadable_order(ctx, summary, channel, record)
            ctx.checkpoint("orders.order_committed")
            if record.updated_at is not None and (
                high_water is None or record.updated_at > high_water
            ):
                high_water = record.updated_at
        for order in page.orders:
            with ctx.store.transaction():
                process_order(ctx, summary, channel, order, touched)
            ctx.checkpoint("orders.order_committed")
            ctx.progress("fetch_orders", channel, summary.counts(channel).orders, None)
            if high_water is None or order.updated_at > high_water:
                high_water = order.updated_at
    if high_water is not None and high_water != cursor:
        ctx.store.advance_cursor(channel, ORDERS_STREAM, high_water)
        ctx.checkpoint("orders.cursor_saved")


def quarantine_unreadable_order(
    ctx: EngineContext, summary: PassSummary, channel: str, record: UnreadableRecord
) -> None:
    """Quarantine an order the channel's plugin could not map. Call it inside a transaction.

    The key is the one :func:`process_order` uses (``"<channel>:<order id>"``), so the record
    is released as soon as the order reads fine. The raw payload is stored with the customer's
    personal data masked.
    """
    ctx.store.quarantine(
        kind="order",
        key=f"{channel}:{record.key}",
        connector=channel,
        reason=f"unreadable order: {record.reason}",
        payload=redact_personal_data(record.payload) if record.payload else None,
    )
    summary.counts(channel).quarantined += 1
    ctx.log(connector=channel, operation="order", order_id=record.key).warning(
        "orders.unreadable", reason=record.reason
    )


def process_order(
    ctx: EngineContext,
    summary: PassSummary,
    channel: str,
    order: Order,
    touched: set[str] | None = None,
) -> None:
    """Apply one order to the units and the outbox. Call it inside a transaction.

    :param touched: collects the SKUs of the order's units (their listings may need a change).
    """
    counts = summary.counts(channel)
    log = ctx.log(connector=channel, operation="order", order_id=order.order_id)
    existing = ctx.store.get_outbox(channel, order.order_id)
    if (
        existing is not None
        and existing.order_updated_at == order.updated_at
        and existing.financial_status == order.status.value
    ):
        return  # seen already: the overlap window reads some orders twice
    key = f"{channel}:{order.order_id}"
    lines = read_lines(ctx.store, order)
    if lines.problems and not lines.units:
        # Nothing in it can be processed yet (an unknown serial may be in the POS tomorrow):
        # the whole order waits, and `quarantine retry` processes it once the cause is fixed.
        reason = "; ".join(lines.problems)
        ctx.store.quarantine(
            kind="order",
            key=key,
            connector=channel,
            reason=reason,
            payload=order_payload(order),
        )
        counts.quarantined += 1
        log.warning("orders.quarantined", order_number=order.order_number, reason=reason)
        return
    ctx.store.release_quarantine("order", key)
    if not lines.units and (ctx.sync.report_orders == "serialized" or not lines.plain):
        return  # no unit of ours in it; the POS hears only of orders it asked for
    counts.orders += 1
    if touched is not None:
        touched.update(line.unit.unit.sku for line in lines.units)
    transition = _OrderTransition(ctx, summary, channel, order, lines.units, existing)
    state, note = transition.apply()
    sold = [u for u in lines.reported_units if u.line.line_id not in transition.dropped]
    sale = _build_sale(channel, order, sold, lines.plain)
    if lines.units and not lines.reported_units and state == OutboxState.PENDING:
        # Every unit it names is held only to protect it: a person decides what was sold.
        state, note = transition.hold_for_a_person("; ".join(lines.problems))
    elif state in (OutboxState.CANCELLED, OutboxState.CONFLICT) or not (
        lines.problems or lines.excess
    ):
        ctx.store.release_quarantine("order_line", key)
    else:
        _quarantine_lines(ctx, summary, channel, order, lines)
    record = OutboxRecord(
        channel=channel,
        order_id=order.order_id,
        order_number=order.order_number,
        state=state,
        financial_status=order.status.value,
        order_updated_at=order.updated_at,
        # What the POS was sent stays on record (a later read would bring back the plain
        # lines it refused, as if they had been reported).
        sale_json=(
            existing.sale_json
            if existing is not None and existing.state == OutboxState.REPORTED
            else sale.model_dump_json()
        ),
        attempts=existing.attempts if existing else 0,
        last_error=existing.last_error if existing else None,
        next_attempt_at=existing.next_attempt_at if existing else None,
        receipt=existing.receipt if existing else None,
        note=with_note(existing.note if existing else None, *lines.left_out, note),
        reported_at=existing.reported_at if existing else None,
    )
    ctx.store.put_outbox(record)


def with_note(note: str | None, *parts: str | None) -> str | None:
    """``note`` with each part added once: a sale's note tells its whole story, no repeats."""
    for part in parts:
        if part and part not in (note or ""):
            note = f"{note}; {part}" if note else part
    return note


def _quarantine_lines(
    ctx: EngineContext, summary: PassSummary, channel: str, order: Order, lines: OrderLines
) -> None:
    """Set aside the lines of a processed order that a person must look at."""
    counts = summary.counts(channel)
    reason = f"order {order.order_number} ({channel}:{order.order_id}): " + "; ".join(
        lines.problems + lines.excess
    )
    ctx.store.quarantine(
        kind="order_line",
        key=f"{channel}:{order.order_id}",
        connector=channel,
        reason=reason,
        payload=order_payload(order),
    )
    counts.quarantined += bool(lines.problems)
    counts.conflicts += bool(lines.excess)
    ctx.log(connector=channel, operation="order", order_id=order.order_id).warning(
        "orders.lines_quarantined", order_number=order.order_number, reason=reason
    )


def _build_sale(
    channel: str,
    order: Order,
    serialized: list[SerializedLine],
    plain: list[tuple[OrderLine, str]],
) -> Sale:
    lines = [
        SaleLine(
            line_id=s.line.line_id,
            sku=s.unit.unit.sku,
            serial=s.unit.unit.serial,
            quantity=1,
            price=s.line.price,
            title=s.line.title,
        )
        for s in serialized
    ] + [
        SaleLine(
            line_id=line.line_id,
            sku=sku,
            serial=None,
            quantity=line.quantity,
            price=line.price,
            title=line.title,
        )
        for line, sku in plain
    ]
    lines.sort(key=lambda sale_line: sale_line.line_id)
    return Sale(
        idempotency_key=f"{channel}:{order.order_id}",
        channel=channel,
        order_id=order.order_id,
        order_number=order.order_number,
        status=order.status,
        lines=tuple(lines),
        currency=order.currency,
        total=order.total,
        customer_name=order.customer_name,
        customer_email=order.customer_email,
        tax=order.tax,
        shipping=order.shipping,
        gateway=order.gateway,
        placed_at=order.created_at,
    )


def _refunded_whole(line: SerializedLine) -> bool:
    """Whether the shop refunded all of ``line`` (a channel that does not say: never)."""
    return line.line.quantity_refunded >= line.line.quantity


class _OrderTransition:
    """How one order's new status moves its units and its outbox row."""

    def __init__(
        self,
        ctx: EngineContext,
        summary: PassSummary,
        channel: str,
        order: Order,
        serialized: list[SerializedLine],
        existing: OutboxRecord | None,
    ) -> None:
        self.ctx = ctx
        self.summary = summary
        self.channel = channel
        self.order = order
        self.serialized = serialized
        self.existing = existing
        self.ref = f"{channel}:order/{order.order_id}"
        #: Lines left out of the sale: refunded whole after the POS refused it.
        self.dropped: set[str] = set()
        self.log = ctx.log(connector=channel, operation="order", order_id=order.order_id)

    def apply(self) -> tuple[OutboxState, str | None]:
        status = self.order.status
        state = self.existing.state if self.existing else None
        if state in (None, OutboxState.CANCELLED):
            if status == FinancialStatus.PENDING:
                return self._claim(UnitStatus.RESERVED, OutboxState.WAITING)
            if status in _PAID:
                return self._claim(UnitStatus.SOLD, OutboxState.PENDING)
            note = "cancelled before it was reported: nothing to report"
            if state is None:
                self._publish_here_again()
            return OutboxState.CANCELLED, note if state is None else None
        if state == OutboxState.WAITING:
            if status in _PAID:
                return self._claim(UnitStatus.SOLD, OutboxState.PENDING)
            if status in _ENDED:
                self._release("the unpaid order was cancelled")
                return OutboxState.CANCELLED, "cancelled before payment: reservation released"
            return OutboxState.WAITING, None
        if state == OutboxState.PENDING:
            if status in _ENDED:
                self._release("the order was cancelled before it was reported")
                return OutboxState.CANCELLED, "cancelled before it was reported: unit relisted"
            return OutboxState.PENDING, None
        if state == OutboxState.FAILED:
            return self._after_refusal()
        if state == OutboxState.REPORTED:
            if status in _ENDED or status == FinancialStatus.PARTIALLY_REFUNDED:
                # The POS has the sale; its staff settle the refund, and the unit then
                # follows what the POS says. The order no longer holds a unit it no longer
                # sells. A unit it held only to protect it never reached the POS: it is taken
                # back and relisted.
                self._release(
                    "the order was cancelled; the POS never heard of this unit",
                    [line for line in self.serialized if not line.reported],
                )
                for line in self.serialized:
                    self._let_go_after_report(line)
                self._publish_here_again()
                return state, f"{status.value} after it was reported: the POS decides the unit"
            return state, None
        # CONFLICT: a person must look; a cancellation settles it.
        if status in _ENDED:
            self._release("the conflicting order was cancelled")
            self._publish_here_again()
            # Settled: nothing is left for a person to look at.
            self.ctx.store.release_quarantine("conflict", f"{self.channel}:{self.order.order_id}")
            return OutboxState.CANCELLED, "conflict settled: the order was cancelled"
        return OutboxState.CONFLICT, None

    def _after_refusal(self) -> tuple[OutboxState, str | None]:
        """The POS refused the sale for good, and the shop moved the order on.

        The POS never had the sale, so its end is a cancellation before the report: the units
        go back (:meth:`_give_back`) and the sale is cancelled, so no retry reports a sale the
        shop refunded. A partial refund lets go of a unit whose own line was refunded whole
        (that line leaves the sale a retry would send); the rest stays failed for a person.
        """
        status = self.order.status
        if status == FinancialStatus.PARTIALLY_REFUNDED:
            whole = [line for line in self.serialized if _refunded_whole(line)]
            if not whole:
                return OutboxState.FAILED, None
            dropped = {line.line.line_id for line in whole}
            reported = {line.line.line_id for line in self.serialized if line.reported}
            if not reported or not reported <= dropped:
                self.dropped = dropped
                self._give_back("its line was refunded after the POS refused the sale", whole)
                self._publish_here_again(whole)
                named = ", ".join(line.line.line_id for line in whole)
                return OutboxState.FAILED, (
                    f"line(s) {named} refunded after the POS refused the sale: "
                    "their units let go, left out of the sale"
                )
            # Every unit it sold was refunded: what is left is no sale of ours to retry.
        elif status not in _ENDED:
            return OutboxState.FAILED, None
        self._give_back(f"the order was {status.value} after the POS refused its sale")
        self._publish_here_again()
        note = f"{status.value} after the POS refused it: nothing to report"
        return OutboxState.CANCELLED, note + ("; its units let go" if self.serialized else "")

    def _give_back(self, reason: str, lines: list[SerializedLine] | None = None) -> None:
        """Let go of units of a sale the POS never had: each goes back where it stood before
        the order, unless the POS's last word says otherwise (it sold the unit at the counter
        meanwhile: that word applies) or an operator holds it (left as it stands)."""
        store = self.ctx.store
        for current in self._let_go(lines):
            serial = current.unit.serial
            if store.get_hold(serial) is not None:
                continue  # an operator's hold outranks the shop and the POS
            said = current.unit.status
            if said == UnitStatus.IN_STOCK:
                self._take_back(current, reason)
            elif said != current.status:
                store.record_move(
                    serial,
                    current.unit.sku,
                    pos_reports(
                        current.status,
                        said,
                        source_ref=f"{store.product_pos(current.unit.sku)}:{current.unit.sku}",
                        at=self.ctx.now(),
                        why=reason,
                    ),
                )

    def _let_go_after_report(self, line: SerializedLine) -> None:
        """The reported order ended, or was partly refunded: let go of a unit it no longer sells.

        A partial refund that leaves this unit's line (shipping, another line) keeps the claim:
        the sale of the unit stands, and the POS's "available" (an AIM web order stays open,
        its serials available, until invoiced) must not put it back on sale.

        What the POS said of the unit while the sale stood was set aside, and the inventory
        cursor has moved past it. A discrepancy kept it (the POS changed the unit after the
        sale and showed it available): once the unit's sale no longer stands, that word
        applies, else the unit stays off sale until the POS changes it again.
        """
        store = self.ctx.store
        unit = line.unit.unit
        claim = store.get_claim(unit.serial)
        if claim is not None and (claim.channel, claim.order_id) != (
            self.channel,
            self.order.order_id,
        ):
            return  # another order holds it now
        ended = self.order.status in _ENDED or _refunded_whole(line)
        if line.reported and not ended:
            return
        store.release_claim(unit.serial, self.channel, self.order.order_id)
        if line.reported:
            why = f"{self.channel} order {self.order.order_id} was {self.order.status.value}"
            apply_kept_word(store, unit.sku, unit.serial, why=why, at=self.ctx.now())

    def _claim(self, to_status: UnitStatus, state: OutboxState) -> tuple[OutboxState, str | None]:
        store = self.ctx.store
        conflicts: list[str] = []
        for line in self.serialized:
            serial = line.unit.unit.serial
            current = store.get_unit(serial)
            assert current is not None  # looked up in this transaction
            claim = store.get_claim(serial)
            ours = claim is not None and (claim.channel, claim.order_id) == (
                self.channel,
                self.order.order_id,
            )
            if (
                not line.reported
                and not ours
                and (claim is not None or current.status != UnitStatus.IN_STOCK or current.deleted)
            ):
                continue  # held only to protect it, and something else holds it already
            if claim is not None and not ours and self._takes_over(claim, to_status):
                # Another order held it only to protect it (a bad line naming it): this one
                # sells it cleanly, and the POS must hear of it.
                store.release_claim(serial, claim.channel, claim.order_id)
                store.put_claim(serial, self.channel, self.order.order_id)
                self._open_window(serial)
                self._move(current, to_status, f"order {self.order.order_number} is paid")
                continue
            if claim is not None and not ours:
                conflicts.append(
                    f"serial {serial!r} was already sold by order {claim.order_id} on "
                    f"{claim.channel}"
                )
                continue
            if not ours and (current.status != UnitStatus.IN_STOCK or current.deleted):
                why = "deleted" if current.deleted else current.status.value
                conflicts.append(f"serial {serial!r} is {why} in the POS")
                continue
            if ours and self._sold_by_the_pos(current, to_status):
                # Reporting this order would sell the serial twice. The order no longer holds
                # the unit, which stays sold and withdrawn.
                store.release_claim(serial, self.channel, self.order.order_id)
                conflicts.append(
                    f"serial {serial!r} was sold in the POS while this order held it reserved"
                )
                continue
            if not ours:
                store.put_claim(serial, self.channel, self.order.order_id)
                self._open_window(serial)
            self._move(
                current, to_status, f"order {self.order.order_number} is {self.order.status.value}"
            )
        if conflicts:
            return self.hold_for_a_person("; ".join(conflicts))
        return state, None

    def _open_window(self, serial: str) -> None:
        """Time the unit's oversell window from the order's creation on its channel."""
        open_window(self.ctx, self.channel, self.order.order_id, serial, self.order.created_at)

    def _takes_over(self, claim: Claim, to_status: UnitStatus) -> bool:
        """True when ``claim`` only protects the unit and this paid order sells it cleanly.

        A claim protects when the unit is not in its order's sale: a bad line named it, and a
        person decides about that order anyway.
        """
        if to_status != UnitStatus.SOLD:
            return False
        other = self.ctx.store.get_outbox(claim.channel, claim.order_id)
        return other is not None and claim.serial not in {line.serial for line in other.sale.lines}

    def _sold_by_the_pos(self, current: UnitRecord, to_status: UnitStatus) -> bool:
        """True when a unit this order only reserved is sold already: the POS sold it."""
        return (
            to_status == UnitStatus.SOLD
            and current.status == UnitStatus.SOLD
            and self.existing is not None
            and self.existing.state == OutboxState.WAITING
        )

    def hold_for_a_person(self, why: str) -> tuple[OutboxState, str]:
        """Make the order a conflict: kept from the POS, in the quarantine for a person."""
        reason = f"order {self.order.order_number} ({self.channel}:{self.order.order_id}): {why}"
        self.summary.counts(self.channel).conflicts += 1
        self.ctx.store.quarantine(
            kind="conflict",
            key=f"{self.channel}:{self.order.order_id}",
            connector=self.channel,
            reason=reason,
            payload=order_payload(self.order),
        )
        self.log.error("orders.conflict", reason=reason)
        return OutboxState.CONFLICT, reason

    def _publish_here_again(self, lines: list[SerializedLine] | None = None) -> None:
        """Have this channel's listings of the order's units (or of ``lines``') published again.

        The order ended (cancelled, refunded) without serialsync changing what the units
        should be on this channel, but the channel itself may have moved their stock: an order
        that ended before any pass saw it took stock that many channels never give back
        (BigCommerce, Magento without "return to stock"), and one that ended after serialsync
        withdrew its units may be restocked (WooCommerce on cancellation, Shopify when asked)
        while the units stay sold. Forgetting what was published makes the next publish send
        each unit's true state again: listed if sellable, withdrawn if not.
        """
        store = self.ctx.store
        for line in self.serialized if lines is None else lines:
            unit = line.unit.unit
            listing = store.listings_of(self.channel, unit.sku).get(unit.serial)
            if listing is None:
                continue  # never listed here: the next publish sends it if it should be
            if listing.state == ListingState.LIVE:
                store.put_listing(replace(listing, content_hash=None))
            elif listing.state == ListingState.WITHDRAWN:
                store.put_listing(
                    replace(
                        listing,
                        state=ListingState.FAILED,
                        retryable=True,
                        last_error=(
                            f"order {self.order.order_number} was {self.order.status.value}: "
                            "the channel may have restocked the unit, so it is withdrawn again"
                        ),
                    )
                )

    def _release(self, reason: str, lines: list[SerializedLine] | None = None) -> None:
        for current in self._let_go(lines):
            self._take_back(current, reason)

    def _let_go(self, lines: list[SerializedLine] | None = None) -> Iterator[UnitRecord]:
        """Release this order's claim on each unit of ``lines`` (default: all of its units)
        it still holds, and yield each unit so released, as it stands."""
        store = self.ctx.store
        for line in self.serialized if lines is None else lines:
            serial = line.unit.unit.serial
            claim = store.get_claim(serial)
            if claim is None or (claim.channel, claim.order_id) != (
                self.channel,
                self.order.order_id,
            ):
                continue  # another order holds it (this one was the conflict), or a person
            store.release_claim(serial, self.channel, self.order.order_id)
            current = store.get_unit(serial)
            assert current is not None
            yield current

    def _take_back(self, record: UnitRecord, reason: str) -> None:
        """Undo this order's own claim on a unit: one move back to where the unit stood before
        it, marked as a reversal where the table has no such step (a sale cancelled before the
        POS heard of it was never a sale, so it is no return either). When the POS moved the
        unit since the claim (sold at the counter, flagged defective), its word stands."""
        ours = [m for m in self.ctx.store.history(record.unit.serial) if m.source_ref == self.ref]
        if not ours or ours[-1].to_status != record.status:
            return
        before = ours[0].from_status
        if before == record.status:
            return
        done = reversal(
            record.status,
            before,
            reason=reason,
            source=MoveSource.CHANNEL,
            source_ref=self.ref,
            at=self.ctx.now(),
        )
        self.ctx.store.record_move(record.unit.serial, record.unit.sku, done)

    def _move(self, record: UnitRecord, to_status: UnitStatus, reason: str) -> None:
        """Claim a unit through the lifecycle table: one allowed move, or none when it is
        there already (raises :class:`LifecycleError` for a move the table forbids)."""
        if record.status == to_status:
            return
        done = move(
            record.status,
            to_status,
            reason=reason,
            source=MoveSource.CHANNEL,
            source_ref=self.ref,
            at=self.ctx.now(),
        )
        self.ctx.store.record_move(record.unit.serial, record.unit.sku, done)


def report_sales(ctx: EngineContext, summary: PassSummary) -> None:
    """Report every due sale to its POS; mark each reported with the POS's receipt."""
    due = ctx.store.due_reports(ctx.now())
    for done, record in enumerate(due, 1):
        report_one(ctx, summary, record)
        ctx.progress("report_sale", record.channel, done, len(due))


def pos_for(ctx: EngineContext, sale: Sale) -> str | None:
    """The POS connector a sale goes to: the one that owns its first serialized product."""
    for line in sale.lines:
        if line.serial is not None:
            product_pos = ctx.store.product_pos(line.sku)
            if product_pos is not None:
                return product_pos
    connectors = ctx.plugins.connectors(Role.POS)
    return connectors[0].name if connectors else None


def report_one(ctx: EngineContext, summary: PassSummary, record: OutboxRecord) -> None:
    """Report one sale, with backoff on transient failures.

    Only while holding the right to report it (:meth:`~serialsync.store.Store.reporting`), and
    only if it is still pending and due when read again under it: another thread or worker on
    the same store may have reported it since ``record`` was read, or be reporting it now.
    """
    with ctx.store.reporting(record.channel, record.order_id) as mine:
        current = ctx.store.get_outbox(record.channel, record.order_id) if mine else None
        if current is None or not _due(ctx, current):
            return  # reported (or being reported) by another: once is the point
        _report_one(ctx, summary, current)


def _due(ctx: EngineContext, record: OutboxRecord) -> bool:
    return record.state == OutboxState.PENDING and (
        record.next_attempt_at is None or record.next_attempt_at <= ctx.now()
    )


def _report_one(ctx: EngineContext, summary: PassSummary, record: OutboxRecord) -> None:
    sale = record.sale
    counts = summary.counts(record.channel)
    log = ctx.log(connector=record.channel, operation="report_sale", order_id=record.order_id)
    pos = pos_for(ctx, sale)
    if pos is None:
        counts.errors.append("no POS connector to report sales to")
        return
    ctx.checkpoint("report.before_call")
    try:
        receipt = _report(ctx, pos, record)
    except PermanentRemoteError as exc:
        with ctx.store.transaction():
            _update(ctx, record, state=OutboxState.FAILED, error=f"{type(exc).__name__}: {exc}")
        counts.sales_failed += 1
        log.error("report.refused", pos=pos, error=str(exc))
        return
    except Exception as exc:  # transient, or a plugin bug: retry later with backoff
        attempts = record.attempts + 1
        delay = backoff_for(attempts, ctx.sync.report_retry_initial, ctx.sync.report_retry_max)
        with ctx.store.transaction():
            _update(
                ctx,
                record,
                state=OutboxState.PENDING,
                error=f"{type(exc).__name__}: {exc}",
                attempts=attempts,
                next_attempt_at=ctx.now() + delay,
            )
        counts.errors.append(f"report {record.order_number}: {type(exc).__name__}")
        log.warning("report.retry_later", pos=pos, error=str(exc), in_seconds=delay.total_seconds())
        return
    ctx.checkpoint("report.after_call")
    with ctx.store.transaction():
        _update(
            ctx,
            record,
            state=OutboxState.REPORTED,
            receipt=json.dumps(receipt.model_dump(mode="json")),
            reported_at=ctx.now(),
            attempts=record.attempts + 1,
        )
    counts.sales_reported += 1
    log.info(
        "report.done",
        pos=pos,
        pos_order_id=receipt.pos_order_id,
        already_recorded=receipt.already_recorded,
    )


def _report(ctx: EngineContext, pos: str, record: OutboxRecord) -> SaleReceipt:
    """Call ``report_sale``; when the POS refuses plain lines, report the units without them.

    A plain line (strings, a strap the POS does not carry) never fails the serialized part of
    a sale: the sale, minus the refused plain lines, is stored with a note before it is sent
    again, so a crash in between resends the smaller sale, never the refused one.
    """
    sale = record.sale
    while True:
        try:
            return ctx.plugins.report_sale(pos, sale)
        except PermanentRemoteError as exc:
            refused = refused_plain_lines(sale, exc)
            if not refused:
                raise
            # Each round leaves out at least one line and keeps at least one: it ends.
            sale = sale.model_copy(
                update={"lines": tuple(line for line in sale.lines if line not in refused)}
            )
            named = ", ".join(f"{line.line_id} ({line.sku})" for line in refused)
            note = (
                f"the POS refused the sale with plain line(s) {named} ({exc}): "
                "left out of the POS order"
            )
            with ctx.store.transaction():
                current = ctx.store.get_outbox(record.channel, record.order_id) or record
                ctx.store.put_outbox(
                    replace(
                        current,
                        sale_json=sale.model_dump_json(),
                        note=with_note(current.note, note),
                    )
                )
            ctx.log(
                connector=record.channel, operation="report_sale", order_id=record.order_id
            ).warning(
                "report.plain_lines_left_out", pos=pos, lines=[line.line_id for line in refused]
            )


def refused_plain_lines(sale: Sale, refusal: PermanentRemoteError) -> tuple[SaleLine, ...]:
    """The plain lines to leave out of ``sale`` after ``refusal``; empty to fail the sale.

    A :class:`~serialsync.errors.SaleLinesRefusedError` names the lines: they are left out when
    every one is a plain line. Any other refusal of a sale that has plain lines and units is
    answered by trying the units alone (a POS plugin that cannot say which line was refused
    still never fails the units for a strap). A refusal naming a unit fails the sale.
    """
    plain = tuple(line for line in sale.lines if line.serial is None)
    units = [line for line in sale.lines if line.serial is not None]
    if isinstance(refusal, SaleLinesRefusedError):
        named = set(refusal.line_ids)
        refused = tuple(line for line in sale.lines if line.line_id in named)
        if not refused or any(line.serial is not None for line in refused):
            return ()
        return refused if len(refused) < len(sale.lines) else ()
    if isinstance(refusal, AuthenticationError):
        return ()
    return plain if plain and units else ()


def _update(
    ctx: EngineContext,
    record: OutboxRecord,
    *,
    state: OutboxState,
    error: str | None = None,
    attempts: int | None = None,
    next_attempt_at: datetime | None = None,
    receipt: str | None = None,
    reported_at: datetime | None = None,
) -> None:
    # Re-read inside the transaction, so no field written since the row was read is lost.
    current = ctx.store.get_outbox(record.channel, record.order_id) or record
    ctx.store.put_outbox(
        OutboxRecord(
            channel=current.channel,
            order_id=current.order_id,
            order_number=current.order_number,
            state=state,
            financial_status=current.financial_status,
            order_updated_at=current.order_updated_at,
            sale_json=current.sale_json,
            attempts=attempts if attempts is not None else current.attempts,
            last_error=error,
            next_attempt_at=next_attempt_at,
            receipt=receipt or current.receipt,
            note=current.note,
            reported_at=reported_at or current.reported_at,
        )
    )


def backoff_for(attempts: int, initial: timedelta, ceiling: timedelta) -> timedelta:
    """The wait before report attempt ``attempts + 1``: doubling from ``initial``, capped."""
    wait: timedelta = initial * (2 ** max(0, attempts - 1))
    return min(ceiling, wait)

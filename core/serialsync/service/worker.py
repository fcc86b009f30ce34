"""Working the orders that webhooks name: fetched, run through the order path, withdrawn, reported.

A delivery is only a trigger. The receiver answers the platform at once and hands the order id
here; this worker (one thread, beside the passes) fetches the order through the channel's API
(``fetch_order``), applies it exactly as an order pass would (:func:`process_order`, one
transaction), withdraws its units from every channel and reports the sale to the POS, without
waiting for the next order pass. An order that cannot be read yet, or a fetch that fails, is
left to the next poll: the cursor of polling never moved for it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from enum import StrEnum

from serialsync.engine.orders import process_order, quarantine_unreadable_order, report_one
from serialsync.engine.summary import PassSummary
from serialsync.engine.withdraw import withdraw_all
from serialsync.errors import IntegrationIdError
from serialsync.host import Host
from serialsync.model import Order, UnreadableRecord
from serialsync.store import OutboxState


class OrderResult(StrEnum):
    """What came of one order a webhook named."""

    PROCESSED = "processed"  # fetched and applied (withdrawn and reported where due)
    QUARANTINED = (
        "quarantined"  # read, but the plugin could not map it: quarantined, as polling does
    )
    NOT_READABLE = "not_readable"  # the channel could not show it yet: the next poll will
    FETCH_FAILED = "fetch_failed"  # the channel did not answer: the next poll will
    FAILED = "failed"  # applying it failed; the next poll tries again


class OrderWorker:
    """One thread working the orders webhooks name, in arrival order, each once at a time.

    :param host: the host whose plugins, store and engine the order passes use.
    :param observe: ``observe(connector, result)`` after each order (metrics).
    """

    def __init__(self, host: Host, observe: Callable[[str, str], None] | None = None) -> None:
        self.host = host
        self._observe = observe
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._queued: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._idle = threading.Event()
        self._idle.set()

    def start(self) -> None:
        """Start the thread."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="webhook-orders", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the order under way, then stop (what is still queued is left to polling)."""
        if self._thread is not None:
            with self._lock:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        self._queued.discard(item)
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, connector: str, order_id: str) -> bool:
        """Queue one order; False when it is queued already (deliveries of one order coalesce)."""
        key = (connector, order_id)
        with self._lock:
            if key in self._queued:
                return False
            self._queued.add(key)
            self._idle.clear()
        self._queue.put(key)
        return True

    def wait_idle(self, timeout: float) -> bool:
        """Wait until nothing is queued or under way (tests, and a clean stop)."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            with self._lock:
                self._queued.discard(item)
            connector, order_id = item
            try:
                result = self.work(connector, order_id)
            except BaseException:  # the thread must outlive any one order
                result = OrderResult.FAILED
                self.host.engine.log(
                    connector=connector, operation="webhook_order", order_id=order_id
                ).exception("webhook.order_failed")
            if self._observe is not None:
                self._observe(connector, result.value)
            with self._lock:
                if self._queue.empty() and not self._queued:
                    self._idle.set()

    def work(self, connector: str, order_id: str) -> OrderResult:
        """Fetch one order, apply it as an order pass would, withdraw its units, report it."""
        engine = self.host.engine
        log = engine.log(connector=connector, operation="webhook_order", order_id=order_id)
        try:
            order = self.host.plugins.fetch_order(connector, order_id)
        except Exception as exc:
            log.warning("webhook.fetch_failed", error=f"{type(exc).__name__}: {exc}")
            return OrderResult.FETCH_FAILED
        if order is None:
            log.info("webhook.order_not_readable_yet")
            return OrderResult.NOT_READABLE
        summary = PassSummary(kind="webhook", started_at=engine.now())
        if isinstance(order, UnreadableRecord):
            with engine.store.transaction():
                quarantine_unreadable_order(engine, summary, connector, order)
            return OrderResult.QUARANTINED
        with engine.store.transaction():
            process_order(engine, summary, connector, order)
        # Withdraw first: overselling a one-of-a-kind unit costs more than a late report.
        skus = [s for s in _skus_of(order) if engine.store.get_product(s) is not None]
        # The order pass's own withdrawal step: batched, and under the listing locks, so an
        # inventory publish under way cannot list the unit again.
        withdraw_all(engine, summary, skus)
        record = engine.store.get_outbox(connector, order.order_id)
        if (
            record is not None
            and record.state == OutboxState.PENDING
            and (record.next_attempt_at is None or record.next_attempt_at <= engine.now())
        ):
            report_one(engine, summary, record)
        summary.finished_at = engine.now()
        log.info("webhook.order_done", **{k: summary.total(k) for k in _COUNTS})
        return OrderResult.PROCESSED


_COUNTS = ("orders", "withdrawn", "sales_reported", "conflicts", "quarantined")


def _skus_of(order: Order) -> list[str]:
    """The POS SKUs of the order's serialized lines."""
    wanted = set()
    for line in order.lines:
        try:
            parsed = line.parsed()
        except IntegrationIdError:
            continue  # quarantined by process_order with its reason
        if parsed.serial is not None:
            wanted.add(parsed.sku)
    return sorted(wanted)

"""Working the orders that webhooks name: fetched, run through the order path, withdrawn, reported.

A delivery is only a trigger. The receiver answers the platform at once and hands the order id
here; this worker (a few threads, beside the passes) fetches the order through the channel's API
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
from serialsync.urgency import urgent


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
    """A few threads working the orders webhooks name, in arrival order, each once at a time.

    Orders are worked side by side (``threads``): one slow order (a channel's withdrawal, a
    POS report backing off) does not hold the others. One order is never worked by two
    threads at once: a delivery for an order under way is worked again after it (the order may
    have changed: an update, a cancellation). Working two orders at once is safe: each is
    applied in one transaction (claims included), and a sale is reported only under the right
    to report it (:meth:`~serialsync.store.Store.reporting`).

    :param host: the host whose plugins, store and engine the order passes use.
    :param observe: ``observe(connector, result)`` after each order (metrics).
    :param threads: orders worked at once.
    """

    def __init__(
        self, host: Host, observe: Callable[[str, str], None] | None = None, *, threads: int = 4
    ) -> None:
        if threads < 1:
            raise ValueError("an order worker needs at least one thread")
        self.host = host
        self._observe = observe
        self._size = threads
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._queued: set[tuple[str, str]] = set()  # in the queue
        self._working: set[tuple[str, str]] = set()  # being worked
        self._again: set[tuple[str, str]] = set()  # delivered again while being worked
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Event()
        self._idle.set()

    def start(self) -> None:
        """Start the threads."""
        if not self._threads:
            self._threads = [
                threading.Thread(target=self._run, name=f"webhook-orders-{n}", daemon=True)
                for n in range(self._size)
            ]
            for thread in self._threads:
                thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the orders under way, then stop (what is still queued is left to polling)."""
        if not self._threads:
            return
        with self._lock:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    self._queued.discard(item)
            self._again.clear()
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._threads = []

    def submit(self, connector: str, order_id: str) -> bool:
        """Queue one order; False when it is queued already (deliveries of one order coalesce).

        An order under way is queued again once it is done."""
        key = (connector, order_id)
        with self._lock:
            if key in self._queued or key in self._again:
                return False
            self._idle.clear()
            if key in self._working:
                self._again.add(key)
                return True
            self._queued.add(key)
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
                self._working.add(item)
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
                self._working.discard(item)
                if item in self._again:
                    self._again.discard(item)
                    self._queued.add(item)
                    self._queue.put(item)
                elif not self._queued and not self._working and not self._again:
                    self._idle.set()

    def work(self, connector: str, order_id: str) -> OrderResult:
        """Fetch one order, apply it as an order pass would, withdraw its units, report it.

        Reading and withdrawing are urgent work (:func:`~serialsync.urgent`): their requests go
        before a publish's where a channel's pacing has to choose. The report is not: no
        shopper waits for it.
        """
        engine = self.host.engine
        log = engine.log(connector=connector, operation="webhook_order", order_id=order_id)
        summary = PassSummary(kind="webhook", started_at=engine.now())
        with urgent():
            try:
                order = self.host.plugins.fetch_order(connector, order_id)
            except Exception as exc:
                log.warning("webhook.fetch_failed", error=f"{type(exc).__name__}: {exc}")
                return OrderResult.FETCH_FAILED
            if order is None:
                log.info("webhook.order_not_readable_yet")
                return OrderResult.NOT_READABLE
            if isinstance(order, UnreadableRecord):
                with engine.store.transaction():
                    quarantine_unreadable_order(engine, summary, connector, order)
                return OrderResult.QUARANTINED
            with engine.store.transaction():
                process_order(engine, summary, connector, order)
            # Withdraw first: overselling a one-of-a-kind unit costs more than a late report.
            skus = [s for s in _skus_of(order) if engine.store.get_product(s) is not None]
            # The order pass's own withdrawal step: batched, and under the listing locks, so an
            # inventory publish under way cannot list the unit again. This order's products
            # only: other withdrawals due (one that failed before) are the order pass's.
            withdraw_all(engine, summary, skus, leftovers=False)
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

"""Delivering webhooks from a fake, as the platforms do: at least once, sometimes twice, retried.

A channel fake that keeps webhook subscriptions hands each signed delivery (URL, headers, raw
body) to a :class:`WebhookSender`. The sender posts it over real HTTP from a thread of its own
(the platform's request to the subscriber never runs under the fake's lock), retries a delivery
that got no 2xx answer with a growing pause, and now and then delivers a successful one a
second time, so the subscriber's de-duplication is always exercised.
"""

from __future__ import annotations

import queue
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import httpx


@dataclass(frozen=True)
class Delivery:
    """One webhook request to send: where, with which headers, and the raw body."""

    url: str
    headers: Mapping[str, str]
    body: bytes
    topic: str = ""


@dataclass
class DeliveryLog:
    """What became of one delivery: each attempt's status (``None``: no answer)."""

    delivery: Delivery
    statuses: list[int | None] = field(default_factory=list)
    on_done: Callable[[bool], None] | None = None
    """Told whether the delivery succeeded, once its last attempt is answered (a platform that
    counts failures per subscription, as WooCommerce does)."""

    @property
    def delivered(self) -> bool:
        """True once an attempt got an answer the platform counts as a success."""
        return any(self.succeeded(s) for s in self.statuses)

    @staticmethod
    def succeeded(status: int | None) -> bool:
        """2xx; WooCommerce also takes a 301 or 302 as delivered (its documented rule)."""
        return status is not None and (200 <= status < 300 or status in (301, 302))


class WebhookSender:
    """A background sender of webhook deliveries with the platforms' at-least-once habits.

    :param duplicate_rate: share of delivered requests sent once more (0 to 1).
    :param max_attempts: attempts per delivery before it is given up.
    :param backoff: the pause before the first retry, doubling after each.
    :param delays: the pause before each retry, in order (a platform's own schedule, time
        scaled); when given, it sets the attempts (one more than its length) and the pauses.
    :param seed: seeds the duplicate draw, so a run can be replayed.
    :param transport: an httpx transport (tests), else real HTTP.
    """

    def __init__(
        self,
        *,
        duplicate_rate: float = 0.2,
        max_attempts: int = 5,
        backoff: float = 0.2,
        delays: Sequence[float] | None = None,
        timeout: float = 5.0,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.duplicate_rate = duplicate_rate
        self.delays = (
            list(delays)
            if delays is not None
            else [backoff * 2**n for n in range(max(max_attempts - 1, 0))]
        )
        self.max_attempts = len(self.delays) + 1
        self._rng = random.Random(seed)
        self._client = httpx.Client(timeout=timeout, transport=transport)
        self._queue: queue.Queue[tuple[DeliveryLog, int] | None] = queue.Queue()
        self._busy = 0
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._thread: threading.Thread | None = None
        #: Every delivery sent, with the status of each attempt.
        self.log: list[DeliveryLog] = []

    def send(self, delivery: Delivery, on_done: Callable[[bool], None] | None = None) -> None:
        """Queue one delivery (it leaves at once, from the sender's thread).

        :param on_done: called with ``True`` or ``False`` once the delivery succeeded or was
            given up (from the sender's thread).
        """
        entry = DeliveryLog(delivery, on_done=on_done)
        with self._lock:
            self.log.append(entry)
            self._busy += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="fake-webhooks", daemon=True)
                self._thread.start()
        self._queue.put((entry, 1))

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until every queued delivery was sent or given up; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self) -> None:
        """Stop the thread (what is queued is dropped) and close the connection pool."""
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=5)
            self._thread = None
        self._client.close()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            entry, attempt = item
            status = self._post(entry.delivery)
            entry.statuses.append(status)
            ok = entry.succeeded(status)
            if not ok and attempt < self.max_attempts:
                # Retried later from a timer, so one failing subscriber holds up no other.
                timer = threading.Timer(
                    self.delays[attempt - 1], self._queue.put, ((entry, attempt + 1),)
                )
                timer.daemon = True
                timer.start()
                continue
            if ok and attempt == 1 and self._rng.random() < self.duplicate_rate:
                again = self._post(entry.delivery)
                entry.statuses.append(again)
            if entry.on_done is not None:
                entry.on_done(ok)
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    def _post(self, delivery: Delivery) -> int | None:
        try:
            response = self._client.post(
                delivery.url, content=delivery.body, headers=dict(delivery.headers)
            )
        except httpx.HTTPError:
            return None
        return response.status_code

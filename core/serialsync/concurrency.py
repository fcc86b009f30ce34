"""How many requests one connector keeps in flight: a limit that adapts to the host's answers.

Platforms without a rate limit of their own (Magento, WooCommerce) still serve only as many
requests at once as their host's workers allow, and answer more with 503 (or a CDN's 429). A
plugin that sends requests side by side gates them with :class:`AdaptiveLimit`. The limit
starts at the plugin's configured maximum and moves as TCP's congestion window does: it halves
on a 429 or 503 (down to one), shrinks by a tenth when answers take more than ``slow_factor``
times the quickest recent answer (the host is queueing; down to two, so that one long request
does not hold every other back), and grows back by one request per full window of good answers.
A free slot goes to an urgent request (:func:`~serialsync.urgency.is_urgent`: an order's read or
withdrawal) before any other waiting, so a withdrawal does not queue behind a publish's requests.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx

from serialsync.urgency import is_urgent

#: Statuses that say the host has more than it can serve right now.
BUSY_STATUSES = frozenset({429, 503})


class AdaptiveLimit:
    """A thread-safe gate of requests in flight, fed each answer through :meth:`observe`.

    It is given to the connector's :class:`~serialsync.HttpClient` as its rate limiter, so it
    sees every attempt (retries included) and holds a retry back while the limit is exceeded;
    callers hold a :meth:`slot` around each request.
    """

    def __init__(
        self,
        maximum: int,
        *,
        clock: Callable[[], float],
        slow_factor: float = 3.0,
        memory: int = 200,
    ) -> None:
        self.maximum = maximum
        self.limit = float(maximum)
        self.in_flight = 0
        #: How often the limit went down, by cause (for logs and benchmarks).
        self.cuts = {"busy": 0, "slow": 0}
        self._clock = clock
        self._slow_factor = slow_factor
        self._memory = memory
        self._quickest: float | None = None
        self._answers = 0
        self._ready = threading.Condition()
        self._started: dict[int, float] = {}
        #: Requests waiting for a slot now (for logs, benchmarks and tests).
        self.waiting = 0
        self._urgent_waiting = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Wait until fewer than the limit are in flight, and count this request in (an urgent
        request before any other that waits)."""
        with self._ready:
            self._wait_turn()
            self.in_flight += 1
            self._started[threading.get_ident()] = self._clock()
        try:
            yield
        finally:
            with self._ready:
                self.in_flight -= 1
                self._started.pop(threading.get_ident(), None)
                self._ready.notify_all()

    # -- the RateLimiter protocol of HttpClient ------------------------------------------------

    def wait_time(self) -> float:
        """Before each attempt: a request in a slot waits until it is within the limit again.

        A retry after a 503 must not go while the limit it caused is still exceeded; the
        waiting request is not counted in flight meanwhile, so the others can finish. Returns 0:
        the waiting is done here.
        """
        me = threading.get_ident()
        with self._ready:
            if me in self._started:
                self.in_flight -= 1
                self._wait_turn()
                self.in_flight += 1
                self._started[me] = self._clock()
        return 0.0

    def _wait_turn(self) -> None:
        """Under the condition: wait until a request may go in, urgent ones first."""
        urgent = is_urgent()
        self.waiting += 1
        self._urgent_waiting += urgent
        try:
            while self.in_flight >= int(self.limit) or (not urgent and self._urgent_waiting):
                self._ready.wait()
        finally:
            self.waiting -= 1
            self._urgent_waiting -= urgent
            if urgent and not self._urgent_waiting:
                self._ready.notify_all()  # the others may go again

    def observe(self, response: httpx.Response) -> None:
        """Adjust the limit from one answer: its status, and how long it took."""
        with self._ready:
            started = self._started.get(threading.get_ident())
            now = self._clock()
            if response.status_code in BUSY_STATUSES:
                self.limit = max(1.0, self.limit / 2)
                self.cuts["busy"] += 1
            elif started is not None:
                self._latency(now - started)
            # A retry of this request times from now, not from its first attempt.
            if started is not None:
                self._started[threading.get_ident()] = now
            self._ready.notify_all()

    def _latency(self, seconds: float) -> None:
        self._answers += 1
        if self._answers % self._memory == 0:
            self._quickest = None  # forget: the host's quickest may have changed
        if self._quickest is None or seconds < self._quickest:
            self._quickest = seconds
        if self._quickest > 0 and seconds > self._slow_factor * self._quickest:
            # Never below two for slowness alone: one request held long (a big save, a lock on
            # the host's side) must not queue every other flow of the connector behind it.
            self.limit = max(min(2.0, float(self.maximum)), self.limit * 0.9)
            self.cuts["slow"] += 1
        else:
            self.limit = min(float(self.maximum), self.limit + 1 / self.limit)

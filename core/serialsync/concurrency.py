"""How many requests one connector keeps in flight: a limit that adapts to the host's answers.

Platforms without a rate limit of their own (Magento, WooCommerce) still serve only as many
requests at once as their host's workers allow, and answer more with 503 (or a CDN's 429). A
plugin that sends requests side by side gates them with :class:`AdaptiveLimit`. The limit
starts at the plugin's configured maximum and moves as TCP's congestion window does, cutting
once per congestion event rather than once per answer:

* it halves on a 429 or 503 (down to one), unless the refused request was sent before the last
  such cut: requests sent together and refused together are one event (TCP reduces once per
  window), and the cut already answered for it;
* it shrinks by a tenth when answers *keep* taking more than ``slow_factor`` times the quickest
  recent answer: when the median of the last ``max(4, limit)`` answers to requests sent since
  the last cut is that slow (the host is queueing), and then not again until as many more have
  come back. One slow answer is noise (a pause of the host's or of this process), not a queue.
  Slowness alone never takes the limit below two, so that one long request does not hold
  every other back;
* it grows back by one request per full window of good answers.

A free slot goes to an urgent request (:func:`~serialsync.urgency.is_urgent`: an order's read or
withdrawal) before any other waiting, so a withdrawal does not queue behind a publish's requests.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque
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
        #: How often the limit was cut, by cause (at its floor too: for logs and benchmarks), and
        #: ``busy_same_event``: busy answers that did not cut it, their request having been sent
        #: before the last busy cut (the event that cut already answered for).
        self.cuts = {"busy": 0, "busy_same_event": 0, "slow": 0}
        self._clock = clock
        self._slow_factor = slow_factor
        self._memory = memory
        self._quickest: float | None = None
        self._answers = 0
        #: When the limit was last halved for a busy answer, and last cut for any cause.
        self._busy_cut: float | None = None
        self._cut: float | None = None
        #: Latencies of the answers to requests sent since the last cut, the newest last (the
        #: trend that a slowness cut looks at; the window never exceeds the maximum limit).
        self._recent: deque[float] = deque(maxlen=max(4, maximum))
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
                self._busy(started, now)
            elif started is not None:
                self._latency(
                    now - started, now, after_cut=self._cut is None or started >= self._cut
                )
            # A retry of this request times from now, not from its first attempt.
            if started is not None:
                self._started[threading.get_ident()] = now
            self._ready.notify_all()

    def _busy(self, started: float | None, now: float) -> None:
        # Sent before the last busy cut: refused for the load that cut answered for, so cutting
        # again would count one event many times (a wave of 8 refusals would take 16 to 1). A
        # request of unknown start (sent outside a slot) cannot be placed, and cuts.
        if started is not None and self._busy_cut is not None and started < self._busy_cut:
            self.cuts["busy_same_event"] += 1
            return
        self.limit = max(1.0, self.limit / 2)
        self.cuts["busy"] += 1
        self._busy_cut = now
        self._cut_at(now)

    def _cut_at(self, now: float) -> None:
        """Start a new event: slowness is judged again from requests sent from now on."""
        self._cut = now
        self._recent.clear()

    def _latency(self, seconds: float, now: float, *, after_cut: bool) -> None:
        self._answers += 1
        if self._answers % self._memory == 0:
            self._quickest = None  # forget: the host's quickest may have changed
        if self._quickest is None or seconds < self._quickest:
            self._quickest = seconds
        slow = self._slow_factor * self._quickest
        if after_cut:
            # Answers to requests sent before the last cut were queued under the old limit:
            # they say nothing of the new one.
            self._recent.append(seconds)
        window = max(4, int(self.limit))
        if (
            self._quickest > 0
            and len(self._recent) >= window
            and statistics.median(list(self._recent)[-window:]) > slow
        ):
            # Never below two for slowness alone: one request held long (a big save, a lock on
            # the host's side) must not queue every other flow of the connector behind it; and
            # never up to two either, when 503s took it lower.
            floor = min(2.0, float(self.maximum), self.limit)
            self.limit = max(floor, self.limit * 0.9)
            self.cuts["slow"] += 1
            self._cut_at(now)
        elif self._quickest == 0 or seconds <= slow:  # a good answer
            self.limit = min(float(self.maximum), self.limit + 1 / self.limit)

"""How many requests one connector keeps in flight: a limit that adapts to the host's answers.

Platforms without a rate limit of their own (Magento, WooCommerce) still serve only as many
requests at once as their host's workers allow, and answer more with 503 (or a CDN's 429). A
plugin that sends requests side by side gates them with :class:`AdaptiveLimit`. The limit
starts at the plugin's configured maximum and moves as TCP's congestion window does: it halves
on a 429 or 503 (down to one), shrinks by a tenth when answers take more than ``slow_factor``
times the quickest recent answer (the host is queueing; down to two, so that one long request
does not hold every other back), and grows back by one request per full window of good answers.

A host refuses at a level: with ``n`` requests in flight, one more is answered 503. So a wave
of refusals is one event, and halves the limit once: a refusal of a request that took its slot
before the last halving was sent under the old limit, which that halving already answered for.
And the level is remembered: the fewest requests in flight that one of the event's refusals
was sent with, less one, is the limit's *ceiling*, never below the halved limit (a host that
refuses everything, down or restarting, refuses every level, the lowest included). Below the
ceiling the limit climbs back one request a good answer (the host served that many a moment
ago); at it, it holds, so the host is not probed again at every window; after ``memory`` good
answers with no refusal the ceiling is forgotten and growth goes on as before, finding
capacity the host may have regained. A refusal with nothing else in flight says nothing of
concurrency and sets no ceiling.
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
        #: How often the limit went down, by cause (for logs and benchmarks), and
        #: ``busy_same_event``: refusals that did not halve it again (sent before the last halving).
        self.cuts = {"busy": 0, "busy_same_event": 0, "slow": 0}
        #: The most requests in flight the host served before its last refusals (their level
        #: less one); ``None`` when no refusal is remembered.
        self.ceiling: float | None = None
        self._since_refusal = 0
        self._busy_cut: float | None = None
        #: The limit the last halving left: no refusal of that event sets the ceiling lower.
        self._event_floor = 1.0
        #: Per thread in a slot: requests in flight as its request went (itself included).
        self._level: dict[int, int] = {}
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
        me = threading.get_ident()
        with self._ready:
            self._wait_turn()
            self.in_flight += 1
            self._started[me] = self._clock()
            self._level[me] = self.in_flight
        try:
            yield
        finally:
            with self._ready:
                self.in_flight -= 1
                self._started.pop(me, None)
                self._level.pop(me, None)
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
                self._level[me] = self.in_flight
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
            me = threading.get_ident()
            started = self._started.get(me)
            now = self._clock()
            if response.status_code in BUSY_STATUSES:
                self._refused(started, self._level.get(me), now)
            elif started is not None:
                self._latency(now - started)
            # A retry of this request times from now, not from its first attempt.
            if started is not None:
                self._started[me] = now
            self._ready.notify_all()

    def _refused(self, started: float | None, level: int | None, now: float) -> None:
        """Under the condition: the host refused a request sent with ``level`` in flight."""
        self._since_refusal = 0
        if started is not None and self._busy_cut is not None and started < self._busy_cut:
            # Sent under the limit the last halving already answered for: the same event.
            self.cuts["busy_same_event"] += 1
        else:
            self.limit = max(1.0, self.limit / 2)
            self.cuts["busy"] += 1
            self._busy_cut = now
            self._event_floor = self.limit
        if level is not None and level > 1:
            # A host that is down refuses even the second request in flight: that says nothing
            # of its workers, and must not hold the limit below what the halving left.
            served = max(float(level - 1), self._event_floor)
            self.ceiling = served if self.ceiling is None else min(self.ceiling, served)
            self.limit = min(self.limit, self.ceiling)

    def _grow(self) -> None:
        """Under the condition: one good answer's growth (see the module's docstring)."""
        self._since_refusal += 1
        if self.ceiling is not None and self._since_refusal >= self._memory:
            self.ceiling = None  # long enough without a refusal: look for more again
        if self.ceiling is None:
            self.limit = min(float(self.maximum), self.limit + 1 / self.limit)
        elif self.limit < self.ceiling:
            self.limit = min(self.ceiling, float(self.maximum), self.limit + 1)

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
            self._grow()

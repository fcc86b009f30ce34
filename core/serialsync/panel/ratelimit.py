"""Login attempts, limited: after :data:`MAX_FAILURES` failed logins within :data:`WINDOW`
seconds, from one address or for one name, further attempts are refused until the window
passes (a guessing script gets a handful of tries, a person who mistyped waits a little)."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

MAX_FAILURES = 5
WINDOW = 300.0


class LoginLimiter:
    """Failed logins per key (an address, a name), in memory, for one panel process."""

    def __init__(
        self,
        *,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def retry_after(self, *keys: str) -> float:
        """Seconds to wait before another attempt for any of ``keys`` (0: go ahead)."""
        now = self._clock()
        with self._lock:
            waits = [
                self.window - (now - times[0])
                for key in keys
                if len(times := self._recent(key, now)) >= self.max_failures
            ]
        return max(waits, default=0.0)

    def failed(self, *keys: str) -> None:
        """Count one failed attempt against each of ``keys``."""
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, *keys: str) -> None:
        """Forget the failures of ``keys`` (a person who got in)."""
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

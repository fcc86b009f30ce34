"""The CPU the benchmark's own callbacks spend in the host's threads, to leave out of its CPU.

The bench hooks into the host it measures: the engine's ``progress`` and ``checkpoint``
callbacks (:class:`bench.host_run.Timeline`), the store's SQLite trace callback that counts
statements. They run in the host's threads, so ``time.process_time()`` and each engine
thread's ``time.thread_time()`` count them as serialsync's. Each counted callback reads its
thread's CPU clock as it starts and as it ends; the difference is added to its thread's total
and to the process's total, which the host CPU figures then subtract.

Not counted (so still in the figures): the few hundred nanoseconds per call outside the two
readings (the call itself, adding up the totals).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

#: The calling thread's CPU seconds (``time.thread_time``, or a fake in tests).
ThreadClock = Callable[[], float]


class CallbackCpu:
    """CPU seconds spent in counted callbacks: per thread and in all."""

    def __init__(self, clock: ThreadClock = time.thread_time) -> None:
        #: Read at each callback's start and end; :meth:`start` returns its reading.
        self.clock = clock
        self._lock = threading.Lock()
        self._local = threading.local()
        self._total = 0.0
        self._calls = 0

    def start(self) -> float:
        """The calling thread's CPU clock now: pass it to :meth:`stop` when the callback ends."""
        return self.clock()

    def stop(self, started: float) -> None:
        """Count the CPU since ``started`` (from :meth:`start`) as the callbacks'."""
        spent = self.clock() - started
        self._local.spent = getattr(self._local, "spent", 0.0) + spent
        with self._lock:
            self._total += spent
            self._calls += 1

    def wrap(self, callback: Callable[P, R]) -> Callable[P, R]:
        """``callback``, its CPU counted on every call."""

        def counted(*args: P.args, **kwargs: P.kwargs) -> R:
            started = self.clock()
            try:
                return callback(*args, **kwargs)
            finally:
                self.stop(started)

        return counted

    def in_thread(self) -> float:
        """CPU seconds the counted callbacks spent in the calling thread, ever."""
        spent: float = getattr(self._local, "spent", 0.0)
        return spent

    def total(self) -> tuple[float, int]:
        """CPU seconds of every counted call in every thread, and how many calls."""
        with self._lock:
            return self._total, self._calls

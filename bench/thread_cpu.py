"""CPU of the helper threads a channel's connector starts, read from outside them.

A channel's part of a pass runs in one engine thread, whose CPU ``time.thread_time`` reads
from inside it (the engine's callbacks run there). Some connectors also send on threads of
their own: Magento keeps several requests in flight on a pool named ``"<channel>-send"``.
Their CPU is the channel's too, but none of the engine's callbacks runs in them, so it is
read from outside, by each thread's CPU clock (``pthread_getcpuclockid``).

A helper thread is one whose name starts with ``"<channel>-"``. A thread alive at
:meth:`HelperCpu.baseline` counts only the CPU it uses after it (Magento's pool outlives a
pass); one started later counts all of its own. A thread's CPU is known as of its last
:meth:`HelperCpu.sample`: what a thread uses after that and before it ends is not counted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

#: Reads a live thread's CPU seconds, or ``None`` once it cannot be read (it ended).
CpuReader = Callable[[threading.Thread], float | None]


def read_thread_cpu(thread: threading.Thread) -> float | None:
    """CPU seconds ``thread`` has used since it started, or ``None`` if it is not running."""
    ident = thread.ident
    if ident is None or not thread.is_alive():
        return None
    try:
        return time.clock_gettime(time.pthread_getcpuclockid(ident))
    except OSError:  # it ended between the check and the read
        return None


class HelperCpu:
    """Each channel's helper threads' CPU since the last :meth:`baseline`."""

    def __init__(
        self,
        reader: CpuReader = read_thread_cpu,
        threads: Callable[[], list[threading.Thread]] = threading.enumerate,
    ) -> None:
        self._reader = reader
        self._threads = threads
        # Keyed by the thread object, not its ident: the OS reuses idents of ended threads.
        self._base: dict[threading.Thread, float] = {}
        self._last: dict[threading.Thread, tuple[str, float]] = {}

    def baseline(self) -> None:
        """Start counting afresh: helper threads alive now count from their CPU at this
        moment."""
        self._last = {}
        self._base = {}
        for thread in self._threads():
            cpu = self._reader(thread)
            if cpu is not None:
                self._base[thread] = cpu

    def sample(self, channel: str) -> None:
        """Read the CPU of ``channel``'s live helper threads."""
        prefix = f"{channel}-"
        for thread in self._threads():
            if not thread.name.startswith(prefix):
                continue
            cpu = self._reader(thread)
            if cpu is not None:
                self._last[thread] = (channel, cpu)

    def seconds(self, channel: str) -> float:
        """CPU seconds ``channel``'s helper threads used since the baseline, as last
        sampled."""
        return sum(
            cpu - self._base.get(thread, 0.0)
            for thread, (owner, cpu) in self._last.items()
            if owner == channel
        )

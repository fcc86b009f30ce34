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

:meth:`HelperCpu.sample` runs in the engine's callbacks, once per unit or so: it looks
through every thread only when the number of threads has changed since it last did, or one
of the channel's helper threads it knows has ended; otherwise it reads the helper threads it
already knows (none for most channels). A helper thread that starts as another thread ends
is found at the next change of the count.
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
        count: Callable[[], int] | None = None,
    ) -> None:
        self._reader = reader
        self._threads = threads
        if count is None:
            count = threading.active_count if threads is threading.enumerate else self._listed
        self._count = count
        #: Each channel's helper threads, as of the thread count they were found at.
        self._known: dict[str, tuple[int, list[threading.Thread]]] = {}
        #: How often :meth:`sample` looked through every thread.
        self.scans = 0
        # Keyed by the thread object, not its ident: the OS reuses idents of ended threads.
        self._base: dict[threading.Thread, float] = {}
        self._last: dict[threading.Thread, tuple[str, float]] = {}

    def baseline(self) -> None:
        """Start counting afresh: helper threads alive now count from their CPU at this
        moment."""
        self._last = {}
        self._base = {}
        self._known = {}
        for thread in self._threads():
            cpu = self._reader(thread)
            if cpu is not None:
                self._base[thread] = cpu

    def sample(self, channel: str) -> None:
        """Read the CPU of ``channel``'s live helper threads."""
        count = self._count()
        known = self._known.get(channel)
        if known is None or known[0] != count:
            known = (count, self._helpers(channel))
            self._known[channel] = known
        for thread in known[1]:
            cpu = self._reader(thread)
            if cpu is None:  # it ended: one may have started in its place
                self._known.pop(channel, None)
            else:
                self._last[thread] = (channel, cpu)

    def _listed(self) -> int:
        return len(self._threads())

    def _helpers(self, channel: str) -> list[threading.Thread]:
        self.scans += 1
        prefix = f"{channel}-"
        return [thread for thread in self._threads() if thread.name.startswith(prefix)]

    def seconds(self, channel: str) -> float:
        """CPU seconds ``channel``'s helper threads used since the baseline, as last
        sampled."""
        return sum(
            cpu - self._base.get(thread, 0.0)
            for thread, (owner, cpu) in self._last.items()
            if owner == channel
        )

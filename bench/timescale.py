"""Platform time running ``factor`` times faster than the wall clock.

The fakes' rate-limit windows and cost buckets read :meth:`TimeScale.monotonic` (or
:meth:`TimeScale.epoch`), and every sleep — the client's pacing and retries, the fakes' latency —
goes through :meth:`TimeScale.sleep`, which waits ``seconds / factor`` of real time. Both sides
of the wire therefore agree on platform time, and every ratio the limits impose is kept.

The scale is shared with the sandbox's child process by value (:meth:`TimeScale.spec`):
``CLOCK_MONOTONIC`` is one clock for the whole machine, so both processes compute the same
platform time.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any


class TimeScale:
    """A scaled clock and a scaled sleep, with the platform time slept counted per name."""

    def __init__(
        self, factor: float, *, origin: float | None = None, epoch_origin: float | None = None
    ) -> None:
        if factor <= 0:
            raise ValueError("the time scale must be positive")
        self.factor = factor
        self.origin = time.monotonic() if origin is None else origin
        self.epoch_origin = time.time() if epoch_origin is None else epoch_origin
        self._lock = threading.Lock()
        #: Platform seconds slept, by sleeper name.
        self.slept: dict[str, float] = defaultdict(float)
        #: Every sleep: ``(name, real monotonic start, platform seconds)``.
        self.events: list[tuple[str, float, float]] = []

    def spec(self) -> dict[str, float]:
        """What a child process needs to rebuild the same scale."""
        return {"factor": self.factor, "origin": self.origin, "epoch_origin": self.epoch_origin}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TimeScale:
        """The scale described by :meth:`spec`."""
        return cls(spec["factor"], origin=spec["origin"], epoch_origin=spec["epoch_origin"])

    def monotonic(self) -> float:
        """Platform seconds on a monotonic clock."""
        return self.origin + (time.monotonic() - self.origin) * self.factor

    def epoch(self) -> float:
        """Platform seconds since the epoch (for fakes that stamp dates with their clock)."""
        return self.epoch_origin + (time.monotonic() - self.origin) * self.factor

    def sleep(self, seconds: float, name: str = "") -> None:
        """Wait ``seconds`` of platform time."""
        if seconds <= 0:
            return
        with self._lock:
            self.slept[name] += seconds
            self.events.append((name, time.monotonic(), seconds))
        time.sleep(seconds / self.factor)

    def take_events(self) -> list[tuple[str, float, float]]:
        """The sleeps recorded so far, forgotten here."""
        with self._lock:
            events, self.events = self.events, []
        return events

    def sleeper(self, name: str) -> Any:
        """A ``sleep(seconds)`` callable that counts under ``name``."""

        def sleep(seconds: float) -> None:
            self.sleep(seconds, name)

        return sleep

    def to_platform(self, real_seconds: float) -> float:
        """A real duration, as platform time."""
        return real_seconds * self.factor


def waited(events: list[tuple[str, float, float]], start: float, end: float, channel: str) -> float:
    """Platform seconds ``channel`` slept between two real instants (client and fake side)."""
    names = {f"client:{channel}", f"fake:{channel}"}
    return sum(s for name, at, s in events if name in names and start <= at <= end)


def waited_union(
    events: list[tuple[str, float, float]], start: float, end: float, channel: str, factor: float
) -> float:
    """Platform seconds ``channel`` spent sleeping between two real instants, overlaps once.

    :func:`waited` adds sleeps up, right for one request at a time; requests sent side by side
    (WooCommerce's withdrawal, product batches in parallel) sleep at the same time, so here the
    sleeps' real intervals are merged first and their union is put back at platform speed.
    """
    names = {f"client:{channel}", f"fake:{channel}"}
    spans = sorted(
        (at, at + s / factor) for name, at, s in events if name in names and start <= at <= end
    )
    total, cursor = 0.0, float("-inf")
    for begin, finish in spans:
        if finish <= cursor:
            continue
        total += finish - max(begin, cursor)
        cursor = finish
    return total * factor


def unscaled(real: float, slept: float, factor: float) -> float:
    """A real span with its sleeps put back at platform speed: ``real + slept x (1 - 1/N)``.

    The host's own work and the loopback stay at their real speed; only the platform's time
    (latency, pacing waits, retry waits) is scaled back up.
    """
    return real + slept * (1 - 1 / factor)

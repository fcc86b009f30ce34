"""Platform time running ``factor`` times faster than the wall clock.

The fakes' rate-limit windows and cost buckets read :meth:`TimeScale.monotonic` (or
:meth:`TimeScale.epoch`), and every sleep — the client's pacing and retries, the fakes' latency —
goes through :meth:`TimeScale.sleep`, which waits ``seconds / factor`` of real time. Both sides
of the wire therefore agree on platform time, and every ratio the limits impose is kept.

The scale is shared with the sandbox's child process by value (:meth:`TimeScale.spec`):
``CLOCK_MONOTONIC`` is one clock for the whole machine, so both processes compute the same
platform time. :meth:`TimeScale.rescale` changes the speed from a given real instant on, in both
processes at once (the burst's order pass runs at 1x, where platform time *is* real time).
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
        _check(factor)
        self.origin = time.monotonic() if origin is None else origin
        self.epoch_origin = time.time() if epoch_origin is None else epoch_origin
        self._lock = threading.Lock()
        #: The current stretch of the clock: from real instant ``_real0`` (platform ``_platform0``)
        #: on, platform time runs ``_factor`` times the wall clock.
        self._factor = factor
        self._real0 = self._platform0 = self.origin
        #: A change of speed that takes effect at a real instant: ``(at, factor)``.
        self._pending: tuple[float, float] | None = None
        #: Platform seconds slept, by sleeper name.
        self.slept: dict[str, float] = defaultdict(float)
        #: Every sleep: ``(name, real monotonic start, platform seconds)``.
        self.events: list[tuple[str, float, float]] = []

    @property
    def factor(self) -> float:
        """How many times faster than the wall clock platform time runs now."""
        with self._lock:
            self._settle(time.monotonic())
            return self._factor

    def rescale(self, factor: float, *, at: float) -> None:
        """From the real ``time.monotonic()`` instant ``at`` on, run ``factor`` times the wall
        clock; platform time goes on from where it is then, without a jump.

        Both processes of a benchmark call it with the same ``at`` (one clock for the machine),
        so they keep agreeing on platform time. The caller keeps the switch clear of sleeps:
        one under way when it happens keeps the speed it started with.
        """
        _check(factor)
        with self._lock:
            self._settle(time.monotonic())
            self._pending = (at, factor)

    def _settle(self, now: float) -> None:
        """Under the lock: apply the pending change of speed once its instant has come."""
        if self._pending is not None and now >= self._pending[0]:
            at, factor = self._pending
            self._platform0 = self._platform0 + (at - self._real0) * self._factor
            self._real0, self._factor, self._pending = at, factor, None

    def spec(self) -> dict[str, float]:
        """What a child process needs to rebuild the same scale (before any :meth:`rescale`)."""
        return {"factor": self._factor, "origin": self.origin, "epoch_origin": self.epoch_origin}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> TimeScale:
        """The scale described by :meth:`spec`."""
        return cls(spec["factor"], origin=spec["origin"], epoch_origin=spec["epoch_origin"])

    def monotonic(self) -> float:
        """Platform seconds on a monotonic clock."""
        now = time.monotonic()
        with self._lock:
            self._settle(now)
            return self._platform0 + (now - self._real0) * self._factor

    def epoch(self) -> float:
        """Platform seconds since the epoch (for fakes that stamp dates with their clock)."""
        return self.epoch_origin + (self.monotonic() - self.origin)

    def sleep(self, seconds: float, name: str = "") -> None:
        """Wait ``seconds`` of platform time."""
        if seconds <= 0:
            return
        now = time.monotonic()
        with self._lock:
            self._settle(now)
            factor = self._factor
            self.slept[name] += seconds
            self.events.append((name, now, seconds))
        time.sleep(seconds / factor)

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


def _check(factor: float) -> None:
    if factor <= 0:
        raise ValueError("the time scale must be positive")

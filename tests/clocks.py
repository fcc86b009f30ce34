"""The fake clocks tests hand to connectors, fakes and the service, so no test waits or reads
the real time.

:class:`FakeClock` is monotonic time in seconds that moves only when something sleeps on it
(each sleep remembered) or a test advances it: a connector's rate limiter and its ``sleep``
share it with a fake platform's bucket, so a wait the platform asked for refills the bucket
without costing real time. :class:`WallClock` is an aware UTC instant a test moves by hand,
for what platforms and the store date (orders, windows, health).
"""

from __future__ import annotations

from datetime import datetime, timedelta

#: Any fixed instant will do; not 0, so that "never" (0.0) and "now" differ.
START = 1000.0


class FakeClock:
    """Monotonic seconds that move only when slept on or advanced; remembers every sleep."""

    def __init__(self, start: float = START) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        """The time now."""
        return self.now

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` without waiting: remember the sleep and move time on."""
        self.sleeps.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> float:
        """Move time on by ``seconds`` (time that passed without a sleep) and return it."""
        self.now += seconds
        return self.now


class WallClock:
    """An aware UTC instant the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        """The instant now."""
        return self.now

    def advance(self, seconds: float = 0.0, **units: float) -> datetime:
        """Move on by ``seconds`` and any other ``timedelta`` units (``minutes=5``), and return
        the new instant."""
        self.now += timedelta(seconds=seconds, **units)
        return self.now

"""What each pass asked of each platform: requests, throttles, retries, errors and time, per
connector, counted by the HTTP client into the meter of the pass it serves.

A pass runs inside :func:`metering`; every :class:`~serialsync.HttpClient` attempt made in that
pass's context is counted in its meter under the client's connector. The meter travels with the
context, not with the connector: passes of different kinds run side by side in ``serialsync
run`` (inventory, orders, reconcile, webhook orders), each on the same connectors, and each
counts only its own requests.

Threads do not inherit a context. Work handed to a pool inside a pass is submitted through
:func:`in_this_context` (the engine's channel pool does; a plugin that sends requests from
threads of its own should too), else its requests go uncounted in the pass (they still reach
``/metrics``).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import ParamSpec, TypeVar

_P = ParamSpec("_P")
_R = TypeVar("_R")


@dataclass
class RequestCounts:
    """One connector's requests in one pass.

    ``requests``: attempts sent (each retry is one more); ``throttled``: answers that said to
    slow down (429, or the platform's own signal such as Shopify's ``THROTTLED``);
    ``retries``: attempts sent again after a wait; ``errors``: attempts that got no answer or
    a 5xx; ``seconds``: time spent waiting for answers; ``waited``: time spent pacing and
    backing off before sending.
    """

    requests: int = 0
    throttled: int = 0
    retries: int = 0
    errors: int = 0
    seconds: float = 0.0
    waited: float = 0.0

    def as_dict(self) -> dict[str, int | float]:
        """The counts, times rounded to the millisecond (for the ``runs`` table)."""
        data: dict[str, int | float] = asdict(self)
        data["seconds"] = round(self.seconds, 3)
        data["waited"] = round(self.waited, 3)
        return data


class RequestMeter:
    """The counts of one pass, per connector; safe across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, RequestCounts] = {}

    def add(self, connector: str, name: str, amount: float = 1) -> None:
        """Add ``amount`` to one count (a :class:`RequestCounts` field) of ``connector``."""
        with self._lock:
            counts = self._counts.setdefault(connector, RequestCounts())
            setattr(counts, name, getattr(counts, name) + amount)

    def snapshot(self) -> dict[str, RequestCounts]:
        """A copy of every connector's counts so far."""
        with self._lock:
            return {name: RequestCounts(**asdict(c)) for name, c in self._counts.items()}


_METER: contextvars.ContextVar[RequestMeter | None] = contextvars.ContextVar(
    "serialsync_request_meter", default=None
)


def current_meter() -> RequestMeter | None:
    """The meter of the pass this code runs in, if any."""
    return _METER.get()


@contextmanager
def metering() -> Iterator[RequestMeter]:
    """Count the requests made in this context (and the pools it hands work to through
    :func:`in_this_context`) into a fresh meter, until the block ends."""
    meter = RequestMeter()
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


def in_this_context(function: Callable[_P, _R]) -> Callable[_P, _R]:
    """``function``, to run in another thread within a copy of the caller's context (so that
    its requests count in the caller's pass): wrap what is submitted to a pool with it."""
    context = contextvars.copy_context()

    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        # A copy per call: one context cannot be entered by two threads at once.
        return context.copy().run(function, *args, **kwargs)

    return run

"""The oversell window, measured on the fakes' side: order placed → unit unsellable elsewhere.

:class:`OversellWatch` lives beside the fakes (the sandbox's child process). It places one-unit
orders on a channel fake as a shopper would, stamping each with ``time.monotonic()`` the moment
the fake has created it, and polls every other channel fake's listings from a thread of its
own. An order's window closes at the first poll that finds its unit unsellable (absent, stock 0
or not sellable) on every other channel; if a later poll finds it for sale again somewhere (a
publish under way listing it anew), the window reopens and the relisting is counted. Nothing
here asks the host: what is measured is what a shopper on the other channels could buy.

``CLOCK_MONOTONIC`` is one clock per machine, so the host turns these real instants into
platform seconds with the same time scale as everything else.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from serialsync.testing.fake import FakeChannel


@dataclass
class WatchedOrder:
    """One order placed by the watch, and when its unit went off every other channel."""

    channel: str
    sku: str
    order_id: str
    created: float  # real monotonic, right after the fake created the order
    listed_elsewhere: int  # other channels selling the unit when it was ordered
    resolved: float | None = None  # real monotonic, first poll with it unsellable elsewhere
    relisted: int = 0  # times it was seen for sale again after that
    relisted_on: list[str] = field(default_factory=list)  # where it was seen again
    # Per other channel: real monotonic of the first poll since which it has not sold the unit.
    gone: dict[str, float] = field(default_factory=dict)


def sellable(fake: FakeChannel, among: Collection[str] | None = None) -> set[str]:
    """The integration ids a shopper can buy on ``fake`` now (of ``among`` only, if given)."""
    # Under the fake's (reentrant) lock: not every fake's listings() takes it, and its
    # request threads change the listings meanwhile. A poll reads only the watched units: the
    # whole catalogue at 10,000 units took long enough under the lock, many times a second,
    # to slow the fakes' own answers and to stretch each poll to several platform seconds.
    with fake.lock:
        listed = fake.listings() if among is None else fake.listings_of(among)
    return {x.sku for x in listed if x.stock > 0 and x.sellable and "|||" in x.sku}


def percentile(values: Sequence[float], share: float) -> float:
    """Nearest-rank percentile (``share`` in 0..1) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))
    return ordered[int(rank) - 1]


class OversellWatch:
    """Places orders on channel fakes and watches their units go off the other channels.

    :param fakes: the channel fakes, by connector name.
    :param poll: real seconds between polls of the listings.
    """

    def __init__(self, fakes: Mapping[str, FakeChannel], *, seed: int, poll: float) -> None:
        self.fakes = dict(fakes)
        self.poll = poll
        self.orders: list[WatchedOrder] = []
        self.polls = 0
        #: Why the polling thread ended early, if it did.
        self.error: str | None = None
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._used: set[str] = set()

    def start(self) -> None:
        """Start polling (from a thread of its own)."""
        self._thread = threading.Thread(target=self._run, name="oversell-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling, after one last poll."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def place(self, channels: Sequence[str]) -> dict[str, Any] | None:
        """One order on one of ``channels`` (drawn at random), for a unit listed elsewhere too.

        The unit is drawn among those for sale on the ordering channel and on as many other
        channels as any unit is now (during a publish, the slow channels lag); ``None`` when no
        unit is for sale on the ordering channel and at least one other.
        """
        channel = self._rng.choice(list(channels))
        now = {name: sellable(fake) for name, fake in self.fakes.items()}
        others = [name for name in self.fakes if name != channel]
        spread: dict[int, list[str]] = {}
        for sku in now[channel] - self._used:
            count = sum(1 for name in others if sku in now[name])
            if count:
                spread.setdefault(count, []).append(sku)
        if not spread:
            return None
        listed = max(spread)
        sku = self._rng.choice(sorted(spread[listed]))
        order_id = self.fakes[channel].create_order([(sku, 1)])
        created = time.monotonic()
        order = WatchedOrder(channel, sku, str(order_id), created, listed)
        with self._lock:
            self._used.add(sku)
            self.orders.append(order)
        return asdict(order)

    def open_orders(self) -> int:
        """Orders whose unit is still for sale on another channel (as of the last poll)."""
        with self._lock:
            return sum(1 for o in self.orders if o.resolved is None)

    def check(self) -> None:
        """One poll: every channel's listings once, then every order checked against them."""
        with self._lock:
            orders = list(self.orders)
        if not orders:
            return
        watched = {order.sku for order in orders}
        now = {name: sellable(fake, watched) for name, fake in self.fakes.items()}
        # Stamped after reading: the unit may have gone a moment earlier, never later.
        seen = time.monotonic()
        with self._lock:
            self.polls += 1
            for order in orders:
                elsewhere = []
                for name, skus in now.items():
                    if name == order.channel:
                        continue
                    if order.sku in skus:
                        elsewhere.append(name)
                        order.gone.pop(name, None)
                    else:
                        order.gone.setdefault(name, seen)
                if elsewhere and order.resolved is not None:
                    order.relisted += 1
                    order.relisted_on.extend(elsewhere)
                    order.resolved = None
                elif not elsewhere and order.resolved is None:
                    order.resolved = seen

    def report(self) -> list[dict[str, Any]]:
        """Every order placed, as plain dicts."""
        with self._lock:
            return [asdict(o) for o in self.orders]

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self.check()
                self._stop.wait(max(0.0, started + self.poll - time.monotonic()))
            self.check()
        except Exception as exc:  # reported with the results: a dead watch measures nothing
            self.error = f"{type(exc).__name__}: {exc}"


def summarise(orders: list[dict[str, Any]], factor: float) -> dict[str, Any]:
    """p50 / p99 / max of the windows in platform seconds (real x ``factor``), per channel too.

    An order whose unit never went off the other channels has no window: it is counted as
    ``open`` and the maximum is then unbounded (``None``).
    """
    windows = [(o["resolved"] - o["created"]) * factor for o in orders if o["resolved"] is not None]
    still_open = sum(1 for o in orders if o["resolved"] is None)

    def stats(values: list[float], n_open: int) -> dict[str, Any]:
        if not values:
            return {"n": 0, "open": n_open, "p50": None, "p99": None, "max": None}
        return {
            "n": len(values) + n_open,
            "open": n_open,
            "p50": percentile(values, 0.50),
            "p99": percentile(values, 0.99) if not n_open else None,
            "max": max(values) if not n_open else None,
        }

    by_channel = {}
    for channel in sorted({o["channel"] for o in orders}):
        mine = [o for o in orders if o["channel"] == channel]
        by_channel[channel] = stats(
            [(o["resolved"] - o["created"]) * factor for o in mine if o["resolved"] is not None],
            sum(1 for o in mine if o["resolved"] is None),
        )
    return {
        **stats(windows, still_open),
        "relisted": sum(o["relisted"] for o in orders),
        "relisted_on": dict(Counter(c for o in orders for c in o["relisted_on"])),
        # How many other channels sold the unit when it was ordered: {count: orders}.
        "listed_elsewhere": dict(sorted(Counter(o["listed_elsewhere"] for o in orders).items())),
        "by_channel": by_channel,
        # The five longest windows, to tell a queue from a relisting.
        "slowest": sorted(
            (
                {
                    "channel": o["channel"],
                    "window": (o["resolved"] - o["created"]) * factor,
                    "listed_elsewhere": o["listed_elsewhere"],
                    "relisted_on": o["relisted_on"],
                }
                for o in orders
                if o["resolved"] is not None
            ),
            key=lambda row: -float(row["window"]),
        )[:5],
    }

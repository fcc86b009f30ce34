"""The oversell window, measured on the fakes' side: order placed → unit unsellable elsewhere.

:class:`OversellWatch` lives beside the fakes (the sandbox's child process). It places one-unit
orders on a channel fake as a shopper would, stamping each with ``time.monotonic()`` the moment
the fake has created it. The window's end is the fakes' own record
(:mod:`bench.unsellable`): each other channel's fake stamps the moment a request it served left
the unit unsellable (absent, stock 0 or not sellable), and the order's end is the latest of
these (``fake_resolved``). A thread of the watch also polls every other channel fake's listings,
as a cross-check: an order's watched window closes at the first poll that finds its unit
unsellable on every other channel (``resolved``, a poll late, and later still when the polls
lag under load); if a later poll finds it for sale again somewhere (a publish under way listing
it anew), that window reopens and the relisting is counted, and a poll that began after a
fake's end and still found the unit for sale there is flagged (``sold_after_end``) and has that
fake follow the unit again, so its end moves to when it went off again. Nothing here asks the
host: what is measured is what a shopper on the other channels could buy.

``CLOCK_MONOTONIC`` is one clock per machine, so the host turns these real instants into
platform seconds with the same time scale as everything else.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from serialsync.testing.fake import FakeChannel

from bench.unsellable import UnsellableRecord, sellable

__all__ = ["OversellWatch", "WatchedOrder", "cross_check", "percentile", "sellable", "summarise"]


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
    # Per other channel: a poll that began after the fake's own end found the unit for sale.
    sold_after_end: list[str] = field(default_factory=list)


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
        #: Each fake's own record of when the followed units went unsellable.
        self.records = {name: UnsellableRecord(fake) for name, fake in self.fakes.items()}

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
        for name in others:
            self.records[name].follow(sku)
        order_id = self.fakes[channel].create_order([(sku, 1)])
        created = time.monotonic()
        order = WatchedOrder(channel, sku, str(order_id), created, listed)
        with self._lock:
            self._used.add(sku)
            self.orders.append(order)
        return asdict(order)

    def open_orders(self) -> int:
        """Orders whose unit is still for sale on another channel, as of the last poll or as
        the fakes' own records tell."""
        with self._lock:
            orders = list(self.orders)
        return sum(1 for o in orders if o.resolved is None or self._fake_end(o)[1])

    def _fake_end(self, order: WatchedOrder) -> tuple[dict[str, float | None], list[str], int]:
        """Per other channel the fake's end, the channels still selling, and the re-sales."""
        ends: dict[str, float | None] = {}
        still: list[str] = []
        resold = 0
        for name, record in self.records.items():
            if name == order.channel:
                continue
            state = record.state(order.sku)
            ends[name] = state["end"]
            resold += state["resold"]
            if state["open"]:
                still.append(name)
        return ends, still, resold

    def check(self) -> None:
        """One poll: every channel's listings once, then every order checked against them."""
        with self._lock:
            orders = list(self.orders)
        if not orders:
            return
        watched = {order.sku for order in orders}
        now: dict[str, set[str]] = {}
        began: dict[str, float] = {}
        for name, fake in self.fakes.items():
            began[name] = time.monotonic()
            now[name] = sellable(fake, watched)
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
                        # The cross-check: for sale after the fake's own end is a contradiction
                        # (or a relisting): flagged, and the fake follows the unit again.
                        if self.records[name].seen_for_sale(order.sku, began[name]):
                            order.sold_after_end.append(name)
                    else:
                        order.gone.setdefault(name, seen)
                if elsewhere and order.resolved is not None:
                    order.relisted += 1
                    order.relisted_on.extend(elsewhere)
                    order.resolved = None
                elif not elsewhere and order.resolved is None:
                    order.resolved = seen

    def report(self) -> list[dict[str, Any]]:
        """Every order placed, as plain dicts, each with the fakes' own end too.

        ``fake_resolved``: the latest of the order's creation and the moments the other
        channels' fakes recorded the unit going unsellable (``fake_gone``, per channel; None
        where it was not for sale when ordered and never since); None while a fake still sells
        it (``fake_open``).
        """
        with self._lock:
            orders = list(self.orders)
        out = []
        for order in orders:
            ends, still, resold = self._fake_end(order)
            row = asdict(order)
            row["fake_gone"] = ends
            row["fake_open"] = still
            row["fake_resold"] = resold
            known = [end for end in ends.values() if end is not None]
            row["fake_resolved"] = None if still else max([order.created, *known])
            out.append(row)
        return out

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                self.check()
                self._stop.wait(max(0.0, started + self.poll - time.monotonic()))
            self.check()
        except Exception as exc:  # reported with the results: a dead watch measures nothing
            self.error = f"{type(exc).__name__}: {exc}"


def summarise(orders: list[dict[str, Any]], factor: float, end: str = "resolved") -> dict[str, Any]:
    """p50 / p99 / max of the windows in platform seconds (real x ``factor``), per channel too.

    ``end`` names each order's end: ``resolved`` (the watch's first poll with the unit off every
    other channel) or ``fake_resolved`` (the fakes' own record of that moment). An order whose
    unit never went off the other channels has no window: it is counted as ``open`` and the
    maximum is then unbounded (``None``).
    """

    def window(order: dict[str, Any]) -> float | None:
        return None if order.get(end) is None else (order[end] - order["created"]) * factor

    def stats(mine: list[dict[str, Any]]) -> dict[str, Any]:
        values = [w for w in map(window, mine) if w is not None]
        n_open = len(mine) - len(values)
        if not values:
            return {"n": 0, "open": n_open, "p50": None, "p99": None, "max": None}
        return {
            "n": len(mine),
            "open": n_open,
            "p50": percentile(values, 0.50),
            "p99": percentile(values, 0.99) if not n_open else None,
            "max": max(values) if not n_open else None,
        }

    by_channel = {
        channel: stats([o for o in orders if o["channel"] == channel])
        for channel in sorted({o["channel"] for o in orders})
    }
    slowest = [
        {
            "channel": o["channel"],
            "window": window(o),
            "listed_elsewhere": o["listed_elsewhere"],
            "relisted_on": o["relisted_on"],
        }
        for o in orders
        if o.get(end) is not None
    ]
    return {
        "end": end,
        **stats(orders),
        "relisted": sum(o["relisted"] for o in orders),
        "relisted_on": dict(Counter(c for o in orders for c in o["relisted_on"])),
        # How many other channels sold the unit when it was ordered: {count: orders}.
        "listed_elsewhere": dict(sorted(Counter(o["listed_elsewhere"] for o in orders).items())),
        "by_channel": by_channel,
        # The five longest windows, to tell a queue from a relisting.
        "slowest": sorted(slowest, key=lambda row: -float(row["window"]))[:5],
    }


def cross_check(orders: list[dict[str, Any]], factor: float) -> dict[str, Any]:
    """The watch against the fakes' own end, in platform seconds.

    ``lag``: how much later the watch saw each order's unit gone than the fakes recorded it
    (p50 / p99 / max, and the least: below 0 would mean the watch saw it gone first, which the
    record rules out); ``sold_after_end``: orders whose unit a poll that began after a fake's
    end found for sale there (a relisting, or a record that missed a sale), by channel.
    """
    lags = [
        (o["resolved"] - o["fake_resolved"]) * factor
        for o in orders
        if o["resolved"] is not None and o.get("fake_resolved") is not None
    ]
    flagged = [o for o in orders if o.get("sold_after_end")]
    out: dict[str, Any] = {
        "sold_after_end": len(flagged),
        "sold_after_end_on": dict(Counter(c for o in flagged for c in o["sold_after_end"])),
        "lag": None,
    }
    if lags:
        out["lag"] = {
            "n": len(lags),
            "min": min(lags),
            "p50": percentile(lags, 0.5),
            "p99": percentile(lags, 0.99),
            "max": max(lags),
        }
    return out

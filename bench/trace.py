"""Where an order's oversell window goes, on the host's side: a breakdown of each order's path.

The oversell run (:func:`bench.host_run.run_oversell`) measures each window on the fakes' side
only: order created → unit unsellable on every other channel. :class:`OrderTrace` stamps the
steps in between in the host process, with the same ``CLOCK_MONOTONIC``:

* webhooks: the delivery taken (``accepted``), the order worker starting on it (``start``),
  the order read back (``fetched``), its claims committed (``applied``), then per channel the
  withdrawal step's start, its ``withdraw_units`` call sent and answered, and the step's end;
  the whole order's end (``done``, the POS report included), the worker thread's CPU (less
  the stamps' own, :attr:`OrderTrace.callbacks`), and how
  long the order's threads waited, all told, for the store's statement lock (``store_wait``);
* both modes: every order pass's start, the end of its order reading, and its withdrawal
  step per channel as above; within that step, per channel, the first and last instant of the
  products sent one by one after the batch (``w_rest``: what ``withdraw_units`` left
  unanswered, or every withdrawal of a plugin without it) and of the sold-out check
  (``w_hide``), so a long step shows where it went. A pass that withdraws each channel's
  units as its read ends runs the step more than once: the first start and the last end count.

Whether a channel's withdrawal found the product held by a publish (and left it to that
publish, which withdraws after its call under way) is recorded too: then the call times above
are missing for that channel, and the fakes' side tells when the unit went.

It works by wrapping the host's objects (the worker, the plugin manager, the listing locks)
and two engine functions, in the benchmark's host process only: nothing of serialsync changes.
"""

from __future__ import annotations

import contextvars
import gc
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from serialsync.engine import handover as engine_handover
from serialsync.engine import orders as engine_orders
from serialsync.engine import withdraw as engine_withdraw
from serialsync.engine.context import EngineContext, ListingTurn
from serialsync.engine.summary import PassSummary
from serialsync.host import Host

from bench.callback_cpu import CallbackCpu

#: A webhook order's steps, in order.
ORDER_STEPS = ("accepted", "start", "fetched", "applied", "withdrawn", "done")
#: The order (``connector/order_id``) or order pass (``pass:<n>``) a thread is working for.
_CURRENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("trace", default=None)


def order_key(connector: str, order_id: str) -> str:
    """``connector/<the order id's trailing digits>``: the fakes' ids and the webhooks' agree on
    the number (Shopify's webhooks name a GID, its fake an integer)."""
    digits = ""
    for char in reversed(str(order_id)):
        if not char.isdigit():
            break
        digits = char + digits
    return f"{connector}/{digits or order_id}"


class OrderTrace:
    """Real instants of each traced order's (or order pass's) steps, by key."""

    def __init__(self, callbacks: CallbackCpu | None = None) -> None:
        self._lock = threading.Lock()
        #: The CPU the stamps spend in the host's threads, left out of an order's ``cpu``.
        self.callbacks = callbacks or CallbackCpu()
        self.steps: dict[str, dict[str, float]] = {}
        self.held: dict[str, list[str]] = {}
        self._passes = 0
        self._undo: list[Callable[[], None]] = []
        #: The garbage collector's pauses: (generation, real seconds), while installed.
        self.gc_pauses: list[tuple[int, float]] = []
        self._gc_started = 0.0

    def stamp(self, key: str | None, step: str, when: float | None = None) -> None:
        """Record ``step`` of ``key`` now (the first time only)."""
        if key is None:
            return
        started = self.callbacks.start()
        try:
            now = time.monotonic() if when is None else when
            with self._lock:
                self.steps.setdefault(key, {}).setdefault(step, now)
        finally:
            self.callbacks.stop(started)

    def add(self, key: str, step: str, seconds: float) -> None:
        """Add ``seconds`` to the running total ``step`` of ``key``."""
        with self._lock:
            steps = self.steps.setdefault(key, {})
            steps[step] = steps.get(step, 0.0) + seconds

    def _held(self, key: str | None, channel: str) -> None:
        if key is not None:
            with self._lock:
                self.held.setdefault(key, []).append(channel)

    # -- wrapping ------------------------------------------------------------------------------

    def install(self, host: Host, worker: Any | None) -> None:
        """Wrap ``host`` (and the service's order ``worker``, if any) to stamp the steps."""
        self._wrap_attr(host.plugins, "fetch_order", self._fetched)
        self._wrap_attr(host.plugins, "withdraw_units", self._withdraw_call)
        self._wrap_attr(host.plugins, "fetch_orders", self._fetch_orders)
        self._wrap_attr(host.engine.locks, "hold_or_ask", self._hold_or_ask)
        self._wrap_attr(engine_withdraw, "withdraw_channel", self._withdraw_channel)
        # The order pass's hand-overs reach withdraw_channel through the handover module.
        self._wrap_attr(engine_handover, "withdraw_channel", self._withdraw_channel)
        self._wrap_attr(engine_orders, "withdraw_all", self._withdraw_all)
        self._wrap_attr(engine_withdraw, "send_product", self._part("w_rest"))
        self._wrap_attr(engine_withdraw, "settle_products", self._part("w_hide"))
        self._wrap_attr(host, "order_pass", self._order_pass)
        gc.callbacks.append(self._gc)
        self._undo.append(lambda: gc.callbacks.remove(self._gc))
        if hasattr(host.store, "_mutex"):
            self._wrap_attr(host.store, "_mutex", lambda lock: _TimedLock(lock, self))
        if worker is not None:
            self._wrap_attr(worker, "submit", self._submit)
            self._wrap_attr(worker, "work", self._work)
            from serialsync.service import worker as worker_module

            self._wrap_attr(worker_module, "withdraw_all", self._withdraw_all)

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        # A collection stops every thread of the process: a stall no step can avoid.
        if phase == "start":
            self._gc_started = time.monotonic()
        else:
            self.gc_pauses.append((info["generation"], time.monotonic() - self._gc_started))

    def gc_summary(self) -> dict[str, Any]:
        """Collections per generation, and the longest pause of each, in real seconds."""
        out: dict[str, Any] = {}
        for generation in (0, 1, 2):
            pauses = [p for g, p in self.gc_pauses if g == generation]
            out[str(generation)] = {
                "count": len(pauses),
                "max_ms": round(max(pauses, default=0.0) * 1000, 1),
                "total_ms": round(sum(pauses) * 1000, 1),
            }
        return out

    def uninstall(self) -> None:
        """Put back everything :meth:`install` wrapped."""
        for undo in reversed(self._undo):
            undo()
        self._undo.clear()

    def _wrap_attr(self, obj: Any, name: str, wrapper: Callable[[Any], Any]) -> None:
        original = getattr(obj, name)
        had_own = name in getattr(obj, "__dict__", {})
        setattr(obj, name, wrapper(original))

        def undo() -> None:
            if had_own:
                setattr(obj, name, original)
            else:
                delattr(obj, name)

        self._undo.append(undo)

    def _submit(self, original: Callable[[str, str], bool]) -> Callable[[str, str], bool]:
        def submit(connector: str, order_id: str) -> bool:
            self.stamp(order_key(connector, order_id), "accepted")
            return original(connector, order_id)

        return submit

    def _work(self, original: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
        def work(connector: str, order_id: str) -> Any:
            key = order_key(connector, order_id)
            token = _CURRENT.set(key)
            cpu, stamps = self.callbacks.clock(), self.callbacks.in_thread()
            self.stamp(key, "start")
            try:
                return original(connector, order_id)
            finally:
                self.stamp(key, "done")
                # The worker thread's CPU for the order, less the stamps' own in that thread.
                spent = self.callbacks.clock() - cpu - (self.callbacks.in_thread() - stamps)
                with self._lock:
                    self.steps[key]["cpu"] = spent
                _CURRENT.reset(token)

        return work

    def _fetched(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def fetch_order(connector: str, order_id: str) -> Any:
            try:
                return original(connector, order_id)
            finally:
                self.stamp(_CURRENT.get(), "fetched")

        return fetch_order

    def _fetch_orders(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def fetch_orders(connector: str, *args: Any, **kwargs: Any) -> Any:
            try:
                return original(connector, *args, **kwargs)
            finally:
                key = _CURRENT.get()
                if key is not None and key.startswith("pass:"):
                    with self._lock:
                        self.steps.setdefault(key, {})[f"fetched:{connector}"] = time.monotonic()

        return fetch_orders

    def _withdraw_all(self, original: Callable[..., None]) -> Callable[..., None]:
        def withdraw_all(
            ctx: EngineContext, summary: PassSummary, touched: Any = (), **options: Any
        ) -> None:
            key = _CURRENT.get()
            self.stamp(key, "applied")
            try:
                original(ctx, summary, touched, **options)
            finally:
                self.stamp(key, "withdrawn")

        return withdraw_all

    def _order_pass(self, original: Callable[[], Any]) -> Callable[[], Any]:
        def order_pass() -> Any:
            with self._lock:
                self._passes += 1
                key = f"pass:{self._passes}"
            token = _CURRENT.set(key)
            self.stamp(key, "start")
            try:
                return original()
            finally:
                self.stamp(key, "done")
                _CURRENT.reset(token)

        return order_pass

    def _withdraw_channel(self, original: Callable[..., None]) -> Callable[..., None]:
        def withdraw_channel(
            ctx: EngineContext,
            summary: PassSummary,
            channel: str,
            touched: Any = (),
            **options: Any,
        ) -> None:
            key = _CURRENT.get()
            self.stamp(key, f"w_start:{channel}")
            try:
                original(ctx, summary, channel, touched, **options)
            finally:
                self.stamp(key, f"w_end:{channel}")

        return withdraw_channel

    def _part(self, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """A wrapper of a withdrawal step's part (``(ctx, summary, channel, ...)``) stamping
        ``<name>:<channel>`` at its first start and ``<name>_end:<channel>`` at its last end."""

        def wrap(original: Callable[..., Any]) -> Callable[..., Any]:
            def part(ctx: EngineContext, summary: PassSummary, channel: str, *args: Any) -> Any:
                key = _CURRENT.get()
                self.stamp(key, f"{name}:{channel}")
                try:
                    return original(ctx, summary, channel, *args)
                finally:
                    if key is not None:
                        with self._lock:
                            self.steps.setdefault(key, {})[f"{name}_end:{channel}"] = (
                                time.monotonic()
                            )

            return part

        return wrap

    def _withdraw_call(self, original: Callable[..., Any]) -> Callable[..., Any]:
        def withdraw_units(channel: str, changes: Any) -> Any:
            key = _CURRENT.get()
            self.stamp(key, f"w_sent:{channel}")
            try:
                return original(channel, changes)
            finally:
                self.stamp(key, f"w_answered:{channel}")

        return withdraw_units

    def _hold_or_ask(
        self, original: Callable[[str, Iterable[str]], AbstractContextManager[ListingTurn]]
    ) -> Callable[[str, Iterable[str]], AbstractContextManager[ListingTurn]]:
        @contextmanager
        def hold_or_ask(channel: str, skus: Iterable[str]) -> Iterator[ListingTurn]:
            wanted = list(skus)
            with original(channel, wanted) as turn:
                if len(turn.held) < len(wanted):
                    self._held(_CURRENT.get(), channel)
                yield turn

        return hold_or_ask


class _TimedLock:
    """The store's statement lock, with the time each order's threads waited for it added up.

    The store runs every statement and every transaction under one lock (its threads share
    one connection): an order's reads and its transaction wait there behind a publish's."""

    def __init__(self, lock: Any, trace: OrderTrace) -> None:
        self._inner = lock
        self._trace = trace

    def __enter__(self) -> Any:
        key = _CURRENT.get()
        if key is None or key.startswith("pass:"):
            return self._inner.__enter__()
        asked = time.monotonic()
        got = self._inner.__enter__()
        self._trace.add(key, "store_wait", time.monotonic() - asked)
        return got

    def __exit__(self, *exc: object) -> Any:
        return self._inner.__exit__(*exc)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _span(steps: dict[str, float], a: str, b: str) -> float | None:
    if a in steps and b in steps:
        return steps[b] - steps[a]
    return None


def _window(order: dict[str, Any], end: str, factor: float) -> float | None:
    at = order.get(end)
    return None if at is None else (at - order["created"]) * factor


def breakdown(
    trace: OrderTrace, orders: list[dict[str, Any]], factor: float, channels: Collection[str]
) -> dict[str, Any]:
    """Each watched order's window split into the host's steps, in platform seconds (real x
    ``factor``), and p50 / p99 / max of each step over the orders.

    ``orders`` are the watch's orders (:meth:`bench.oversell.OversellWatch.report`), with the
    instant each other channel's fake recorded the unit going unsellable (``fake_gone``) and
    the instant the watch's polls last saw it stop selling there (``gone``); a channel's
    ``gone`` is the fake's, its ``watch_gone`` the watch's (the difference: the watch's lag).
    """
    rows = []
    pass_starts = sorted(
        steps["start"] for key, steps in trace.steps.items() if key.startswith("pass:")
    )
    for order in orders:
        key = order_key(order["channel"], order["order_id"])
        steps = trace.steps.get(key, {})
        created = order["created"]
        end = "fake_resolved" if "fake_resolved" in order else "resolved"
        row: dict[str, Any] = {
            "key": key,
            "window": _window(order, end, factor),
            "watch_window": _window(order, "resolved", factor),
            "held_on": trace.held.get(key, []),
            # Channels where the watch saw the unit for sale after the fake's end (a relisting).
            "sold_after_end": order.get("sold_after_end", []),
            "cpu_ms": round(steps.get("cpu", 0.0) * 1000, 1),
            # Platform seconds the order's threads waited, all told, for the store's lock.
            "store_wait": round(steps.get("store_wait", 0.0) * factor, 2),
        }
        in_pass = _in_pass(pass_starts, created, order[end])
        if in_pass is not None:
            row["in_pass"] = round(in_pass * factor, 2)
        for step in ORDER_STEPS:
            if step in steps:
                row[step] = round((steps[step] - created) * factor, 2)
        for channel in channels:
            if channel == order["channel"]:
                continue
            mine = {}
            for step in ("w_start", "w_sent", "w_answered", "w_end"):
                at = steps.get(f"{step}:{channel}")
                if at is not None:
                    mine[step] = round((at - created) * factor, 2)
            # The fake's own record of the moment (the watch's poll only where there is none).
            gone = (order.get("fake_gone") or order.get("gone") or {}).get(channel)
            if gone is not None:
                mine["gone"] = round((gone - created) * factor, 2)
            seen = order.get("gone", {}).get(channel)
            if seen is not None and "fake_gone" in order:
                mine["watch_gone"] = round((seen - created) * factor, 2)
            row[channel] = mine
        rows.append(row)
    return {"orders": rows, "steps": _step_stats(rows, channels)}


def _in_pass(starts: list[float], created: float, resolved: float | None) -> float | None:
    """The part of a window spent in the order pass that closed it (polling): from that pass's
    start, or from the order's creation if it came during the pass, to the window's end. What
    is left of the window is the wait for that pass, the polling interval's share."""
    if resolved is None:
        return None
    started = [at for at in starts if at <= resolved]
    return resolved - max(started[-1], created) if started else None


def _step_stats(rows: list[dict[str, Any]], channels: Collection[str]) -> dict[str, Any]:
    from bench.oversell import percentile

    series: dict[str, list[float]] = {}

    def add(name: str, value: float | None) -> None:
        if value is not None:
            series.setdefault(name, []).append(value)

    # Named in the order of an order's path, so the table reads top to bottom.
    for step in ORDER_STEPS:
        series[f"{step} (from the previous step)"] = []
    series["in the order pass that closed it (polling)"] = []
    for channel in sorted(channels):
        for part in (
            "queue to call",
            "withdraw_units call",
            "answered to gone",
            "order to gone",
            "watch lag",
        ):
            series[f"{channel}: {part}"] = []
    series["store wait (all the order's threads)"] = []
    for row in rows:
        add("store wait (all the order's threads)", row.get("store_wait"))
        add("in the order pass that closed it (polling)", row.get("in_pass"))
        previous = 0.0
        for step in ORDER_STEPS:
            if step in row:
                add(f"{step} (from the previous step)", row[step] - previous)
                previous = row[step]
        for channel in channels:
            mine = row.get(channel) or {}
            add(f"{channel}: queue to call", _span(mine, "w_start", "w_sent"))
            add(f"{channel}: withdraw_units call", _span(mine, "w_sent", "w_answered"))
            add(f"{channel}: answered to gone", _span(mine, "w_answered", "gone"))
            add(f"{channel}: order to gone", mine.get("gone"))
            add(f"{channel}: watch lag", _span(mine, "gone", "watch_gone"))
    return {
        name: {
            "n": len(values),
            "p50": round(percentile(values, 0.5), 2),
            "p99": round(percentile(values, 0.99), 2),
            "max": round(max(values), 2),
        }
        for name, values in series.items()
        if values
    }

"""What ``GET /metrics`` shows, in the Prometheus text format (through prometheus-client).

Counters and histograms are fed as things happen: passes (from the host's pass observers),
HTTP attempts (from the HTTP client's response observers), webhook deliveries (from the
receiver), and the oversell window (from the engine's ``window_closed`` callback). The state
gauges (outbox, quarantine, conflicts) are read from the store at each scrape, so they are
right even for what happened before this process started.

Each :class:`Metrics` has a registry of its own (never the process-wide default), so two hosts
in one process, or two tests, do not see each other's counts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from serialsync.engine.summary import PassSummary
from serialsync.logging import get_logger
from serialsync.store import OutboxState, SaleWindow, Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Oversell-window buckets (seconds): the target is p99 within 5 s with webhooks, and one
#: polling interval (a minute or more) without.
_WINDOW_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600)
_PASS_BUCKETS = (0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)
#: How many recently closed windows are remembered to observe each once. A second close of
#: the same window comes from a transaction retried within the same pass, so a few thousand
#: recent ones cover it; remembering every window ever closed would grow for the life of a
#: long-running ``serialsync run``.
RECENT_WINDOWS = 4096

_log = get_logger("serialsync.service")


class Metrics:
    """The service's metrics, with a registry of their own."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.registry = CollectorRegistry(auto_describe=True)
        self.passes = Counter(
            "serialsync_passes",
            "Passes that ended, by kind and whether they went cleanly",
            ["kind", "ok"],
            registry=self.registry,
        )
        self.pass_seconds = Histogram(
            "serialsync_pass_duration_seconds",
            "How long passes took, by kind",
            ["kind"],
            buckets=_PASS_BUCKETS,
            registry=self.registry,
        )
        self.http_requests = Counter(
            "serialsync_http_requests",
            "HTTP attempts to the platforms, by connector and status ('error': no answer)",
            ["connector", "status"],
            registry=self.registry,
        )
        self.http_throttled = Counter(
            "serialsync_http_throttled",
            "HTTP answers that said to slow down (429, or the platform's own throttle signal)",
            ["connector"],
            registry=self.registry,
        )
        self.http_retries = Counter(
            "serialsync_http_retries",
            "HTTP attempts sent again after a wait (a throttle, a 5xx, no answer), by connector; "
            "counted by the passes that sent them",
            ["connector"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "serialsync_webhook_deliveries",
            "Webhook deliveries received, and orders they triggered, by connector and result",
            ["connector", "result"],
            registry=self.registry,
        )
        self.oversell_window = Histogram(
            "serialsync_oversell_window_seconds",
            "From an order's creation on its channel to its unit being unsellable on every "
            "other channel",
            buckets=_WINDOW_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StoreCollector(store))
        # Insertion-ordered, so the oldest key is dropped first once RECENT_WINDOWS are kept.
        self._timed: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    # -- observers ----------------------------------------------------------------------------

    def observe_pass(self, summary: PassSummary, ok: bool) -> None:
        """A pass ended (the host's pass observer)."""
        self.passes.labels(kind=summary.kind, ok=str(ok).lower()).inc()
        if summary.finished_at is not None:
            seconds = (summary.finished_at - summary.started_at).total_seconds()
            self.pass_seconds.labels(kind=summary.kind).observe(max(0.0, seconds))
        for connector, counts in summary.connectors.items():
            if counts.http.retries:
                self.http_retries.labels(connector=connector).inc(counts.http.retries)

    def observe_response(self, connector: str, status: str, throttled: bool) -> None:
        """One HTTP attempt ended (the HTTP client's response observer)."""
        self.http_requests.labels(connector=connector, status=status).inc()
        if throttled:
            self.http_throttled.labels(connector=connector).inc()

    def observe_delivery(self, connector: str, result: str) -> None:
        """A webhook delivery was answered, or the order it named was worked."""
        self.webhooks.labels(connector=connector, result=result).inc()

    def observe_window(self, window: SaleWindow) -> None:
        """A unit's oversell window closed (the engine's ``window_closed``): from its order's
        creation on its channel to the unit unsellable on every other channel, as the store
        recorded it (the dashboard charts the same windows). Each is observed once: a window closed
        again among the last :data:`RECENT_WINDOWS` closed is not observed a second time."""
        seconds = window.seconds
        if seconds is None:
            return
        key = (window.channel, window.order_id, window.serial)
        with self._lock:
            # The store closes a window once; a transaction rolled back after it closed would
            # close it again.
            if key in self._timed:
                return
            self._timed[key] = None
            if len(self._timed) > RECENT_WINDOWS:
                self._timed.popitem(last=False)
        self.oversell_window.observe(seconds)

    # -- exposition ---------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)


class _StoreCollector(Collector):
    """The state gauges, read from the store at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        outbox = GaugeMetricFamily(
            "serialsync_outbox", "Sales in the outbox, by state", labels=["state"]
        )
        quarantine = GaugeMetricFamily(
            "serialsync_quarantine", "Records in quarantine, by kind", labels=["kind"]
        )
        conflicts = GaugeMetricFamily(
            "serialsync_conflicts", "Units sold twice, waiting for a person"
        )
        try:
            by_state = self.store.counts("outbox", "state")
            by_kind = self.store.counts("quarantine", "kind")
        except Exception:  # a scrape must answer even when the store does not
            _log.exception("metrics.store_unreadable")
            return
        for state in OutboxState:
            outbox.add_metric([state.value], by_state.get(state.value, 0))
        for kind, count in sorted(by_kind.items()):
            quarantine.add_metric([kind], count)
        conflicts.add_metric([], by_state.get(OutboxState.CONFLICT.value, 0))
        yield outbox
        yield quarantine
        yield conflicts

    def describe(self) -> Iterator[Metric]:
        # Without describe(), registering would call collect() (and read the store) at once.
        return iter(())

"""The measured passes, run in a host process of their own against a sandbox child.

One call of :func:`run_scenario` builds the sandbox (child process), the host (this process,
on the scaled clock), and measures, as asked: the publish of the whole catalogue to every
channel side by side, the no-op pass over it, the order pass of N orders, and one steady cycle
(a no-op inventory pass and an order pass with one order per channel) that the oversell window
is computed from. Timing of each channel's part of a pass comes from the engine's ``progress``
and ``checkpoint`` callbacks, which run in that channel's thread.
"""

from __future__ import annotations

import random
import resource
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from serialsync.concurrency import AdaptiveLimit
from serialsync.connector import ConnectorContext, Role
from serialsync.host import Host
from serialsync.http import HttpClient
from serialsync.logging import configure_logging
from serialsync.manager import PluginManager
from serialsync.settings import Settings, load_settings
from serialsync.store import SQLiteStore

from bench.budget import Charge, available_at, verdict, withdraw_floor, worst
from bench.busy import (
    WITHDRAW_PATTERNS,
    IntervalPairs,
    handover_latencies,
    merged,
    union_seconds,
    waited_within,
    withdraw_requests,
)
from bench.callback_cpu import CallbackCpu
from bench.platforms import (
    CHANNELS,
    POS,
    Limits,
    bigcommerce_metafields,
    request_floor,
    time_floor,
)
from bench.sandbox_process import SandboxProcess, bench_catalogue
from bench.thread_cpu import HelperCpu
from bench.timescale import TimeScale, unscaled, waited, waited_union

T = TypeVar("T")


class Timeline:
    """What each channel's thread did, and when: fed by the engine's callbacks."""

    def __init__(
        self, helpers: HelperCpu | None = None, callbacks: CallbackCpu | None = None
    ) -> None:
        self._lock = threading.Lock()
        #: The CPU of the threads a channel's connector sends on besides the engine's.
        self.helpers = helpers or HelperCpu()
        #: The CPU these callbacks (and the bench's other hooks) spend in the host's threads.
        self.callbacks = callbacks or CallbackCpu()
        self.reset()

    def reset(self) -> None:
        """Forget everything (before the next pass)."""
        with self._lock:
            self.thread_channel: dict[int, str] = {}
            self.first: dict[tuple[str, str], float] = {}
            self.last: dict[tuple[str, str], float] = {}
            self.cpu: dict[str, float] = {}
            #: Each channel's withdrawals, ``withdraw.started`` → ``withdraw.done``.
            self.withdrawals = IntervalPairs()
            self.helpers.baseline()

    def _note(self, what: str, channel: str, started: float) -> float:
        now = time.monotonic()
        with self._lock:
            self.first.setdefault((what, channel), now)
            self.last[(what, channel)] = now
            if channel:
                # The thread's CPU as this callback started, less the earlier callbacks' own.
                self.cpu[channel] = started - self.callbacks.in_thread()
                # The channel's last callback comes after its helper threads' work is done.
                self.helpers.sample(channel)
        return now

    def channel_cpu(self, channel: str) -> float:
        """CPU seconds of ``channel``'s part of the pass: its engine thread's and its
        connector's helper threads'."""
        with self._lock:
            return self.cpu.get(channel, 0.0) + self.helpers.seconds(channel)

    def progress(self, task: str, connector: str, done: int, total: int | None) -> None:
        """The engine's ``progress`` callback (its CPU counted in :attr:`callbacks`)."""
        started = self.callbacks.start()
        try:
            if task in ("publish", "withdraw"):
                with self._lock:
                    self.thread_channel[threading.get_ident()] = connector
            self._note(task, connector, started)
        finally:
            self.callbacks.stop(started)

    def checkpoint(self, step: str) -> None:
        """The engine's ``checkpoint`` callback (its CPU counted in :attr:`callbacks`)."""
        started = self.callbacks.start()
        try:
            thread = threading.get_ident()
            channel = self.thread_channel.get(thread, "")
            now = self._note(
                step, channel if step.startswith(("publish", "withdraw")) else "", started
            )
            # Paired per thread: two withdrawals of one channel may run at once.
            if step == "withdraw.started":
                self.withdrawals.start(thread, channel, now)
            elif step == "withdraw.done":
                self.withdrawals.end(thread, now)
        finally:
            self.callbacks.stop(started)

    def bounds(
        self, task: str, channel: str, end_step: str = "publish.recorded"
    ) -> tuple[float, float]:
        """Real instants of a channel's first ``task`` event and its last ``end_step``."""
        start = self.first.get((task, channel), 0.0)
        end = max(self.last.get((end_step, channel), 0.0), self.last.get((task, channel), 0.0))
        return start, max(start, end)

    def earliest(self, what: str) -> float | None:
        """The first time any channel did ``what``."""
        times = [t for (w, _), t in self.first.items() if w == what]
        return min(times) if times else None


def distinct_order_numbers(config: str) -> str:
    """The sandbox's configuration, with AIM order numbers prefixed by the channel.

    The channel fakes number their orders from overlapping ranges, and AIM finds an order by
    its number alone: with the default format a BigCommerce order and a WooCommerce order of
    the same number collide, and the second sale is refused.
    """
    section = f"[connectors.{POS}]\n"
    return config.replace(
        section, section + 'order_number_format = "{channel}-{order_number}"\n', 1
    )


def build_host(settings: Settings, scale: TimeScale, timeline: Timeline | None) -> Host:
    """What ``Host.from_settings(settings, sleep=...)`` builds, with a scaled ``clock`` too.

    ``Host.from_settings`` takes a ``sleep`` but no ``clock``; the plugins' pacing (Shopify's
    bucket projection, BigCommerce's window reset) reads the context's clock, so on scaled time
    it must be the scaled clock. Each connector also sleeps under its own name, so the
    platform time it waited is counted apart. Without a ``timeline`` the engine's callbacks
    stay its own no-ops (a CPU measurement then counts none of the benchmark's work).
    """
    manager = PluginManager(allow=settings.plugins.allow, deny=settings.plugins.deny)
    for name, section in settings.connectors.items():
        if section.enabled:
            context = ConnectorContext(
                name=name, sleep=scale.sleeper(f"client:{name}"), clock=scale.monotonic
            )
            manager.add_connector(
                name, section.plugin, section.options(reveal_secrets=True), context
            )
    store = SQLiteStore.open(settings.store.path)
    return Host(
        plugins=manager,
        store=store,
        sync=settings.sync,
        checkpoint=timeline.checkpoint if timeline is not None else None,
        progress=timeline.progress if timeline is not None else None,
        owns_store=True,
    )


def http_clients(obj: object) -> list[HttpClient]:
    """Every :class:`HttpClient` a connector holds (found through its attributes)."""
    return held(obj, HttpClient)


def held(obj: object, kind: type[T], depth: int = 3) -> list[T]:
    """Every ``kind`` object ``obj`` holds, found through its attributes ``depth`` deep."""
    if isinstance(obj, kind):
        return [obj]
    if depth == 0 or not hasattr(obj, "__dict__"):
        return []
    found: list[T] = []
    for value in vars(obj).values():
        for item in held(value, kind, depth - 1):
            if all(item is not f for f in found):
                found.append(item)
    return found


def limit_cuts(host: Host) -> dict[str, dict[str, float]]:
    """Per connector with an :class:`AdaptiveLimit`: how often it cut its limit, by cause,
    and the limit it stands at."""
    out: dict[str, dict[str, float]] = {}
    for handle in host.plugins.connectors():
        for limit in held(handle.impl, AdaptiveLimit):
            out[handle.name] = {**limit.cuts, "limit": limit.limit}
    return out


def client_stats(host: Host) -> dict[str, dict[str, float]]:
    """``HttpClient.stats`` summed per connector."""
    out: dict[str, dict[str, float]] = {}
    for handle in host.plugins.connectors():
        total: dict[str, float] = defaultdict(float)
        for client in http_clients(handle.impl):
            for key, value in client.stats.items():
                total[key] += value
        out[handle.name] = dict(total)
    return out


def _delta(after: dict[str, dict[str, float]], before: dict[str, dict[str, float]]) -> Any:
    return {
        name: {k: v - before.get(name, {}).get(k, 0.0) for k, v in stats.items()}
        for name, stats in after.items()
    }


BUDGET_BOUND = ("shopify", "bigcommerce")


def span_times(
    name: str, real: float, slept: float, scale: TimeScale
) -> tuple[float, float | None]:
    """A channel's span in platform seconds: ``(estimate, upper bound)``.

    The estimate puts the channel's sleeps (its latency, its pacing and retry waits) back at
    platform speed and keeps the host's own work at real speed (:func:`unscaled`). That is
    exact for a latency-bound platform. For a budget-bound one (Shopify, BigCommerce) the
    budget refills N times faster while the host works, so the estimate may fall short by up
    to (N - 1) x the host's work; ``real x N`` is then the upper bound (``None`` otherwise).
    """
    estimate = unscaled(real, slept, scale.factor)
    upper = real * scale.factor if name in BUDGET_BOUND else None
    return estimate, upper


def _events(scale: TimeScale, sandbox: SandboxProcess) -> list[tuple[str, float, float]]:
    events: list[tuple[str, float, float]] = [*scale.take_events(), *sandbox.call("sleeps")]
    return events


def child_spec(spec: dict[str, Any], scale: TimeScale, store: Path, **extra: Any) -> dict[str, Any]:
    """What the sandbox child is given: ``spec``'s catalogue, limits and seed on ``scale``, the
    POS and every channel, its state in ``store``; ``extra`` adds or overrides keys."""
    return {
        "scale": scale.spec(),
        "limits": spec["limits"],
        "skus": spec["skus"],
        "units": spec["units"],
        "seed": spec["seed"],
        "types": [POS, *CHANNELS],
        "store": str(store),
        **extra,
    }


@contextmanager
def host_log(workdir: Path, level: str, *, fresh: bool = True) -> Iterator[None]:
    """``workdir`` made (its state database removed when ``fresh``), and the host's logs
    written to ``host.log`` there at ``level`` while the block runs."""
    workdir.mkdir(parents=True, exist_ok=True)
    if fresh:
        for stale in workdir.glob("state.db*"):
            stale.unlink()
    log = (workdir / "host.log").open("w")
    configure_logging(level=level, format="json", stream=log)
    try:
        yield
    finally:
        log.close()


def write_config(sandbox: SandboxProcess, workdir: Path, *, orders: bool = True) -> Path:
    """The sandbox's configuration in ``workdir``; with ``orders``, order numbers kept distinct
    across channels (:func:`distinct_order_numbers`)."""
    config = workdir / "serialsync.toml"
    config.write_text(distinct_order_numbers(sandbox.config) if orders else sandbox.config)
    return config


def run_scenario(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the measurements ``spec`` asks for; a JSON-ready dict of results."""
    workdir = Path(spec["workdir"])
    scale = TimeScale(spec["time_scale"])
    limits = Limits(**spec["limits"])
    child = child_spec(spec, scale, workdir / "state.db", pos_age=spec.get("pos_age", 0))
    results: dict[str, Any] = {"skus": spec["skus"], "units_per_sku": spec["units"]}
    with host_log(workdir, "info"), SandboxProcess(child) as sandbox:
        config = write_config(sandbox, workdir)
        timeline = Timeline()
        with build_host(load_settings(config), scale, timeline) as host:
            results["publish"] = measure_publish(host, sandbox, timeline, scale, limits, spec)
            results["rss_after_publish_mb"] = _peak_rss_mb()
            if spec.get("burst"):  # the publish, then the order burst alone
                results["orders"] = measure_orders(
                    host,
                    sandbox,
                    timeline,
                    scale,
                    spec["orders"],
                    limits,
                    at_scale=spec.get("burst_scale"),
                )
            elif spec.get("full", True):
                results["noop"] = measure_noop(host, sandbox, timeline.callbacks)
                results["changes"] = measure_changes(host, sandbox)
                results["orders"] = measure_orders(
                    host,
                    sandbox,
                    timeline,
                    scale,
                    spec["orders"],
                    limits,
                    at_scale=spec.get("burst_scale"),
                )
                results["cycle"] = measure_cycle(host, sandbox, timeline, scale, limits)
    results["host_peak_rss_mb"] = _peak_rss_mb()
    return results


def _peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_publish(
    host: Host,
    sandbox: SandboxProcess,
    timeline: Timeline,
    scale: TimeScale,
    limits: Limits,
    spec: dict[str, Any],
) -> dict[str, Any]:
    """The first inventory pass: every unit created on every channel, channels side by side."""
    sandbox.call("reset")
    _events(scale, sandbox)
    timeline.reset()
    before_clients = client_stats(host)
    before_child = sandbox.call("stats")
    with host_cpu(timeline.callbacks) as measured:
        wall0 = time.monotonic()
        summary = host.inventory_pass()
        wall = time.monotonic() - wall0
    cpu = measured["host_cpu"]
    child = sandbox.call("stats")
    events = _events(scale, sandbox)
    clients = _delta(client_stats(host), before_clients)
    units = spec["skus"] * spec["units"]
    per_product = [spec["units"]] * spec["skus"]
    # The catalogue the sandbox holds (the same seed): BigCommerce's floor counts its metafields.
    catalogue = bench_catalogue(skus=spec["skus"], units=spec["units"], seed=spec["seed"])
    metafields = [bigcommerce_metafields(p) for p in catalogue]
    channels: dict[str, Any] = {}
    for name in CHANNELS:
        fake = child["fakes"][name]
        counts = summary.connectors.get(name)
        begin, finish = timeline.bounds("publish", name)
        real = finish - begin
        requests = fake["requests"]
        floor = request_floor(name, per_product, limits, metafields)
        cost = float(fake.get("cost", 0.0))
        operations = fake.get("operations", 0) - before_child["fakes"][name].get("operations", 0)
        t_floor = time_floor(name, requests, limits, cost, operations)
        # Overlapping sleeps once: Magento sends several requests at once, whose latencies
        # pass side by side (for one request at a time the union is the sum).
        slept = waited_union(events, begin, finish, name, scale.factor)
        t_wall, t_upper = span_times(name, real, slept, scale)
        channels[name] = {
            "units": units,
            "created": counts.created if counts else 0,
            "failed": counts.failed if counts else 0,
            "requests": requests,
            "requests_per_unit": requests / units,
            "request_floor": floor,
            "request_ratio": requests / floor,
            "bulk_operations": operations,
            "real_seconds": real,
            "slept": slept,
            "platform_seconds": t_wall,
            "platform_upper": t_upper,
            "time_floor": t_floor,
            "time_ratio": t_wall / t_floor if t_floor > 0 else None,
            "time_ratio_upper": t_upper / t_floor if t_upper and t_floor > 0 else None,
            "shopify_cost": cost if name == "shopify" else None,
            "throttled_fake": fake["throttled"],
            "throttled_client": clients.get(name, {}).get("throttled", 0.0),
            "retries": clients.get(name, {}).get("retries", 0.0),
            "client_waited": clients.get(name, {}).get("waited", 0.0),
            "thread_cpu": timeline.channel_cpu(name),
            "helper_cpu": timeline.helpers.seconds(name),
            "cpu_ms_per_unit": timeline.channel_cpu(name) / units * 1000,
            "patterns": fake["patterns"],
        }
    return {
        "units": units,
        "real_seconds": wall,
        **measured,
        "host_cpu_per_1000_units": cpu / units * 1000,
        "sandbox_cpu": child["cpu"] - before_child["cpu"],
        "pos_requests": child["fakes"][POS]["requests"],
        "ok": summary.ok,
        "errors": {n: c.errors[:3] for n, c in summary.connectors.items() if c.errors},
        "channels": channels,
    }


def measure_noop(host: Host, sandbox: SandboxProcess, callbacks: CallbackCpu) -> dict[str, Any]:
    """An inventory pass over the unchanged catalogue: writes must be 0."""
    sandbox.call("reset")
    with host_cpu(callbacks) as measured:
        wall0 = time.monotonic()
        summary = host.inventory_pass()
        wall = time.monotonic() - wall0
    child = sandbox.call("stats")["fakes"]
    return {
        "real_seconds": wall,
        **measured,
        "ok": summary.ok,
        "channels": {
            n: {"writes": child[n]["writes"], "reads": child[n]["reads"]} for n in CHANNELS
        },
        "pos": {"requests": child[POS]["requests"], "patterns": child[POS]["patterns"]},
    }


CHANGE_KINDS = ("attribute", "image", "price", "title", "brand", "product_image")


def measure_changes(host: Host, sandbox: SandboxProcess) -> dict[str, Any]:
    """One inventory pass after each of one change in the POS (a unit's attribute, a unit's
    photo, a unit's price, a product's title, brand or photo): the requests each channel was
    sent, which should be the few that change needs, never a re-send of the product."""
    out: dict[str, Any] = {}
    for kind in CHANGE_KINDS:
        changed = sandbox.call("change", kind=kind)
        sandbox.call("reset")
        summary = host.inventory_pass()
        child = sandbox.call("stats")["fakes"]
        out[kind] = {
            "changed": changed,
            "ok": summary.ok,
            "channels": {
                n: {
                    "requests": child[n]["requests"],
                    "writes": child[n]["writes"],
                    "patterns": child[n]["patterns"],
                }
                for n in CHANNELS
            },
        }
    return out


def _phases(
    timeline: Timeline,
    start: float,
    end: float,
    events: list[tuple[str, float, float]],
    scale: TimeScale,
) -> tuple[dict[str, float], dict[str, float]]:
    """Fetch, withdraw and report durations of an order pass: real, and platform seconds.

    Channels run side by side in the fetch and withdraw steps; a step's platform time takes
    the sleeps of the channel that slept most in it (overlapping sleeps counted once).
    """
    withdraw = timeline.earliest("withdraw") or timeline.earliest("publish")
    report = timeline.earliest("report.before_call")
    fetch_end = withdraw or report or end
    withdraw_end = report or end
    steps = {"fetch": (start, fetch_end), "withdraw": (fetch_end, withdraw_end)}
    steps["report"] = (withdraw_end, end)
    real = {k: max(0.0, b - a) for k, (a, b) in steps.items()}
    platform = {
        k: unscaled(
            real[k],
            max(waited_union(events, a, b, c, scale.factor) for c in (*CHANNELS, POS)),
            scale.factor,
        )
        for k, (a, b) in steps.items()
    }
    real["total"] = end - start
    platform["total"] = sum(platform[k] for k in steps)
    return real, platform


def withdraw_by_channel(
    timeline: Timeline,
    events: list[tuple[str, float, float]],
    scale: TimeScale,
    sandbox: SandboxProcess,
    withdrawn: dict[str, int],
    limits: Limits,
    pass_start: float,
) -> dict[str, dict[str, Any]]:
    """Each channel's withdraw step: its span in platform seconds and the requests it sent,
    and the time its withdrawals themselves ran.

    The span runs from the channel's first ``withdraw`` progress call to its last, in the
    channel's own thread; the requests are those its fake served within that span. Since the
    order pass withdraws each channel's claims as that channel's read ends, the span also holds
    the waits for the other channels' reads: the ``busy`` figures count only the union of the
    channel's withdrawals (``withdraw.started`` → ``withdraw.done``), and the hand-over latency
    is how long a reading channel's sold units waited for the channel's next withdrawal
    (:mod:`bench.busy`). A budget-bound channel's ``budget`` says whether its budget could have
    bound its withdrawals (``busy_platform_proven``: the estimate when it could not); a
    latency-bound one's ``floor`` is the least its withdrawals could take (:mod:`bench.budget`).
    """
    spans = {name: timeline.bounds("withdraw", name, "withdraw.recorded") for name in CHANNELS}
    served = sandbox.call("requests_between", spans=spans)
    intervals = {name: timeline.withdrawals.of(name) for name in CHANNELS}
    wire = {n: [list(i) for i in iv] for n, iv in intervals.items()}
    labels = sandbox.call("labels_within", intervals=wire)
    # A channel's read ends with its last order's progress note (one per order processed).
    read_ends = {
        name: at for (what, name), at in timeline.last.items() if what == "fetch_orders" and name
    }
    products = sandbox.call(
        "paths_within", intervals=wire, labels={n: list(p) for n, p in WITHDRAW_PATTERNS.items()}
    )
    budgets = sandbox.call("budgets")
    out: dict[str, dict[str, Any]] = {}
    for name, (begin, finish) in spans.items():
        real = finish - begin
        slept = waited_union(events, begin, finish, name, scale.factor)
        estimate, upper = span_times(name, real, slept, scale)
        out[name] = {
            "withdrawn": withdrawn.get(name, 0),
            "requests": served[name]["requests"],
            "patterns": served[name]["patterns"],
            "real_seconds": real,
            "platform_seconds": estimate,
            "platform_upper": upper,
            "steps_real": _steps(timeline, name, begin),
            **_busy(name, intervals[name], read_ends, events, scale, labels.get(name, {})),
        }
        step = out[name]
        if name in budgets:
            budget = _budget(name, intervals[name], budgets[name], events, scale, pass_start)
            step["budget"] = budget
            # At 1x platform time is real time: the busy time holds every wait a budget
            # imposed at its real refill rate, and needs no proof that none could bind.
            at_real_speed = scale.factor == 1
            proven = at_real_speed or (budget is not None and not budget["could_bind"])
            step["busy_platform_proven"] = step["busy_platform_seconds"] if proven else None
            step["busy_proven_by"] = (
                ("real speed" if at_real_speed else "budget") if proven else None
            )
        floor = withdraw_floor(
            name,
            limits,
            distinct_products=products.get(name, 0),
            requests=step["withdraw_requests"],
        )
        if floor is not None:
            busy = step["busy_platform_seconds"]
            floor["busy_ratio"] = (
                busy / floor["platform_seconds"] if floor["platform_seconds"] else None
            )
            step["floor"] = floor
    return out


def _budget(
    name: str,
    intervals: list[tuple[float, float]],
    budget: dict[str, Any],
    events: list[tuple[str, float, float]],
    scale: TimeScale,
    pass_start: float,
) -> dict[str, Any] | None:
    """Whether ``name``'s budget could have bound any of its withdrawals (overlapping ones
    merged): the interval nearest to binding, with the verdict over all of them, the client's
    waits over all of them, and each interval's own figures (:func:`bench.budget.verdict`).

    ``no_refill_since_pass`` asks the stronger question: from what the budget held as the
    order pass began, with no refill at all since, would every request up to the end of the
    channel's last withdrawal have fit? (What the budget held as an interval began was itself
    reached at the bench's scale, refilled faster during the read before it.) For a bucket,
    ``refill_bound`` is what an exact pacer would wait at most, at any scale, were the bucket
    empty as each withdrawal began: the intervals' ``needed`` over the restore rate (platform
    seconds). ``None`` when the channel did not withdraw.
    """
    charges = [Charge(*c) for c in budget["charges"]]
    capacity, rate = float(budget["capacity"]), float(budget["rate"])
    each = []
    for interval in merged(intervals):
        waited = waited_within(events, [interval], name, scale.factor, sides=("client",))
        available = available_at(charges, interval[0], capacity, rate)
        each.append(verdict(charges, interval, available, capacity, waited))
    nearest = worst(each)
    if nearest is None:
        return None
    at_pass = available_at(charges, pass_start, capacity, rate)
    since = verdict(charges, (pass_start, max(e for _, e in intervals)), at_pass, capacity, 0.0)
    out = {
        **nearest,
        "could_bind": any(v["could_bind"] for v in each),
        "client_waited": sum(v["client_waited"] for v in each),
        "intervals": each,
        "no_refill_since_pass": {
            "available_at_pass_start": at_pass,
            "needed": since["needed"],
            "requests": since["requests"],
            "could_bind": since["needed"] > at_pass or since["refused"] > 0,
        },
    }
    if rate > 0:
        # A bucket refills steadily: from empty at each withdrawal's start, what each needed
        # comes back in needed / restore rate platform seconds, whatever the time scale.
        out["refill_bound"] = sum(v["needed"] for v in each) / (rate / scale.factor)
    if name == "bigcommerce":
        # A window's figures as BigCommerce counts them: requests used of its quota.
        for figures in (out, *each):
            figures["used_at_start"] = capacity - figures["available_at_start"]
            figures["quota"] = figures.pop("capacity")
    return out


def _busy(
    name: str,
    intervals: list[tuple[float, float]],
    read_ends: dict[str, float],
    events: list[tuple[str, float, float]],
    scale: TimeScale,
    labels: dict[str, int],
) -> dict[str, Any]:
    """A channel's withdrawals as their own work: the union of their intervals (real, and in
    platform seconds as :func:`span_times` converts a span), how many, the hand-over latency
    (max over the reading channels) and the withdrawal requests served inside them."""
    busy = union_seconds(intervals)
    estimate, upper = span_times(
        name, busy, waited_within(events, intervals, name, scale.factor), scale
    )
    latencies = handover_latencies(read_ends, intervals)
    by_reader: dict[str, dict[str, float | None]] = {}
    for reader, ended in read_ends.items():
        real = latencies[reader]
        wait: dict[str, float | None] = {"real": real, "platform": None, "upper": None}
        if real is not None:
            # Whoever slept most while the units waited, as the pass's steps are converted;
            # the upper bound as for the channel's span.
            window = [(ended, ended + real)]
            slept = max(waited_within(events, window, c, scale.factor) for c in (*CHANNELS, POS))
            wait["platform"], wait["upper"] = span_times(name, real, slept, scale)
        by_reader[reader] = wait

    def worst(key: str) -> float | None:
        values = [v for w in by_reader.values() if (v := w[key]) is not None]
        return max(values) if values else None

    requests, others = withdraw_requests(name, labels)
    return {
        "withdrawals": len(intervals),
        "busy_real_seconds": busy,
        "busy_platform_seconds": estimate,
        "busy_platform_upper": upper,
        "handover_latency_real": worst("real"),
        "handover_latency_platform": worst("platform"),
        "handover_latency_upper": worst("upper"),
        "handover_by_reader": by_reader,
        "withdraw_requests": requests,
        "busy_other_requests": others.most_common(4),
    }


def _steps(timeline: Timeline, channel: str, begin: float) -> dict[str, float]:
    """Real seconds from a channel's first withdraw progress call to its first
    ``withdraw_units`` call, its last answer and its last record: where its span went."""
    marks = {
        "first_call": timeline.first.get(("withdraw.before_call", channel)),
        "last_answer": timeline.last.get(("withdraw.after_call", channel)),
        "last_recorded": timeline.last.get(("withdraw.recorded", channel)),
    }
    return {step: at - begin for step, at in marks.items() if at is not None}


def measure_orders(
    host: Host,
    sandbox: SandboxProcess,
    timeline: Timeline,
    scale: TimeScale,
    count: int,
    limits: Limits,
    *,
    at_scale: float | None = None,
) -> dict[str, Any]:
    """``count`` one-unit orders over the four channels, then one order pass.

    With ``at_scale``, the pass runs with platform time at that speed (1: platform time is
    real time, so the host's own work counts once and every budget refills at its real rate,
    with no estimate or upper bound to choose between), and the scale is put back after.
    """
    placed: dict[str, list[str]] = sandbox.call("orders", count=count, channels=list(CHANNELS))
    sandbox.call("reset")
    _events(scale, sandbox)
    with rescaled(scale, sandbox, at_scale):
        return _order_pass_measured(host, sandbox, timeline, scale, limits, placed)


@contextmanager
def rescaled(scale: TimeScale, sandbox: SandboxProcess, factor: float | None) -> Iterator[None]:
    """Inside the block, platform time runs ``factor`` times the wall clock in the host and in
    the sandbox's child alike (nothing changes for ``None`` or the current speed)."""
    before = scale.factor
    if factor is None or factor == before:
        yield
        return
    _switch(scale, sandbox, factor)
    try:
        yield
    finally:
        _switch(scale, sandbox, before)


def _switch(scale: TimeScale, sandbox: SandboxProcess, factor: float) -> None:
    """Change the speed in both processes at one real instant a little ahead (one clock for
    the machine), and wait for it: nothing sleeps across it."""
    at = time.monotonic() + SWITCH_LEAD
    sandbox.call("rescale", factor=factor, at=at)
    scale.rescale(factor, at=at)
    time.sleep(max(0.0, at - time.monotonic()) + 0.001)


#: Real seconds between asking both processes to change speed and the change.
SWITCH_LEAD = 0.2


def _order_pass_measured(
    host: Host,
    sandbox: SandboxProcess,
    timeline: Timeline,
    scale: TimeScale,
    limits: Limits,
    placed: dict[str, list[str]],
) -> dict[str, Any]:
    timeline.reset()
    with host_cpu(timeline.callbacks) as measured:
        start = time.monotonic()
        cuts = limit_cuts(host)
        with counted_statements(host, timeline.callbacks) as statements:
            summary = host.order_pass()
        cuts = {
            name: {
                k: v - cuts.get(name, {}).get(k, 0.0) if k != "limit" else v for k, v in c.items()
            }
            for name, c in limit_cuts(host).items()
        }
        end = time.monotonic()
    sold = [sku for skus in placed.values() for sku in skus]
    child = sandbox.call("stats")["fakes"]
    events = _events(scale, sandbox)
    real, platform = _phases(timeline, start, end, events, scale)
    withdrawn = {n: c.withdrawn for n, c in summary.connectors.items()}
    return {
        "placed": len(sold),
        "orders": summary.total("orders"),
        "reported": summary.total("sales_reported"),
        "sales_failed": summary.total("sales_failed"),
        "withdrawn": summary.total("withdrawn"),
        "failed": summary.total("failed"),
        "still_for_sale": sandbox.call("still_listed", skus=sold),
        "real": real,
        "platform": platform,
        "withdraw_by_channel": withdraw_by_channel(
            timeline, events, scale, sandbox, withdrawn, limits, start
        ),
        **measured,
        "store_statements": dict(sorted(statements.items())),
        "limit_cuts": cuts,
        "requests": {n: child[n]["requests"] for n in (*CHANNELS, POS)},
        "patterns": {n: child[n]["patterns"][:4] for n in (*CHANNELS, POS)},
        "time_scale": scale.factor,
    }


@contextmanager
def host_cpu(
    callbacks: CallbackCpu, clock: Callable[[], float] = time.process_time
) -> Iterator[dict[str, float]]:
    """This process's CPU seconds (``clock``) inside the block, less what the bench's counted
    callbacks spent in it: ``host_cpu`` (serialsync's), ``bench_callback_cpu`` (left out) and
    ``bench_callbacks`` (how many calls), filled in as the block ends."""
    spent0, calls0 = callbacks.total()
    cpu0 = clock()
    measured: dict[str, float] = {}
    yield measured
    cpu = clock() - cpu0
    spent, calls = callbacks.total()
    measured.update(
        host_cpu=cpu - (spent - spent0),
        bench_callback_cpu=spent - spent0,
        bench_callbacks=calls - calls0,
    )


@contextmanager
def counted_statements(host: Host, callbacks: CallbackCpu) -> Iterator[dict[str, int]]:
    """The SQL statements the host's store runs inside the block: in all, by the thread pool
    that ran them (``withdraw``: the withdraw step's channel threads), and the withdraw step's
    by their first two words. SQLite's trace callback sees each statement as it runs (an
    ``executemany`` once per row); another store counts nothing. The callback's CPU is counted
    in ``callbacks``."""
    counts: dict[str, int] = defaultdict(int)
    lock = threading.Lock()

    def trace(sql: str) -> None:
        pool = threading.current_thread().name.rsplit("_", 1)[0]
        with lock:
            counts["total"] += 1
            counts[f"thread {pool}"] += 1
            if pool == "withdraw":
                counts["withdraw " + " ".join(sql.split(None, 2)[:2]).upper()] += 1

    db = getattr(host.store, "_db", None)
    if db is not None:
        db.set_trace_callback(callbacks.wrap(trace))
    try:
        yield counts
    finally:
        if db is not None:
            db.set_trace_callback(None)


def measure_cycle(
    host: Host, sandbox: SandboxProcess, timeline: Timeline, scale: TimeScale, limits: Limits
) -> dict[str, Any]:
    """One steady cycle (``run_once``) with one new order per channel."""
    # Steady state: the budgets the order pass before spent have had time to come back.
    scale.sleep(max(limits.bigcommerce_window, limits.shopify_bucket / limits.shopify_restore))
    placed: dict[str, list[str]] = sandbox.call(
        "orders", count=len(CHANNELS), channels=list(CHANNELS)
    )
    sandbox.call("reset")
    _events(scale, sandbox)
    timeline.reset()
    start = time.monotonic()
    host.inventory_pass()
    inventory_end = time.monotonic()
    pos_requests = sandbox.call("stats")["fakes"][POS]["requests"]
    timeline.reset()  # the order pass's phases only
    host.order_pass()
    end = time.monotonic()
    events = _events(scale, sandbox)
    real, platform = _phases(timeline, inventory_end, end, events, scale)
    inventory = inventory_end - start
    slept = max(waited(events, start, inventory_end, c) for c in (*CHANNELS, POS))
    real = {"inventory": inventory, **real, "cycle": end - start}
    platform = {"inventory": unscaled(inventory, slept, scale.factor), **platform}
    platform["cycle"] = platform["inventory"] + platform["total"]
    sold = [sku for skus in placed.values() for sku in skus]
    return {
        "real": real,
        "platform": platform,
        "inventory_pos_requests": pos_requests,
        "still_for_sale": sandbox.call("still_listed", skus=sold),
    }


def host_channels(host: Host) -> list[str]:
    """The channel connectors of a host."""
    return [h.name for h in host.plugins.connectors(Role.CHANNEL)]


def run_baseline(spec: dict[str, Any]) -> dict[str, Any]:
    """The two scripts serialsync is compared with, on the first ``baseline_skus`` products:
    the careful one (``bench/careful.py``, the main baseline) and the naive one
    (``bench/naive.py``, one request per variant), each on fresh fakes, four channels side by
    side."""
    from bench.careful import run_careful
    from bench.naive import run_naive

    naive = _run_script(spec, run_naive, "naive")
    careful = _run_script(spec, run_careful, "careful")
    return {**naive, "careful": {"channels": careful["channels"]}}


def _run_script(spec: dict[str, Any], script: Any, label: str) -> dict[str, Any]:
    import tomllib
    from concurrent.futures import ThreadPoolExecutor

    scale = TimeScale(spec["time_scale"])
    limits = Limits(**spec["limits"])
    skus = spec["baseline_skus"]
    child = child_spec(
        spec,
        scale,
        Path(spec["workdir"]) / f"{label}.db",
        skus=skus,
        # The scripts speak Basic auth, and find Magento's serial attribute made.
        fake_extra={
            "woocommerce": {"basic_over_http": True},
            "magento": {"serial_attribute": "serial_number"},
        },
    )
    catalogue = bench_catalogue(skus=skus, units=spec["units"], seed=spec["seed"])
    units = skus * spec["units"]
    with SandboxProcess(child) as sandbox:
        sections = tomllib.loads(sandbox.config)["connectors"]
        with ThreadPoolExecutor(max_workers=len(CHANNELS)) as pool:
            futures = {
                name: pool.submit(script, name, sections[name], catalogue, scale)
                for name in CHANNELS
            }
            runs = {name: future.result() for name, future in futures.items()}
        stats = sandbox.call("stats")["fakes"]
        events = _events(scale, sandbox)
    out: dict[str, Any] = {"skus": skus, "units": units, "channels": {}}
    for name, run in runs.items():
        requests = run["requests"]
        cost = float(stats[name].get("cost", 0.0))
        slept = sum(s for n, _, s in events if n in (f"naive:{name}", f"fake:{name}"))
        t_wall = unscaled(run["real_seconds"], slept, scale.factor)
        out["channels"][name] = {
            **run,
            "requests_per_unit": requests / units,
            "platform_seconds": t_wall,
            "platform_seconds_per_unit": t_wall / units,
            "time_floor": time_floor(name, requests, limits, cost),
            "fake_throttled": stats[name]["throttled"],
        }
    return out


#: Channels whose fakes deliver webhooks (Magento Open Source has none: it stays on polling).
WEBHOOK_CHANNELS = ("shopify", "bigcommerce", "woocommerce")


def run_oversell(spec: dict[str, Any]) -> dict[str, Any]:
    """The oversell window measured end to end during a publish, as ``serialsync run`` runs.

    The host runs the inventory loop and the order loop side by side (the ``run`` command's
    :class:`Scheduler`), and with ``spec["mode"] == "webhooks"`` the service too, its
    subscriptions registered on every channel that has them. While the first publish is under
    way the sandbox's child places orders at random moments (gaps uniform in
    ``[0, 2 x order_gap]`` platform seconds) and watches, on the fakes' side, when each sold
    unit is unsellable on every other channel (:mod:`bench.oversell`: the fakes' own record of
    that moment, with the watch's polls as a cross-check). Once the publish is done
    it waits for the open orders (at most ``orders_interval`` + 120 platform seconds), stops
    the loops and reports the windows.
    """
    from pydantic import SecretStr
    from serialsync.cli.run import Scheduler, Stopper
    from serialsync.service import Service
    from serialsync.service.subscriptions import Action, manage
    from serialsync.settings import MetricsSettings, WebhookSettings

    from bench.oversell import cross_check, summarise
    from bench.trace import OrderTrace, breakdown

    workdir = Path(spec["workdir"])
    scale = TimeScale(spec["time_scale"])
    webhooks = spec["mode"] == "webhooks"
    channels = list(WEBHOOK_CHANNELS if webhooks else CHANNELS)
    orders_every = float(spec["orders_interval"])
    child = child_spec(spec, scale, workdir / "state.db", pos_age=spec.get("pos_age", 0))
    rng = random.Random(spec["seed"])
    out: dict[str, Any] = {"mode": spec["mode"], "orders_interval": orders_every}
    with host_log(workdir, "info"), SandboxProcess(child) as sandbox:
        settings = load_settings(write_config(sandbox, workdir))
        with build_host(settings, scale, Timeline()) as host:
            service: Service | None = None
            if webhooks:
                listen = WebhookSettings(listen="127.0.0.1:0", secret=SecretStr("bench-secret"))
                service = Service(host, webhooks=listen, metrics=MetricsSettings()).start()
                public = listen.model_copy(update={"public_url": service.urls[0]})
                registered = manage(host.plugins, public, Action.REGISTER)
                out["subscriptions"] = {
                    r.connector: r.error or len(r.subscriptions) for r in registered
                }
            # Stamps each order's steps on the host's side (before the loops take the methods).
            trace = OrderTrace()
            trace.install(host, service.worker if service is not None else None)
            stopper = Stopper()
            published = threading.Event()
            started = time.monotonic()

            def publish() -> None:
                if not published.is_set():
                    summary = host.inventory_pass()
                    out["publish"] = {
                        "ok": summary.ok,
                        "created": summary.total("created"),
                        "platform_seconds": (time.monotonic() - started) * scale.factor,
                    }
                    published.set()

            scheduler = Scheduler(stopper)
            scheduler.add("inventory", 10.0**6, publish)
            scheduler.add("orders", orders_every / scale.factor, host.order_pass)
            loops = threading.Thread(target=scheduler.run, name="bench-loops", daemon=True)
            sandbox.call("watch_start", seed=spec["seed"], poll=spec["poll"] / scale.factor)
            loops.start()
            placed = skipped = 0
            while not published.is_set() and placed < spec["oversell_orders"]:
                published.wait(rng.uniform(0, 2 * spec["order_gap"]) / scale.factor)
                if published.is_set():
                    break
                if sandbox.call("watch_place", channels=channels) is None:
                    skipped += 1
                else:
                    placed += 1
            published.wait()
            deadline = time.monotonic() + (orders_every + 120) / scale.factor
            while sandbox.call("watch_open") and time.monotonic() < deadline:
                time.sleep(0.05)
            stopper.requested = True
            loops.join(timeout=600)
            if service is not None:
                service.stop()
            watched = sandbox.call("watch_report")
            trace.uninstall()
            out.update(
                placed=placed,
                skipped=skipped,
                polls=watched["polls"],
                failures=[repr(e) for e in scheduler.failures],
                # The window ends at the fakes' own record; the watch's polls cross-check it.
                windows=summarise(watched["orders"], scale.factor, end="fake_resolved"),
                watch_windows=summarise(watched["orders"], scale.factor),
                cross_check=cross_check(watched["orders"], scale.factor),
                breakdown=breakdown(trace, watched["orders"], scale.factor, CHANNELS),
                gc=trace.gc_summary(),
                passes={
                    key: {step: round(at - started, 3) for step, at in steps.items()}
                    for key, steps in trace.steps.items()
                    if key.startswith("pass:")
                },
                real_seconds=time.monotonic() - started,
            )
    return out


def run_quiet(spec: dict[str, Any]) -> dict[str, Any]:
    """Host CPU of a quiet cycle over a published catalogue, and the publish's memory.

    The catalogue is published fast (no latency, time x1000: CPU and memory do not depend on
    platform time); then, with the POS's catalogue last changed ``pos_age`` seconds ago, one
    quiet cycle (an inventory pass and an order pass, nothing new) and one more inventory pass
    are measured by ``time.process_time()``. The host is built without the benchmark's
    callbacks, so their CPU is not counted. With ``spec["profile"]`` the quiet cycle is also
    written as a cProfile file there (and the publish beside it, ``.publish``).
    """
    import cProfile

    workdir = Path(spec["workdir"])
    scale = TimeScale(spec["time_scale"])
    child = child_spec(spec, scale, workdir / "state.db", pos_age=spec.get("pos_age", 0))
    units = spec["skus"] * spec["units"]
    out: dict[str, Any] = {"units": units, "pos_age": spec.get("pos_age", 0)}
    with host_log(workdir, "warning"), SandboxProcess(child) as sandbox:
        config = write_config(sandbox, workdir)
        with build_host(load_settings(config), scale, None) as host:
            first = cProfile.Profile() if spec.get("profile") else None
            cpu0 = time.process_time()
            if first is not None:
                first.enable()
            summary = host.inventory_pass()
            cpu = time.process_time() - cpu0
            if first is not None:
                first.disable()
                first.dump_stats(f"{spec['profile']}.publish")
            out["publish"] = {
                "ok": summary.ok,
                "created": summary.total("created"),
                "host_cpu": cpu,
                "host_cpu_ms_per_unit": cpu / units * 1000,
            }
            out["rss_after_publish_mb"] = _peak_rss_mb()
            sandbox.call("reset")
            profile = cProfile.Profile() if spec.get("profile") else None
            cpu0 = time.process_time()
            if profile is not None:
                profile.enable()
            inventory = host.inventory_pass()
            cpu_inventory = time.process_time() - cpu0
            orders = host.order_pass()
            cpu_cycle = time.process_time() - cpu0
            if profile is not None:
                profile.disable()
                profile.dump_stats(spec["profile"])
            child_stats = sandbox.call("stats")["fakes"]
            out["quiet"] = {
                "ok": inventory.ok and orders.ok,
                "host_cpu_inventory": cpu_inventory,
                "host_cpu_orders": cpu_cycle - cpu_inventory,
                "host_cpu_cycle": cpu_cycle,
                "writes": {n: child_stats[n]["writes"] for n in CHANNELS},
                "pos_requests": child_stats[POS]["requests"],
                "pos_units_read": inventory.total("units_in"),
            }
    out["host_peak_rss_mb"] = _peak_rss_mb()
    return out


def run_http(spec: dict[str, Any]) -> dict[str, Any]:
    """Host CPU per request through a connector's own :class:`HttpClient`, over loopback.

    Magento's fake (no rate limit, no latency here) answers ``GET /V1/store/storeConfigs``
    ``spec["requests"]`` times to the Magento connector's client, as the plugin built it
    (its headers, retries, redaction, transport); then the same through a bare
    :class:`httpx.Client` on the same connection settings, for comparison. CPU is
    ``time.process_time()`` of this process; the fake's is the child's.
    """
    import cProfile

    import httpx

    workdir = Path(spec["workdir"])
    scale = TimeScale(spec["time_scale"])
    child = child_spec(
        {**spec, "skus": 1, "units": 1}, scale, workdir / "state.db", types=[POS, "magento"]
    )
    count = int(spec["requests"])
    out: dict[str, Any] = {"requests": count}
    with host_log(workdir, "info", fresh=False), SandboxProcess(child) as sandbox:
        config = write_config(sandbox, workdir, orders=False)
        with build_host(load_settings(config), scale, None) as host:
            [client] = http_clients(host.plugins.connector("magento").impl)
            for _ in range(20):  # the connection opened, imports done
                client.get("V1/store/storeConfigs")
            profile = cProfile.Profile() if spec.get("profile") else None
            cpu0, use0 = time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
            if profile is not None:
                profile.enable()
            for _ in range(count):
                client.raise_for_status(client.get("V1/store/storeConfigs"))
            cpu = time.process_time() - cpu0
            use = resource.getrusage(resource.RUSAGE_SELF)
            if profile is not None:
                profile.disable()
                profile.dump_stats(spec["profile"])
            out["http_client_ms_per_request"] = cpu / count * 1000
            # The kernel's share: on loopback a send also runs the receiving side's TCP
            # work, charged to the sender; no HTTP client in Python can go below it.
            out["http_client_kernel_ms_per_request"] = (use.ru_stime - use0.ru_stime) / count * 1000
            base = str(client.base_url)
            headers = dict(client.headers)
            with httpx.Client(base_url=base, headers=headers) as bare:
                for _ in range(20):
                    bare.get("V1/store/storeConfigs")
                cpu0 = time.process_time()
                for _ in range(count):
                    bare.get("V1/store/storeConfigs").raise_for_status()
                cpu = time.process_time() - cpu0
            out["bare_httpx_ms_per_request"] = cpu / count * 1000
    return out


def with_magento_option(config: str, key: str, value: str) -> str:
    """The sandbox's configuration with ``key = value`` (a TOML value) in Magento's section."""
    section = "[connectors.magento]\n"
    if section not in config:
        raise ValueError("the sandbox's configuration has no Magento connector")
    return config.replace(section, f"{section}{key} = {value}\n", 1)


@contextmanager
def cpu_profile(path: str | None) -> Iterator[None]:
    """With a ``path``, the block profiled (the calling thread, timed by its CPU clock: a
    wall-clock profile would show the waits) and the profile written there."""
    if path is None:
        yield
        return
    import cProfile

    profile = cProfile.Profile(time.thread_time)
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        profile.dump_stats(path)


def run_magento_cpu(spec: dict[str, Any]) -> dict[str, Any]:
    """Host CPU of publishing the catalogue to Magento alone, by the path ``spec["bulk"]`` says.

    The sandbox child serves the POS and Magento's fake (no latency: CPU does not depend on
    platform time); this process publishes with ``bulk`` set to ``spec["bulk"]`` (``"false"``:
    each child a ``POST``; ``"true"``: the async bulk API, which needs consumers running) and
    the Magento options in ``spec["options"]`` (TOML values by key). Reported: this process's
    CPU (``time.process_time()``: every thread, so the ``magento-send`` ones too; the POS read
    and the store's work included), per unit. With ``spec["profile"]`` the pass is also written
    as a cProfile file (of the calling thread only: ``concurrency = 1`` puts every send there).
    """
    workdir = Path(spec["workdir"])
    scale = TimeScale(spec["time_scale"])
    child = child_spec(spec, scale, workdir / "state.db", types=[POS, "magento"])
    units = spec["skus"] * spec["units"]
    out: dict[str, Any] = {"units": units, "bulk": spec["bulk"]}
    with host_log(workdir, "warning"), SandboxProcess(child) as sandbox:
        text = with_magento_option(sandbox.config, "bulk", spec["bulk"])
        for key, value in spec.get("options", {}).items():
            text = with_magento_option(text, key, value)
        config = workdir / "serialsync.toml"
        config.write_text(text)
        with build_host(load_settings(config), scale, None) as host:
            sandbox.call("reset")
            with cpu_profile(spec.get("profile")):
                cpu0 = time.process_time()
                summary = host.inventory_pass()
                cpu = time.process_time() - cpu0
            fake = sandbox.call("stats")["fakes"]["magento"]
            counts = summary.connectors.get("magento")
            out.update(
                ok=summary.ok,
                created=counts.created if counts else 0,
                requests=fake["requests"],
                bulk_operations=fake.get("operations", 0),
                host_cpu_ms_per_unit=cpu / units * 1000,
            )
    return out

"""The sandbox in a child process, driven over a pipe.

The fakes parse, validate and answer every request; served in the host's own process they
would share its CPU time, its memory and its GIL. Here they live in a child process, so the
host's ``time.process_time()`` and peak RSS are the host's alone; the child reports its own CPU
time apart. The child builds each fake through its connector type with the limits and the
scaled clock of :mod:`bench.platforms`, and answers small commands (statistics, placing orders,
which units are still for sale).
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import re
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

import httpx
from serialsync.manager import PluginManager
from serialsync.model import Product
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.testing.fake import FakeChannel, FakePlatform

from bench.budget import Charge
from bench.oversell import OversellWatch
from bench.platforms import POS, Limits, fake_options
from bench.timescale import TimeScale

_ID_SEGMENT = re.compile(r"/(?=[^/]*\d)[^/]+")
_OPERATION = re.compile(r"\b(?:query|mutation)\s+(\w+)")


def bench_catalogue(*, skus: int, units: int, seed: int) -> list[Product]:
    """The demo guitars at benchmark size, each product with a title of its own.

    The demo repeats its eight model names every eight products; BigCommerce refuses a second
    product of the same name (409), which would measure the catalogue, not the plugin.

    The demo draws serials at random per model, so two products of one model may draw the same
    serial; serials are unique in a real store (the engine quarantines a repeat), so a repeat
    gets the product's number appended.
    """
    catalogue = demo_catalogue(seed=seed, products=skus, units_per_product=units)
    seen: set[str] = set()
    out = []
    for i, product in enumerate(catalogue):
        fixed = []
        for unit in product.units:
            serial = unit.serial if unit.serial not in seen else f"{unit.serial}{i:04d}"
            seen.add(serial)
            fixed.append(
                unit if serial == unit.serial else unit.model_copy(update={"serial": serial})
            )
        update: dict[str, Any] = {"units": tuple(fixed)}
        if i >= 8:
            update["title"] = f"{product.title} ({product.sku})"
        out.append(product.model_copy(update=update))
    return out


def aged_now(age: float) -> datetime:
    """The POS's clock, ``age`` seconds behind: its catalogue was last changed that long ago."""
    return datetime.now(UTC) - timedelta(seconds=age)


def request_pattern(method: str, path: str) -> str:
    """``POST /rest/all/V1/products/{…}/options``: a path with its ids and SKUs folded."""
    return f"{method} {_ID_SEGMENT.sub('/{…}', path)}"


def request_label(pattern: str, content: bytes) -> str:
    """``pattern``, and for a GraphQL request its operation's name after it: Shopify's one
    endpoint serves both its order reads and its withdrawals, which only the name tells apart."""
    if not pattern.endswith("graphql.json"):
        return pattern
    try:
        body = json.loads(content)
    except ValueError:
        return pattern
    if not isinstance(body, dict):
        return pattern
    name = body.get("operationName")
    if not isinstance(name, str):
        found = _OPERATION.search(str(body.get("query", "")))
        name = found.group(1) if found else None
    return f"{pattern} {name}" if name else pattern


def shopify_charge(response: httpx.Response, at: float, factor: float) -> Charge | None:
    """What a Shopify answer says it charged (``extensions.cost``); ``None`` for an answer
    without a cost (refused before it was costed: not valid JSON, not GraphQL)."""
    try:
        cost = json.loads(response.content)["extensions"]["cost"]
        requested = float(cost["requestedQueryCost"])
        actual = cost["actualQueryCost"]
        left = float(cost["throttleStatus"]["currentlyAvailable"])
    except (KeyError, TypeError, ValueError):
        return None
    spent = float(actual) if isinstance(actual, int | float) else 0.0
    throttled = actual is None and "THROTTLED" in response.text
    return Charge(at, requested, spent, throttled, left, None)


def bigcommerce_charge(response: httpx.Response, at: float, factor: float) -> Charge | None:
    """What a BigCommerce answer's ``X-Rate-Limit-*`` headers say of its window; ``None`` for
    one without them (refused before the window counted it: authentication, wrong store)."""
    left = response.headers.get("X-Rate-Limit-Requests-Left")
    reset_ms = response.headers.get("X-Rate-Limit-Time-Reset-Ms")
    if left is None or reset_ms is None:
        return None
    refused = response.status_code == 429
    # The reset is in platform milliseconds; ``factor`` of them pass a real millisecond.
    resets_at = at + int(reset_ms) / 1000 / factor
    return Charge(at, 1.0, 0.0 if refused else 1.0, refused, float(left), resets_at)


class _Speed(Protocol):
    """What :func:`keep_charges` reads of a :class:`~bench.timescale.TimeScale`."""

    @property
    def factor(self) -> float: ...


def keep_charges(
    fake: Any,
    read: Callable[[httpx.Response, float, float], Charge | None],
    scale: _Speed,
    charges: list[Charge],
) -> None:
    """Wrap ``fake``'s ``handle`` so that each answer's budget figures (``read``) go to
    ``charges``, in charge order (the fake calls ``handle`` under its lock)."""
    handle = fake.handle

    def charged(request: httpx.Request) -> httpx.Response:
        response: httpx.Response = handle(request)
        # The speed now, not at set-up: the burst's order pass runs at 1x after a 10x publish,
        # and a window's reset is in platform milliseconds.
        charge = read(response, time.monotonic(), scale.factor)
        if charge is not None:
            charges.append(charge)
        return response

    setattr(fake, "handle", charged)  # noqa: B010 - an instance attribute on purpose


class _Served:
    """The child's side: the running sandbox and the counters the commands read."""

    def __init__(self, spec: dict[str, Any]) -> None:
        scale = TimeScale.from_spec(spec["scale"])
        self.scale = scale
        limits = Limits(**spec["limits"])
        manager = PluginManager()
        extra: dict[str, dict[str, Any]] = dict(spec.get("fake_extra", {}))
        if spec.get("pos_age"):
            # The AIM connector re-reads what changed within its cursor margin (5 min) on
            # every pass; a steady store's catalogue changed longer ago than that.
            extra.setdefault(POS, {})["clock"] = functools.partial(aged_now, spec["pos_age"])
        for name, ctype in list(manager.connector_types.items()):
            if ctype.fake is not None:
                options = {**fake_options(name, limits, scale), **extra.get(name, {})}
                factory = functools.partial(ctype.fake, **options)
                manager.connector_types[name] = replace(ctype, fake=factory)
        catalogue = bench_catalogue(skus=spec["skus"], units=spec["units"], seed=spec["seed"])
        self.sandbox = Sandbox(catalogue=catalogue, types=spec["types"], plugins=manager)
        self.sandbox.start()
        self.costs: list[float] = []
        self.sold: set[str] = set()
        self.watch: OversellWatch | None = None
        shopify = self.sandbox.fakes.get("shopify")
        if shopify is not None:
            self._count_costs(shopify)
        #: Per budget-bound fake, every request charged against its budget (:class:`Charge`).
        self.charges: dict[str, list[Charge]] = {}
        for name, read in (("shopify", shopify_charge), ("bigcommerce", bigcommerce_charge)):
            fake = self.sandbox.fakes.get(name)
            if fake is not None:
                keep_charges(fake, read, self.scale, self.charges.setdefault(name, []))
        #: When each fake served each request (CLOCK_MONOTONIC, as the host reads it), and what:
        #: its pattern, its label (:func:`request_label`) and its path.
        self.served: dict[str, list[tuple[float, str, str, str]]] = {}
        for name, fake in self.sandbox.fakes.items():
            self._stamp_requests(name, fake)

    def _stamp_requests(self, name: str, fake: FakePlatform) -> None:
        handle = fake.handle
        served = self.served.setdefault(name, [])

        def stamped(request: httpx.Request) -> httpx.Response:
            path = request.url.path
            pattern = request_pattern(request.method, path)
            label = request_label(pattern, request.content)
            served.append((time.monotonic(), pattern, label, path))
            return handle(request)

        setattr(fake, "handle", stamped)  # noqa: B010 - an instance attribute on purpose

    def requests_between(self, spans: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
        """Requests each fake served within the host's span for it (``[begin, end]``)."""
        out: dict[str, dict[str, Any]] = {}
        for name, (begin, end) in spans.items():
            fake = self.sandbox.fakes[name]
            with fake.lock:
                inside = [p for at, p, _, _ in self.served.get(name, []) if begin <= at <= end]
            out[name] = {"requests": len(inside), "patterns": Counter(inside).most_common(4)}
        return out

    def labels_within(self, intervals: dict[str, list[list[float]]]) -> dict[str, dict[str, int]]:
        """Per fake, the labels (:func:`request_label`) of the requests it served within any
        of the host's intervals for it, counted (each request once)."""
        out: dict[str, dict[str, int]] = {}
        for name, spans in intervals.items():
            fake = self.sandbox.fakes[name]
            with fake.lock:
                served = list(self.served.get(name, []))
            out[name] = dict(
                Counter(label for at, _, label, _ in served if any(b <= at <= e for b, e in spans))
            )
        return out

    def paths_within(
        self, intervals: dict[str, list[list[float]]], labels: dict[str, list[str]]
    ) -> dict[str, int]:
        """Per fake, how many distinct paths its requests of ``labels[name]`` had within any
        of the host's intervals for it (WooCommerce's variations batches: one a product)."""
        out: dict[str, int] = {}
        for name, spans in intervals.items():
            wanted = set(labels.get(name, ()))
            fake = self.sandbox.fakes[name]
            with fake.lock:
                served = list(self.served.get(name, []))
            out[name] = len(
                {
                    path
                    for at, _, label, path in served
                    if label in wanted and any(b <= at <= e for b, e in spans)
                }
            )
        return out

    def budgets(self) -> dict[str, dict[str, Any]]:
        """Per budget-bound fake: its budget's size, its refill in units a real second (a
        bucket's; 0 for a window, which resets whole) and the requests charged against it."""
        out: dict[str, dict[str, Any]] = {}
        for name, charges in self.charges.items():
            fake: Any = self.sandbox.fakes[name]
            with fake.lock:
                recorded = list(charges)
            if name == "shopify":
                capacity, rate = fake.bucket_size, fake.restore_rate * self.scale.factor
            else:
                capacity, rate = fake.quota, 0.0
            out[name] = {"capacity": capacity, "rate": rate, "charges": recorded}
        return out

    def _count_costs(self, fake: FakePlatform) -> None:
        # The fake keeps no record of what it charged; read it from each answer.
        handle = fake.handle

        def counted(request: httpx.Request) -> httpx.Response:
            response = handle(request)
            try:
                cost = json.loads(response.content)["extensions"]["cost"]["actualQueryCost"]
            except (KeyError, TypeError, ValueError):
                cost = None
            if isinstance(cost, int | float):
                self.costs.append(float(cost))
            return response

        setattr(fake, "handle", counted)  # noqa: B010 - an instance attribute on purpose

    def command(self, op: str, args: dict[str, Any]) -> Any:
        if op == "stats":
            return self.stats()
        if op == "reset":
            for name, fake in self.sandbox.fakes.items():
                with fake.lock:
                    fake.requests.clear()
                    fake.injected.clear()
                    self.served.get(name, []).clear()
                    if hasattr(fake, "throttled"):
                        fake.throttled = 0
                    if hasattr(fake, "peak_in_flight"):
                        fake.peak_in_flight = fake.in_flight
                    documents = getattr(fake, "documents", None)
                    if isinstance(documents, list):
                        documents.clear()
            self.costs.clear()
            for name, charges in self.charges.items():
                with self.sandbox.fakes[name].lock:
                    # The last one stays: what the budget held as the next pass begins.
                    del charges[:-1]
            return None
        if op == "requests_between":
            return self.requests_between(args["spans"])
        if op == "labels_within":
            return self.labels_within(args["intervals"])
        if op == "paths_within":
            return self.paths_within(args["intervals"], args["labels"])
        if op == "budgets":
            return self.budgets()
        if op == "sleeps":
            return self.scale.take_events()
        if op == "rescale":
            self.scale.rescale(args["factor"], at=args["at"])
            return None
        if op == "orders":
            return self.place_orders(args["count"], args["channels"])
        if op == "still_listed":
            return self.still_listed(args["skus"])
        if op == "change":
            return self.change(args["kind"])
        if op == "watch_start":
            self.watch = OversellWatch(
                self.sandbox.channel_fakes(), seed=args["seed"], poll=args["poll"]
            )
            self.watch.start()
            return None
        if op == "watch_place":
            return self._watch().place(args["channels"])
        if op == "watch_open":
            return self._watch().open_orders()
        if op == "watch_report":
            self._watch().stop()
            watch = self._watch()
            if watch.error is not None:
                raise RuntimeError(f"the oversell watch stopped polling: {watch.error}")
            return {"orders": watch.report(), "polls": watch.polls}
        raise ValueError(f"unknown command {op!r}")

    def _watch(self) -> OversellWatch:
        if self.watch is None:
            raise RuntimeError("watch_start first")
        return self.watch

    def stats(self) -> dict[str, Any]:
        out: dict[str, Any] = {"cpu": time.process_time(), "fakes": {}}
        for name, fake in self.sandbox.fakes.items():
            with fake.lock:
                requests = list(fake.requests)
                injected = dict(fake.injected)
                throttled = int(getattr(fake, "throttled", 0))
            patterns = Counter(request_pattern(m, p) for m, p in requests)
            out["fakes"][name] = {
                "requests": len(requests),
                "writes": sum(1 for m, _ in requests if m != "GET"),
                "reads": sum(1 for m, _ in requests if m == "GET"),
                "patterns": patterns.most_common(8),
                # A 503 past the host's workers is a refusal too (bench/platforms.py).
                "throttled": throttled + injected.get("429", 0) + injected.get("busy", 0),
                "peak_in_flight": getattr(fake, "peak_in_flight", 0),
                "injected": injected,
                # Magento's asynchronous bulk operations accepted so far (never reset).
                "operations": sum(
                    len(bulk["operations"]) for bulk in getattr(fake, "bulks", {}).values()
                ),
            }
        shopify = self.sandbox.fakes.get("shopify")
        if shopify is not None:
            out["fakes"]["shopify"]["cost"] = sum(self.costs)
            out["fakes"]["shopify"]["costed"] = len(self.costs)
            # Every request is POST graphql.json: the operation names say what was asked.
            names = Counter(str(op) for op, _ in getattr(shopify, "documents", []))
            out["fakes"]["shopify"]["patterns"] = names.most_common(8)
        return out

    def change(self, kind: str) -> str:
        """One change in the POS, as staff would make it: ``attribute`` (one unit's finish),
        ``image`` (one unit's photo), ``price`` (one unit's web price), ``title``, ``brand`` or
        ``product_image`` (one product's title, manufacturer or photo); names what changed."""
        # AIM dates have whole seconds and the cursor moves one second past the last change
        # read: a change within the second of the one before would be taken as read. Staff
        # take longer than that; the bench waits it out.
        time.sleep(1.1)
        # The AIM fake's own editing methods (not part of the generic FakePOS protocol).
        pos: Any = self.sandbox.fakes[POS]
        sku, serial, title = pos.first_unit()
        if kind == "attribute":
            pos.set_unit_content(sku, serial, attributes={"finish": "Aged Cherry Burst"})
        elif kind == "image":
            pos.set_unit_content(sku, serial, images=(f"https://img.example/{serial}-retake.jpg",))
        elif kind == "price":
            pos.set_price(sku, serial, "1234.56")
        elif kind == "title":
            pos.set_item_title(sku, f"{title} (Relic)")
        elif kind == "brand":
            pos.set_item_content(sku, brand="Fender Custom Shop")
        elif kind == "product_image":
            pos.set_item_content(sku, images=(f"https://img.example/{sku}-catalogue.jpg",))
        else:
            raise ValueError(f"unknown change {kind!r}")
        return f"{sku}|||{serial}"

    def place_orders(self, count: int, channels: list[str]) -> dict[str, list[str]]:
        """``count`` one-unit orders, round robin over ``channels``, each a different unit."""
        fakes = self.sandbox.channel_fakes()
        pools = {c: self._for_sale(fakes[c]) for c in channels}
        placed: dict[str, list[str]] = {c: [] for c in channels}
        for i in range(count):
            channel = channels[i % len(channels)]
            pool = pools[channel]
            while pool and pool[-1] in self.sold:
                pool.pop()
            if not pool:
                continue
            sku = pool.pop()
            self.sold.add(sku)
            fakes[channel].create_order([(sku, 1)])
            placed[channel].append(sku)
        return placed

    @staticmethod
    def _for_sale(fake: FakeChannel) -> list[str]:
        """Units for sale, to be popped from the end: one product after another, round robin.

        Orders spread over the catalogue as shoppers spread them, so a withdrawal batch rarely
        holds more than a unit or two of one product.
        """
        skus = {x.sku for x in fake.listings() if x.stock > 0 and x.sellable and "|||" in x.sku}
        by_product: dict[str, list[str]] = {}
        for sku in sorted(skus):
            by_product.setdefault(sku.split("|||")[0], []).append(sku)
        rounds = [
            (i, product, sku)
            for product, units in by_product.items()
            for i, sku in enumerate(units)
        ]
        return [sku for _, _, sku in sorted(rounds, reverse=True)]

    def still_listed(self, skus: list[str]) -> dict[str, int]:
        """Per channel: how many of ``skus`` are still for sale there."""
        wanted = set(skus)
        return {
            name: sum(1 for x in fake.listings() if x.sku in wanted and x.stock > 0 and x.sellable)
            for name, fake in self.sandbox.channel_fakes().items()
        }


def _serve(conn: Connection, spec: dict[str, Any]) -> None:
    try:
        served = _Served(spec)
        store = Path(spec["store"])
        conn.send({"config": served.sandbox.config_toml(store)})
    except BaseException:
        conn.send({"error": traceback.format_exc()})
        return
    try:
        while True:
            op, args = conn.recv()
            if op == "stop":
                conn.send(None)
                return
            try:
                conn.send({"result": served.command(op, args)})
            except Exception:
                conn.send({"error": traceback.format_exc()})
    finally:
        served.sandbox.stop()


class SandboxProcess:
    """The parent's side: start the child, send it commands. Use it as a context manager."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.config = ""
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child, spec), name="bench-sandbox", daemon=True
        )

    def __enter__(self) -> SandboxProcess:
        self._process.start()
        answer = self._conn.recv()
        if "error" in answer:
            raise RuntimeError(f"the sandbox process failed to start:\n{answer['error']}")
        self.config = answer["config"]
        return self

    def call(self, op: str, **args: Any) -> Any:
        """Run one command in the child; its result."""
        self._conn.send((op, args))
        answer = self._conn.recv()
        if "error" in answer:
            raise RuntimeError(f"sandbox command {op!r} failed:\n{answer['error']}")
        return answer["result"]

    def __exit__(self, *exc: object) -> None:
        try:
            self._conn.send(("stop", {}))
            self._conn.recv()
        except (OSError, EOFError):
            pass
        self._process.join(timeout=20)
        if self._process.is_alive():
            self._process.terminate()

"""The reliability suite's world: the sandbox on loopback, a catalogue, a scenario, invariants.

Sizes and seeds come from the environment, so CI runs a small, fixed world and a developer can
run the issue's full one with any seed::

    SERIALSYNC_RELIABILITY_SCALE=full SERIALSYNC_RELIABILITY_SEED=random pytest -m reliability -s

``SERIALSYNC_RELIABILITY_SEED`` is an integer or ``random``; every report prints the seed, so a
failing run can be replayed. ``SERIALSYNC_RELIABILITY_RATE`` overrides the fault rate.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import random
import re
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from serialsync import FinancialStatus
from serialsync.engine.publish import is_sellable
from serialsync.engine.summary import PassSummary
from serialsync.host import Host
from serialsync.lifecycle import UnitStatus
from serialsync.manager import PluginManager
from serialsync.model import Product, SerializedUnit
from serialsync.sandbox import Sandbox
from serialsync.settings import load_settings
from serialsync.store import ListingState, OutboxRecord, OutboxState, Store
from serialsync.testing import FakeChannel, FakePOS, Faults
from serialsync_aim_pos.fake import FakeAim
from serialsync_aim_pos.mapping import aim_order_number
from serialsync_aim_pos.settings import AimSettings

from tests.history import assert_history_follows_the_lifecycle

CHANNELS = ("bigcommerce", "magento", "shopify", "woocommerce")
POS = "aim_pos"
DEFAULT_SEED = 20261123
#: A shop's own product beside the units of a messy order; AIM does not carry it.
MESSY_PLAIN_SKU = "PLAIN-STRAP"
AIM_ORDER_NUMBER_FORMAT: str = AimSettings.model_fields["order_number_format"].default

#: The organisation's serial pattern in every world: upper-case letters and digits.
SERIAL_PATTERN = r"^[A-Z0-9]{6,24}$"


@dataclass(frozen=True)
class Size:
    """How big a world is."""

    skus: int
    units: int
    orders: int
    doubles: int
    kills: int


SIZES = {
    # CI: every kind of order, a few hundred units, within the suite's time budget.
    "ci": Size(skus=12, units=240, orders=60, doubles=4, kills=20),
    # The sizes: 2,000 units over 100 SKUs, 300 orders.
    "full": Size(skus=100, units=2000, orders=300, doubles=12, kills=30),
}


def scale() -> str:
    """``ci`` (default) or ``full``, from ``SERIALSYNC_RELIABILITY_SCALE``."""
    value = os.environ.get("SERIALSYNC_RELIABILITY_SCALE", "ci").strip().lower() or "ci"
    if value not in SIZES:
        raise ValueError(f"SERIALSYNC_RELIABILITY_SCALE must be one of {sorted(SIZES)}")
    return value


def size() -> Size:
    """The world size for this run."""
    return SIZES[scale()]


def timeout() -> int:
    """Seconds a test may take before it is taken for hung: the full sizes take minutes. A hang
    guard, not a measure: the CI size takes 30-100 s, longer on a loaded machine."""
    return 300 if scale() == "ci" else 3600


@functools.cache
def seed() -> int:
    """The seed: ``SERIALSYNC_RELIABILITY_SEED`` (an integer or ``random``, drawn once per
    run), else fixed."""
    value = os.environ.get("SERIALSYNC_RELIABILITY_SEED", "").strip().lower()
    if not value:
        return DEFAULT_SEED
    if value == "random":
        return random.SystemRandom().randrange(1, 2**31)
    return int(value)


def fault_rate(default: float) -> float:
    """Each fault kind's rate: ``SERIALSYNC_RELIABILITY_RATE`` or ``default``."""
    value = os.environ.get("SERIALSYNC_RELIABILITY_RATE", "").strip()
    return float(value) if value else default


def faults(rate: float, *, seed: int, stall: float = 0.3) -> Faults:
    """Every kind of fault at ``rate`` (timeouts at a fifth of it: each one costs wall time)."""
    return Faults(
        rate_429=rate,
        rate_5xx=rate,
        rate_timeout=rate / 5,
        rate_drop=rate,
        rate_malformed=rate,
        rate_html=rate,
        stall=stall,
        seed=seed,
    )


# -- the catalogue ---------------------------------------------------------------------------


def catalogue(*, skus: int, units: int, seed: int, prefix: str = "") -> list[Product]:
    """``units`` units spread over ``skus`` products, serials matching :data:`SERIAL_PATTERN`.

    :param prefix: put before every SKU and serial (upper-case letters and digits): tells one
        merchant's units from another's.
    """
    rng = random.Random(seed)
    per, extra = divmod(units, skus)
    products = []
    for index in range(skus):
        sku = f"{prefix}REL-{index:03}"
        price = Decimal(rng.randrange(200, 4000)) + Decimal("0.99")
        count = per + (1 if index < extra else 0)
        products.append(
            Product(
                sku=sku,
                title=f"Reliability model {index}",
                brand="Soak",
                description="A one-of-a-kind unit, sold by serial.",
                price=price,
                units=tuple(
                    SerializedUnit(
                        sku=sku,
                        serial=f"{prefix}RS{index:03}{number:05}",
                        location="showroom",
                        attributes={"finish": rng.choice(["Sunburst", "Black", "Natural"])},
                    )
                    for number in range(count)
                ),
            )
        )
    return products


# -- configuration -----------------------------------------------------------------------------


def write_config(
    sandbox: Sandbox,
    folder: Path,
    *,
    read_timeout: float = 5.0,
    sync: dict[str, Any] | None = None,
    connectors: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """The sandbox's configuration, with short timeouts and retries that never really wait.

    ``sync`` adds ``[sync]`` keys; ``connectors`` adds keys to one connector's section.
    """
    text = sandbox.config_toml(folder / "state.db")
    sync_keys = {
        "report_retry_initial": 0,
        "report_retry_max": 0,
        "serial_pattern": SERIAL_PATTERN,
        # The fakes' clocks agree with ours: a short overlap keeps every pass from re-reading
        # every order of the run (BigCommerce reads each order's lines with its own request).
        "order_overlap": 2,
        **(sync or {}),
    }
    text = text.replace("[sync]\n", "[sync]\n" + "".join(_line(k, v) for k, v in sync_keys.items()))
    extra = []
    connectors = {name: dict(options) for name, options in (connectors or {}).items()}
    if POS in sandbox.fakes:
        # The fake AIM's clock is ours: no margin for a clock running behind is needed, and
        # without it every pass of a run shorter than the margin re-reads the whole catalogue.
        connectors.setdefault(POS, {}).setdefault("cursor_margin_seconds", 0)
    for name in sandbox.fakes:
        for key, value in connectors.get(name, {}).items():
            # A key set here replaces the sandbox's own line for it.
            text = re.sub(
                rf"(\[connectors\.{name}\]\n(?:[^\[].*\n)*?){key} = .*\n", r"\1", text, count=1
            )
            text = text.replace(
                f"[connectors.{name}]\n", f"[connectors.{name}]\n{_line(key, value)}"
            )
        extra.append(f"[connectors.{name}.timeouts]\n")
        extra.append(f"connect = 2.0\nread = {read_timeout}\nwrite = 5.0\npool = 5.0\n")
        extra.append(f"[connectors.{name}.retry]\n")
        extra.append("max_attempts = 6\nmax_total_wait = 60.0\n")
    config = folder / "serialsync.toml"
    config.write_text(text + "\n" + "".join(extra))
    return config


def _line(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return f"{key} = {'true' if value else 'false'}\n"
    if isinstance(value, int | float):
        return f"{key} = {value!r}\n"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'{key} = "{escaped}"\n'


class VirtualTime:
    """Time that a sleep moves on at once: retries and pacing wait without waiting.

    The host sleeps on it (a millisecond of real time, the rest virtual) and the fakes'
    rate-limit clocks read it, so a platform's window refills when the connector has "waited"
    as long as the platform asked, and a ``Retry-After: 1`` costs nothing.
    """

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._offset += max(0.0, seconds)
            self.slept += max(0.0, seconds)
        time.sleep(min(seconds, 0.001))

    def time(self) -> float:
        return time.time() + self._offset

    def monotonic(self) -> float:
        return time.monotonic() + self._offset


def sandbox_plugins(
    clock: VirtualTime | None = None, options: dict[str, dict[str, Any]] | None = None
) -> PluginManager:
    """The installed plugins, their fakes built with ``options`` (keyword arguments per type)
    and the rate-limited fakes' clocks on ``clock``."""
    manager = PluginManager()
    wanted = {name: dict(kwargs) for name, kwargs in (options or {}).items()}
    if clock is not None:
        wanted.setdefault("shopify", {})["clock"] = clock.monotonic
        wanted.setdefault("bigcommerce", {})["clock"] = clock.time
    for name, ctype in list(manager.connector_types.items()):
        if name in wanted and ctype.fake is not None:
            factory: Callable[..., Any] = ctype.fake
            fake = functools.partial(factory, **wanted[name])
            manager.connector_types[name] = dataclasses.replace(ctype, fake=fake)
    return manager


def open_host(config: Path, clock: VirtualTime | None = None) -> Host:
    """A host for ``config`` (its store file beside it), sleeping on ``clock``."""
    sleep = clock.sleep if clock is not None else VirtualTime().sleep
    return Host.from_settings(load_settings(config), sleep=sleep)


# -- the scenario ------------------------------------------------------------------------------


@dataclass
class PlacedOrder:
    """An order a shopper placed on a channel, and what must become of it."""

    channel: str
    order_id: str
    serials: tuple[str, ...]
    #: paid | pending | pending_paid | cancelled | paid_cancelled | refunded |
    #: reported_cancelled | multi | messy | double
    kind: str
    expect: OutboxState
    #: True when the POS must have received it (exactly once).
    reported: bool

    @property
    def key(self) -> str:
        return f"{self.channel}:{self.order_id}"


@dataclass
class Scenario:
    """Every order placed, in two phases, and the double sales (serial → the two orders)."""

    orders: list[PlacedOrder] = field(default_factory=list)
    doubles: dict[str, tuple[PlacedOrder, PlacedOrder]] = field(default_factory=dict)
    # Orders moved on in the second phase: (order, new status, the state it must reach).
    later: list[tuple[PlacedOrder, FinancialStatus]] = field(default_factory=list)
    #: Losing orders of double sales that their shop cancelled (the conflict settled).
    settled: set[str] = field(default_factory=set)

    def kinds(self) -> Counter[str]:
        return Counter(o.kind for o in self.orders)


# The order mix, by weight: what each kind does, in phase 1 (before a pass) and phase 2.
_KINDS = [
    ("paid", 40),
    ("pending", 10),
    ("pending_paid", 15),
    ("cancelled", 10),  # pending, then cancelled before payment
    ("refunded", 10),  # paid, reported, then refunded
    ("paid_cancelled", 5),  # paid and cancelled before any pass saw it
    ("reported_cancelled", 5),  # paid, reported, then cancelled (the POS keeps the sale)
    ("multi", 10),  # paid, two units of different SKUs in one order
    # paid, a unit beside a custom line with no SKU and a plain product AIM does not carry
    # (issue 15 #1): the unit is sold and reported, the other lines left out of AIM's order
    ("messy", 12),
]


def place_orders(
    sandbox: Sandbox, units: list[SerializedUnit], *, orders: int, doubles: int, seed: int
) -> Scenario:
    """Phase 1: shoppers place ``orders`` orders over the four channels, ``doubles`` pairs of
    them buying the same serial on two channels before any pass runs."""
    rng = random.Random(seed)
    fakes = sandbox.channel_fakes()
    channels = sorted(fakes)
    pool = list(units)
    rng.shuffle(pool)
    scenario = Scenario()
    for _ in range(doubles):
        unit = pool.pop()
        first, second = rng.sample(channels, 2) if len(channels) > 1 else channels * 2
        pair = []
        for channel in (first, second):
            order_id = fakes[channel].create_order([(unit.integration_id, 1)])
            placed = PlacedOrder(
                channel, order_id, (unit.serial,), "double", OutboxState.REPORTED, True
            )
            scenario.orders.append(placed)
            pair.append(placed)
        scenario.doubles[unit.serial] = (pair[0], pair[1])
    names = [k for k, _ in _KINDS]
    weights = [w for _, w in _KINDS]
    for number in range(orders - 2 * doubles):
        kind = rng.choices(names, weights)[0]
        channel = channels[number % len(channels)]
        fake = fakes[channel]
        bought = [pool.pop()]
        if kind == "multi":
            other = next((u for u in reversed(pool) if u.sku != bought[0].sku), None)
            if other is not None:
                pool.remove(other)
                bought.append(other)
        lines: list[tuple[str | None, int]] = [(u.integration_id, 1) for u in bought]
        if kind == "messy":
            lines += [(None, 1), (MESSY_PLAIN_SKU, 1)]
        serials = tuple(u.serial for u in bought)
        pending = kind in ("pending", "pending_paid", "cancelled")
        status = FinancialStatus.PENDING if pending else FinancialStatus.PAID
        order_id = fake.create_order(lines, status=status)
        if kind == "paid_cancelled":
            fake.set_order_status(order_id, FinancialStatus.CANCELLED)
        expect, reported = {
            "paid": (OutboxState.REPORTED, True),
            "multi": (OutboxState.REPORTED, True),
            "messy": (OutboxState.REPORTED, True),
            "pending": (OutboxState.WAITING, False),
            "pending_paid": (OutboxState.REPORTED, True),
            "cancelled": (OutboxState.CANCELLED, False),
            "refunded": (OutboxState.REPORTED, True),
            "paid_cancelled": (OutboxState.CANCELLED, False),
            "reported_cancelled": (OutboxState.REPORTED, True),
        }[kind]
        placed = PlacedOrder(channel, order_id, serials, kind, expect, reported)
        scenario.orders.append(placed)
        if kind == "pending_paid":
            scenario.later.append((placed, FinancialStatus.PAID))
        elif kind == "cancelled":
            scenario.later.append((placed, FinancialStatus.CANCELLED))
        elif kind == "refunded":
            scenario.later.append((placed, FinancialStatus.REFUNDED))
        elif kind == "reported_cancelled":
            scenario.later.append((placed, FinancialStatus.CANCELLED))
    return scenario


def move_orders_on(sandbox: Sandbox, scenario: Scenario) -> None:
    """Phase 2: pending orders paid or cancelled, reported ones refunded, as staff would."""
    fakes = sandbox.channel_fakes()
    for placed, status in scenario.later:
        fakes[placed.channel].set_order_status(placed.order_id, status)


def settle_conflicts(sandbox: Sandbox, scenario: Scenario, store: Store) -> None:
    """Phase 2 too: the shops cancel the losing order of every other double sale."""
    fakes = sandbox.channel_fakes()
    for number, (first, second) in enumerate(scenario.doubles.values()):
        if number % 2:
            continue
        for placed in (first, second):
            record = store.get_outbox(placed.channel, placed.order_id)
            if record is not None and record.state == OutboxState.CONFLICT:
                fakes[placed.channel].set_order_status(placed.order_id, FinancialStatus.CANCELLED)
                scenario.settled.add(placed.key)


def restocked(scenario: Scenario) -> list[PlacedOrder]:
    """The orders whose units the POS's staff put back on the shelf: refunded or cancelled
    after the sale was reported."""
    return [o for o in scenario.orders if o.kind in ("refunded", "reported_cancelled")]


def restock_refunds(
    sandbox: Sandbox,
    scenario: Scenario,
    skus: dict[str, str],
    orders: Iterable[PlacedOrder] | None = None,
) -> None:
    """Phase 3: the POS's staff put each refunded or cancelled unit back on the shelf (those of
    ``orders`` only, when given)."""
    pos = next(iter(sandbox.pos_fakes().values()))
    for placed in restocked(scenario) if orders is None else orders:
        for serial in placed.serials:
            pos.set_status(skus[serial], serial, "Available")  # type: ignore[attr-defined]


def check_moved(store: Store, scenario: Scenario) -> None:
    """Every order its shop moved on (paid, cancelled, refunded; a losing double sale
    cancelled) was read again since: its outbox row has the shop's last status."""
    moved = [(placed, status.value) for placed, status in scenario.later]
    moved += [
        (placed, FinancialStatus.CANCELLED.value)
        for placed in scenario.orders
        if placed.key in scenario.settled
    ]
    for placed, status in moved:
        record = store.get_outbox(placed.channel, placed.order_id)
        assert record is not None and record.financial_status == status, (placed.key, status)


# -- passes until quiet ------------------------------------------------------------------------


@dataclass
class PassLog:
    """What the passes of one phase did."""

    passes: int = 0
    quiet_after: int | None = None
    failures: int = 0
    errors: int = 0
    created: int = 0
    withdrawn: int = 0
    reported: int = 0
    #: The first words of every error, counted (what kept passes from being quiet).
    why: Counter[str] = field(default_factory=Counter)


def fingerprint(store: Store, sandbox: Sandbox) -> tuple[Any, ...]:
    """What a pass can change: the store's rows (no timestamps) and the platforms' state."""
    units = tuple((u.unit.serial, u.status.value, u.deleted) for u in store.all_units())
    listings = tuple(
        sorted(
            (r.connector, r.serial, r.state.value, r.content_hash)
            for sku in store.product_skus()
            for channel in sandbox.channel_fakes()
            for r in store.listings_of(channel, sku).values()
        )
    )
    outbox = tuple(
        sorted((r.channel, r.order_id, r.state.value) for r in store.outbox(limit=100_000))
    )
    quarantine = tuple(sorted((q.kind, q.key, q.reason) for q in store.quarantined()))
    platforms = tuple(
        (name, tuple(sorted((x.sku, x.stock, x.sellable) for x in fake.listings())))
        for name, fake in sorted(sandbox.channel_fakes().items())
    )
    recorded = tuple(len(p.recorded_orders()) for p in sandbox.pos_fakes().values())
    # Report calls too: the orders a POS holds hide a repeated report (it is answered from the
    # lookup), so a runner re-reporting every pass would otherwise look quiet.
    calls = tuple(report_calls(p) for p in sandbox.pos_fakes().values())
    return units, listings, outbox, quarantine, platforms, recorded, calls


def report_calls(pos: FakePOS, order_number: str | None = None) -> int:
    """The report calls a POS fake received (for one order, or all); only the AIM fake counts
    them, so any other POS counts what it recorded."""
    if isinstance(pos, FakeAim):
        return pos.report_calls(order_number)
    return sum(
        1 for r in pos.recorded_orders() if order_number is None or r.order_number == order_number
    )


def aim_number(record: OutboxRecord) -> str:
    """The order number AIM files a sale under (the connector's default format)."""
    return aim_order_number(record.sale, AIM_ORDER_NUMBER_FORMAT)


def run_until_quiet(
    host: Host,
    sandbox: Sandbox,
    *,
    max_passes: int,
    step: Callable[[Host], PassSummary] | None = None,
) -> PassLog:
    """Run passes until nothing changes any more (at most ``max_passes``).

    Quiet means: two passes in a row changed nothing (store rows, platforms' variants, orders
    the POS holds), and since the last change every connector has had a pass without any
    error or failure, so a fetch that failed cannot pass for one that found nothing new.
    """
    log = PassLog()
    connectors = {c.name for c in host.plugins.connectors()}
    unchanged = 0
    clean_since_change: set[str] = set()
    before = fingerprint(host.store, sandbox)
    for number in range(1, max_passes + 1):
        summary = (step or Host.run_once)(host)
        log.passes = number
        log.failures += summary.total("failed") + summary.total("sales_failed")
        log.errors += sum(len(c.errors) for c in summary.connectors.values())
        log.created += summary.total("created")
        log.withdrawn += summary.total("withdrawn")
        log.reported += summary.total("sales_reported")
        for name, counts in summary.connectors.items():
            for error in counts.errors:
                log.why[f"{name}: {error[:90]}"] += 1
        after = fingerprint(host.store, sandbox)
        if after != before:
            unchanged = 0
            clean_since_change = set()
        else:
            unchanged += 1
        clean_since_change |= {
            name
            for name, c in summary.connectors.items()
            if not (c.errors or c.failed or c.sales_failed)
        }
        before = after
        if unchanged >= 2 and clean_since_change >= connectors:
            log.quiet_after = number
            return log
    return log


# -- invariants --------------------------------------------------------------------------------


def live_on(fake: FakeChannel) -> Counter[str]:
    """Variant SKUs a shopper can buy on a channel, with how many variants carry each."""
    return Counter(x.sku for x in fake.listings() if x.stock > 0 and x.sellable)


def variants_on(fake: FakeChannel) -> Counter[str]:
    """Every variant SKU on a channel (withdrawn ones too), with how many variants carry it."""
    return Counter(x.sku for x in fake.listings())


def check_listings(store: Store, sandbox: Sandbox, *, extra_ok: Iterable[str] = ()) -> None:
    """Every sellable unit is listed exactly once on every channel, and nothing else is.

    ``extra_ok`` names variant SKUs put on a channel by hand (the bad-input corpus), which
    serialsync must leave alone.
    """
    records = store.all_units()
    products = {sku: store.get_product(sku) for sku in store.product_skus()}
    sellable = {
        r.unit.integration_id
        for r in records
        if (product := products.get(r.unit.sku)) is not None and is_sellable(r, product)
    }
    withdrawn = {r.unit.integration_id for r in records} - sellable
    allowed = set(extra_ok)
    for name, fake in sandbox.channel_fakes().items():
        live = live_on(fake)
        every = variants_on(fake)
        duplicates = {sku: n for sku, n in every.items() if n > 1 and sku not in allowed}
        assert not duplicates, f"{name}: duplicate variants {sorted(duplicates.items())[:5]}"
        missing = sellable - set(live)
        assert not missing, (
            f"{name}: {len(missing)} sellable units not listed: {sorted(missing)[:5]}; "
            + _explain(store, fake, name, sorted(missing)[0])
        )
        still = {sku for sku in withdrawn if live[sku]}
        assert not still, (
            f"{name}: {len(still)} sold/reserved units still for sale: {sorted(still)[:5]}"
        )
        # The store agrees with the channel: a pass after quiet would send nothing.
        recorded = {
            (r.sku, r.serial): r
            for sku in store.product_skus()
            for r in store.listings_of(name, sku).values()
        }
        for record in records:
            listing = recorded.get((record.unit.sku, record.unit.serial))
            state = listing.state if listing else None
            if record.unit.integration_id in sellable:
                assert state == ListingState.LIVE, (
                    f"{name}: {record.unit.integration_id} is listed but the store says "
                    f"{state} ({listing.last_error if listing else 'no listing'})"
                )
            else:
                assert state in (None, ListingState.WITHDRAWN), (
                    f"{name}: {record.unit.integration_id} is withdrawn but the store says "
                    f"{state} ({listing.last_error if listing else ''})"
                )
        stray = set(live) - sellable - allowed
        assert not stray, f"{name}: unknown variants for sale: {sorted(stray)[:5]}"


def _explain(store: Store, fake: FakeChannel, channel: str, integration_id: str) -> str:
    sku, _, serial = integration_id.partition("|||")
    record = store.listings_of(channel, sku).get(serial)
    on_channel = [x for x in fake.listings() if x.sku == integration_id]
    moves = [(m.from_status.value, m.to_status.value, m.reason) for m in store.history(serial)]
    return f"store listing {record}; on the channel {on_channel}; moves {moves}"


def check_history(store: Store) -> None:
    """Every stored lifecycle move follows the table or is marked as what it is (asserted by
    the POS, or the reversal of serialsync's own claim): see :mod:`tests.history`."""
    assert_history_follows_the_lifecycle(store)


def check_orders(store: Store, pos: FakePOS, scenario: Scenario, *, repeats: int = 0) -> int:
    """Every paid order reached the POS exactly once; each double sale is one recorded conflict;
    every order's outbox state and its units' statuses are what its story says.

    The POS's report *calls* are counted, not only the orders it holds (which hide a repeat):
    each order the POS must have was reported, no other order ever was, and at most
    ``repeats`` calls in all were repeats (those the engine could not know were done: a kill
    between the POS's answer and the stored receipt, a fault on the POS's answer). Returns how
    many calls were repeats.
    """
    recorded = Counter(r.order_number for r in pos.recorded_orders())
    duplicates = {n: c for n, c in recorded.items() if c > 1}
    assert not duplicates, f"orders posted to the POS more than once: {duplicates}"
    outbox = {f"{r.channel}:{r.order_id}": r for r in store.outbox(limit=100_000)}
    calls = {
        order.key: report_calls(pos, aim_number(outbox[order.key]))
        for order in scenario.orders
        if order.key in outbox
    }
    must = {o.key for o in scenario.orders if outbox[o.key].state == OutboxState.REPORTED}
    assert {key for key, n in calls.items() if n} == must, "reported: exactly the paid orders"
    # A messy order takes two calls: AIM refuses the plain product it does not carry, then
    # takes the unit alone.
    due = sum(2 if o.kind == "messy" else 1 for o in scenario.orders if o.key in must)
    extra = sum(calls.values()) - due
    assert extra <= repeats, f"{extra} repeated report calls, at most {repeats} allowed: {calls}"
    assert report_calls(pos) == sum(calls.values()), "report calls for orders of no scenario"
    by_number = {r.order_number: r for r in pos.recorded_orders()}
    for order in scenario.orders:
        if order.kind == "messy":
            note = outbox[order.key].note or ""
            taken = by_number[aim_number(outbox[order.key])]
            assert [sku for sku, _, _ in taken.lines if sku == MESSY_PLAIN_SKU] == [], taken
            assert MESSY_PLAIN_SKU in note and "has no SKU" in note, note
    reported_serials = Counter(
        serial for r in pos.recorded_orders() for _, serial, _ in r.lines if serial
    )
    conflicts = {q.key: q for q in store.quarantined(kind="conflict")}
    winners = 0
    for serial, (first, second) in scenario.doubles.items():
        states = {outbox[first.key].state, outbox[second.key].state}
        loser = first if outbox[second.key].state == OutboxState.REPORTED else second
        if loser.key in scenario.settled:
            # The shop cancelled the losing order: settled, out of the quarantine.
            assert states == {OutboxState.REPORTED, OutboxState.CANCELLED}, (serial, states)
            assert loser.key not in conflicts
        else:
            assert states == {OutboxState.REPORTED, OutboxState.CONFLICT}, (serial, states)
            assert loser.key in conflicts, f"double sale {serial}: no quarantined conflict"
            assert serial in conflicts[loser.key].reason, conflicts[loser.key].reason
            assert "already sold" in conflicts[loser.key].reason
        assert store.get_unit(serial).status == UnitStatus.SOLD  # type: ignore[union-attr]
        assert reported_serials[serial] == 1, (serial, reported_serials[serial])
        winners += 1
    assert set(conflicts) == {
        o.key for o in scenario.orders if outbox[o.key].state == OutboxState.CONFLICT
    }, "the quarantine's conflicts are exactly the outbox's"
    for order in scenario.orders:
        if order.kind == "double":
            continue
        record = outbox.get(order.key)
        assert record is not None, f"{order.key} ({order.kind}) never reached the outbox"
        assert record.state == order.expect, (
            order.key,
            order.kind,
            record.state,
            record.last_error,
        )
        for serial in order.serials:
            unit = store.get_unit(serial)
            assert unit is not None
            want = {
                "paid": UnitStatus.SOLD,
                "multi": UnitStatus.SOLD,
                "messy": UnitStatus.SOLD,
                "pending_paid": UnitStatus.SOLD,
                # Refunded after it was reported: the POS decides, and its staff restocked it.
                "refunded": UnitStatus.IN_STOCK,
                "pending": UnitStatus.RESERVED,
                "cancelled": UnitStatus.IN_STOCK,
                "paid_cancelled": UnitStatus.IN_STOCK,
                # Cancelled after the POS had it: the POS decides, and its staff restocked it.
                "reported_cancelled": UnitStatus.IN_STOCK,
            }[order.kind]
            assert unit.status == want, (order.key, order.kind, serial, unit.status)
            if order.reported:
                assert reported_serials[serial] == 1, (order.key, serial, reported_serials[serial])
            else:
                assert reported_serials[serial] == 0, (order.key, serial)
    expected_reports = sum(1 for o in scenario.orders if o.reported) - winners
    assert sum(recorded.values()) == expected_reports
    return extra


# -- the report --------------------------------------------------------------------------------


def injected(sandbox: Sandbox) -> dict[str, dict[str, int]]:
    """Faults injected per fake."""
    return {name: dict(sorted(fake.injected.items())) for name, fake in sandbox.fakes.items()}


def report(title: str, **facts: Any) -> str:
    """A short report, printed (``pytest -s`` shows it; ``-rA`` on a pass, always on failure)."""
    lines = [f"== reliability: {title} =="]
    lines += [f"  {key}: {value}" for key, value in facts.items()]
    text = "\n".join(lines)
    print(text)
    return text


def dump_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of a SQLite file."""
    with sqlite3.connect(path) as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: list(db.execute(f'SELECT * FROM "{t}"')) for t in tables}  # noqa: S608

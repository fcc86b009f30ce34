"""Whether a budget could have bound a withdrawal, and the latency-bound platforms' floors."""

from __future__ import annotations

import httpx
import pytest
from serialsync_bigcommerce.fake import FakeBigCommerce
from serialsync_shopify.fake import DEFAULT_TOKEN, FakeShopify

from bench.budget import Charge, available_at, verdict, withdraw_floor, worst
from bench.platforms import Limits
from bench.report import budget_line
from bench.sandbox_process import bigcommerce_charge, keep_charges, shopify_charge


class Clock:
    """Platform seconds the test moves by hand."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def bucket(at: float, requested: float, spent: float, left: float) -> Charge:
    return Charge(at, requested, spent, False, left, None)


def test_a_bucket_refills_from_its_last_charge_up_to_its_size() -> None:
    charges = [bucket(1.0, 10, 8, 500.0), bucket(2.0, 10, 8, 400.0)]
    assert available_at(charges, 0.5, 1000.0, 1000.0) == 1000.0  # full before any charge
    assert available_at(charges, 1.5, 1000.0, 1000.0) == pytest.approx(1000.0)  # capped
    assert available_at(charges, 1.5, 1000.0, 100.0) == pytest.approx(550.0)
    assert available_at(charges, 2.0, 1000.0, 100.0) == pytest.approx(400.0)
    assert available_at(charges, 3.0, 1000.0, 100.0) == pytest.approx(500.0)


def test_a_window_holds_what_was_left_until_it_resets_whole() -> None:
    charges = [Charge(1.0, 1, 1, False, 20.0, 4.0)]
    assert available_at(charges, 3.9, 150.0, 0.0) == 20.0
    assert available_at(charges, 4.0, 150.0, 0.0) == 150.0


def test_could_not_bind_when_every_request_inside_fits_in_what_was_held() -> None:
    charges = [bucket(0.5, 900, 900, 100.0), bucket(1.0, 60, 40, 0), bucket(2.0, 50, 50, 0)]
    result = verdict(charges, (0.9, 3.0), 100.0, 1000.0, 0.0)
    assert result["could_bind"] is False
    assert result["spent"] == 90.0  # the charge before the interval is not its own
    assert result["needed"] == 90.0  # 40 spent, then 50 requested
    assert result["requests"] == 2


def test_a_requested_cost_over_what_is_left_could_bind_though_the_actual_cost_fits() -> None:
    # Shopify refuses on the requested cost: 40 spent, then 70 requested > 100 held.
    charges = [bucket(1.0, 60, 40, 0), bucket(2.0, 70, 50, 0)]
    result = verdict(charges, (0.0, 3.0), 100.0, 1000.0, 0.0)
    assert result["spent"] == 90.0
    assert result["needed"] == 110.0
    assert result["could_bind"] is True


def test_a_client_wait_or_a_refusal_could_bind_whatever_the_counts() -> None:
    charges = [Charge(1.0, 1, 1, False, 10.0, 9.0)]
    assert verdict(charges, (0.0, 2.0), 10.0, 150.0, 0.5)["could_bind"] is True
    refused = [Charge(1.0, 1, 0, True, 0.0, 9.0)]
    result = verdict(refused, (0.0, 2.0), 10.0, 150.0, 0.0)
    assert result["could_bind"] is True
    assert result["refused"] == 1
    # A window with more counted inside than it held as the interval began.
    many = [Charge(float(i), 1, 1, False, 0.0, 99.0) for i in range(1, 12)]
    assert verdict(many, (0.0, 20.0), 10.0, 150.0, 0.0)["could_bind"] is True
    assert verdict(many, (0.0, 20.0), 11.0, 150.0, 0.0)["could_bind"] is False


def test_the_worst_interval_is_one_that_could_bind_else_the_least_slack() -> None:
    roomy = {"could_bind": False, "available_at_start": 900.0, "needed": 100.0}
    tight = {"could_bind": False, "available_at_start": 150.0, "needed": 140.0}
    bound = {"could_bind": True, "available_at_start": 1000.0, "needed": 10.0}
    assert worst([roomy, tight]) is tight
    assert worst([roomy, bound, tight]) is bound
    assert worst([]) is None


def post_shopify(fake: FakeShopify, query: str) -> httpx.Response:
    request = httpx.Request(
        "POST",
        "https://fake.invalid/admin/api/2026-07/graphql.json",
        headers={"X-Shopify-Access-Token": DEFAULT_TOKEN},
        json={"query": query},
    )
    return fake(request)


def test_a_shopify_answer_says_what_it_charged_and_what_was_left() -> None:
    clock = Clock()
    fake = FakeShopify(clock=clock, bucket_size=100, restore_rate=10)
    charge = shopify_charge(post_shopify(fake, "{ shop { name } }"), 5.0, 10.0)
    assert charge == Charge(5.0, 1.0, 1.0, False, 99.0, None)
    fake.drain_bucket(to=0.5)
    charge = shopify_charge(post_shopify(fake, "{ shop { name } }"), 6.0, 10.0)
    assert charge is not None
    assert charge.refused
    assert charge.spent == 0.0
    assert charge.left == 0.5
    assert shopify_charge(httpx.Response(400, json={"errors": "bad"}), 7.0, 10.0) is None


def test_a_bigcommerce_answer_says_what_its_window_holds_and_when_it_resets() -> None:
    clock = Clock()
    fake = FakeBigCommerce(clock=clock, quota=2, window_ms=30_000)

    def get() -> httpx.Response:
        request = httpx.Request(
            "GET",
            f"https://api.bigcommerce.com/stores/{fake.store_hash}/v3/catalog/products",
            headers={"X-Auth-Token": fake.access_token},
        )
        return fake(request)

    first = bigcommerce_charge(get(), 100.0, 10.0)
    clock.now += 10.0
    second = bigcommerce_charge(get(), 101.0, 10.0)
    third = bigcommerce_charge(get(), 102.0, 10.0)
    assert first is not None
    assert second is not None
    assert first[:5] == (100.0, 1.0, 1.0, False, 1.0)
    assert second[:5] == (101.0, 1.0, 1.0, False, 0.0)
    # The window began with the first request: it resets 30 platform s after it, 3 real s.
    assert first.resets_at == second.resets_at == pytest.approx(103.0)
    assert third is not None
    assert third.refused
    assert third.spent == 0.0
    # 20 platform seconds left of the window, 2 real seconds at x10.
    assert third.resets_at == pytest.approx(104.0)
    unauthorised = fake(httpx.Request("GET", "https://api.bigcommerce.com/stores/x/v3/catalog"))
    assert bigcommerce_charge(unauthorised, 103.0, 10.0) is None


class Speed:
    """A time scale's speed, changed by hand."""

    def __init__(self, factor: float) -> None:
        self.factor = factor


class Answering:
    """A fake whose ``handle`` answers every request with one BigCommerce window's headers."""

    def handle(self, request: httpx.Request) -> httpx.Response:
        headers = {"X-Rate-Limit-Requests-Left": "5", "X-Rate-Limit-Time-Reset-Ms": "20000"}
        return httpx.Response(200, headers=headers, request=request)


def test_kept_charges_read_the_speed_of_their_answer_not_of_their_set_up() -> None:
    fake, speed = Answering(), Speed(10.0)
    charges: list[Charge] = []
    keep_charges(fake, bigcommerce_charge, speed, charges)
    request = httpx.Request("GET", "https://api.bigcommerce.com/stores/x/v3/catalog/products")
    fake.handle(request)
    speed.factor = 1.0  # the burst's order pass, after a publish at 10x
    fake.handle(request)
    first, second = (c.resets_at - c.at for c in charges if c.resets_at is not None)
    assert first == pytest.approx(2.0)  # 20 platform s at 10x
    assert second == pytest.approx(20.0)  # at 1x


def test_woocommerce_floor_counts_distinct_products_and_magento_floor_its_requests() -> None:
    limits = Limits()  # 8 workers, 0.25 s a request on both
    woo = withdraw_floor("woocommerce", limits, distinct_products=713, requests=800)
    assert woo is not None
    assert woo["platform_seconds"] == pytest.approx(90 * 0.25)  # ceil(713 / 8) latencies
    assert woo["count"] == 713
    magento = withdraw_floor("magento", limits, distinct_products=900, requests=9)
    assert magento is not None
    assert magento["platform_seconds"] == pytest.approx(0.5)  # ceil(9 / 8) latencies
    assert withdraw_floor("shopify", limits, distinct_products=1, requests=1) is None


def test_the_burst_lines_say_the_verdict_and_the_floor() -> None:
    budget = {
        "could_bind": False,
        "client_waited": 0.0,
        "available_at_start": 126.0,
        "spent": 22.0,
        "needed": 22.0,
        "requests": 22,
        "refused": 0,
        "intervals": [{}, {}],
        "used_at_start": 24.0,
        "quota": 150.0,
        "no_refill_since_pass": {
            "available_at_pass_start": 150.0,
            "needed": 46.0,
            "could_bind": False,
        },
    }
    line = budget_line("bigcommerce", {"budget": budget, "busy_platform_proven": 3.2})
    assert line is not None
    assert "could not bind" in line
    assert "window 24/150 used" in line
    assert "busy proven 3.2 platform s" in line
    assert "from empty" not in line  # a window resets whole: no refill bound
    bound = budget_line("bigcommerce", {"budget": {**budget, "could_bind": True}})
    assert bound is not None
    assert "COULD bind" in bound
    assert "upper bound stands" in bound
    floor = {"platform_seconds": 22.5, "basis": "distinct products", "count": 713}
    line = budget_line(
        "woocommerce", {"floor": {**floor, "workers": 8, "latency": 0.25, "busy_ratio": 1.93}}
    )
    assert line == (
        "woocommerce: floor 22.50 platform s = ceil(713 distinct products / 8 workers) x 0.25 s; "
        "busy / floor 1.93"
    )
    shopify = {**budget, "capacity": 1000.0, "refill_bound": 6.03}
    del shopify["quota"], shopify["used_at_start"]
    line = budget_line("shopify", {"budget": shopify, "busy_platform_proven": 1.8})
    assert line is not None
    assert "bucket 126/1000 points at its start" in line
    assert "from empty, at most 6.0 s of refill" in line
    assert budget_line("shopify", {"busy_platform_seconds": 3.4}) is None  # older results
    # At 1x the busy time is measured at the budgets' real refill rate: no proof needed.
    real = {"budget": {**shopify, "could_bind": True}, "busy_platform_proven": 2.2}
    line = budget_line("shopify", {**real, "busy_proven_by": "real speed"})
    assert line is not None
    assert "COULD bind" in line
    assert line.endswith("busy proven 2.2 platform s (measured at 1x)")

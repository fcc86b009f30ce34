"""Pacing by X-Rate-Limit-* headers, and the 429 wait of X-Rate-Limit-Time-Reset-Ms."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from serialsync import RateLimitedError, urgent, withdrawing
from serialsync_bigcommerce import FakeBigCommerce
from serialsync_bigcommerce.ratelimit import BigCommerceRateLimiter, retry_signal

from tests.clocks import FakeClock

from .conftest import START


def headers(left: int, reset_ms: int, quota: int = 150) -> httpx.Response:
    return httpx.Response(
        200,
        headers={
            "X-Rate-Limit-Requests-Left": str(left),
            "X-Rate-Limit-Requests-Quota": str(quota),
            "X-Rate-Limit-Time-Reset-Ms": str(reset_ms),
            "X-Rate-Limit-Time-Window-Ms": "30000",
        },
    )


def spend_window(fake: FakeBigCommerce, count: int) -> None:
    """Another app on the same store spends ``count`` requests of the window."""
    request = httpx.Request(
        "GET",
        f"https://api.bigcommerce.com/stores/{fake.store_hash}/v2/store",
        headers={"X-Auth-Token": fake.access_token, "Accept": "application/json"},
    )
    for _ in range(count):
        fake(request)


def test_quota_headers_pace_requests_before_the_window_runs_out(make_connector, clock, fake):
    fake.quota = 20
    connector = make_connector(rate_limit_reserve=3)
    for _ in range(60):
        connector.check_connection()
    assert fake.throttled == 0  # throttling avoided, not suffered
    assert clock.sleeps, "the limiter never paused"
    assert all(0 < pause <= 30 for pause in clock.sleeps)
    # 60 requests at 17 a window need at least 3 pauses
    assert len(clock.sleeps) >= 3
    assert connector.client.http.stats["throttled"] == 0


def test_429_sleeps_for_the_reset_time_then_succeeds(make_connector, clock, fake):
    connector = make_connector()
    spend_window(fake, fake.quota)
    clock.advance(12)  # the window resets 18 s from now
    text = connector.check_connection()
    assert text.startswith("store Fake Guitars")
    assert fake.throttled == 1
    assert len(clock.sleeps) == 1
    assert clock.sleeps[0] == pytest.approx(18, abs=0.2)


def test_429_every_time_ends_in_rate_limited_error(make_connector, clock, fake):
    fake.window_ms = 10**9  # the window never resets
    connector = make_connector()
    spend_window(fake, fake.quota)
    with pytest.raises(RateLimitedError) as caught:
        connector.check_connection()
    # a reset beyond the retry budget (120 s) is not waited out: the pass gives up cleanly
    assert fake.throttled >= 1
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 120


def test_fake_reports_the_window_on_every_response(fake, connector, clock):
    connector.check_connection()
    connector.check_connection()
    response = connector.client.http.get("/v2/store")
    assert response.headers["X-Rate-Limit-Requests-Left"] == str(fake.quota - 3)
    assert response.headers["X-Rate-Limit-Requests-Quota"] == "150"
    assert response.headers["X-Rate-Limit-Time-Window-Ms"] == "30000"
    assert response.headers["X-Rate-Limit-Time-Reset-Ms"] == "30000"


def test_retry_signal_reads_the_reset_time():
    response = httpx.Response(429, headers={"X-Rate-Limit-Time-Reset-Ms": "4500"})
    hint = retry_signal(response)
    assert hint is not None
    assert hint.wait == 4.5
    assert retry_signal(httpx.Response(200)) is None
    fallback = retry_signal(httpx.Response(429, headers={"Retry-After": "3"}))
    assert fallback is not None
    assert fallback.wait == 3.0


@given(
    left=st.integers(min_value=0, max_value=450),
    reset_ms=st.integers(min_value=0, max_value=30_000),
    reserve=st.integers(min_value=0, max_value=20),
    work=st.sampled_from(["publish", "read", "withdrawal"]),
)
def test_limiter_waits_exactly_when_the_reserve_is_reached(left, reset_ms, reserve, work):
    clock = FakeClock(START)
    limiter = BigCommerceRateLimiter(clock=clock, quota=450, reserve=reserve)
    assert limiter.kept_for_orders == 45  # a tenth of the quota
    assert limiter.kept_for_withdrawals == 22  # half of it, kept from the reads
    marks: dict[str, Callable[[], AbstractContextManager[None]]] = {
        "publish": nullcontext,
        "read": urgent,
        "withdrawal": withdrawing,
    }
    with marks[work]():
        assert limiter.wait_time() == 0  # nothing known yet
        limiter.observe(headers(left, reset_ms, quota=450))
        wait = limiter.wait_time()
    # A withdrawal may spend the orders' share, a read half of it, anything else none of it.
    floor = reserve + {"publish": 45, "read": 22, "withdrawal": 0}[work]
    if left <= floor and reset_ms > 0:
        assert wait == pytest.approx(reset_ms / 1000, abs=1e-6)
    else:
        assert wait == 0


def test_a_publish_waits_for_the_next_window_while_a_withdrawal_spends_the_orders_share():
    clock = FakeClock(START)
    limiter = BigCommerceRateLimiter(clock=clock, quota=150, reserve=5)
    limiter.observe(headers(12, 20_000))  # 12 left: within the 5 + 15 kept back
    with withdrawing():
        assert [limiter.wait_time() for _ in range(7)] == [0] * 7  # 12 down to the 5 reserved
        assert limiter.wait_time() == pytest.approx(20)  # the reserve itself is nobody's
    limiter.observe(headers(12, 20_000))
    assert limiter.wait_time() == pytest.approx(20)  # the publish waits for the fresh window


def test_a_read_of_orders_leaves_half_the_orders_share_to_withdrawals():
    # A burst: the read of a channel's orders (a request per order's lines) would spend the
    # window down to the reserve, and the withdrawals of units sold elsewhere waited 30 s.
    clock = FakeClock(START)
    limiter = BigCommerceRateLimiter(clock=clock, quota=150, reserve=5)
    limiter.observe(headers(20, 20_000))  # 20 left: 5 reserved + 15 the orders' share
    with urgent():  # a read of orders
        assert [limiter.wait_time() for _ in range(8)] == [0] * 8  # down to 5 + 7
        assert limiter.wait_time() == pytest.approx(20)
    limiter.observe(headers(12, 20_000))
    with withdrawing():  # the 7 kept from the read are the withdrawal's
        assert [limiter.wait_time() for _ in range(7)] == [0] * 7


def test_limiter_counts_requests_between_responses():
    clock = FakeClock(START)
    limiter = BigCommerceRateLimiter(clock=clock, quota=150, reserve=2, orders_share=0)
    limiter.observe(headers(5, 10_000))
    waits = [limiter.wait_time() for _ in range(4)]
    assert waits[:3] == [0, 0, 0]
    assert waits[3] == pytest.approx(10)


def test_limiter_forgets_a_window_that_is_over():
    clock = FakeClock(START)
    limiter = BigCommerceRateLimiter(clock=clock, quota=150, reserve=5)
    limiter.observe(headers(0, 1_000))
    clock.advance(2)
    assert limiter.wait_time() == 0

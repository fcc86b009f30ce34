"""Cost-bucket pacing, THROTTLED retries (HTTP 200 and 429), and MAX_COST_EXCEEDED."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from serialsync import PublishResult, RateLimitedError, urgent
from serialsync_shopify.fake import FakeShopify
from serialsync_shopify.ratelimit import (
    ORDERS_PAGE_COST,
    PACING_MARGIN,
    CostBucketLimiter,
    ThrottleStatus,
    throttle_signal,
    throttle_wait,
)

from .conftest import SHOP_URL, make_connector, product, units, upserts

ENDPOINT = f"{SHOP_URL}/admin/api/2026-07/graphql.json"


def cost_body(
    requested: float,
    available: float,
    maximum: float = 1000.0,
    rate: float = 100.0,
    errors: list[dict[str, Any]] | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "extensions": {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": None if errors else requested,
                "throttleStatus": {
                    "maximumAvailable": maximum,
                    "currentlyAvailable": available,
                    "restoreRate": rate,
                },
            }
        }
    }
    if errors:
        body["errors"] = errors
    if data is not None:
        body["data"] = data
    return body


THROTTLED = [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}]


@given(
    cost=st.integers(min_value=1, max_value=1000),
    available=st.floats(min_value=0, max_value=1000),
    rate=st.sampled_from([50.0, 100.0, 200.0, 1000.0]),
)
def test_throttle_wait_is_cost_minus_available_over_restore_rate(cost, available, rate):
    status = ThrottleStatus(maximum=1000.0, available=available, restore_rate=rate, requested=cost)
    wait = throttle_wait(status)
    assert wait == pytest.approx(max(0.0, (cost - available) / rate))


@pytest.mark.parametrize("status_code", [200, 429])
def test_throttle_signal_reads_the_body_for_200_and_429(status_code):
    response = httpx.Response(status_code, json=cost_body(500, 100, errors=THROTTLED))
    hint = throttle_signal(response)
    assert hint is not None
    assert hint.wait == pytest.approx(4.0)


def test_throttle_signal_ignores_other_errors_and_junk():
    other = [{"message": "boom", "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]
    assert throttle_signal(httpx.Response(200, json=cost_body(10, 500, errors=other))) is None
    assert throttle_signal(httpx.Response(200, content=b"<html>")) is None
    assert throttle_signal(httpx.Response(500, json=cost_body(10, 0, errors=THROTTLED))) is None


def test_limiter_waits_before_the_bucket_would_run_dry(clock):
    limiter = CostBucketLimiter(clock, orders_share=0, urgent_cost=0)
    limiter.expect(300)
    assert limiter.wait_time() == 0  # nothing seen yet
    limiter.observe(httpx.Response(200, json=cost_body(100, 100.0, rate=50.0)))
    assert limiter.wait_time() == pytest.approx(200 / 50 + PACING_MARGIN)
    clock.now += 3  # the bucket refills 150 points meanwhile
    assert limiter.wait_time() == pytest.approx(50 / 50 + PACING_MARGIN)
    clock.now += 10
    assert limiter.wait_time() == 0
    limiter.expect(5000)  # never more than the whole bucket is waited for
    limiter.observe(httpx.Response(200, json=cost_body(100, 0.0, rate=50.0)))
    assert limiter.wait_time() == pytest.approx(1000 / 50 + PACING_MARGIN)


def test_a_publish_leaves_the_orders_share_in_the_bucket_for_a_withdrawal(clock):
    limiter = CostBucketLimiter(clock, urgent_cost=0)  # a tenth of the bucket kept for orders
    limiter.observe(httpx.Response(200, json=cost_body(100, 150.0, maximum=1000.0, rate=100.0)))
    limiter.expect(100)
    # The publish waits until its 100 points and the orders' 100 are there...
    assert limiter.wait_time() == pytest.approx((200 - 150) / 100 + PACING_MARGIN)
    with urgent():
        limiter.expect(20)
        assert limiter.wait_time() == 0  # ...and a withdrawal spends them at once
        limiter.expect(180)
        assert limiter.wait_time() == pytest.approx((180 - 150) / 100 + PACING_MARGIN)


def test_a_publish_of_small_requests_always_leaves_an_orders_page_in_the_bucket(clock):
    """With only a tenth kept (100 points), a publish of 30-point requests went whenever 130
    were there: an orders page (236 points) waited behind it, or was throttled, as long as the
    publish ran. The reserve is one orders page at least."""
    limiter = CostBucketLimiter(clock)
    assert limiter.reserve(1000.0) == ORDERS_PAGE_COST
    bucket = 1000.0
    limiter.observe(httpx.Response(200, json=cost_body(30, bucket)))
    for _ in range(500):  # 50 s of a publish sending a request whenever its pacing lets it
        clock.now += 0.1
        bucket = min(1000.0, bucket + 10.0)  # 100 points a second
        limiter.expect(30)
        if limiter.wait_time() == 0:
            bucket -= 30
            limiter.observe(httpx.Response(200, json=cost_body(30, bucket)))
        with urgent():
            limiter.expect(236)  # a page of six orders: what fetch_orders sends at most
            assert limiter.wait_time() == 0
            limiter.expect(ORDERS_PAGE_COST)
            assert limiter.wait_time() == 0
    assert bucket < 400  # the publish did use the bucket down to the reserve


def test_the_reserve_never_exceeds_the_bucket(clock):
    limiter = CostBucketLimiter(clock)
    assert limiter.reserve(2000.0) == 250  # a tenth of a larger bucket is less than a page
    assert limiter.reserve(10000.0) == 1000  # a tenth of Shopify Plus's bucket is more
    assert limiter.reserve(100.0) == 100
    limiter.observe(httpx.Response(200, json=cost_body(30, 0.0, maximum=100.0, rate=10.0)))
    limiter.expect(30)
    # A request that is not urgent waits for the whole (tiny) bucket, never for more.
    assert limiter.wait_time() == pytest.approx(100 / 10 + PACING_MARGIN)


def test_each_thread_waits_for_its_own_expected_cost(clock):
    limiter = CostBucketLimiter(clock, orders_share=0, urgent_cost=0)
    limiter.observe(httpx.Response(200, json=cost_body(10, 50.0, rate=100.0)))
    limiter.expect(850)  # the publish's big create, about to be sent from this thread
    waits: list[float] = []

    def withdrawal() -> None:
        limiter.expect(10)
        waits.append(limiter.wait_time())

    other = threading.Thread(target=withdrawal)
    other.start()
    other.join(5)
    assert waits == [0]  # not the 850 points the other thread expects
    assert limiter.wait_time() == pytest.approx(800 / 100 + PACING_MARGIN)


def test_limiter_observe_ignores_a_body_without_cost(clock):
    limiter = CostBucketLimiter(clock)
    limiter.observe(httpx.Response(200, json=cost_body(10, 5.0)))
    limiter.observe(httpx.Response(502, content=b"Bad gateway"))
    limiter.observe(httpx.Response(200, json={"data": {}}))
    assert limiter.status is not None
    assert limiter.status.available == 5.0


def test_pacing_keeps_a_small_bucket_from_throttling(clock, wall, optional_schema):
    fake = FakeShopify(
        clock=clock, now=wall, schema=optional_schema, bucket_size=600, restore_rate=50
    )
    connector = make_connector(fake, clock, transport=True, batch_size=100)
    outcomes = connector.publish_variants(product(), upserts(units(count=450)))
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    again = connector.publish_variants(product(), upserts(units(count=450)))  # adoption reads
    assert {o.result for o in again} == {PublishResult.UNCHANGED}
    stats = connector.client.http.stats
    assert stats["throttled"] == 0
    assert clock.sleeps  # it did wait, before sending
    assert stats["waited"] == pytest.approx(sum(clock.sleeps))


@pytest.mark.parametrize("status_code", [200, 429])
def test_throttled_waits_for_the_restore_and_retries(clock, wall, optional_schema, status_code):
    fake = FakeShopify(clock=clock, now=wall, schema=optional_schema, throttle_status=status_code)
    throttled: list[dict[str, Any]] = []
    answer = fake.handle

    def recording(request: httpx.Request) -> httpx.Response:
        response = answer(request)
        body = json.loads(response.content)
        if any(e["extensions"]["code"] == "THROTTLED" for e in body.get("errors", [])):
            throttled.append(body["extensions"]["cost"])
        return response

    fake.handle = recording  # type: ignore[method-assign]
    connector = make_connector(fake, clock, transport=True)
    connector.shop_context()
    connector.publish_variants(product(), upserts(units(count=1)))
    fake.drain_bucket(to=0)
    # The limiter believes the bucket is full (another process of the same app emptied it).
    connector.client.limiter.observe(httpx.Response(200, json=cost_body(1, 1000.0)))
    # New units of a product this connector made: it is looked up first (cost 7).
    outcomes = connector.publish_variants(product(), upserts(units(count=2, start=1)))
    assert {o.result for o in outcomes} == {PublishResult.CREATED}
    assert connector.client.http.stats["throttled"] == 1
    # Waited (requested cost - available) / restore rate, as the THROTTLED answer gave them
    # (+ under 0.1 s of jitter). Read from the answer, not written down: the lookup's cost
    # grows with what it selects (7 until it read the product's photo list, 8 since), and a
    # stale figure failed only when the jitter drew above 0.09 s.
    [cost] = throttled
    status = cost["throttleStatus"]
    wait = (cost["requestedQueryCost"] - status["currentlyAvailable"]) / status["restoreRate"]
    assert wait > 0
    assert wait <= clock.sleeps[0] <= wait + 0.1


@pytest.mark.parametrize("status_code", [200, 429])
def test_throttled_until_retries_run_out_raises_rate_limited(clock, status_code):
    with respx.mock() as mock:
        mock.post(ENDPOINT).mock(
            return_value=httpx.Response(status_code, json=cost_body(50, 0, errors=THROTTLED))
        )
        fake = FakeShopify(clock=clock)
        connector = make_connector(fake, clock)
        with pytest.raises(RateLimitedError) as info:
            connector.check_connection()
    assert info.value.retry_after == pytest.approx(0.5)
    assert connector.client.http.stats["requests"] == 6


def test_max_cost_exceeded_shrinks_the_orders_page(clock):
    """Shopify charges more than our estimate: the refusal shrinks the page, for good."""
    sent = []

    def answer(request):
        variables = json.loads(request.content)["variables"]
        sent.append(variables["first"])
        cost = 2 + 300 * variables["first"]
        if cost > 1000:
            error = {
                "message": f"Query cost is {cost}, which exceeds the single query max cost limit",
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost, "maxCost": 1000},
            }
            return httpx.Response(200, json={"errors": [error]})
        page = {"orders": {"pageInfo": {"hasNextPage": False, "endCursor": None}, "nodes": []}}
        return httpx.Response(200, json=cost_body(cost, 900, data=page))

    with respx.mock() as mock:
        mock.post(ENDPOINT).mock(side_effect=answer)
        connector = make_connector(FakeShopify(clock=clock), clock, orders_page_size=250)
        assert connector.fetch_orders(None, None).orders == ()
        connector.fetch_orders(None, None)
    # 250 is first cut to what our estimate allows within a quarter of the bucket (5), then by
    # the refusal to 2, then, the real cost learnt (301 an order), to the quarter again: 1.
    assert sent == [5, 2, 1]
    assert connector.orders_page_size == 1


def test_an_orders_page_is_sized_to_fit_the_single_query_limit(clock, wall):
    fake = FakeShopify(clock=clock, now=wall)
    connector = make_connector(fake, clock, transport=True, orders_page_size=250)
    connector.fetch_orders(None, None)
    assert connector.orders_page_size < 250
    assert connector.client.http.stats["requests"] == 1  # never refused


def test_max_cost_exceeded_shrinks_the_variant_page_while_adopting(connector, shop):
    from serialsync_shopify.client import MaxCostExceededError

    stock = units(count=30)
    connector.publish_variants(product(), upserts(stock))
    sizes = []
    real = connector.client.variants_page

    def costly(product_id, first, after):
        sizes.append(first)
        if first > 100:
            raise MaxCostExceededError("too costly", cost=2 * first + 3)
        return real(product_id, first, after)

    connector.client.variants_page = costly
    outcomes = connector.publish_variants(product(), upserts(stock))  # ids lost: adopt
    assert {o.result for o in outcomes} == {PublishResult.UNCHANGED}
    assert sizes == [250, 125, 62]

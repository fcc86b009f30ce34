"""fetch_orders: paging by X-WP-TotalPages, null-SKU lines, statuses, the modified_after cursor."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import respx
from serialsync import ConnectorContext, FinancialStatus, Order, RetryableRemoteError
from serialsync_woocommerce import FakeWooCommerce, WooCommerceConnector, WooCommerceSettings
from serialsync_woocommerce.connector import modified_after_param
from serialsync_woocommerce.mapping import ORDER_STATUSES

from tests.clocks import FakeClock

from .conftest import HTTP_SITE, HTTPS_SITE, product, units, upserts

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC).timestamp()


class Now:
    """The store's wall clock, moved by the test."""

    def __init__(self) -> None:
        self.value = T0

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def now() -> Now:
    return Now()


@pytest.fixture
def fake(now) -> FakeWooCommerce:
    return FakeWooCommerce(now=now)


def _stock(fake: FakeWooCommerce, count: int) -> list[str]:
    pid = fake.add_product("0113942719", options=[u.serial for u in units(count)])
    for unit in units(count):
        fake.add_variation(pid, unit.integration_id, unit.serial)
    return [u.integration_id for u in units(count)]


def _all_pages(connector, since=None) -> tuple[list[Order], int]:
    orders, page, calls = [], None, 0
    while True:
        result = connector.fetch_orders(since, page)
        calls += 1
        orders.extend(result.orders)
        page = result.next_page
        if page is None:
            return orders, calls


def test_orders_are_paged_by_the_total_pages_header(fake, connector, now):
    for sku in _stock(fake, 250):
        now.value += 1
        fake.create_order([(sku, 1)])

    orders, calls = _all_pages(connector)

    assert calls == 3
    assert len({o.order_id for o in orders}) == 250
    assert [o.updated_at for o in orders] == sorted(o.updated_at for o in orders)
    order_requests = [p for m, p in fake.requests if p.endswith("/orders")]
    assert len(order_requests) == 3


def test_paging_follows_the_header_not_the_row_count():
    # A full page whose header says it is the last one ends the walk.
    rows = [_raw_order(i) for i in range(1, 101)]
    with respx.mock() as router:
        route = router.get(url__regex=r".*/orders.*").mock(
            return_value=httpx.Response(
                200, json=rows, headers={"X-WP-Total": "100", "X-WP-TotalPages": "1"}
            )
        )
        page = _connector_without_transport().fetch_orders(None, None)

    assert len(page.orders) == 100 and page.next_page is None
    params = route.calls[0].request.url.params
    assert params["per_page"] == "100" and params["page"] == "1"
    assert params["orderby"] == "modified" and params["order"] == "asc"
    assert params["dates_are_gmt"] == "true" and "modified_after" not in params


def test_the_next_page_token_asks_for_the_next_page():
    with respx.mock() as router:
        route = router.get(url__regex=r".*/orders.*").mock(
            return_value=httpx.Response(
                200, json=[_raw_order(1)], headers={"X-WP-Total": "201", "X-WP-TotalPages": "3"}
            )
        )
        connector = _connector_without_transport()
        first = connector.fetch_orders(None, None)
        second = connector.fetch_orders(None, first.next_page)
        last = connector.fetch_orders(None, "3")

    assert (first.next_page, second.next_page, last.next_page) == ("2", "3", None)
    assert [c.request.url.params["page"] for c in route.calls] == ["1", "2", "3"]


def test_a_line_whose_variation_was_deleted_is_resolved_from_its_meta(fake, connector):
    published = connector.publish_variants(product(), upserts(units(2)))
    order_id = fake.create_order([("0113942719|||US21000000", 1), ("0113942719|||US21000001", 1)])
    fake.delete_variation(int(published[0].remote.variant_id))
    assert fake._order_view(fake.orders[int(order_id)])["line_items"][0]["sku"] is None

    (order,) = connector.fetch_orders(None, None).orders

    assert [line.raw_sku for line in order.lines] == [
        "0113942719|||US21000000",
        "0113942719|||US21000001",
    ]
    assert order.lines[0].parsed().serial == "US21000000"


def test_a_null_sku_line_without_a_parent_is_kept_as_sold_for_the_quarantine(fake, connector):
    _stock(fake, 1)
    fake.create_order([("0113942719|||US21000000", 1)])
    fake.variations.clear()
    fake.products.clear()

    (order,) = connector.fetch_orders(None, None).orders

    assert order.lines[0].raw_sku is None


@pytest.mark.parametrize(
    ("woo_status", "expected"),
    [
        ("pending", FinancialStatus.PENDING),
        ("on-hold", FinancialStatus.PENDING),
        ("processing", FinancialStatus.PAID),
        ("completed", FinancialStatus.PAID),
        ("cancelled", FinancialStatus.CANCELLED),
        ("failed", FinancialStatus.CANCELLED),
        ("refunded", FinancialStatus.REFUNDED),
    ],
)
def test_woocommerce_statuses_are_mapped(fake, connector, woo_status, expected):
    (sku,) = _stock(fake, 1)
    fake.create_order([(sku, 1)], woo_status=woo_status)

    (order,) = connector.fetch_orders(None, None).orders

    assert order.status is expected
    assert ORDER_STATUSES[woo_status] is expected


def test_cancelled_and_refunded_orders_come_back_with_their_new_status(fake, connector, now):
    skus = _stock(fake, 3)
    cancelled = fake.create_order([(skus[0], 1)])
    refunded = fake.create_order([(skus[1], 1)])
    partly = fake.create_order([(skus[2], 1)])
    first = {o.order_id: o for o in connector.fetch_orders(None, None).orders}
    now.value += 60
    fake.set_order_status(cancelled, FinancialStatus.CANCELLED)
    fake.set_order_status(refunded, FinancialStatus.REFUNDED)
    fake.set_order_status(partly, FinancialStatus.PARTIALLY_REFUNDED)

    later = connector.fetch_orders(max(o.updated_at for o in first.values()), None).orders

    assert {o.order_id: o.status for o in first.values()} == dict.fromkeys(
        (cancelled, refunded, partly), FinancialStatus.PAID
    )
    assert {o.order_id: o.status for o in later} == {
        cancelled: FinancialStatus.CANCELLED,
        refunded: FinancialStatus.REFUNDED,
        partly: FinancialStatus.PARTIALLY_REFUNDED,
    }
    assert all(o.updated_at > o.created_at for o in later)
    # Cancelling gave the unit back.
    assert fake.variation_by_sku(skus[0])["stock_quantity"] == 1


def test_since_includes_an_order_modified_in_that_very_second(fake, connector, now):
    (sku,) = _stock(fake, 1)
    fake.create_order([(sku, 1)])
    (order,) = connector.fetch_orders(None, None).orders

    again = connector.fetch_orders(order.updated_at, None).orders
    after = connector.fetch_orders(order.updated_at + timedelta(seconds=1), None).orders

    assert [o.order_id for o in again] == [order.order_id]
    assert after == ()


def test_order_fields_are_mapped(fake, connector):
    (sku,) = _stock(fake, 1)
    fake.variation_by_sku(sku)["regular_price"] = "2999.00"
    order_id = fake.create_order([(sku, 1)])

    (order,) = connector.fetch_orders(None, None).orders

    assert order.channel == "woo"
    assert order.order_id == order_id and order.order_number == order_id
    assert order.created_at == datetime.fromtimestamp(T0, UTC)
    assert order.created_at.tzinfo is not None
    assert str(order.total) == "2999.00" and order.currency == "USD"
    assert order.customer_name == "Ada Shopper" and order.customer_email == "ada@example.com"
    (line,) = order.lines
    assert line.quantity == 1 and str(line.price) == "2999.0" and line.raw_sku == sku


def test_modified_after_is_utc_whole_seconds_one_second_early():
    since = datetime(2026, 11, 2, 10, 0, 5, 700_000, tzinfo=UTC)
    assert modified_after_param(since) == "2026-11-02T10:00:04"
    local = since.astimezone(timezone(timedelta(hours=2)))
    assert modified_after_param(local) == "2026-11-02T10:00:04"
    with pytest.raises(ValueError, match="timezone-aware"):
        modified_after_param(since.replace(tzinfo=None))


def test_a_bad_page_token_is_refused_clearly(connector):
    with pytest.raises(ValueError, match="page token"):
        connector.fetch_orders(None, "next")


def test_a_503_on_orders_is_retried_with_backoff_not_real_sleep(fake, connector, clock):
    answers = iter([httpx.Response(503, json={"code": "busy"}), None])

    def flaky(request):
        answer = next(answers)
        return answer if answer is not None else fake(request)

    with respx.mock() as router:
        router.route(host="shop.example.com").mock(side_effect=flaky)
        page = _make(fake, clock).fetch_orders(None, None)

    assert page.orders == ()
    assert len(clock.sleeps) == 1 and clock.sleeps[0] > 0


def test_an_oauth_retry_is_signed_again_with_a_new_nonce(clock):
    fake = FakeWooCommerce()  # on the wall clock, as the OAuth timestamps are
    answers = iter([httpx.Response(503, json={"code": "busy"}), None])
    seen = []

    def flaky(request):
        seen.append(request.url.params["oauth_nonce"])
        answer = next(answers)
        return answer if answer is not None else fake(request)

    with respx.mock() as router:
        router.route(host="shop.example.com").mock(side_effect=flaky)
        page = _make(fake, clock, site=HTTP_SITE).fetch_orders(None, None)

    assert page.orders == ()
    assert len(seen) == 2 and seen[0] != seen[1]


def test_orders_still_failing_after_retries_raise_retryable(fake, clock):
    with respx.mock() as router:
        router.route(host="shop.example.com").mock(
            return_value=httpx.Response(503, json={"code": "busy"})
        )
        with pytest.raises(RetryableRemoteError):
            _make(fake, clock).fetch_orders(None, None)


# -- helpers ------------------------------------------------------------------------------------


def _make(fake: FakeWooCommerce, clock: FakeClock, site: str = HTTPS_SITE) -> WooCommerceConnector:
    """A connector with no transport set (for respx), sleeping on ``clock``."""
    settings = WooCommerceSettings.model_validate(fake.connector_settings(site))
    context = ConnectorContext(name="woo", sleep=clock.sleep, clock=clock, rng=random.Random(1))
    return WooCommerceConnector(settings, context)


def _connector_without_transport() -> WooCommerceConnector:
    return _make(FakeWooCommerce(), FakeClock())


def _raw_order(number: int) -> dict[str, Any]:
    stamp = f"2026-11-02T09:{number // 60:02d}:{number % 60:02d}"
    return {
        "id": number,
        "number": str(number),
        "status": "processing",
        "currency": "USD",
        "total": "10.00",
        "date_created_gmt": stamp,
        "date_modified_gmt": stamp,
        "billing": {},
        "line_items": [
            {
                "id": number * 10,
                "sku": f"P|||S{number}",
                "quantity": 1,
                "price": 10,
                "product_id": 5,
                "variation_id": 6,
                "meta_data": [],
            }
        ],
        "refunds": [],
    }

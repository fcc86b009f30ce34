"""fetch_orders: paging to the end, statuses, line items, the updated_at window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from serialsync import FinancialStatus, OrdersPage, parse
from serialsync_shopify import ShopifyConnector
from serialsync_shopify.mapping import financial_status, updated_since_query
from serialsync_shopify.ratelimit import ORDERS_PAGE_COST

from .conftest import make_connector, product, units, upserts


@pytest.fixture
def stocked(connector, shop):
    stock = units(count=12)
    connector.publish_variants(product(), upserts(stock))
    return stock


def read_all(connector: ShopifyConnector, since: datetime | None = None) -> list[OrdersPage]:
    pages: list[OrdersPage] = []
    page: str | None = None
    while True:
        result = connector.fetch_orders(since, page)
        pages.append(result)
        page = result.next_page
        if page is None:
            return pages


def test_orders_are_paged_to_the_end_oldest_update_first(shop, clock, wall, stocked):
    connector = make_connector(shop, clock, orders_page_size=3)
    ids = []
    for unit in stocked[:7]:
        wall.advance(minutes=1)
        ids.append(shop.create_order([(unit.integration_id, 1)]))
    pages = read_all(connector)
    assert [len(p.orders) for p in pages] == [3, 3, 1]
    orders = [o for p in pages for o in p.orders]
    assert [o.order_id for o in orders] == ids
    assert [o.updated_at for o in orders] == sorted(o.updated_at for o in orders)
    assert pages[-1].next_page is None


def test_an_order_carries_its_lines_as_sold(connector, shop, stocked):
    unit = stocked[0]
    order_id = shop.create_order([(unit.integration_id, 1)])
    (order,) = connector.fetch_orders(None, None).orders
    assert order.order_id == order_id
    assert order.channel == "shop"
    assert order.status is FinancialStatus.PAID
    assert order.order_number.startswith("#")
    assert order.total == Decimal("199.00")
    (line,) = order.lines
    assert line.raw_sku == unit.integration_id
    assert (line.quantity, line.price, line.quantity_refunded) == (1, Decimal("199.00"), 0)
    assert line.parsed().serial == unit.serial
    assert order.created_at.tzinfo is UTC or order.created_at.utcoffset() == timedelta(0)
    assert order.updated_at.utcoffset() == timedelta(0)


def test_selling_a_unit_takes_its_stock(connector, shop, stocked):
    unit = stocked[0]
    shop.create_order([(unit.integration_id, 1)])
    (variant,) = shop.variants_with_sku(unit.integration_id)
    assert shop.stock_of(variant.id) == 0
    with pytest.raises(ValueError, match="out of stock"):
        shop.create_order([(unit.integration_id, 1)])


def test_cancelled_and_refunded_orders_are_mapped(connector, shop, wall, stocked):
    cancelled = shop.create_order([(stocked[0].integration_id, 1)])
    refunded = shop.create_order([(stocked[1].integration_id, 1)])
    partly = shop.create_order([(stocked[2].integration_id, 1), (stocked[3].integration_id, 1)])
    pending = shop.create_order([(stocked[4].integration_id, 1)], status=FinancialStatus.PENDING)
    wall.advance(minutes=5)
    shop.cancel_order(cancelled)
    shop.refund_order(refunded)
    first_line = shop.orders[partly].lines[0].id
    shop.refund_order(partly, {first_line: 1})
    orders = {o.order_id: o for p in read_all(connector) for o in p.orders}
    assert orders[cancelled].status is FinancialStatus.CANCELLED
    assert orders[refunded].status is FinancialStatus.REFUNDED
    assert orders[refunded].lines[0].quantity_refunded == 1
    assert orders[partly].status is FinancialStatus.PARTIALLY_REFUNDED
    assert [line.quantity_refunded for line in orders[partly].lines] == [1, 0]
    assert orders[pending].status is FinancialStatus.PENDING
    # Cancelling restocked the unit (Shopify restocks on cancel).
    (variant,) = shop.variants_with_sku(stocked[0].integration_id)
    assert shop.stock_of(variant.id) == 1


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"displayFinancialStatus": "PAID"}, FinancialStatus.PAID),
        ({"displayFinancialStatus": "AUTHORIZED"}, FinancialStatus.PAID),
        ({"displayFinancialStatus": "PARTIALLY_PAID"}, FinancialStatus.PAID),
        ({"displayFinancialStatus": "PENDING"}, FinancialStatus.PENDING),
        ({"displayFinancialStatus": None}, FinancialStatus.PENDING),
        ({"displayFinancialStatus": "REFUNDED"}, FinancialStatus.REFUNDED),
        ({"displayFinancialStatus": "PARTIALLY_REFUNDED"}, FinancialStatus.PARTIALLY_REFUNDED),
        ({"displayFinancialStatus": "VOIDED"}, FinancialStatus.CANCELLED),
        ({"displayFinancialStatus": "EXPIRED"}, FinancialStatus.CANCELLED),
        (
            {"displayFinancialStatus": "PAID", "cancelledAt": "2026-11-01T12:00:00Z"},
            FinancialStatus.CANCELLED,
        ),
    ],
)
def test_financial_status_mapping(node, expected):
    assert financial_status(node) is expected


def test_an_order_with_many_lines_is_read_whole(connector, shop, stocked):
    lines = [(u.integration_id, 1) for u in stocked]  # 12 lines: more than one line page
    shop.create_order(lines)
    (order,) = connector.fetch_orders(None, None).orders
    assert [line.raw_sku for line in order.lines] == [u.integration_id for u in stocked]
    assert "order" in shop.calls  # the rest of the lines came from a second query


def test_since_filters_by_updated_at_and_includes_the_boundary(connector, shop, wall, stocked):
    old = shop.create_order([(stocked[0].integration_id, 1)])
    wall.advance(hours=2)
    boundary = wall.now
    new = shop.create_order([(stocked[1].integration_id, 1)])
    ids = [o.order_id for p in read_all(connector, since=boundary) for o in p.orders]
    assert ids == [new]
    # An old order updated since the cursor comes back.
    wall.advance(minutes=1)
    shop.cancel_order(old)
    ids = [o.order_id for p in read_all(connector, since=boundary) for o in p.orders]
    assert ids == [new, old]


def test_the_updated_at_query_is_utc_and_inclusive():
    since = datetime(2026, 11, 1, 13, 30, 15, 999, tzinfo=UTC)
    assert updated_since_query(since) == "updated_at:>='2026-11-01T13:30:15Z'"
    assert updated_since_query(None) is None
    naive = datetime(2026, 11, 1, 13, 30, 15)
    assert updated_since_query(naive) == "updated_at:>='2026-11-01T13:30:15Z'"


def test_a_line_without_sku_is_kept_with_none(connector, shop, stocked):
    order_id = shop.create_order([(stocked[0].integration_id, 1)])
    shop.orders[order_id].lines[0].sku = None  # a custom line item
    (order,) = connector.fetch_orders(None, None).orders
    assert order.lines[0].raw_sku is None


def test_integration_id_survives_the_round_trip(connector, shop, stocked):
    shop.create_order([(stocked[5].integration_id, 1)])
    (order,) = connector.fetch_orders(None, None).orders
    parsed = parse(order.lines[0].raw_sku)
    assert (parsed.sku, parsed.serial) == (stocked[5].sku, stocked[5].serial)


def test_customer_email_is_read_only_when_allowed(shop, clock, stocked):
    shop.create_order([(stocked[0].integration_id, 1)])
    (order,) = make_connector(shop, clock).fetch_orders(None, None).orders
    assert order.customer_email is None
    allowed = make_connector(shop, clock, customer_email=True)
    (order,) = allowed.fetch_orders(None, None).orders
    assert order.customer_email == "shopper@example.com"


def test_a_foreign_page_token_is_refused_clearly(connector):
    with pytest.raises(ValueError, match="not a page token"):
        connector.fetch_orders(None, "cursor-from-elsewhere")


def test_orders_sharing_one_second_are_all_read_across_pages(shop, clock, wall, stocked):
    connector = make_connector(shop, clock, orders_page_size=2)
    ids = [shop.create_order([(u.integration_id, 1)]) for u in stocked[:5]]  # same second
    assert len({shop.orders[i].updated_at for i in ids}) == 1
    orders = [o.order_id for p in read_all(connector, since=wall.now) for o in p.orders]
    assert orders == ids


def test_an_orders_page_costs_at_most_a_quarter_of_the_bucket(shop, clock, stocked):
    # A page near the single-query limit (1,000 points) waits for an almost full bucket: behind
    # a publish, orders would be read up to 20 s late. The page is cut before it is sent.
    connector = make_connector(shop, clock)
    connector.fetch_orders(None, None)
    asked = connector.client.expected_cost("OrdersPage", connector._orders_variables())
    assert asked <= ORDERS_PAGE_COST
    assert connector.orders_page_size > 1

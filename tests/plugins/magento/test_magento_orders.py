"""fetch_orders: paging by total_count, configurable lines counted once, states mapped."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from serialsync import (
    FinancialStatus,
    ListingAction,
    ListingChange,
    OrdersPage,
    Product,
    SerializedUnit,
)
from serialsync_magento import FakeMagento, MagentoConnector
from serialsync_magento.mapping import order_lines, order_status

POS_SKU = "0113942719"
PRODUCT = Product(sku=POS_SKU, title="Gibson Les Paul", price=Decimal("2499.00"))


def _listed(connector: MagentoConnector, serials: list[str]) -> list[str]:
    units = [SerializedUnit(sku=POS_SKU, serial=s) for s in serials]
    connector.publish_variants(
        PRODUCT, [ListingChange(unit=u, action=ListingAction.UPSERT) for u in units]
    )
    return [u.integration_id for u in units]


def _all_pages(connector: MagentoConnector, since: datetime | None = None) -> list[OrdersPage]:
    pages: list[OrdersPage] = []
    token: str | None = None
    while True:
        page = connector.fetch_orders(since, token)
        pages.append(page)
        token = page.next_page
        if token is None:
            return pages
        assert len(pages) < 50, "the pager loops"


def _order_queries(fake: FakeMagento) -> list[dict[str, str]]:
    return [dict(r.query) for r in fake.received if r.path.endswith("/V1/orders")]


def test_paging_stops_at_total_count_and_never_asks_past_the_end(fake, make_connector):
    connector = make_connector(orders_page_size=2)
    # One unit a order: Magento refuses a unit already sold (its salable quantity is 0).
    ids = [
        fake.create_order([(sku, 1)]) for sku in _listed(connector, ["P1", "P2", "P3", "P4", "P5"])
    ]

    pages = _all_pages(connector)

    assert [len(p.orders) for p in pages] == [2, 2, 1]
    assert [o.order_id for p in pages for o in p.orders] == ids  # oldest first, each once
    asked = [q["searchCriteria[currentPage]"] for q in _order_queries(fake)]
    assert asked == ["1", "2", "3"]


def test_an_exact_multiple_of_the_page_size_stops_without_an_extra_page(fake, make_connector):
    connector = make_connector(orders_page_size=2)
    for sku in _listed(connector, ["P1", "P2", "P3", "P4"]):
        fake.create_order([(sku, 1)])
    pages = _all_pages(connector)
    assert [len(p.orders) for p in pages] == [2, 2]
    assert len(_order_queries(fake)) == 2  # page 3 would repeat page 2


def test_the_fake_repeats_the_last_page_past_the_end(fake, make_connector):
    connector = make_connector(orders_page_size=2)
    for sku in _listed(connector, ["P1", "P2", "P3"]):
        fake.create_order([(sku, 1)])
    last = connector.fetch_orders(None, "2")
    past = connector.fetch_orders(None, "7")
    assert [o.order_id for o in past.orders] == [o.order_id for o in last.orders]
    assert past.next_page is None  # total_count says there is nothing more


def test_no_orders_is_one_empty_page(fake, make_connector):
    page = make_connector().fetch_orders(None, None)
    assert page.orders == () and page.next_page is None


def test_since_filters_on_updated_at_gteq_sorted_ascending(fake, make_connector):
    connector = make_connector()
    old_sku, fresh_sku = _listed(connector, ["P1", "P2"])
    old = fake.create_order([(old_sku, 1)])
    since = fake._now + timedelta(days=1)
    fake._now = since + timedelta(hours=1)
    fresh = fake.create_order([(fresh_sku, 1)])

    page = connector.fetch_orders(since.astimezone(tz=None), None)

    assert [o.order_id for o in page.orders] == [fresh]
    [query] = _order_queries(fake)
    assert query["searchCriteria[filterGroups][0][filters][0][field]"] == "updated_at"
    assert query["searchCriteria[filterGroups][0][filters][0][conditionType]"] == "gteq"
    assert query["searchCriteria[filterGroups][0][filters][0][value]"] == since.strftime(
        "%Y-%m-%d %H:%M:%S"
    )
    assert query["searchCriteria[sortOrders][0][field]"] == "updated_at"
    assert query["searchCriteria[sortOrders][0][direction]"] == "ASC"
    assert old not in [o.order_id for o in page.orders]


def test_a_configurable_line_is_counted_once_with_the_child_sku(fake, make_connector):
    connector = make_connector()
    sku_a, sku_b = _listed(connector, ["S-A", "S-B"])
    order_id = fake.create_order([(sku_a, 1), (sku_b, 1)])
    assert len(fake.orders[int(order_id)]["items"]) == 4  # parent + child row per line

    [order] = connector.fetch_orders(None, None).orders

    assert [line.raw_sku for line in order.lines] == [sku_a, sku_b]
    assert [line.quantity for line in order.lines] == [1, 1]
    assert [line.price for line in order.lines] == [Decimal("2499.0")] * 2
    assert [line.parsed().serial for line in order.lines] == ["S-A", "S-B"]
    assert order.channel == "magento-test"
    assert order.created_at.tzinfo is not None and order.created_at.utcoffset() == timedelta(0)
    assert order.updated_at >= order.created_at
    assert order.total == Decimal("4998.0")
    assert order.customer_email == "shopper@example.com"


def test_a_simple_product_without_parent_is_one_line(fake, make_connector):
    fake.products["PLAIN"] = {
        "sku": "PLAIN",
        "id": 5,
        "name": "Strap",
        "price": 20,
        "type_id": "simple",
        "custom_attributes": [],
    }
    fake.source_items[("PLAIN", "default")] = {"quantity": 2, "status": 1}
    fake.create_order([("PLAIN", 2)])
    [order] = make_connector().fetch_orders(None, None).orders
    [line] = order.lines
    assert (line.raw_sku, line.quantity, line.price) == ("PLAIN", 2, Decimal("20.0"))


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (FinancialStatus.PENDING, FinancialStatus.PENDING),
        (FinancialStatus.PAID, FinancialStatus.PAID),
        (FinancialStatus.CANCELLED, FinancialStatus.CANCELLED),
        (FinancialStatus.REFUNDED, FinancialStatus.REFUNDED),
        (FinancialStatus.PARTIALLY_REFUNDED, FinancialStatus.PARTIALLY_REFUNDED),
    ],
)
def test_cancelled_and_refunded_orders_are_mapped(fake, make_connector, status, expected):
    connector = make_connector()
    [sku] = _listed(connector, ["ST1"])
    order_id = fake.create_order([(sku, 1)], status=FinancialStatus.PAID)
    fake.set_order_status(order_id, status)
    [order] = connector.fetch_orders(None, None).orders
    assert order.status is expected
    if expected is FinancialStatus.REFUNDED:
        assert [line.quantity_refunded for line in order.lines] == [1]


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("new", FinancialStatus.PENDING),
        ("pending_payment", FinancialStatus.PENDING),
        ("holded", FinancialStatus.PENDING),
        ("payment_review", FinancialStatus.PENDING),
        ("processing", FinancialStatus.PAID),
        ("complete", FinancialStatus.PAID),
        ("canceled", FinancialStatus.CANCELLED),
        ("closed", FinancialStatus.REFUNDED),
    ],
)
def test_every_magento_state_is_mapped(state, expected):
    assert order_status({"state": state}) is expected


def test_a_paid_order_with_a_refund_is_partially_refunded():
    assert order_status({"state": "complete", "total_refunded": 5}) is (
        FinancialStatus.PARTIALLY_REFUNDED
    )


def test_child_rows_of_a_non_configurable_parent_are_kept():
    # A bundle's children are the products sold: only configurable children are duplicates.
    lines = order_lines(
        [
            {"item_id": 1, "sku": "BUNDLE", "product_type": "bundle", "qty_ordered": 1, "price": 9},
            {
                "item_id": 2,
                "sku": "PART",
                "product_type": "simple",
                "parent_item_id": 1,
                "qty_ordered": 1,
                "price": 0,
            },
        ]
    )
    assert [line.raw_sku for line in lines] == ["BUNDLE", "PART"]


def test_a_foreign_page_token_is_refused(make_connector):
    with pytest.raises(ValueError, match="page token"):
        make_connector().fetch_orders(None, "abc")

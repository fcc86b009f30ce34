"""Real-world orders (issue 15 #4) and orders the plugin cannot map (issue 15 #3), over respx.

Shopify shows a custom line item (added by staff: "Setup service") with no variant and a null
SKU, and a product the shop sells outside serialsync with its own SKU. The plugin maps both
faithfully: ``raw_sku`` ``None`` for the first, the plain SKU as is for the second. An order it
cannot map (a negative quantity, a line without its quantity, a financial status Shopify does
not define) is handed back in ``OrdersPage.unreadable`` with its reason and raw payload, and
the page goes on.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from serialsync import Order, UnreadableRecord
from serialsync.testing import OrderDamage
from serialsync_shopify import mapping
from serialsync_shopify.fake import FakeShopify

from tests.clocks import FakeClock

from .conftest import make_connector, product, units, upserts
from .test_shopify_orders import read_all


@pytest.fixture
def stocked(connector, shop):
    stock = units(count=6)
    connector.publish_variants(product(), upserts(stock))
    return stock


def test_custom_and_plain_lines_are_mapped_as_shopify_shows_them(connector, shop, stocked):
    guitar = stocked[0]
    order_id = shop.create_order([(guitar.integration_id, 1), (None, 1), ("PLAIN-STRAP", 2)])

    (order,) = connector.fetch_orders(None, None).orders

    assert order.order_id == order_id
    serialized, custom, plain = order.lines
    assert serialized.raw_sku == guitar.integration_id
    assert serialized.parsed().serial == guitar.serial
    assert (custom.raw_sku, custom.title, custom.quantity) == (None, "Setup service", 1)
    assert custom.price == Decimal("25.00")
    assert (plain.raw_sku, plain.quantity) == ("PLAIN-STRAP", 2)
    assert plain.title == "Shop product PLAIN-STRAP"
    assert order.total == Decimal("199.00") + Decimal("25.00") + 2 * Decimal("19.99")


def test_the_fake_shows_a_custom_line_with_no_variant_and_a_plain_one_with_its_own(
    shop: FakeShopify, stocked
):
    order_id = shop.create_order([(None, 1), ("PLAIN-STRAP", 1)])
    view: Any = shop.orderbook.order_view(order_id)
    lines = view["lineItems"]({"first": 10})["nodes"]
    assert (lines[0]["sku"], lines[0]["variant"]) == (None, None)
    assert lines[1]["sku"] == "PLAIN-STRAP"
    assert lines[1]["variant"]["sku"] == "PLAIN-STRAP"


def test_a_plain_product_is_made_once_and_never_counts_as_a_listing(shop, stocked):
    before = shop.listings()
    shop.create_order([("PLAIN-STRAP", 1)])
    shop.create_order([("PLAIN-STRAP", 3)])  # not tracked: any quantity sells
    assert len(shop.variants_with_sku("PLAIN-STRAP")) == 1
    assert shop.listings() == before


def test_an_unknown_integration_id_is_still_refused(shop, stocked):
    with pytest.raises(ValueError, match="for sale"):
        shop.create_order([("0113942719|||NOPE", 1)])
    assert shop.orders == {}


def test_a_custom_line_does_not_restock_anything_when_refunded(connector, shop, stocked):
    guitar = stocked[0]
    order_id = shop.create_order([(guitar.integration_id, 1), (None, 1)])
    shop.refund_order(order_id)
    (variant,) = shop.variants_with_sku(guitar.integration_id)
    assert shop.stock_of(variant.id) == 1
    (order,) = connector.fetch_orders(None, None).orders
    assert [line.quantity_refunded for line in order.lines] == [1, 1]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("negative-quantity", "has a negative quantity (-1)"),
        ("missing-field", "has no whole quantity (None)"),
        ("unknown-status", "unknown financial status 'DISPUTED'"),
    ],
)
def test_an_order_that_cannot_be_mapped_is_handed_back_and_the_page_goes_on(
    shop: FakeShopify, clock: FakeClock, stocked, damage: OrderDamage, reason: str
):
    connector = make_connector(shop, clock, orders_page_size=2)
    first = shop.create_order([(stocked[0].integration_id, 1)])
    bad = shop.create_order([(stocked[1].integration_id, 1)])
    shop.damage_order(bad, damage)
    later = [shop.create_order([(u.integration_id, 1)]) for u in stocked[2:5]]

    pages = read_all(connector)

    assert [o.order_id for p in pages for o in p.orders] == [first, *later]
    [record] = [r for p in pages for r in p.unreadable]
    assert record.key == bad
    assert reason in record.reason
    assert record.updated_at == shop.orders[bad].updated_at
    raw = json.loads(record.payload)
    assert raw["id"] == bad and raw["lineItems"]["nodes"][0]["sku"] == stocked[1].integration_id


def test_fetch_order_reads_one_order_again(connector, shop, stocked):
    good = shop.create_order([(stocked[0].integration_id, 1), (None, 1)])
    bad = shop.create_order([(stocked[1].integration_id, 1)])
    shop.damage_order(bad, "negative-quantity")

    found = connector.fetch_order(good)
    assert isinstance(found, Order)
    assert found.order_id == good and [line.raw_sku for line in found.lines] == [
        stocked[0].integration_id,
        None,
    ]
    assert found == connector.fetch_orders(None, None).orders[0]
    unreadable = connector.fetch_order(bad)
    assert isinstance(unreadable, UnreadableRecord)
    assert "negative quantity" in unreadable.reason
    assert connector.fetch_order("gid://shopify/Order/999999") is None
    assert connector.client.calls["OrderById"] == 3


def test_an_empty_sku_is_no_sku():
    line = mapping.order_line(
        {"id": "gid://shopify/LineItem/1", "sku": "", "quantity": 1, "currentQuantity": 1}
    )
    assert line.raw_sku is None


def test_an_order_without_its_dates_is_unreadable_not_an_error():
    node = {"id": "gid://shopify/Order/5", "name": "#1005", "displayFinancialStatus": "PAID"}
    record = mapping.read_order(node, [], channel="shop")
    assert isinstance(record, UnreadableRecord)
    assert record.reason == "the order has no createdAt"
    assert record.updated_at is None
    assert record.key == "gid://shopify/Order/5"


def test_a_null_financial_status_is_pending_not_unreadable():
    node = {
        "id": "gid://shopify/Order/6",
        "createdAt": "2026-12-01T10:00:00Z",
        "updatedAt": "2026-12-01T10:00:00Z",
        "displayFinancialStatus": None,
    }
    order = mapping.read_order(node, [], channel="shop")
    assert isinstance(order, Order)
    assert order.status.value == "pending"

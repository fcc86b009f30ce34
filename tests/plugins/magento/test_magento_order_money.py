"""Tax, shipping and payment method of a Magento order reach the Order for the POS
(``tax_amount``, ``shipping_amount``, ``payment.method``), exactly."""

from __future__ import annotations

from decimal import Decimal

from serialsync import ListingAction, ListingChange, Order, Product, SerializedUnit
from serialsync_magento.mapping import read_order

PRODUCT = Product(sku="0113942719", title="Gibson Les Paul", price=Decimal("2499.00"))


def test_an_order_carries_tax_shipping_and_payment_method(fake, make_connector):
    connector = make_connector()
    unit = SerializedUnit(sku=PRODUCT.sku, serial="US1")
    connector.publish_variants(PRODUCT, [ListingChange(unit=unit, action=ListingAction.UPSERT)])
    order_id = fake.create_order([(unit.integration_id, 1)])
    stored = fake.orders[int(order_id)]
    stored.update(tax_amount=206.17, shipping_amount=0.1)
    stored["payment"]["method"] = "braintree"

    (order,) = connector.fetch_orders(None, None).orders

    assert (order.tax, order.shipping, order.gateway) == (
        Decimal("206.17"),
        Decimal("0.1"),  # the JSON number as written, not 0.1000000000000000055…
        "braintree",
    )


def test_an_order_without_them_is_read_with_none():
    raw = {
        "entity_id": 5,
        "state": "processing",
        "status": "processing",
        "grand_total": 10,
        "created_at": "2026-12-01 10:00:00",
        "items": [],
        "tax_amount": "n/a",
        "payment": {"method": ""},
    }
    order = read_order(raw, "magento")
    assert isinstance(order, Order)
    assert (order.tax, order.shipping, order.gateway) == (None, None, None)

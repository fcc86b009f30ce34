"""Tax, shipping and payment method of a BigCommerce order reach the Order for the POS
(orders v2 ``total_tax``, ``shipping_cost_ex_tax``, ``payment_method``), exactly."""

from __future__ import annotations

from decimal import Decimal

from serialsync import ListingAction, ListingChange
from serialsync_bigcommerce.mapping import order_from_json

from .conftest import product, units


def test_an_order_carries_tax_shipping_and_payment_method(fake, connector):
    (unit,) = units(1)
    connector.publish_variants(
        product=product(), changes=[ListingChange(unit=unit, action=ListingAction.UPSERT)]
    )
    order_id = fake.create_order([(unit.integration_id, 1)])
    fake.orders[int(order_id)].update(
        total_tax="240.0200", shipping_cost_ex_tax="19.9900", payment_method="PayPal"
    )

    (order,) = connector.fetch_orders(since=None, page=None).orders

    assert (order.tax, order.shipping, order.gateway) == (
        Decimal("240.0200"),
        Decimal("19.9900"),
        "PayPal",
    )


def test_an_order_without_them_is_read_with_none():
    record = {
        "id": 7,
        "status_id": 11,
        "date_created": "Tue, 01 Dec 2026 10:00:00 +0000",
        "date_modified": "Tue, 01 Dec 2026 10:00:00 +0000",
        "total_inc_tax": "10.0000",
        "total_tax": "n/a",
        "payment_method": "  ",
    }
    order = order_from_json("bc", record, [])
    assert (order.tax, order.shipping, order.gateway) == (None, None, None)

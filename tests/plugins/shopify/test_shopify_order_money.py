"""Orders carry their tax, shipping and payment gateway for the POS, as exact decimals."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from serialsync_shopify.mapping import read_order

from .conftest import product, units, upserts


def test_an_order_carries_tax_shipping_and_gateway(connector, shop):
    (unit,) = units(count=1)
    connector.publish_variants(product(price="199.99"), upserts([unit]))
    order_id = shop.create_order([(unit.integration_id, 1)])
    order = shop.orderbook.orders[order_id]
    order.tax, order.shipping = Decimal("16.51"), Decimal("7.05")
    order.gateways = ["paypal", "gift_card"]

    (read,) = connector.fetch_orders(None, None).orders

    assert (read.tax, read.shipping, read.gateway) == (Decimal("16.51"), Decimal("7.05"), "paypal")
    assert read.total == Decimal("223.55")  # 199.99 + 16.51 + 7.05, no float on the way


def _node(**fields: object) -> dict[str, object]:
    stamp = datetime(2026, 7, 1).isoformat() + "Z"
    return {"id": "gid://shopify/Order/1", "createdAt": stamp, "updatedAt": stamp, **fields}


def test_an_order_without_them_is_still_read_without_them():
    read = read_order(_node(), [], channel="shop")
    assert (read.tax, read.shipping, read.gateway) == (None, None, None)  # type: ignore[union-attr]
    odd = read_order(
        _node(
            totalTaxSet={"shopMoney": {"amount": "n/a"}},
            totalShippingPriceSet={"shopMoney": {"amount": "0.10000000000000001"}},
            paymentGatewayNames=["", "manual"],
        ),
        [],
        channel="shop",
    )
    assert odd.tax is None  # type: ignore[union-attr]
    assert odd.shipping == Decimal("0.10000000000000001")  # type: ignore[union-attr]
    assert odd.gateway == "manual"  # type: ignore[union-attr]

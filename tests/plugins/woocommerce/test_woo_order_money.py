"""Tax, shipping and payment gateway of a WooCommerce order reach the Order (issue 23 #1:
AIM's ThirdPartyOrder carries them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from serialsync_woocommerce.mapping import order_from_json


def _raw(**extra: Any) -> dict[str, Any]:
    return {
        "id": 83,
        "number": "83",
        "status": "processing",
        "currency": "USD",
        "total": "1331.70",
        "billing": {"first_name": "Ada", "last_name": "L", "email": "ada@example.com"},
        "line_items": [],
        "date_created_gmt": "2026-11-23T09:00:00",
        **extra,
    }


def test_tax_shipping_and_gateway_are_read_exactly() -> None:
    order = order_from_json(
        _raw(total_tax="31.70", shipping_total="0.30", payment_method="stripe"),
        channel="woo",
        attribute="serial",
        parent_sku=lambda _: None,
    )
    assert (order.tax, order.shipping, order.gateway) == (
        Decimal("31.70"),
        Decimal("0.30"),
        "stripe",
    )


def test_an_order_without_them_is_read_with_none() -> None:
    order = order_from_json(
        _raw(total_tax="n/a"), channel="woo", attribute="serial", parent_sku=lambda _: None
    )
    assert (order.tax, order.shipping, order.gateway) == (None, None, None)

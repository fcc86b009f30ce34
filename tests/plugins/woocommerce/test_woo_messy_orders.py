"""Orders as real stores hold them: plain products, custom lines, fees, and broken records.

An order this plugin cannot map comes back in ``OrdersPage.unreadable`` with its reason and
raw JSON, and the page goes on past it: one broken order must never hold every later order.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
import respx
from serialsync import FinancialStatus, Order, UnreadableRecord
from serialsync_woocommerce import FakeWooCommerce

from .conftest import product, units, upserts

SKU = "0113942719"


def _listed(fake: FakeWooCommerce, connector, count: int = 2) -> list[str]:
    connector.publish_variants(product(SKU), upserts(units(count, SKU)))
    return [u.integration_id for u in units(count, SKU)]


# -- real-world lines, placed through the fake and read over its HTTP API ---------------------


def test_plain_products_custom_lines_and_fees_are_read_as_sold(fake, connector):
    guitar, _ = _listed(fake, connector)
    order_id = fake.create_order(
        [(guitar, 1), ("PLAIN-STRAP", 2), (None, 1), ("", 1)],
        fees=[("Tip", "5.00"), ("Shipping protection", "2.50")],
    )
    raw = fake._order_view(fake.orders[int(order_id)])
    by_name = {item["name"]: item for item in raw["line_items"]}
    # What WooCommerce answers for each kind of line.
    assert by_name["Custom item"]["product_id"] == 0 and by_name["Custom item"]["sku"] is None
    assert by_name["PLAIN-STRAP"]["variation_id"] == 0
    assert by_name["PLAIN-STRAP"]["sku"] == "PLAIN-STRAP"
    assert by_name["Product without SKU"]["sku"] == ""
    assert [f["name"] for f in raw["fee_lines"]] == ["Tip", "Shipping protection"]

    page = connector.fetch_orders(None, None)

    assert page.unreadable == ()
    (order,) = page.orders
    assert [(line.raw_sku, line.quantity, line.title) for line in order.lines] == [
        (guitar, 1, "Martin D-28"),
        ("PLAIN-STRAP", 2, "PLAIN-STRAP"),
        (None, 1, "Custom item"),
        (None, 1, "Product without SKU"),
        (None, 1, "Tip"),
        (None, 1, "Shipping protection"),
    ]
    assert order.lines[0].parsed().serial == "US21000000"
    assert [line.price for line in order.lines[-2:]] == [Decimal("5.00"), Decimal("2.50")]
    assert order.total == Decimal("2999.00") + 2 * 25 + 50 + 25 + Decimal("7.50")
    assert len({line.line_id for line in order.lines}) == 6


def test_a_plain_product_is_made_once_and_bought_again(fake, connector):
    fake.create_order([("PLAIN-STRAP", 1)])
    fake.create_order([("PLAIN-STRAP", 3)])

    orders = connector.fetch_orders(None, None).orders

    assert [[(li.raw_sku, li.quantity) for li in o.lines] for o in orders] == [
        [("PLAIN-STRAP", 1)],
        [("PLAIN-STRAP", 3)],
    ]
    assert [p["sku"] for p in fake.products.values()] == ["PLAIN-STRAP"]
    assert fake.listings() == []  # a plain product is no variant serialsync sells


def test_an_unknown_integration_id_or_a_variable_parent_cannot_be_bought(fake, connector):
    _listed(fake, connector)
    with pytest.raises(ValueError, match="no variation"):
        fake.create_order([(f"{SKU}|||NOPE", 1)])
    with pytest.raises(ValueError, match="variable product"):
        fake.create_order([(SKU, 1)])
    assert fake.orders == {}


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("negative-quantity", "quantity -1 is negative"),
        ("missing-field", "missing field 'line"),
        ("unknown-status", "unknown order status 'shipped'"),
    ],
)
def test_a_damaged_order_is_handed_back_and_the_page_reads_on(fake, connector, damage, reason):
    first, second = _listed(fake, connector)
    bad = fake.create_order([(first, 1)])
    good = fake.create_order([(second, 1)])
    fake.damage_order(bad, damage)

    page = connector.fetch_orders(None, None)

    assert [o.order_id for o in page.orders] == [good]
    (record,) = page.unreadable
    assert record.key == bad
    assert reason in record.reason
    stored = json.loads(record.payload)
    assert stored["id"] == int(bad) and stored["line_items"][0]["product_id"] > 0
    assert "order_key" not in stored  # it opens the order's page to anyone holding it
    assert record.updated_at is not None and record.updated_at.tzinfo is not None


def test_a_custom_status_is_read_when_the_settings_map_it(fake, make_connector):
    connector = make_connector(order_statuses={"shipped": "paid"})
    (sku,) = _listed(fake, connector, 1)
    order_id = fake.create_order([(sku, 1)])
    fake.damage_order(order_id, "unknown-status")

    page = connector.fetch_orders(None, None)

    assert page.unreadable == ()
    assert [(o.order_id, o.status) for o in page.orders] == [(order_id, FinancialStatus.PAID)]


# -- the mapping, on answers shaped by hand ----------------------------------------------------


def _answer(rows: list[Any]) -> httpx.Response:
    return httpx.Response(200, json=rows, headers={"X-WP-Total": "9", "X-WP-TotalPages": "1"})


def _read(make_connector, rows: list[Any]) -> tuple[list[Order], list[UnreadableRecord]]:
    with respx.mock() as router:
        router.get(url__regex=r".*/orders.*").mock(return_value=_answer(rows))
        page = make_connector(transport=None).fetch_orders(None, None)
    return list(page.orders), list(page.unreadable)


def _order(number: int, **changes: Any) -> dict[str, Any]:
    line = {
        "id": number * 10,
        "name": "Guitar",
        "product_id": 5,
        "variation_id": 6,
        "quantity": 1,
        "price": 10,
        "sku": f"P|||S{number}",
        "meta_data": [],
    }
    order = {
        "id": number,
        "number": str(number),
        "order_key": "wc_order_secret",
        "status": "processing",
        "currency": "USD",
        "total": "10.00",
        "date_created_gmt": f"2026-11-02T09:00:0{number}",
        "date_modified_gmt": f"2026-11-02T09:30:0{number}",
        "billing": {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"},
        "line_items": [line],
        "fee_lines": [],
        "refunds": [],
    }
    for path, value in changes.items():
        target: Any = order
        *parents, leaf = path.split("__")
        for key in parents:
            target = target[int(key)] if key.isdigit() else target[key]
        if value is _DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return order


_DELETE = object()


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"line_items__0__quantity": -2}, "line 20 quantity -2 is negative"),
        ({"line_items__0__quantity": _DELETE}, "missing field 'line 20 quantity'"),
        ({"line_items__0__quantity": 1.5}, "line 20 quantity '1.5' is not a whole number"),
        ({"line_items__0__quantity": "Infinity"}, "is not a whole number"),
        ({"line_items__0__price": _DELETE}, "missing field 'line 20 price'"),
        ({"line_items__0__price": "abc"}, "line 20 price 'abc' is not an amount"),
        ({"line_items__0__id": _DELETE}, "missing field 'line_items.id'"),
        ({"line_items": _DELETE}, "missing field 'line_items'"),
        ({"line_items": [7]}, "a line item is not a JSON object"),
        ({"fee_lines": [{"id": 3, "name": "Tip"}]}, "missing field 'fee 3 total'"),
        ({"status": "shipped"}, "unknown order status 'shipped'"),
        ({"status": _DELETE}, "missing field 'status'"),
        ({"date_created_gmt": _DELETE}, "missing field 'date_created_gmt'"),
        ({"date_created_gmt": "yesterday"}, "date_created_gmt 'yesterday' is not a date"),
        ({"date_modified_gmt": "soon"}, "date_modified_gmt 'soon' is not a date"),
        ({"total": _DELETE}, "missing field 'total'"),
    ],
)
def test_an_unmappable_order_comes_back_with_its_reason(make_connector, changes, reason):
    orders, unreadable = _read(make_connector, [_order(1), _order(2, **changes), _order(3)])

    assert [o.order_id for o in orders] == ["1", "3"]
    (record,) = unreadable
    assert record.key == "2"
    assert reason in record.reason, record.reason
    # The reason names the field, never the customer.
    assert "Ada" not in record.reason and "ada@example.com" not in record.reason
    payload = json.loads(record.payload)
    assert payload["billing"]["last_name"] == "Lovelace"  # whole, for a person (and redaction)
    assert "order_key" not in payload


def test_an_unreadable_order_keeps_its_last_change_so_the_cursor_can_pass_it(make_connector):
    _, (record,) = _read(make_connector, [_order(2, status="shipped")])
    assert record.updated_at == datetime(2026, 11, 2, 9, 30, 2, tzinfo=UTC)

    _, (dateless,) = _read(make_connector, [_order(4, date_modified_gmt=_DELETE, status="x")])
    assert dateless.updated_at == datetime(2026, 11, 2, 9, 0, 4, tzinfo=UTC)


def test_a_row_that_is_no_order_at_all_is_handed_back_not_dropped(make_connector):
    orders, unreadable = _read(make_connector, ["garbage", _order(1, id=_DELETE), _order(3)])

    assert [o.order_id for o in orders] == ["3"]
    assert [r.reason for r in unreadable] == [
        "the order is not a JSON object",
        "missing field 'id'",
    ]
    keys = [r.key for r in unreadable]
    assert all(k.startswith("unidentified-") for k in keys) and len(set(keys)) == 2
    # The same record gets the same key on every read: it is quarantined once.
    _, again = _read(make_connector, ["garbage"])
    assert again[0].key == keys[0]


def test_lines_without_product_or_sku_and_fees_map_to_no_sku(make_connector):
    custom = {"id": 11, "name": "Setup", "product_id": 0, "variation_id": 0, "quantity": 1}
    orders, unreadable = _read(
        make_connector,
        [
            _order(
                1,
                line_items=[
                    {**custom, "sku": None, "price": 40},
                    {**custom, "id": 12, "product_id": 8, "sku": "", "price": 5},
                    {**custom, "id": 13, "product_id": 9, "sku": "PLAIN-STRAP", "price": 25},
                ],
                fee_lines=[{"id": 14, "name": "Discount", "total": "-3.00"}],
            )
        ],
    )

    assert unreadable == []
    assert [(li.line_id, li.raw_sku, li.price) for li in orders[0].lines] == [
        ("11", None, Decimal("40")),
        ("12", None, Decimal("5")),
        ("13", "PLAIN-STRAP", Decimal("25")),
        ("14", None, Decimal("-3.00")),
    ]


# -- fetch_order: one order read again (``quarantine retry``) ---------------------------------


def test_fetch_order_reads_one_order_as_fetch_orders_does(fake, connector):
    first, second = _listed(fake, connector)
    good = fake.create_order([(first, 1), ("PLAIN-STRAP", 1)], fees=[("Tip", "5.00")])
    bad = fake.create_order([(second, 1)])
    fake.damage_order(bad, "negative-quantity")
    page = connector.fetch_orders(None, None)

    assert connector.fetch_order(good) == page.orders[0]
    assert connector.fetch_order(bad) == page.unreadable[0]
    assert [p for m, p in fake.requests if m == "GET"][-2:] == [
        f"/wp-json/wc/v3/orders/{good}",
        f"/wp-json/wc/v3/orders/{bad}",
    ]


def test_fetch_order_reads_an_order_once_its_cause_is_fixed(fake, make_connector):
    (sku,) = _listed(fake, make_connector(), 1)
    order_id = fake.create_order([(sku, 1)])
    fake.damage_order(order_id, "unknown-status")
    assert isinstance(make_connector().fetch_order(order_id), UnreadableRecord)

    fixed = make_connector(order_statuses={"shipped": "paid"}).fetch_order(order_id)

    assert isinstance(fixed, Order) and fixed.status is FinancialStatus.PAID
    assert fixed.lines[0].raw_sku == sku


def test_fetch_order_of_an_order_the_store_does_not_have_is_none(fake, connector):
    requests = len(fake.requests)
    assert connector.fetch_order("999999") is None
    assert connector.fetch_order("unidentified-0a1b2c") is None  # no such id can exist
    assert len(fake.requests) == requests + 1


def test_a_shape_no_rule_foresaw_is_one_unreadable_order_without_its_data(
    make_connector, monkeypatch
):
    from serialsync_woocommerce import mapping

    def surprised(line, *_args):
        if line["id"] == 20:
            raise TypeError("cannot read Ada Lovelace's line")
        return line["sku"]

    monkeypatch.setattr(mapping, "line_raw_sku", surprised)
    orders, (record,) = _read(make_connector, [_order(1), _order(2), _order(3)])

    assert [o.order_id for o in orders] == ["1", "3"]
    assert record.key == "2" and record.reason == "unexpected order shape (TypeError)"


def test_a_custom_status_may_be_named_as_wordpress_stores_it(fake, make_connector):
    connector = make_connector(order_statuses={"wc-shipped": "paid"})
    (sku,) = _listed(fake, connector, 1)
    order_id = fake.create_order([(sku, 1)])
    fake.damage_order(order_id, "unknown-status")  # status "shipped", as the REST API shows it

    assert connector.settings.order_statuses == {"shipped": FinancialStatus.PAID}
    assert [o.order_id for o in connector.fetch_orders(None, None).orders] == [order_id]

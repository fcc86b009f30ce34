"""Orders as real stores hold them: plain products, custom lines, and broken records.

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
from serialsync import (
    ConnectorContext,
    FinancialStatus,
    ListingAction,
    ListingChange,
    Order,
    Product,
    SerializedUnit,
    UnreadableRecord,
)
from serialsync_magento import FakeMagento, MagentoConnector, MagentoSettings

POS_SKU = "0113942719"
PRODUCT = Product(sku=POS_SKU, title="Gibson Les Paul", price=Decimal("2499.00"))


def _listed(connector: MagentoConnector, serials: list[str]) -> list[str]:
    units = [SerializedUnit(sku=POS_SKU, serial=s) for s in serials]
    connector.publish_variants(
        PRODUCT, [ListingChange(unit=u, action=ListingAction.UPSERT) for u in units]
    )
    return [u.integration_id for u in units]


ORDER_SCHEMA = {"$ref": "#/definitions/sales-data-order-interface"}


# -- real-world lines, placed through the fake and read over its HTTP API ---------------------


def test_plain_products_and_custom_lines_are_read_as_sold(fake, make_connector, contract_or_none):
    connector = make_connector()
    [guitar] = _listed(connector, ["S-A"])
    order_id = fake.create_order([(guitar, 1), ("PLAIN-STRAP", 2), (None, 1)])
    rows = fake.orders[int(order_id)]["items"]
    # The guitar is a parent row and a child row; the strap one simple row; the custom line
    # one virtual row naming no product.
    assert [r["product_type"] for r in rows] == ["configurable", "simple", "simple", "virtual"]
    assert rows[2]["sku"] == "PLAIN-STRAP" and "parent_item_id" not in rows[2]
    assert rows[3]["sku"] == "" and "product_id" not in rows[3]
    if contract_or_none is not None:  # what the fake answers is what Magento's schema allows
        order = fake.orders[int(order_id)]
        problems = contract_or_none.check_value(order, ORDER_SCHEMA, "order")
        assert not problems, problems

    page = connector.fetch_orders(None, None)

    assert page.unreadable == ()
    [order] = page.orders
    assert [(li.raw_sku, li.quantity, li.title) for li in order.lines] == [
        (guitar, 1, "Gibson Les Paul"),
        ("PLAIN-STRAP", 2, "PLAIN-STRAP"),
        (None, 1, "Custom item"),
    ]
    assert [li.price for li in order.lines] == [Decimal("2499.0"), Decimal("25.0"), Decimal("50.0")]
    assert order.total == Decimal("2499") + 2 * 25 + 50


def test_a_plain_product_is_made_once_and_is_no_listing(fake, make_connector):
    connector = make_connector()
    [guitar] = _listed(connector, ["S-A"])
    fake.create_order([("PLAIN-STRAP", 1)])
    fake.create_order([("PLAIN-STRAP", 1)])

    assert fake.product("PLAIN-STRAP")["type_id"] == "simple"
    assert [x.sku for x in fake.listings()] == [guitar]
    assert len(connector.fetch_orders(None, None).orders) == 2


def test_an_integration_id_that_is_no_product_or_a_parent_cannot_be_ordered(fake, make_connector):
    _listed(make_connector(), ["S-A"])
    with pytest.raises(ValueError, match="no product"):
        fake.create_order([(f"{POS_SKU}|||NOPE", 1)])
    with pytest.raises(ValueError, match="configurable"):
        fake.create_order([(POS_SKU, 1)])
    assert fake.orders == {}


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("negative-quantity", "qty_ordered -1.0 is negative"),
        ("missing-field", "missing field 'item"),
        ("unknown-status", "unknown order state 'shipped'"),
    ],
)
def test_a_damaged_order_is_handed_back_and_the_page_reads_on(fake, make_connector, damage, reason):
    connector = make_connector(orders_page_size=2)
    first, *others = _listed(connector, ["S-A", "S-B", "S-C"])
    bad = fake.create_order([(first, 1)])
    good = [fake.create_order([(sku, 1)]) for sku in others]  # a sold unit cannot be ordered
    fake.damage_order(bad, damage)

    pages = [connector.fetch_orders(None, None)]
    pages.append(connector.fetch_orders(None, pages[0].next_page))

    assert [o.order_id for p in pages for o in p.orders] == good
    [record] = [r for p in pages for r in p.unreadable]
    assert record.key == bad and pages[1].next_page is None
    assert reason in record.reason
    stored = json.loads(record.payload)
    assert stored["entity_id"] == int(bad) and stored["customer_lastname"] == "Shopper"
    assert "protect_code" not in stored  # it opens a guest's order to anyone holding it
    assert record.updated_at is not None and record.updated_at.tzinfo is not None


# -- the mapping, on answers shaped by hand ----------------------------------------------------


_DELETE = object()


def _order(number: int, **changes: Any) -> dict[str, Any]:
    item = {
        "item_id": number * 10,
        "sku": f"P|||S{number}",
        "name": "Guitar",
        "price": 10.0,
        "qty_ordered": 1.0,
        "qty_refunded": 0.0,
        "product_type": "simple",
    }
    order = {
        "entity_id": number,
        "increment_id": f"00000000{number}",
        "state": "processing",
        "status": "processing",
        "protect_code": "abc123",
        "payment": {"method": "checkmo", "additional_information": ["secret"]},
        "created_at": f"2026-01-01 00:00:0{number}",
        "updated_at": f"2026-01-01 00:30:0{number}",
        "customer_email": "sam@example.com",
        "customer_firstname": "Sam",
        "customer_lastname": "Shopper",
        "grand_total": 10.0,
        "items": [item],
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


def _read(make_connector, rows: list[Any]) -> tuple[list[Order], list[Any]]:
    answer = {"items": rows, "search_criteria": {}, "total_count": len(rows)}
    with respx.mock() as router:
        router.get(url__regex=r".*/V1/orders.*").mock(return_value=httpx.Response(200, json=answer))
        page = make_connector().fetch_orders(None, None)
    return list(page.orders), list(page.unreadable)


@pytest.fixture
def plain_connector():
    """Connectors with no fake behind them: respx answers for the store."""

    def make() -> MagentoConnector:
        settings = MagentoSettings.model_validate(FakeMagento().connector_settings("http://m.test"))
        return MagentoConnector(
            settings, ConnectorContext(name="magento-test", sleep=lambda _s: None)
        )

    return make


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"items__0__qty_ordered": -2.0}, "item 20 qty_ordered -2.0 is negative"),
        ({"items__0__qty_ordered": _DELETE}, "missing field 'item 20 qty_ordered'"),
        ({"items__0__qty_ordered": 1.5}, "item 20 qty_ordered 1.5 is not a whole number"),
        ({"items__0__qty_ordered": "many"}, "item 20 qty_ordered 'many' is not an amount"),
        ({"items__0__qty_refunded": -1}, "item 20 qty_refunded -1 is negative"),
        ({"items__0__price": _DELETE}, "missing field 'item 20 price'"),
        ({"items__0__item_id": _DELETE}, "missing field 'item_id'"),
        ({"items": _DELETE}, "missing field 'items'"),
        ({"items": ["x"]}, "an order item is not a JSON object"),
        ({"state": "shipped"}, "unknown order state 'shipped'"),
        ({"state": _DELETE}, "missing field 'state'"),
        ({"created_at": _DELETE}, "missing field 'created_at'"),
        ({"created_at": "yesterday"}, "created_at 'yesterday' is not a date"),
        ({"updated_at": "soon"}, "updated_at 'soon' is not a date"),
        ({"grand_total": _DELETE}, "missing field 'grand_total'"),
        ({"total_refunded": "lots"}, "total_refunded 'lots' is not an amount"),
    ],
)
def test_an_unmappable_order_comes_back_with_its_reason(plain_connector, changes, reason):
    orders, unreadable = _read(plain_connector, [_order(1), _order(2, **changes), _order(3)])

    assert [o.order_id for o in orders] == ["1", "3"]
    [record] = unreadable
    assert record.key == "2"
    assert reason in record.reason, record.reason
    assert "Sam" not in record.reason and "sam@example.com" not in record.reason
    payload = json.loads(record.payload)
    assert payload["customer_lastname"] == "Shopper"  # whole, for a person (and redaction)
    assert "protect_code" not in payload and "payment" not in payload


def test_an_unreadable_order_keeps_its_last_update_so_the_cursor_can_pass_it(plain_connector):
    _, [record] = _read(plain_connector, [_order(2, state="shipped")])
    assert record.updated_at == datetime(2026, 1, 1, 0, 30, 2, tzinfo=UTC)


def test_a_row_that_is_no_order_at_all_is_handed_back_not_dropped(plain_connector):
    orders, unreadable = _read(plain_connector, [7, _order(1, entity_id=_DELETE), _order(3)])

    assert [o.order_id for o in orders] == ["3"]
    assert [r.reason for r in unreadable] == [
        "the order is not a JSON object",
        "missing field 'entity_id'",
    ]
    assert all(r.key.startswith("unidentified-") for r in unreadable)
    assert unreadable[0].key != unreadable[1].key


def test_rows_without_a_sku_map_to_no_sku_and_plain_skus_as_they_are(plain_connector):
    custom = {
        "item_id": 5,
        "name": "Setup",
        "price": 40,
        "qty_ordered": 1,
        "product_type": "virtual",
    }
    orders, unreadable = _read(
        plain_connector,
        [
            _order(
                1,
                items=[
                    custom,
                    {**custom, "item_id": 6, "sku": ""},
                    {**custom, "item_id": 7, "sku": "PLAIN-STRAP", "product_type": "simple"},
                ],
            )
        ],
    )
    assert unreadable == []
    assert [(li.line_id, li.raw_sku) for li in orders[0].lines] == [
        ("5", None),
        ("6", None),
        ("7", "PLAIN-STRAP"),
    ]


# -- fetch_order: one order read again (``quarantine retry``) ---------------------------------


def test_fetch_order_reads_one_order_as_fetch_orders_does(fake, make_connector):
    connector = make_connector()
    first, second = _listed(connector, ["S-A", "S-B"])
    good = fake.create_order([(first, 1), ("PLAIN-STRAP", 1), (None, 1)])
    bad = fake.create_order([(second, 1)])
    fake.damage_order(bad, "missing-field")
    page = connector.fetch_orders(None, None)

    assert connector.fetch_order(good) == page.orders[0]
    assert connector.fetch_order(bad) == page.unreadable[0]
    assert [r.path for r in fake.received[-2:]] == [
        f"/rest/all/V1/orders/{good}",
        f"/rest/all/V1/orders/{bad}",
    ]


def test_fetch_order_reads_an_order_once_its_cause_is_fixed(fake, make_connector):
    connector = make_connector()
    [sku] = _listed(connector, ["S-A"])
    order_id = fake.create_order([(sku, 1)])
    fake.damage_order(order_id, "unknown-status")
    assert isinstance(connector.fetch_order(order_id), UnreadableRecord)
    fake.set_order_status(order_id, FinancialStatus.PAID)  # staff put the order right

    fixed = connector.fetch_order(order_id)

    assert isinstance(fixed, Order) and fixed.status is FinancialStatus.PAID
    assert [li.raw_sku for li in fixed.lines] == [sku]


def test_fetch_order_of_an_order_the_store_does_not_have_is_none(fake, make_connector):
    connector = make_connector()
    assert connector.fetch_order("424242") is None
    assert connector.fetch_order("unidentified-0a1b2c") is None  # no such id can exist
    assert [r.path for r in fake.received] == ["/rest/all/V1/orders/424242"]


def test_a_shape_no_rule_foresaw_is_one_unreadable_order_without_its_data(
    plain_connector, monkeypatch
):
    from serialsync_magento import mapping

    real = mapping.order_lines

    def surprised(items):
        if items[0]["item_id"] == 20:
            raise KeyError("Sam Shopper")
        return real(items)

    monkeypatch.setattr(mapping, "order_lines", surprised)
    orders, [record] = _read(plain_connector, [_order(1), _order(2), _order(3)])

    assert [o.order_id for o in orders] == ["1", "3"]
    assert record.key == "2" and record.reason == "unexpected order shape (KeyError)"

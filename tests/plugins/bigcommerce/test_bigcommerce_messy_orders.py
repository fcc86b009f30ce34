"""Real-world orders (issue 15 #4) and orders the plugin cannot map (issue 15 #3), over respx.

BigCommerce shows a custom product added to an order by hand with ``product_id`` 0,
``variant_id`` 0 and the SKU it was given (usually none: ``""``), and a product of the store
that serialsync does not sell with its own product, variant and SKU. The plugin maps both
faithfully: ``raw_sku`` ``None`` for a line without a SKU, the plain SKU as is. An order it
cannot map (a negative quantity, a line without its quantity, a status id BigCommerce does not
define) is handed back in ``OrdersPage.unreadable`` with its reason and raw payload, and the
stream goes on.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest
import respx
from serialsync import FinancialStatus, Order, OrdersPage, UnreadableRecord
from serialsync.testing import OrderDamage
from serialsync_bigcommerce import BigCommerceConnector, FakeBigCommerce
from serialsync_bigcommerce.mapping import (
    UnmappableOrderError,
    financial_status,
    line_from_json,
    order_from_json,
)

from tests.clocks import FakeClock

from .conftest import ConnectorFactory, units
from .test_bigcommerce_orders import list_units


@pytest.fixture
def served(fake: FakeBigCommerce) -> Iterator[respx.MockRouter]:
    """The fake behind respx, on BigCommerce's own host."""
    with respx.mock(assert_all_called=False) as router:
        router.route(host="api.bigcommerce.com").mock(side_effect=fake)
        yield router


@pytest.fixture
def over_respx(served: respx.MockRouter, make_connector: ConnectorFactory) -> BigCommerceConnector:
    return make_connector(transport=httpx.HTTPTransport())


def read_all(connector: BigCommerceConnector) -> list[OrdersPage]:
    pages: list[OrdersPage] = []
    token = None
    while True:
        page = connector.fetch_orders(since=None, page=token)
        pages.append(page)
        token = page.next_page
        if token is None:
            return pages
        assert len(pages) < 50, "paging does not end"


def test_custom_and_plain_lines_are_mapped_as_bigcommerce_shows_them(fake, over_respx):
    [guitar] = units(1)
    list_units(over_respx, [guitar])
    order_id = fake.create_order([(guitar.integration_id, 1), (None, 1), ("PLAIN-STRAP", 2)])

    (order,) = over_respx.fetch_orders(since=None, page=None).orders

    assert order.order_id == order_id
    serialized, custom, plain = order.lines
    assert serialized.raw_sku == guitar.integration_id
    assert (custom.raw_sku, custom.title, custom.quantity) == (None, "Setup service", 1)
    assert custom.price == Decimal("25.0000")
    assert (plain.raw_sku, plain.quantity, plain.price) == ("PLAIN-STRAP", 2, Decimal("19.9900"))


def test_the_fake_shows_a_custom_product_with_product_id_0_and_a_plain_one_with_its_own(
    fake: FakeBigCommerce, connector
):
    order_id = fake.create_order([(None, 1), ("PLAIN-STRAP", 1), ("plain-strap", 1)])
    custom, plain, again = fake.order_lines[int(order_id)]
    assert (custom["product_id"], custom["variant_id"], custom["sku"]) == (0, 0, "")
    assert plain["product_id"] != 0 and plain["sku"] == "PLAIN-STRAP"
    # SKUs are case-insensitive on BigCommerce: one product, named as it was created.
    assert (again["product_id"], again["sku"]) == (plain["product_id"], "PLAIN-STRAP")
    assert fake.products[plain["product_id"]]["base_variant_id"] == plain["variant_id"]
    assert fake.listings() == []  # the store's own products are no listings of ours


def test_an_unknown_integration_id_is_still_refused(fake: FakeBigCommerce, connector):
    with pytest.raises(ValueError, match="no variant"):
        fake.create_order([("0113942719|||NOPE", 1)])
    assert fake.orders == {}


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("negative-quantity", "has a negative quantity (-1)"),
        ("missing-field", "quantity is missing"),
        ("unknown-status", "unknown status id 99"),
    ],
)
def test_an_order_that_cannot_be_mapped_is_handed_back_and_the_stream_goes_on(
    fake: FakeBigCommerce,
    served: respx.MockRouter,
    make_connector: ConnectorFactory,
    clock: FakeClock,
    damage: OrderDamage,
    reason: str,
):
    connector = make_connector(transport=httpx.HTTPTransport(), orders_page_size=2)
    batch = units(5)
    list_units(connector, batch)
    ids = []
    for unit in batch:
        ids.append(fake.create_order([(unit.integration_id, 1)]))
        clock.advance(60)
    bad = ids[1]
    fake.set_order_status_id(ids[4], 11)  # modified last, after the damage below
    clock.advance(60)
    fake.damage_order(bad, damage)
    clock.advance(60)
    fake.set_order_status_id(ids[3], 11)

    pages = read_all(connector)

    read = [o.order_id for p in pages for o in p.orders]
    assert sorted(read) == sorted(i for i in ids if i != bad)
    [record] = [r for p in pages for r in p.unreadable]
    assert record.key == bad
    assert reason in record.reason
    assert record.updated_at is not None
    raw = json.loads(record.payload)
    assert str(raw["id"]) == bad and raw["products"][0]["sku"] == batch[1].integration_id


def test_fetch_order_reads_one_order_again(fake: FakeBigCommerce, over_respx):
    batch = units(2)
    list_units(over_respx, batch)
    good = fake.create_order([(batch[0].integration_id, 1), (None, 1)])
    bad = fake.create_order([(batch[1].integration_id, 1)])
    fake.damage_order(bad, "unknown-status")

    found = over_respx.fetch_order(good)
    assert isinstance(found, Order)
    assert [line.raw_sku for line in found.lines] == [batch[0].integration_id, None]
    assert found == over_respx.fetch_orders(since=None, page=None).orders[0]
    unreadable = over_respx.fetch_order(bad)
    assert isinstance(unreadable, UnreadableRecord)
    assert unreadable.reason == "unknown status id 99"
    assert over_respx.fetch_order("999999") is None
    assert over_respx.fetch_order("not-an-id") is None


def test_an_unknown_status_id_is_no_guess():
    with pytest.raises(UnmappableOrderError, match="unknown status id 99"):
        financial_status(99)
    assert financial_status(13) is FinancialStatus.PAID


def test_quantities_come_as_numbers_or_numeric_strings():
    line = line_from_json({"id": 5, "sku": "", "quantity": "2", "quantity_refunded": "1"})
    assert (line.raw_sku, line.quantity, line.quantity_refunded) == (None, 2, 1)
    with pytest.raises(UnmappableOrderError, match=r"1\.5' is not a whole number"):
        line_from_json({"id": 5, "quantity": "1.5"})


def test_an_order_without_its_dates_cannot_be_mapped():
    record = {"id": 7, "status_id": 11}
    with pytest.raises(UnmappableOrderError, match="the order has no date_created"):
        order_from_json("bc", record, [])

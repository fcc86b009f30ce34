"""report_sale: posted once, idempotent by lookup, in-band errors typed, retries safe."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest
import respx
from serialsync import (
    ConnectorContext,
    FinancialStatus,
    PermanentRemoteError,
    RetryableRemoteError,
    SaleLine,
    SaleLinesRefusedError,
)
from serialsync.testing import RecordedOrder
from serialsync_aim_pos import AimConnector, AimSettings, FakeAim

DISCOVERY = "https://active-ewebservice.biz/aeservices30"


@pytest.fixture
def stocked(fake, helpers):
    fake.add_product(helpers.product("0113942719", "US210033734", "US210033735"))
    fake.add_product(helpers.product("STRAP", "ST1"))
    return fake


def ops(fake: FakeAim) -> list[str]:
    return [path.rsplit("/", 1)[-1] for _, path in fake.requests]


def test_report_sale_posts_each_serial_line_with_its_own_sku_and_serial(
    stocked, connector, helpers
):
    receipt = connector.report_sale(
        helpers.sale(("0113942719", "US210033734"), ("STRAP", "ST1"), number="1001")
    )
    assert receipt.pos_order_id == "shop-1001"  # the default keeps channels' numbers apart
    assert receipt.already_recorded is False
    assert stocked.recorded_orders() == [
        RecordedOrder(
            order_number="shop-1001",
            lines=(("0113942719", "US210033734", 1), ("STRAP", "ST1", 1)),
        )
    ]


def test_second_report_returns_the_existing_receipt_without_posting(stocked, connector, helpers):
    the_sale = helpers.sale(("0113942719", "US210033734"))
    first = connector.report_sale(the_sale)
    second = connector.report_sale(the_sale)
    assert (first.already_recorded, second.already_recorded) == (False, True)
    assert second.pos_order_id == first.pos_order_id
    assert len(stocked.recorded_orders()) == 1
    assert ops(stocked)[-1] == "ECommerceOrderStatus"
    assert ops(stocked).count("CustomerOrders") == 1


def test_the_lookup_asks_by_order_number_for_the_third_party_order_type(stocked, helpers):
    settings = AimSettings.model_validate(stocked.connector_settings(DISCOVERY))
    with respx.mock() as mock:
        route = mock.route(host=FakeAim.host).mock(side_effect=stocked)
        AimConnector(settings, ConnectorContext(name="aim")).report_sale(
            helpers.sale(("STRAP", "ST1"), number="#77")
        )
    lookups = [c.request for c in route.calls if c.request.url.path.endswith("OrderStatus")]
    assert len(lookups) == 1
    assert dict(lookups[0].url.params) == {"OrderNumber": "shop-#77", "OrderType": "3"}
    posted = [c.request for c in route.calls if c.request.url.path.endswith("CustomerOrders")]
    (order,) = json.loads(posted[0].content)["Orders"]
    assert order["OrderNumber"] == "shop-#77"
    # WebNumber is the channel's own order number; OrderNumber is the one AIM finds it by.
    assert order["WebNumber"] == "#77"
    assert order["LineItems"][0]["WebNumber"] == "#77"
    assert order["OrderDate"] == "2026-11-23T14:00:00"


def test_a_transient_refusal_of_the_post_is_retryable_and_the_retry_posts_once(
    stocked, connector, helpers
):
    the_sale = helpers.sale(("STRAP", "ST1"))
    stocked.fail_next("CustomerOrders", "transient")
    with pytest.raises(RetryableRemoteError, match="transient"):
        connector.report_sale(the_sale)
    assert stocked.recorded_orders() == []
    receipt = connector.report_sale(the_sale)
    assert receipt.already_recorded is False
    assert len(stocked.recorded_orders()) == 1


def test_a_post_applied_before_its_error_is_not_posted_again(stocked, connector, helpers):
    the_sale = helpers.sale(("STRAP", "ST1"))
    stocked.fail_next("CustomerOrders", "transient", after_apply=True)
    with pytest.raises(RetryableRemoteError):
        connector.report_sale(the_sale)
    receipt = connector.report_sale(the_sale)
    assert receipt.already_recorded is True
    assert len(stocked.recorded_orders()) == 1


def test_a_transient_read_error_is_retried_in_place(stocked, connector, helpers, sleeps):
    stocked.fail_next("ECommerceOrderStatus", "transient")
    receipt = connector.report_sale(helpers.sale(("STRAP", "ST1")))
    assert receipt.already_recorded is False
    assert len(sleeps) == 1  # one backoff, observed, not waited
    assert ops(stocked).count("ECommerceOrderStatus") == 2


def test_a_transient_inventory_error_is_retried_in_place(stocked, connector, sleeps):
    stocked.fail_next("SearchInventory", "transient", times=2)
    page = connector.fetch_inventory(None, None)
    assert len(page.products) == 2
    assert len(sleeps) == 2


def test_transient_errors_that_outlast_the_retries_are_retryable(stocked, make_connector, helpers):
    connector = make_connector(retry={"max_attempts": 2})
    stocked.fail_next("SearchInventory", "transient", times=5)
    with pytest.raises(RetryableRemoteError):
        connector.fetch_inventory(None, None)


def test_validation_error_is_permanent_with_aims_message(stocked, connector, helpers):
    stocked.fail_next("CustomerOrders", "validation")
    with pytest.raises(PermanentRemoteError, match="ValidationError") as refused:
        connector.report_sale(helpers.sale(("STRAP", "ST1")))
    assert not isinstance(refused.value, RetryableRemoteError)
    assert stocked.recorded_orders() == []


def test_unknown_serial_is_refused_by_aim_as_a_permanent_error(stocked, connector, helpers):
    with pytest.raises(PermanentRemoteError, match="Serial 'NOPE'"):
        connector.report_sale(helpers.sale(("STRAP", "NOPE")))


def test_plain_skus_aim_does_not_carry_are_named_with_their_lines(stocked, connector, helpers):
    stocked.add_plain_item("STRINGS-10", "Strings 10-46", "8.99")
    the_sale = helpers.sale(
        ("0113942719", "US210033734"),
        ("PLAIN-STRAP", None),
        ("STRINGS-10", None),
        ("ROUTEINS", None),
        ("STRAP", None),  # a SKU AIM carries (serialized there, sold here by quantity)
    )
    with pytest.raises(SaleLinesRefusedError) as refused:
        connector.report_sale(the_sale)
    # Every SKU AIM does not carry, each with its line; 'STRAP' is not read in 'PLAIN-STRAP'.
    assert refused.value.line_ids == ("2", "4")
    assert "PLAIN-STRAP" in str(refused.value) and "ROUTEINS" in str(refused.value)
    assert stocked.recorded_orders() == []  # all or nothing

    kept = the_sale.model_copy(
        update={"lines": tuple(ln for ln in the_sale.lines if ln.line_id not in ("2", "4"))}
    )
    assert connector.report_sale(kept).already_recorded is False
    [order] = stocked.recorded_orders()
    assert order.lines == (
        ("0113942719", "US210033734", 1),
        ("STRINGS-10", None, 1),
        ("STRAP", None, 1),
    )
    assert stocked.report_calls("shop-1001") == 2


def test_a_refusal_naming_a_serial_is_not_a_refusal_of_lines(stocked, connector, helpers):
    with pytest.raises(PermanentRemoteError) as refused:
        connector.report_sale(helpers.sale(("STRAP", "NOPE")))
    assert not isinstance(refused.value, SaleLinesRefusedError)


def test_report_calls_count_every_report_of_an_order_repeats_included(stocked, connector, helpers):
    the_sale = helpers.sale(("0113942719", "US210033734"))
    for _ in range(3):
        connector.report_sale(the_sale)
    assert len(stocked.recorded_orders()) == 1  # what AIM holds hides the repeats
    assert stocked.report_calls("shop-1001") == 3
    assert stocked.report_calls("shop-1002") == 0


def test_a_plain_item_is_never_listed_as_serialized_inventory(stocked, connector):
    stocked.add_plain_item("STRINGS-10", "Strings 10-46", "8.99")
    page = connector.fetch_inventory(None, None)
    assert "STRINGS-10" not in {p.sku for p in page.products}


def test_not_licensed_is_permanent_and_says_what_to_do(stocked, connector, helpers):
    stocked.set_licensed("CustomerOrders", False)
    with pytest.raises(PermanentRemoteError, match=r"not licensed.*ask Tri-Tech"):
        connector.report_sale(helpers.sale(("STRAP", "ST1")))
    stocked.set_licensed("CustomerOrders", True)
    assert connector.report_sale(helpers.sale(("STRAP", "ST1"))).already_recorded is False


def test_not_licensed_inventory_is_permanent(stocked, connector):
    stocked.fail_next("SearchInventory", "not_licensed")
    with pytest.raises(PermanentRemoteError, match="not licensed"):
        connector.fetch_inventory(None, None)


def test_token_expiry_during_a_sale_is_renewed_once(stocked, connector, helpers):
    connector.check_connection()
    stocked.expire_tokens()
    assert connector.report_sale(helpers.sale(("STRAP", "ST1"))).already_recorded is False
    assert stocked.logins == 2


def test_an_order_number_taken_by_another_order_is_refused_not_adopted(
    stocked, make_connector, helpers
):
    connector = make_connector(order_number_format="{order_number}")
    connector.report_sale(helpers.sale(("STRAP", "ST1"), number="1001", channel="shop"))
    other = helpers.sale(("0113942719", "US210033734"), number="1001", channel="woo")
    with pytest.raises(PermanentRemoteError, match="order_number_format"):
        connector.report_sale(other)
    assert len(stocked.recorded_orders()) == 1


def test_the_default_order_number_format_keeps_channels_apart(stocked, connector, helpers):
    connector.report_sale(helpers.sale(("STRAP", "ST1"), number="1001", channel="shop"))
    receipt = connector.report_sale(
        helpers.sale(("0113942719", "US210033734"), number="1001", channel="woo")
    )
    assert receipt.pos_order_id == "woo-1001"
    assert [o.order_number for o in stocked.recorded_orders()] == ["shop-1001", "woo-1001"]


@pytest.mark.parametrize("status", [FinancialStatus.CANCELLED, FinancialStatus.REFUNDED])
def test_cancelled_or_refunded_sales_are_refused_before_any_request(
    stocked, connector, helpers, status
):
    with pytest.raises(PermanentRemoteError, match=status.value):
        connector.report_sale(helpers.sale(("STRAP", "ST1"), status=status))
    assert stocked.requests == []


def test_a_serial_line_with_quantity_two_is_refused_before_any_request(stocked, connector, helpers):
    bad = helpers.sale(("STRAP", "ST1"))
    line = bad.lines[0].model_copy(update={"quantity": 2})
    with pytest.raises(PermanentRemoteError, match="a serial is one unit"):
        connector.report_sale(bad.model_copy(update={"lines": (line,)}))
    assert stocked.requests == []


def test_a_dropped_connection_after_posting_is_safe_to_report_again(stocked, connector, helpers):
    """The post is not repeated by the HTTP client; the next report finds it."""
    the_sale = helpers.sale(("STRAP", "ST1"))
    original = stocked.handle

    def drop_after_apply(request):
        response = original(request)
        if request.url.path.endswith("/CustomerOrders"):
            raise httpx.RemoteProtocolError("dropped", request=request)
        return response

    stocked.handle = drop_after_apply
    with pytest.raises(RetryableRemoteError):
        connector.report_sale(the_sale)
    stocked.handle = original
    assert connector.report_sale(the_sale).already_recorded is True
    assert len(stocked.recorded_orders()) == 1


def test_money_travels_as_exact_decimals_with_tax_shipping_customer_and_payment(
    stocked, make_connector, helpers
):
    stocked.add_plain_item("PICKS", "Pick pack", "1.10")
    base = helpers.sale(("STRAP", "ST1"), number="#88")
    line = base.lines[0].model_copy(update={"price": Decimal("12345678901234567.89")})
    picks = SaleLine(
        line_id="9", sku="PICKS", serial=None, quantity=3, price=Decimal("0.10"), title="Picks"
    )
    sale = base.model_copy(
        update={
            "lines": (line, picks),
            "total": Decimal("12345678901234600.19"),
            "tax": Decimal("31.70"),
            "shipping": Decimal("0.30"),
            "gateway": "Shopify_Payments",
            "customer_name": "Ada Lovelace",
            "customer_email": "ada@example.com",
        }
    )
    connector = make_connector(payment_types={"shopify_payments": "VISA"})
    connector.report_sale(sale)
    posted = stocked.posted_order("shop-#88")
    # The fake parses numbers as Decimals: a float would have lost the cents.
    assert posted["LineItems"][0]["Price"] == Decimal("12345678901234567.89")
    assert posted["LineItems"][1]["Price"] == Decimal("0.10")
    assert posted["LineItems"][1]["Sku"] == "PICKS"
    assert "SerialNumber" not in posted["LineItems"][1]
    assert posted["Total"] == Decimal("12345678901234600.19")
    assert posted["SubTotal"] == Decimal("12345678901234568.19")
    assert (posted["Tax"], posted["Shipping"]) == (Decimal("31.70"), Decimal("0.30"))
    assert (posted["CustomerName"], posted["Email"]) == ("Ada Lovelace", "ada@example.com")
    assert posted["PaymentMethod"] == "VISA"
    assert posted["TransactionState"] == "Paid"


def test_an_unmapped_gateway_gets_the_default_payment_type_and_unknown_tax_is_left_out(
    stocked, make_connector, helpers
):
    connector = make_connector(default_payment_type="WEBPAY")
    connector.report_sale(helpers.sale(("STRAP", "ST1"), number="#89"))
    posted = stocked.posted_order("shop-#89")
    assert posted["PaymentMethod"] == "WEBPAY"
    assert "Tax" not in posted and "Shipping" not in posted


def test_orders_take_the_login_location_unless_one_is_configured(stocked, make_connector, helpers):
    make_connector().report_sale(helpers.sale(("STRAP", "ST1"), number="#90"))
    assert stocked.posted_order("shop-#90")["LineItems"][0]["Location"] == stocked.login_location

"""Pure rules: in-band Status classification, dates, web price, serial status, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError
from serialsync import AuthenticationError, PermanentRemoteError, RetryableRemoteError, UnitStatus
from serialsync_aim_pos import AimSettings
from serialsync_aim_pos.mapping import (
    WEB_PRICE_FIELDS,
    format_aim_date,
    map_item,
    parse_aim_date,
    unit_status,
    web_price,
)
from serialsync_aim_pos.status import StatusKind, classify, error_for


def status(**fields: str) -> dict[str, Any]:
    return {"Status": {"StatusCode": "Failed", **fields}}


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"Status": {"StatusCode": "Ok"}}, StatusKind.OK),
        ({"Status": {"StatusCode": "OK"}, "Token": "x"}, StatusKind.OK),
        # A response without Status is not a success, however full it looks.
        ({"Token": "x"}, StatusKind.UNKNOWN),
        ({}, StatusKind.UNKNOWN),
        ({"Status": {"StatusCode": "Success"}}, StatusKind.UNKNOWN),
        ({"Status": {}}, StatusKind.UNKNOWN),
        (status(ErrorCode="InvalidToken"), StatusKind.AUTH),
        (status(ErrorCode="X", Login="Expired"), StatusKind.AUTH),
        (status(ErrorCode="InvalidApiKey"), StatusKind.AUTH),
        (status(ErrorMessage="Requires active-e Inventory Service"), StatusKind.NOT_LICENSED),
        (status(ErrorCode="NotLicensed"), StatusKind.NOT_LICENSED),
        (status(ErrorCode="ValidationError"), StatusKind.VALIDATION),
        # Unknown codes are errors with AIM's text, not a guess from words in the message.
        (status(ErrorCode="", ErrorMessage="OrderNumber is required."), StatusKind.UNKNOWN),
        (status(ErrorCode="ServiceBusy"), StatusKind.TRANSIENT),
        (status(ErrorMessage="Timeout expired. Try again"), StatusKind.UNKNOWN),
        (status(ErrorCode="E7", ErrorMessage="Token rejected"), StatusKind.UNKNOWN),
        (status(ErrorCode="OrderNotFound"), StatusKind.NOT_FOUND),
        (status(ErrorCode="E42", ErrorMessage="Something odd"), StatusKind.UNKNOWN),
    ],
)
def test_status_is_classified_by_documented_values_only(body, kind):
    assert classify(body).kind is kind


@pytest.mark.parametrize(
    ("kind", "error", "words"),
    [
        (StatusKind.AUTH, AuthenticationError, "credentials"),
        (StatusKind.NOT_LICENSED, PermanentRemoteError, "not licensed"),
        (StatusKind.VALIDATION, PermanentRemoteError, "refused"),
        (StatusKind.UNKNOWN, PermanentRemoteError, "refused"),
        (StatusKind.TRANSIENT, RetryableRemoteError, "transient"),
    ],
)
def test_each_kind_maps_to_its_typed_error(kind, error, words):
    from serialsync_aim_pos.status import AimStatus

    raised = error_for(AimStatus(kind, "Code1", "text"), operation="Op", connector="aim")
    assert type(raised) is error
    assert words in str(raised)
    assert raised.code == "Code1"


@given(
    st.datetimes(
        min_value=datetime(1990, 1, 1),
        max_value=datetime(2090, 1, 1),
        timezones=st.just(UTC),
    ),
    st.sampled_from(["UTC", "America/Chicago", "Europe/Berlin", "Australia/Adelaide"]),
)
def test_dates_round_trip_through_store_local_time_to_the_second(when, zone_name):
    zone = ZoneInfo(zone_name)
    back = parse_aim_date(format_aim_date(when, zone), zone)
    assert back is not None
    assert back.tzinfo is not None
    wall = when.astimezone(zone).replace(tzinfo=None)
    folded = (
        wall.replace(fold=0, tzinfo=zone).utcoffset()
        != wall.replace(fold=1, tzinfo=zone).utcoffset()
    )
    if folded:  # AIM's offset-less local time cannot tell the two hours of a fold apart
        assert abs(back - when.replace(microsecond=0)) in (timedelta(0), timedelta(hours=1))
    else:
        assert back == when.replace(microsecond=0)


@given(
    st.integers(min_value=0, max_value=4_000_000_000_000), st.sampled_from(["", "-0600", "+0100"])
)
def test_servicestack_wcf_dates_are_epoch_milliseconds_utc(millis, offset):
    parsed = parse_aim_date(f"/Date({millis}{offset})/", ZoneInfo("America/Chicago"))
    assert parsed == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)


@pytest.mark.parametrize("empty", [None, "", "0001-01-01T00:00:00", "not a date"])
def test_empty_and_placeholder_dates_are_none(empty):
    assert parse_aim_date(empty, ZoneInfo("UTC")) is None


prices = st.one_of(
    st.none(),
    st.just(0),
    st.decimals(min_value=Decimal("-99999"), max_value=Decimal("9e12"), places=2),
)


@given(st.fixed_dictionaries({name: prices for name in WEB_PRICE_FIELDS}))
def test_web_price_is_the_first_set_in_priority_order_even_a_bad_one(fields):
    # 0 is AIM's "not set"; a negative or absurd price is passed on for the engine to refuse,
    # never skipped for the next field (issue 15 #5).
    expected = next(
        (
            Decimal(str(fields[n]))
            for n in WEB_PRICE_FIELDS
            if fields[n] is not None and fields[n] != 0
        ),
        None,
    )
    assert web_price(fields) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Available", UnitStatus.IN_STOCK),
        ("", UnitStatus.IN_STOCK),
        ("Sold", UnitStatus.SOLD),
        ("On Hold", UnitStatus.RESERVED),
        ("Layaway", UnitStatus.RESERVED),
        ("Returned", UnitStatus.RETURNED),
        ("Defective", UnitStatus.DEFECTIVE),
        ("Something new", UnitStatus.RESERVED),
    ],
)
def test_serial_status_text_maps_to_the_lifecycle(text, expected):
    assert unit_status(text) is expected


BASE = {"api_key": "key-1234", "app_id": "app", "username": "1001", "password": "pw-1234"}


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"discovery_url": "ftp://x"}, "discovery_url"),
        ({"page_size": 0}, "page_size"),
        ({"page_size": 501}, "page_size"),
        ({"order_number_format": "{bogus}"}, "order_number_format"),
        ({"order_number_format": "fixed"}, "order_number_format"),
        ({"api_key": "  "}, "api_key"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(override, field):
    with pytest.raises(ValidationError) as refused:
        AimSettings.model_validate({**BASE, **override})
    assert field in str(refused.value)


def test_settings_repr_hides_secrets():
    settings = AimSettings.model_validate(BASE)
    assert "key-1234" not in repr(settings)
    assert "pw-1234" not in repr(settings)


# -- messy items: identifiers kept exactly, unreadable rows handed back (issue 15 #3, #6) --------


def _item(
    *rows: Any, sku: Any = "0113942719", price: Any = 1299.0
) -> tuple[dict[str, Any], dict[str, Any]]:
    record = {"Pk": 7, "Sku": sku, "Description": "Guitar", "CustomerPrice": price}
    detail = {"SellSerialsOnline": True, "Serials": list(rows)}
    return record, detail


def _row(serial: Any, **fields: Any) -> dict[str, Any]:
    return {"SasPk": 70, "Serial": serial, "Status": "Available", "ActiveEPrice": 0, **fields}


@pytest.mark.parametrize("serial", [" US1", "US1 ", "US\u00a01", "US\x1b1", "", "   ", "US\u200b1"])
def test_a_serial_is_passed_on_exactly_as_aim_holds_it(serial):
    result = map_item(*_item(_row(serial)), zone=ZoneInfo("UTC"), since=None)
    assert result.product is not None
    assert [u.serial for u in result.product.units] == [serial]


def test_a_padded_sku_is_passed_on_exactly():
    result = map_item(*_item(_row("US1"), sku=" 0113942719 "), zone=ZoneInfo("UTC"), since=None)
    assert result.product is not None and result.product.sku == " 0113942719 "


def test_rows_that_cannot_be_read_are_one_unreadable_record_of_the_item_and_the_rest_maps():
    rows = (_row("US1"), _row(None, SasPk=71), "not a row", _row("US2", SasPk=72))
    result = map_item(*_item(*rows), zone=ZoneInfo("UTC"), since=None)
    assert result.product is not None
    assert [u.serial for u in result.product.units] == ["US1", "US2"]
    [unreadable] = result.unreadable
    assert unreadable.key == "0113942719"
    assert "serial row 71: Serial is missing" in unreadable.reason
    assert "serial row #3: the row is str, not an object" in unreadable.reason
    assert "not a row" in unreadable.payload


def test_an_item_without_a_sku_is_unreadable_by_its_pk():
    result = map_item(*_item(_row("US1"), sku=None), zone=ZoneInfo("UTC"), since=None)
    assert result.product is None
    assert [(u.key, u.reason) for u in result.unreadable] == [
        ("item/7", "AIM item 7: Sku is missing")
    ]


def test_a_unit_without_a_price_never_borrows_a_siblings():
    rows = (_row("US1", ActiveEPrice=899.0), _row("US2", SasPk=71))
    result = map_item(*_item(*rows, price=0), zone=ZoneInfo("UTC"), since=None)
    assert result.product is not None
    assert [u.price for u in result.product.units] == [Decimal("899.0"), None]
    assert result.product.price == Decimal("0")  # no price of its own: US2 is quarantined


# -- SerialDetail: a serial's prices and status under Details{} (issue 23 #1) --------------------


def test_a_serials_price_and_status_are_read_under_details_first():
    nested = _row(
        "US1",
        ActiveEPrice=1.0,
        Status="Sold",
        Details={"ActiveEPrice": Decimal("1499.50"), "Status": "Available"},
    )
    flat = _row("US2", SasPk=71, ActiveEPrice=Decimal("999.00"))
    bare = {"SasPk": 72, "Serial": "US3", "Details": {"Status": "Available"}}
    result = map_item(*_item(nested, flat, bare), zone=ZoneInfo("UTC"), since=None)
    assert result.product is not None
    units = {u.serial: u for u in result.product.units}
    assert units["US1"].price == Decimal("1499.50")
    assert units["US1"].status is UnitStatus.IN_STOCK
    # A row without Details (an older answer) still reads its prices beside the serial.
    assert units["US2"].price == Decimal("999.00")
    # No price of its own: the item's price stands for it (never a sibling's).
    assert units["US3"].price is None
    assert result.product.price == Decimal("1299.0")


def test_a_unit_price_read_over_http_comes_from_details(fake, make_connector, helpers):
    fake.add_product(helpers.product("SKU1", "S1"))
    fake.set_item_price("SKU1", "5.00")
    fake.set_price("SKU1", "S1", "777.77")
    page = make_connector().fetch_inventory(None, None)
    (unit,) = page.products[0].units
    assert unit.price == Decimal("777.77")

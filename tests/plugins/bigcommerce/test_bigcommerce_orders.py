"""fetch_orders: time-keyed paging, the 204 empty page, RFC 2822 dates, status mapping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from hypothesis import given
from hypothesis import strategies as st
from serialsync import FinancialStatus, ListingAction, ListingChange, Order, SerializedUnit
from serialsync_bigcommerce import BigCommerceConnector, FakeBigCommerce
from serialsync_bigcommerce.mapping import (
    STATUS_MAP,
    financial_status,
    format_rfc2822,
    parse_rfc2822,
)
from serialsync_bigcommerce.orders import inline_lines
from structlog.testing import capture_logs

from tests.clocks import FakeClock

from .conftest import product, units


def list_units(connector: BigCommerceConnector, unit_list: list[SerializedUnit]) -> None:
    changes = [ListingChange(unit=u, action=ListingAction.UPSERT) for u in unit_list]
    connector.publish_variants(product=product(), changes=changes)


def all_pages(connector: BigCommerceConnector, since: datetime | None) -> list[list[Order]]:
    pages: list[list[Order]] = []
    token = None
    while True:
        page = connector.fetch_orders(since=since, page=token)
        pages.append(list(page.orders))
        token = page.next_page
        if token is None:
            return pages
        assert len(pages) < 50, "paging does not end"


def test_empty_store_answers_204_and_paging_ends(fake: FakeBigCommerce, connector):
    page = connector.fetch_orders(since=None, page=None)
    assert page.orders == ()
    assert page.next_page is None
    assert fake.requests[-1][1].endswith("/v2/orders")


def test_204_empty_page_through_respx_side_effect(fake: FakeBigCommerce, make_connector, clock):
    with respx.mock(assert_all_called=True) as router:
        route = router.route(host="api.bigcommerce.com").mock(side_effect=fake)
        connector = make_connector(transport=httpx.HTTPTransport())
        page = connector.fetch_orders(since=datetime.now(UTC), page=None)
        assert page.orders == ()
        assert page.next_page is None
        assert route.calls.last.response.status_code == 204
        assert route.calls.last.response.content == b""


def test_paging_by_time_sees_every_order_and_ends(fake, make_connector, clock):
    connector = make_connector(orders_page_size=2)
    batch = units(5)
    list_units(connector, batch)
    for unit in batch:
        fake.create_order([(unit.integration_id, 1)])
        clock.advance(60)
    pages = all_pages(connector, since=None)
    seen = [o.order_id for page in pages for o in page]
    assert sorted(seen) == sorted(set(seen)), "an order was returned twice in one read"
    assert len(seen) == 5
    for page in pages:
        assert [o.updated_at for o in page] == sorted(o.updated_at for o in page)


def test_an_order_modified_while_paging_does_not_hide_another(fake, make_connector, clock):
    connector = make_connector(orders_page_size=2)
    batch = units(5)
    list_units(connector, batch)
    ids = []
    for unit in batch:
        ids.append(fake.create_order([(unit.integration_id, 1)]))
        clock.advance(60)
    first = connector.fetch_orders(since=None, page=None)
    assert [o.order_id for o in first.orders] == ids[:2]
    # staff cancels the first order: it moves to the end, every other order one place up
    fake.set_order_status(ids[0], FinancialStatus.CANCELLED)
    token = first.next_page
    seen = []
    while token is not None:
        page = connector.fetch_orders(since=None, page=token)
        seen += [o.order_id for o in page.orders]
        token = page.next_page
    assert ids[2] in seen, "paging by page number alone would have skipped this order"
    assert set(ids[2:]) <= set(seen)
    assert ids[0] in seen, "the modified order comes again, at its new place"


def test_full_last_page_is_followed_by_204_which_ends_paging(fake, make_connector):
    connector = make_connector(orders_page_size=2)
    batch = units(4)
    list_units(connector, batch)
    for unit in batch:  # one second for all: paging moves by page number
        fake.create_order([(unit.integration_id, 1)])
    pages = all_pages(connector, since=None)
    assert len({o.order_id for page in pages for o in page}) == 4
    assert pages[-1] == []  # the 204 with no body ended it
    assert sum(1 for _, path in fake.requests if path.endswith("/v2/orders")) == len(pages)


def test_orders_come_oldest_first_with_utc_dates_and_raw_skus(fake, connector, clock):
    batch = units(3)
    list_units(connector, batch)
    ids = []
    for unit in reversed(batch):
        ids.append(fake.create_order([(unit.integration_id, 1)]))
        clock.advance(5)
    page = connector.fetch_orders(since=None, page=None)
    assert [o.order_id for o in page.orders] == ids
    first = page.orders[0]
    assert first.channel == "bc"
    assert first.created_at.tzinfo is not None
    assert first.created_at.utcoffset() == timedelta(0)
    assert first.updated_at == datetime.fromtimestamp(int(clock.now) - 15, UTC)
    assert first.lines[0].raw_sku == batch[-1].integration_id
    assert first.lines[0].parsed().serial == batch[-1].serial
    assert first.status is FinancialStatus.PAID


def test_since_filters_by_date_modified(fake, connector, clock):
    batch = units(2)
    list_units(connector, batch)
    old = fake.create_order([(batch[0].integration_id, 1)])
    clock.advance(3600)
    cutoff = datetime.fromtimestamp(clock.now, UTC)
    new = fake.create_order([(batch[1].integration_id, 1)])
    page = connector.fetch_orders(since=cutoff, page=None)
    assert [o.order_id for o in page.orders] == [new]
    # moving the old order on brings it back after the cursor
    fake.set_order_status(old, FinancialStatus.CANCELLED)
    again = connector.fetch_orders(since=cutoff, page=None)
    assert {o.order_id for o in again.orders} == {old, new}


def test_cancelled_and_refunded_orders_are_mapped(fake, connector, clock):
    batch = units(4)
    list_units(connector, batch)
    cancelled = fake.create_order([(batch[0].integration_id, 1)])
    refunded = fake.create_order([(batch[1].integration_id, 1)])
    declined = fake.create_order([(batch[2].integration_id, 1)])
    partial = fake.create_order([(batch[3].integration_id, 1)])
    clock.advance(10)
    fake.set_order_status(cancelled, FinancialStatus.CANCELLED)
    fake.set_order_status(refunded, FinancialStatus.REFUNDED)
    fake.set_order_status_id(declined, 6)
    fake.set_order_status_id(partial, 14)
    by_id = {o.order_id: o for o in connector.fetch_orders(since=None, page=None).orders}
    assert by_id[cancelled].status is FinancialStatus.CANCELLED
    assert by_id[refunded].status is FinancialStatus.REFUNDED
    assert by_id[refunded].lines[0].quantity_refunded == 1
    assert by_id[declined].status is FinancialStatus.CANCELLED
    assert by_id[partial].status is FinancialStatus.PARTIALLY_REFUNDED


def test_a_page_of_orders_sharing_one_second_moves_by_page_number(fake, make_connector):
    connector = make_connector(orders_page_size=2)
    batch = units(5)
    list_units(connector, batch)
    for unit in batch:  # the clock never moves: all five share one second
        fake.create_order([(unit.integration_id, 1)])
    pages = all_pages(connector, since=None)
    seen = {o.order_id for page in pages for o in page}
    assert len(seen) == 5


@pytest.mark.parametrize(
    "token",
    [
        "not a token",
        "[]",
        '{"since": "yesterday", "page": 1, "seen": []}',
        '{"since": null, "page": 0, "seen": []}',
        '{"page": 2}',
    ],
)
def test_an_unreadable_token_restarts_from_since(fake, make_connector, clock, token):
    connector = make_connector(orders_page_size=2)
    batch = units(7)
    list_units(connector, batch)
    before = [fake.create_order([(u.integration_id, 1)]) for u in batch[:2]]
    clock.advance(3600)
    since = datetime.fromtimestamp(clock.now, UTC)
    after = []
    for unit in batch[2:]:
        after.append(fake.create_order([(unit.integration_id, 1)]))
        clock.advance(60)
    with capture_logs() as events:
        page = connector.fetch_orders(since=since, page=token)
    seen = [o.order_id for o in page.orders]
    while page.next_page is not None:
        page = connector.fetch_orders(since=since, page=page.next_page)
        seen += [o.order_id for o in page.orders]
        assert len(seen) < 50, "paging does not end"
    # From `since` again: every order since then, none lost, none from before it.
    assert sorted(seen) == sorted(after)
    assert not set(before) & set(seen)
    assert [e for e in events if e["event"] == "bigcommerce.bad_page_token"]


def test_v2_without_accept_json_is_refused_by_the_fake(fake, connector):
    response = connector.client.http.get("/v2/orders", headers={"Accept": "application/xml"})
    assert response.status_code == 406


@pytest.mark.parametrize(
    ("status_id", "expected"),
    [
        (0, FinancialStatus.PENDING),
        (1, FinancialStatus.PENDING),
        (7, FinancialStatus.PENDING),
        (12, FinancialStatus.PENDING),
        (2, FinancialStatus.PAID),
        (3, FinancialStatus.PAID),
        (8, FinancialStatus.PAID),
        (9, FinancialStatus.PAID),
        (10, FinancialStatus.PAID),
        (11, FinancialStatus.PAID),
        (13, FinancialStatus.PAID),
        (4, FinancialStatus.REFUNDED),
        (5, FinancialStatus.CANCELLED),
        (6, FinancialStatus.CANCELLED),
        (14, FinancialStatus.PARTIALLY_REFUNDED),
    ],
)
def test_status_ids_map_as_documented(status_id, expected):
    assert financial_status(status_id) is expected


def test_every_known_status_id_is_mapped():
    assert set(STATUS_MAP) == set(range(15))


@given(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1)))
def test_rfc2822_round_trip_to_the_second(moment):
    aware = moment.replace(tzinfo=UTC, microsecond=0)
    assert parse_rfc2822(format_rfc2822(aware)) == aware


def test_rfc2822_with_an_offset_becomes_utc():
    parsed = parse_rfc2822("Tue, 20 Nov 2012 10:00:00 -0500")
    assert parsed == datetime(2012, 11, 20, 15, 0, tzinfo=UTC)


def test_clock_is_the_fake_clock(clock: FakeClock, fake, make_connector):
    # Order dates are the fake clock's: a day later on it is a day later in the orders, however
    # little wall-clock time the test takes.
    connector = make_connector(plan_quota=10, rate_limit_reserve=2)
    fake.quota = 10
    batch = units(2)
    list_units(connector, batch)
    first_at = clock.now
    first = fake.create_order([(batch[0].integration_id, 1)])
    clock.advance(86_400)
    second = fake.create_order([(batch[1].integration_id, 1)])
    by_id = {o.order_id: o for o in connector.fetch_orders(since=None, page=None).orders}
    assert by_id[first].created_at == datetime.fromtimestamp(int(first_at), UTC)
    assert by_id[second].created_at - by_id[first].created_at == timedelta(days=1)
    # The rate-limit window runs on it too: the connector waits on this clock when the window
    # is spent, the window opens again when this clock has moved on, and nothing is refused.
    slept = len(clock.sleeps)
    for _ in range(12):
        connector.fetch_orders(since=None, page=None)
    waits = clock.sleeps[slept:]
    assert waits, "a spent window must be waited out on the fake clock"
    assert all(0 < wait <= fake.window_ms / 1000 for wait in waits)
    assert fake.throttled == 0


def _lines_requests(fake: FakeBigCommerce) -> int:
    return sum(1 for _, p in fake.requests if "/v2/orders/" in p and p.endswith("/products"))


def test_orders_come_with_their_lines_in_one_request_a_page(fake, make_connector, clock):
    # A burst read a request per order for its lines and spent the store's 150-request window
    # on them (issue 16): the list carries them (include=consignments.line_items).
    connector = make_connector(orders_page_size=250)
    batch = units(4)
    list_units(connector, batch)
    placed = [fake.create_order([(u.integration_id, 1)]) for u in batch[:3]]
    placed.append(fake.create_order([(batch[3].integration_id, 1), (None, 2)]))  # a custom line
    before = len(fake.requests)

    orders = {o.order_id: o for o in connector.fetch_orders(since=None, page=None).orders}

    assert len(fake.requests) - before == 1 and _lines_requests(fake) == 0
    assert [line.raw_sku for line in orders[placed[0]].lines] == [batch[0].integration_id]
    assert [(line.raw_sku, line.quantity) for line in orders[placed[3]].lines] == [
        (batch[3].integration_id, 1),
        (None, 2),
    ]
    # A webhook's read of one order carries its lines too.
    assert connector.fetch_order(placed[1]) == orders[placed[1]]
    assert _lines_requests(fake) == 0


def test_without_lines_in_the_record_each_order_is_read_once_for_them(fake, connector, clock):
    fake.includes_consignments = False  # a store or proxy that ignores include
    batch = units(3)
    list_units(connector, batch)
    first = fake.create_order([(batch[0].integration_id, 1)])
    second = fake.create_order([(batch[1].integration_id, 1)])

    connector.fetch_orders(since=None, page=None)
    assert _lines_requests(fake) == 2
    # The host reads the same orders again (its cursor overlaps): their lines are known.
    again = {o.order_id: o for o in connector.fetch_orders(since=None, page=None).orders}
    assert _lines_requests(fake) == 2
    assert [line.raw_sku for line in again[first].lines] == [batch[0].integration_id]
    # An order that changed (BigCommerce moves date_modified) is read whole again.
    clock.advance(10)
    fake.set_order_status(second, FinancialStatus.REFUNDED)
    changed = {o.order_id: o for o in connector.fetch_orders(since=None, page=None).orders}
    assert _lines_requests(fake) == 3
    assert changed[second].lines[0].quantity_refunded == 1
    # A webhook's read of an order the pass has read costs its record only.
    assert connector.fetch_order(first) is not None
    assert _lines_requests(fake) == 3


_LINE = {"id": 7, "sku": "G|||S1", "quantity": 1}


@pytest.mark.parametrize(
    ("consignments", "items_total", "expected"),
    [
        # The documented object structure: lines in shipping, pickups and downloads.
        ({"shipping": [{"line_items": [_LINE]}], "pickups": [], "downloads": []}, 1, [_LINE]),
        (
            {
                "shipping": [{"line_items": [_LINE]}],
                "pickups": [{"line_items": [{**_LINE, "id": 8, "quantity": 2}]}],
                "downloads": [{"line_items": [{**_LINE, "id": 9}]}],
                "email": {"gift_certificates": []},
            },
            4,
            [_LINE, {**_LINE, "id": 8, "quantity": 2}, {**_LINE, "id": 9}],
        ),
        # A line named twice is one line.
        ({"shipping": [{"line_items": [_LINE]}, {"line_items": [_LINE]}]}, 1, [_LINE]),
        ({"shipping": [], "pickups": [], "downloads": []}, 0, []),
        # Read on their own: no include (the link resource), links in place of lines, a line
        # without its quantity, or lines short of items_total (a gift certificate, a kind of
        # consignment not looked at).
        (
            {"url": "https://x/v2/orders/1/consignments", "resource": "/orders/1/consignments"},
            1,
            None,
        ),
        ({"shipping": [{"line_items": [{"url": "u", "resource": "r"}]}]}, 1, None),
        ({"shipping": [{"line_items": [{"id": 7, "sku": "G|||S1"}]}]}, 1, None),
        ({"shipping": [{"line_items": [_LINE]}], "email": {"gift_certificates": [{}]}}, 2, None),
        ({"shipping": {"line_items": [_LINE]}}, 1, None),
        ([{"shipping": [{"line_items": [_LINE]}]}], 1, None),  # the legacy array structure
        (None, 1, None),
    ],
)
def test_lines_are_taken_from_the_record_only_when_every_item_is_accounted_for(
    consignments, items_total, expected
):
    record: dict[str, object] = {"id": 1, "items_total": items_total}
    if consignments is not None:
        record["consignments"] = consignments
    assert inline_lines(record) == expected
    assert inline_lines({"id": 1, "consignments": consignments}) in (None, [])  # no items_total

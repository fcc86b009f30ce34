"""fetch_inventory: paging, the changed-since cursor, the serial flag, deletions, mapping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import respx
from serialsync import (
    ConnectorContext,
    InventoryPage,
    Product,
    SerializedUnit,
    UnitKey,
    UnitStatus,
)
from serialsync_aim_pos import AimConnector, AimSettings, FakeAim


def drain(
    connector: AimConnector, since: datetime | None = None, start: str | None = None
) -> list[InventoryPage]:
    """Every page of one pass (from the page token ``start`` on); returns the pages."""
    pages: list[InventoryPage] = []
    token: str | None = start
    while True:
        page = connector.fetch_inventory(since, token)
        pages.append(page)
        token = page.next_page
        if token is None:
            return pages


def units_of(pages: list[InventoryPage]) -> dict[tuple[str, str], SerializedUnit]:
    return {(u.sku, u.serial): u for p in pages for prod in p.products for u in prod.units}


def test_paging_reaches_the_end_with_one_detail_call_per_item(fake, make_connector, helpers):
    for i in range(5):
        fake.add_product(helpers.product(f"SKU{i}", f"A{i}", f"B{i}"))
    connector = make_connector(page_size=2)

    pages = drain(connector)

    assert [len(p.products) for p in pages] == [2, 2, 1]
    assert pages[-1].next_page is None
    assert len(units_of(pages)) == 10
    searches = [p for _, p in fake.requests if p.endswith("/SearchInventory")]
    details = [p for _, p in fake.requests if p.endswith("/InventoryDetail")]
    assert len(searches) == 3
    assert len(details) == 5  # one per product, never one per unit


def test_a_bulk_change_read_over_several_pages_is_not_read_again_next_pass(
    fake, make_connector, clock, helpers
):
    # Found by the reliability suite: every item of a bulk change made in one second (an
    # import; the sandbox's seeding) was read again, with one detail request each, on every
    # pass, because only a one-request pass moved the cursor past its last second.
    for i in range(5):
        fake.add_product(helpers.product(f"SKU{i}", f"A{i}"))  # all in one second
    clock.advance(3600)
    connector = make_connector(page_size=2)
    connector.wall_clock = clock
    pages = drain(connector)
    cursor = max(p.high_water for p in pages if p.high_water)
    fake.requests.clear()

    again = drain(connector, since=cursor)

    assert [p.products for p in again] == [()]
    assert [path.rsplit("/", 1)[-1] for _, path in fake.requests] == ["SearchInventory"]


def test_an_exact_multiple_of_the_page_size_stops_without_an_empty_page(
    fake, make_connector, helpers
):
    for i in range(4):
        fake.add_product(helpers.product(f"SKU{i}", f"S{i}"))
    pages = drain(make_connector(page_size=2))
    assert [len(p.products) for p in pages] == [2, 2]


def test_changed_since_cursor_returns_only_what_changed(fake, connector, clock, helpers):
    fake.add_product(helpers.product("OLD", "O1"))
    fake.add_product(helpers.product("KEEP", "K1"))
    first = drain(connector)
    cursor = max(p.high_water for p in first if p.high_water)
    assert cursor == clock.now + timedelta(seconds=1)  # one request: past the last second

    clock.advance(60)
    fake.set_price("KEEP", "K1", "150.00")
    clock.advance(60)
    fake.add_product(helpers.product("NEW", "N1"))
    second = drain(connector, since=cursor)

    skus = sorted(p.sku for page in second for p in page.products)
    assert skus == ["KEEP", "NEW"]
    assert units_of(second)[("KEEP", "K1")].price == Decimal("150.00")
    assert max(p.high_water for p in second if p.high_water) == clock.now + timedelta(seconds=1)


def test_a_change_in_the_margin_before_the_pass_is_read_again_not_lost(
    fake, make_connector, clock, helpers
):
    connector = make_connector()
    connector.wall_clock = clock  # AIM's clock and ours agree
    fake.add_product(helpers.product("A", "A1"))
    cursor = connector.fetch_inventory(None, None).high_water
    assert cursor == clock.now - timedelta(seconds=300)
    fake.add_product(helpers.product("B", "B1"))  # the same second as A, after the read
    skus = {p.sku for page in drain(connector, since=cursor) for p in page.products}
    assert skus == {"A", "B"}


def test_an_unchanged_catalogue_costs_one_request_per_pass(fake, connector, clock, helpers):
    for sku in "ABC":
        fake.add_product(helpers.product(sku, f"{sku}1"))
    cursor = connector.fetch_inventory(None, None).high_water
    clock.advance(600)
    before = len(fake.requests)
    page = connector.fetch_inventory(cursor, None)
    assert (page.products, page.deleted, page.next_page) == ((), (), None)
    assert len(fake.requests) - before == 1


def test_a_mid_pass_shift_is_caught_at_the_page_boundary_and_keeps_the_cursor(
    fake, make_connector, clock, helpers
):
    for sku in "ABCD":
        fake.add_product(helpers.product(sku, f"{sku}1"))
        clock.advance(1)
    connector = make_connector(page_size=2)
    connector.wall_clock = clock  # AIM's clock and ours agree
    first = connector.fetch_inventory(None, None)
    clock.advance(10)
    fake.set_price("A", "A1", "90")  # A moves to the end of AIM's order: C shifts onto page 1
    second = connector.fetch_inventory(None, first.next_page)
    seen = {p.sku for page in (first, second) for p in page.products}
    # The second page starts one item early, finds C where B should be, and reads it too.
    assert "C" in seen
    # The order shifted: no cursor past ``since``, so the next pass reads the span again.
    assert first.high_water is None and second.high_water is None


def test_an_old_item_skipped_by_a_shift_is_not_lost_for_good(fake, make_connector, clock, helpers):
    # Found by the reliability suite: items changed long before the pass (older than the
    # cursor margin) were lost for good when a shift skipped one of them, since the cursor
    # moved past them.
    for sku in "ABCDEF":
        fake.add_product(helpers.product(sku, f"{sku}1"))
        clock.advance(10)
    clock.advance(3600)
    connector = make_connector(page_size=2)
    connector.wall_clock = clock
    first = connector.fetch_inventory(None, None)
    fake.set_price("A", "A1", "90")
    fake.set_price("B", "B1", "90")  # two moved: page 2 would skip C and D
    pages = [first, *drain(connector, since=None, start=first.next_page)]
    seen = {p.sku for page in pages for p in page.products}
    cursor = max((p.high_water for p in pages if p.high_water), default=None)
    again = {p.sku for page in drain(connector, since=cursor) for p in page.products}
    assert set("ABCDEF") <= seen | again


def test_dates_are_read_and_sent_in_the_store_time_zone(clock, helpers):
    fake = FakeAim(clock=clock, timezone="America/Chicago")
    fake.add_product(helpers.product("A", "A1"))
    settings = AimSettings.model_validate(fake.connector_settings("https://aim.test/ae"))
    with respx.mock() as mock:
        route = mock.route(host="aim.test").mock(side_effect=fake)
        connector = AimConnector(settings, ConnectorContext(name="aim"))
        connector.wall_clock = lambda: clock.now + timedelta(hours=1)
        page = connector.fetch_inventory(None, None)
        # 15:00 UTC, written by AIM as 09:00 local (the cursor is one second past it)
        assert page.high_water == clock.now + timedelta(seconds=1)
        connector.fetch_inventory(clock.now, None)
    sent = [c.request for c in route.calls if c.request.url.path.endswith("SearchInventory")]
    assert json.loads(sent[-1].content)["ChangedDate"] == "2026-11-23T09:00:00"
    unit = page.products[0].units[0]
    assert unit.changed_at == datetime(2026, 11, 23, 15, 0, tzinfo=UTC)


def test_only_items_flagged_to_sell_serials_online_become_products(fake, connector, helpers):
    fake.add_product(helpers.product("ONLINE", "N1"))
    fake.add_product(helpers.product("STORE", "S1", "S2"))
    fake.set_sell_online("STORE", False)

    page = connector.fetch_inventory(None, None)

    assert [p.sku for p in page.products] == ["ONLINE"]
    assert set(page.deleted) == {
        UnitKey(sku="STORE", serial="S1"),
        UnitKey(sku="STORE", serial="S2"),
    }


def test_clearing_the_flag_later_withdraws_every_serial(fake, connector, clock, helpers):
    fake.add_product(helpers.product("G", "G1", "G2"))
    cursor = connector.fetch_inventory(None, None).high_water
    clock.advance(5)
    fake.set_sell_online("G", False)
    page = connector.fetch_inventory(cursor, None)
    assert page.products == ()
    assert {k.serial for k in page.deleted} == {"G1", "G2"}


def test_deleted_serial_and_deleted_item_come_back_as_deleted(fake, connector, clock, helpers):
    fake.add_product(helpers.product("A", "A1", "A2"))
    fake.add_product(helpers.product("B", "B1"))
    cursor = connector.fetch_inventory(None, None).high_water
    clock.advance(5)
    fake.remove_unit("A", "A1")
    fake.delete_item("B")

    page = connector.fetch_inventory(cursor, None)

    assert set(page.deleted) == {UnitKey(sku="A", serial="A1"), UnitKey(sku="B", serial="B1")}
    assert [(u.serial, u.status) for u in page.products[0].units] == [("A2", UnitStatus.IN_STOCK)]


def test_a_serial_sold_in_store_comes_back_sold(fake, connector, clock, helpers):
    fake.add_product(helpers.product("A", "A1", "A2"))
    cursor = connector.fetch_inventory(None, None).high_water
    clock.advance(5)
    fake.mark_sold("A", "A1")
    units = units_of([connector.fetch_inventory(cursor, None)])
    assert units[("A", "A1")].status is UnitStatus.SOLD
    assert units[("A", "A2")].status is UnitStatus.IN_STOCK


def test_old_sold_and_deleted_serials_are_not_repeated_on_every_pass(
    fake, connector, clock, helpers
):
    fake.add_product(helpers.product("A", "A1", "A2", "A3"))
    fake.mark_sold("A", "A1")
    fake.remove_unit("A", "A2")
    clock.advance(60)
    cursor = clock.now
    fake.set_price("A", "A3", "120")  # the item changes again later
    page = connector.fetch_inventory(cursor, None)
    assert page.deleted == ()
    assert [u.serial for u in page.products[0].units] == ["A3"]


def test_only_the_configured_locations_are_sold_online(fake, make_connector, helpers):
    fake.add_product(helpers.product("A", "A1", location="MAIN"))
    fake.add_product(
        Product(
            sku="B",
            title="B",
            price=Decimal("10"),
            units=(
                SerializedUnit(sku="B", serial="B1", location="MAIN"),
                SerializedUnit(sku="B", serial="B2", location="WAREHOUSE"),
            ),
        )
    )
    page = make_connector(locations=["main"]).fetch_inventory(None, None)
    assert set(units_of([page])) == {("A", "A1"), ("B", "B1")}
    assert page.deleted == (UnitKey(sku="B", serial="B2"),)
    everywhere = make_connector().fetch_inventory(None, None)
    assert len(units_of([everywhere])) == 3


def test_item_mapping_carries_title_brand_price_attributes_and_images(fake, connector):
    fake.add_product(
        Product(
            sku="0113942719",
            title="Stratocaster",
            description="Alder body",
            brand="Fender",
            price=Decimal("1199.99"),
            images=("https://img.test/strat.jpg",),
            attributes={"Finish": "Sunburst"},
            units=(
                SerializedUnit(
                    sku="0113942719",
                    serial="US210033734",
                    price=Decimal("1099.50"),
                    attributes={"Weight": "3.6 kg"},
                    images=("https://img.test/US210033734.jpg",),
                ),
            ),
        )
    )
    (product,) = connector.fetch_inventory(None, None).products
    assert (product.title, product.brand, product.description) == (
        "Stratocaster",
        "Fender",
        "Alder body",
    )
    assert product.price == Decimal("1199.99")
    assert product.images == ("https://img.test/strat.jpg",)
    assert product.attributes["Finish"] == "Sunburst"
    (unit,) = product.units
    assert unit.integration_id == "0113942719|||US210033734"
    assert unit.price == Decimal("1099.50")
    assert unit.attributes == {"Weight": "3.6 kg"}
    assert unit.images == ("https://img.test/US210033734.jpg",)
    assert unit.location == "MAIN"


def test_the_sale_price_wins_over_our_price_when_there_is_no_web_price(fake, connector, helpers):
    fake.add_product(helpers.product("A", "A1", price="200"))
    fake.set_price("A", "A1", "0", sale_price="180")  # ActiveEPrice 0 means "not set"
    (unit,) = connector.fetch_inventory(None, None).products[0].units
    assert unit.price == Decimal("180")


def test_a_bad_page_token_is_refused_clearly(connector):
    with pytest.raises(ValueError, match="page token"):
        connector.fetch_inventory(None, "garbage")


def test_fetch_through_respx_side_effect(fake, helpers):
    fake.add_product(helpers.product("A", "A1"))
    settings = AimSettings.model_validate(
        fake.connector_settings("https://active-ewebservice.biz/aeservices30")
    )
    with respx.mock() as mock:
        mock.route(host=FakeAim.host).mock(side_effect=fake)
        page = AimConnector(settings, ConnectorContext(name="aim")).fetch_inventory(None, None)
    assert [p.sku for p in page.products] == ["A"]

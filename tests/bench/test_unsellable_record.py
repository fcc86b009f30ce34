"""A channel fake's own record of when a followed unit went unsellable (bench.unsellable)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx
from serialsync.model import FinancialStatus
from serialsync.testing.fake import FakeChannel, FakeListing

from bench.oversell import cross_check, summarise
from bench.unsellable import UnsellableRecord

SKU = "G-1|||SN1"


class OneShelf(FakeChannel):
    """A shop of one-unit listings whose stock a ``PUT /<sku>/<stock>`` sets."""

    def __init__(self) -> None:
        super().__init__()
        self.stock: dict[str, int] = {SKU: 1, "G-1|||SN2": 1}

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            _, sku, stock = request.url.path.split("/")
            self.stock[sku] = int(stock)
        return httpx.Response(200, json={})

    def listings(self) -> list[FakeListing]:
        return [FakeListing(sku, stock, "G-1") for sku, stock in self.stock.items()]

    def create_order(
        self,
        lines: Sequence[tuple[str | None, int]],
        *,
        status: FinancialStatus = FinancialStatus.PAID,
    ) -> str:
        raise NotImplementedError

    def set_order_status(self, order_id: str, status: FinancialStatus) -> None:
        raise NotImplementedError

    def connector_settings(self, base_url: str) -> dict[str, Any]:
        return {}


def send(fake: OneShelf, method: str, path: str) -> tuple[float, float]:
    """Serve one request as the sandbox does; the real instants just before and after it."""
    before = time.monotonic()
    fake(httpx.Request(method, f"http://shelf.test/{path}"))
    return before, time.monotonic()


def test_the_end_is_stamped_while_the_request_that_withdrew_the_unit_is_served() -> None:
    fake = OneShelf()
    record = UnsellableRecord(fake)
    record.follow(SKU)
    send(fake, "GET", "anything")
    send(fake, "PUT", "G-1|||SN2/0")  # another unit: the followed one is still for sale
    assert record.state(SKU) == {"open": True, "end": None, "resold": 0}

    before, after = send(fake, "PUT", f"{SKU}/0")
    state = record.state(SKU)
    assert not state["open"] and before <= state["end"] <= after

    send(fake, "PUT", "G-1|||SN2/1")  # later requests leave the end where it was
    assert record.state(SKU)["end"] == state["end"]


def test_a_unit_seen_for_sale_after_its_end_is_flagged_and_followed_again() -> None:
    fake = OneShelf()
    record = UnsellableRecord(fake)
    record.follow(SKU)
    send(fake, "PUT", f"{SKU}/0")
    end = record.state(SKU)["end"]
    # A poll that began before the end and still saw the unit: no contradiction.
    assert not record.seen_for_sale(SKU, since=end - 1.0)

    send(fake, "PUT", f"{SKU}/1")  # listed again (nothing follows it now)
    assert record.seen_for_sale(SKU, since=end + 0.001)
    assert record.state(SKU)["open"] and record.state(SKU)["resold"] == 1
    before, after = send(fake, "PUT", f"{SKU}/0")
    assert before <= record.state(SKU)["end"] <= after


def test_a_unit_not_for_sale_when_followed_has_no_end_until_seen_for_sale() -> None:
    fake = OneShelf()
    fake.stock[SKU] = 0
    record = UnsellableRecord(fake)
    record.follow(SKU)
    assert record.state(SKU) == {"open": False, "end": None, "resold": 0}
    # Seen for sale, but off again by the time it is followed anew: the later bound, now.
    before = time.monotonic()
    assert record.seen_for_sale(SKU, since=before)
    end = record.state(SKU)["end"]
    assert end is not None and end >= before


def test_a_change_made_outside_a_request_is_stamped_when_first_seen() -> None:
    fake = OneShelf()
    record = UnsellableRecord(fake)
    record.follow(SKU)
    fake.stock[SKU] = 0  # as Magento's consumers change a unit between requests
    before = time.monotonic()
    state = record.state(SKU)
    assert not state["open"] and state["end"] >= before


def test_the_window_ends_at_the_fakes_record_and_the_watch_is_its_cross_check() -> None:
    orders = [
        {
            "channel": "shopify",
            "created": 1.0,
            "resolved": 1.5,
            "fake_resolved": 1.2,
            "relisted": 0,
            "relisted_on": [],
            "listed_elsewhere": 2,
            "sold_after_end": [],
        },
        {
            "channel": "woocommerce",
            "created": 2.0,
            "resolved": 2.9,
            "fake_resolved": 2.4,
            "relisted": 0,
            "relisted_on": [],
            "listed_elsewhere": 2,
            "sold_after_end": ["magento"],
        },
    ]
    fake = summarise(orders, factor=10.0, end="fake_resolved")
    watched = summarise(orders, factor=10.0)
    assert fake["end"] == "fake_resolved" and watched["end"] == "resolved"
    assert round(fake["max"], 6) == 4.0 and round(watched["max"], 6) == 9.0
    check = cross_check(orders, factor=10.0)
    assert round(check["lag"]["min"], 6) == 3.0 and round(check["lag"]["max"], 6) == 5.0
    assert check["sold_after_end"] == 1 and check["sold_after_end_on"] == {"magento": 1}

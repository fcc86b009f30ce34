"""The two baseline scripts against the fakes: every unit listed, in the requests they claim.

The careful script is what serialsync's request counts are judged against, so its counts are
checked here (per product: Shopify 1 after one location read, BigCommerce 1, WooCommerce
1 + ceil(n/100), Magento n + 3 after one attribute read), and so is the work it claims to do.
"""

from __future__ import annotations

from typing import Any

import pytest
from serialsync_bigcommerce.fake import FakeBigCommerce
from serialsync_magento.fake import FakeMagento
from serialsync_shopify.fake import FakeShopify
from serialsync_woocommerce.fake import FakeWooCommerce

from bench.careful import run_careful
from bench.naive import run_naive
from bench.sandbox_process import bench_catalogue
from bench.timescale import TimeScale

SKUS, UNITS = 3, 7


def _fake(name: str) -> Any:
    if name == "shopify":
        return FakeShopify()
    if name == "bigcommerce":
        return FakeBigCommerce()
    if name == "woocommerce":
        return FakeWooCommerce()
    return FakeMagento(serial_attribute="serial_number")


CAREFUL_REQUESTS = {
    "shopify": 1 + SKUS,  # the location, read once
    "bigcommerce": SKUS,
    "woocommerce": SKUS * 2,
    "magento": 1 + SKUS * (UNITS + 3),
}


@pytest.mark.parametrize("name", sorted(CAREFUL_REQUESTS))
def test_the_careful_script_lists_every_unit_in_its_documented_requests(name):
    fake = _fake(name)
    catalogue = bench_catalogue(skus=SKUS, units=UNITS, seed=7)
    section = fake.connector_settings(f"https://{fake.host}")
    run = run_careful(name, section, catalogue, TimeScale(1000.0), fake.transport())

    assert run["failed"] == 0 and run["throttled"] == 0
    assert run["requests"] == CAREFUL_REQUESTS[name] == len(fake.requests)
    listed = {listing.sku for listing in fake.listings() if listing.stock > 0}
    assert listed == {f"{u.sku}|||{u.serial}" for p in catalogue for u in p.units}


@pytest.mark.parametrize("name", sorted(CAREFUL_REQUESTS))
def test_the_naive_script_sends_more_than_the_careful_one(name):
    fake = _fake(name)
    catalogue = bench_catalogue(skus=SKUS, units=UNITS, seed=7)
    section = fake.connector_settings(f"https://{fake.host}")
    run = run_naive(name, section, catalogue, TimeScale(1000.0), fake.transport())
    assert run["failed"] == 0
    assert run["requests"] > CAREFUL_REQUESTS[name]

"""The benchmark's oversell measurement on a tiny catalogue: it sees what the fakes sell.

The benchmark itself stays out of the test run; this only checks that its watch, polling the
fakes' listings, keeps an order open while its unit is still for sale elsewhere and closes it
once the host's order pass has withdrawn the unit everywhere.
"""

from __future__ import annotations

from pathlib import Path

from serialsync.host import Host
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.settings import load_settings

from bench.oversell import OversellWatch, percentile, summarise


def test_an_order_stays_open_until_its_unit_is_off_every_other_channel(tmp_path: Path) -> None:
    catalogue = demo_catalogue(seed=3, products=2, units_per_product=2)
    with Sandbox(types=["aim_pos", "shopify", "woocommerce"], catalogue=catalogue) as sandbox:
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        with Host.from_settings(load_settings(config), sleep=lambda _s: None) as host:
            host.inventory_pass()
            watch = OversellWatch(sandbox.channel_fakes(), seed=1, poll=0.01)
            placed = watch.place(["shopify"])
            assert placed is not None and placed["listed_elsewhere"] == 1

            watch.check()  # nothing withdrawn yet: the unit is still for sale on WooCommerce
            assert watch.open_orders() == 1

            [order] = watch.report()
            assert order["fake_open"] == ["woocommerce"] and order["fake_resolved"] is None

            host.order_pass()
            watch.check()
            assert watch.open_orders() == 0
            [order] = watch.report()
            assert order["resolved"] >= order["created"]
            assert order["relisted"] == 0
            # WooCommerce's fake recorded the unit going while it served the withdrawal, before
            # the watch's poll saw it gone.
            gone = order["fake_gone"]["woocommerce"]
            assert order["created"] <= gone == order["fake_resolved"] <= order["resolved"]
            assert order["fake_open"] == [] and order["sold_after_end"] == []
            summary = summarise(watch.report(), factor=10.0)
            assert summary["n"] == 1 and summary["open"] == 0
            assert summary["max"] == (order["resolved"] - order["created"]) * 10.0


def test_an_order_never_withdrawn_has_no_maximum() -> None:
    orders = [
        {
            "channel": "shopify",
            "created": 1.0,
            "resolved": 1.5,
            "relisted": 0,
            "relisted_on": [],
            "listed_elsewhere": 1,
        },
        {
            "channel": "shopify",
            "created": 2.0,
            "resolved": None,
            "relisted": 1,
            "relisted_on": ["woocommerce"],
            "listed_elsewhere": 1,
        },
    ]
    summary = summarise(orders, factor=10.0)
    assert summary["open"] == 1 and summary["max"] is None and summary["p99"] is None
    assert summary["p50"] == 5.0
    assert summary["relisted_on"] == {"woocommerce": 1}


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.5) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([3.0], 0.99) == 3.0


def test_each_fake_reads_some_listings_as_it_reads_them_all(tmp_path: Path) -> None:
    """``listings_of`` (what a poll reads) is ``listings()`` filtered, on every channel fake:
    sold, withdrawn and live units alike, and a SKU no fake holds."""
    catalogue = demo_catalogue(seed=5, products=2, units_per_product=3)
    channels = ["shopify", "bigcommerce", "woocommerce", "magento"]
    with Sandbox(types=["aim_pos", *channels], catalogue=catalogue) as sandbox:
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        with Host.from_settings(load_settings(config), sleep=lambda _s: None) as host:
            host.inventory_pass()
            watch = OversellWatch(sandbox.channel_fakes(), seed=2, poll=0.01)
            assert watch.place(["shopify"]) is not None
            host.order_pass()  # one unit sold and withdrawn elsewhere: stock 0 there
            for name, fake in sandbox.channel_fakes().items():
                every = fake.listings()
                assert len(every) >= 6, name
                some = {every[0].sku, every[-1].sku, "NO-SUCH|||SKU"}
                assert fake.listings_of(some) == [x for x in every if x.sku in some], name
                assert fake.listings_of([]) == [], name

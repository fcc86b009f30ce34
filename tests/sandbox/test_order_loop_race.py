"""The two loops side by side over loopback: a unit sold while its product is being published.

The inventory loop has one product's ``publish_variants`` under way (held at the engine's
``publish.before_call`` checkpoint, after it planned to send every unit of the product at stock
1) when a shopper buys one of those units. The order loop reads the order meanwhile. Whatever
the order of events on the wire, the sold unit must end withdrawn: never re-listed by the
publish that was already under way.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from serialsync.host import Host
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.settings import load_settings
from serialsync.store import ListingState

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("channel", ["shopify", "bigcommerce", "woocommerce", "magento"])
def test_a_unit_sold_during_its_products_publish_stays_withdrawn(
    tmp_path: Path, channel: str
) -> None:
    catalogue = demo_catalogue(seed=5, products=2, units_per_product=3)
    product = catalogue[0]
    sold = product.units[0]
    with Sandbox(catalogue=catalogue, types=["aim_pos", channel]) as sandbox:
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        host = Host.from_settings(load_settings(config), sleep=lambda _s: None)
        try:
            host.inventory_pass()
            aim = sandbox.pos_fakes()["aim_pos"]
            for unit in product.units:  # a new price: every unit of the product is re-sent
                aim.set_price(product.sku, unit.serial, "1234.00")  # type: ignore[attr-defined]

            entered, release = threading.Event(), threading.Event()
            inventory = threading.Thread(target=host.inventory_pass, name="inventory-loop")

            def checkpoint(step: str) -> None:
                held = (
                    threading.current_thread() is inventory
                    or threading.current_thread().name.startswith("publish")
                )
                if step == "publish.before_call" and held and not entered.is_set():
                    entered.set()
                    assert release.wait(30), "the test never let the publish go"

            host.engine.checkpoint = checkpoint
            inventory.start()
            orders = threading.Thread(target=host.order_pass, name="orders-loop")
            try:
                assert entered.wait(30), "the inventory pass never reached its publish"
                sandbox.channel_fakes()[channel].create_order([(sold.integration_id, 1)])
                orders.start()
                # With the listing locks the order pass waits for this publish; without them
                # it withdraws now and the publish re-lists. Let the publish go after a moment.
                orders.join(timeout=1.0)
            finally:
                release.set()
                inventory.join(60)
                if orders.is_alive() or orders.ident is not None:
                    orders.join(60)
            assert not inventory.is_alive() and not orders.is_alive()

            sellable = {
                x.sku
                for x in sandbox.channel_fakes()[channel].listings()
                if x.stock > 0 and x.sellable
            }
            assert sold.integration_id not in sellable
            assert {u.integration_id for u in product.units[1:]} <= sellable
            (listing,) = host.store.listings_of_unit(sold.serial)
            assert listing.state == ListingState.WITHDRAWN
            reported = [
                o for o in aim.recorded_orders() if any(s == sold.serial for _, s, _ in o.lines)
            ]
            assert len(reported) == 1
        finally:
            host.close()

"""End to end over loopback: each unit's attributes appear on all four channels, and a changed
attribute reaches every channel on the next pass, only for the unit that changed (issue 17 #2).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from serialsync import Product, SerializedUnit
from serialsync.host import Host
from serialsync.sandbox import Sandbox
from serialsync.settings import load_settings

pytestmark = pytest.mark.e2e

SKU = "0113942719"


def _catalogue() -> Product:
    units = tuple(
        SerializedUnit(
            sku=SKU,
            serial=f"FS{i:05d}",
            price=Decimal("1299.00"),
            attributes={"Finish": "Sunburst", "Wood grain": f"Flame {i}"},
        )
        for i in range(3)
    )
    return Product(sku=SKU, title="Fender Stratocaster", price=Decimal("1299.00"), units=units)


def _finish(fakes: dict[str, Any], serial: str) -> dict[str, Any]:
    sku = f"{SKU}|||{serial}"
    (shopify,) = fakes["shopify"].variants_with_sku(sku)
    bigcommerce = next(v for v in fakes["bigcommerce"].variants.values() if v["sku"] == sku)
    woo = fakes["woocommerce"].variation_by_sku(sku)
    magento = fakes["magento"].product(sku)
    return {
        "shopify": shopify.metafields[("serialsync", "finish")][1],
        "bigcommerce": {
            m["key"]: m["value"]
            for m in fakes["bigcommerce"].metafields.of_variant(bigcommerce["id"])
        }["Finish"],
        "woocommerce": {m["key"]: m["value"] for m in woo["meta_data"]}["serialsync_finish"],
        "magento": {c["attribute_code"]: c["value"] for c in magento["custom_attributes"]}[
            "pos_finish"
        ],
    }


def test_a_units_attribute_is_shown_and_its_change_reaches_every_channel(tmp_path: Path) -> None:
    with Sandbox(catalogue=[_catalogue()]) as sandbox:
        fakes: dict[str, Any] = dict(sandbox.channel_fakes())
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        host = Host.from_settings(load_settings(config), sleep=lambda _s: None)
        with host:
            assert host.inventory_pass().ok
            assert set(_finish(fakes, "FS00001").values()) == {"Sunburst"}
            pos: Any = sandbox.fakes["aim_pos"]  # the AIM fake's own editing methods
            pos.set_unit_content(SKU, "FS00001", attributes={"Finish": "Aged Cherry"})
            for fake in fakes.values():
                fake.requests.clear()

            assert host.inventory_pass().ok

        assert set(_finish(fakes, "FS00001").values()) == {"Aged Cherry"}
        assert set(_finish(fakes, "FS00002").values()) == {"Sunburst"}
        # Only the changed unit's writes: a handful of requests per channel, never a re-send.
        sent = {name: len(fake.requests) for name, fake in fakes.items()}
        assert sent["shopify"] <= 3 and sent["bigcommerce"] <= 2 and sent["woocommerce"] == 1
        assert sent["magento"] <= 2

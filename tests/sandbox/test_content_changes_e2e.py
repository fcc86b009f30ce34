"""End to end over loopback: a product's title, brand and photo changed in the POS reach the
channels on the next pass with one product write each, and no variant is re-sent (issue 17
#3)."""

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
        SerializedUnit(sku=SKU, serial=f"FS{i:05d}", price=Decimal("1299.00")) for i in range(5)
    )
    return Product(sku=SKU, title="Fender Stratocaster", price=Decimal("1299.00"), units=units)


def _titles(fakes: dict[str, Any]) -> dict[str, set[str]]:
    return {
        "shopify": {p.title for p in fakes["shopify"].catalog.products.values()},
        "bigcommerce": {p["name"] for p in fakes["bigcommerce"].products.values()},
        "woocommerce": {p["name"] for p in fakes["woocommerce"].products.values()},
        "magento": {
            p["name"]
            for p in fakes["magento"].products.values()
            if p.get("type_id") == "configurable"
        },
    }


def test_a_title_change_reaches_every_channel_with_one_product_write(tmp_path: Path) -> None:
    with Sandbox(catalogue=[_catalogue()]) as sandbox:
        fakes: dict[str, Any] = dict(sandbox.channel_fakes())
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        host = Host.from_settings(load_settings(config), sleep=lambda _s: None)
        with host:
            host.inventory_pass()
            assert all(t == {"Fender Stratocaster"} for t in _titles(fakes).values())
            pos: Any = sandbox.fakes["aim_pos"]  # the AIM fake's own editing methods
            pos.set_item_title(SKU, "Fender Stratocaster Relic")
            for fake in fakes.values():
                fake.requests.clear()

            summary = host.inventory_pass()

        assert summary.ok
        assert _titles(fakes) == {
            "shopify": {"Fender Stratocaster Relic"},
            "bigcommerce": {"Fender Stratocaster Relic"},
            "woocommerce": {"Fender Stratocaster Relic"},
            "magento": {"Fender Stratocaster Relic"},
        }
        # One product write each (Shopify: the lookup, then productUpdate; no variant query).
        writes = {
            name: [(m, p) for m, p in fakes[name].requests if m in ("PUT", "POST")]
            for name in ("bigcommerce", "woocommerce")
        }
        assert {name: len(w) for name, w in writes.items()} == {"bigcommerce": 1, "woocommerce": 1}
        assert len(fakes["shopify"].requests) == 2
        # Magento: the parent's name alone, no child re-sent, no stock re-asserted.
        assert [m for m, _ in fakes["magento"].requests] == ["PUT"]


def test_a_brand_and_a_product_photo_reach_the_channels_that_carry_them(
    tmp_path: Path,
) -> None:
    with Sandbox(catalogue=[_catalogue()]) as sandbox:
        fakes: dict[str, Any] = dict(sandbox.channel_fakes())
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        host = Host.from_settings(load_settings(config), sleep=lambda _s: None)
        with host:
            host.inventory_pass()
            pos: Any = sandbox.fakes["aim_pos"]  # the AIM fake's own editing methods
            pos.set_item_content(SKU, brand="Fender Custom Shop")
            for fake in fakes.values():
                fake.requests.clear()
            assert host.inventory_pass().ok
            [shopify_product] = fakes["shopify"].catalog.products.values()
            assert shopify_product.vendor == "Fender Custom Shop"
            [bigcommerce_id] = fakes["bigcommerce"].products
            assert fakes["bigcommerce"].brand_of(bigcommerce_id) == "Fender Custom Shop"
            assert len(fakes["bigcommerce"].requests) == 1
            [woo_product] = fakes["woocommerce"].products.values()
            assert [b["name"] for b in woo_product["brands"]] == ["Fender Custom Shop"]

            pos.set_item_content(SKU, images=("https://img.example/fs/catalogue.jpg",))
            for fake in fakes.values():
                fake.requests.clear()
            assert host.inventory_pass().ok
            assert [i["src"] for i in woo_product["images"]] == [
                "https://img.example/fs/catalogue.jpg"
            ]
            assert len(fakes["woocommerce"].requests) == 1
            # BigCommerce: its images read, the old one deleted, the new one added.
            assert fakes["bigcommerce"].image_sources(bigcommerce_id) == [
                "https://img.example/fs/catalogue.jpg"
            ]

"""End to end over loopback: one POS product with 700 serials, each with its own photo, listed
whole on all four channels within their real per-product limits (BigCommerce: 250 values per
option; Shopify: the shop's maxProductVariants, here 300), sold from a sibling and reported,
then shrunk to 100 units with no emptied sibling left and no stale option value, sold out
(hidden on every storefront) and shown again when a unit returns (issue 17, done when)."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from serialsync import Product, SerializedUnit
from serialsync.host import Host
from serialsync.sandbox import Sandbox
from serialsync.settings import load_settings
from serialsync.testing import FakeChannel

pytestmark = pytest.mark.e2e

SKU = "0113942719"
CHANNELS = ("shopify", "bigcommerce", "woocommerce", "magento")


def _catalogue(count: int) -> Product:
    units = tuple(
        SerializedUnit(
            sku=SKU,
            serial=f"FS{i:05d}",
            images=(f"https://img.example/fs/{i}.jpg",),
            price=Decimal("1299.00") + i,
            # Each unit shown as itself (issue 17 #2): its attributes travel with it, within
            # each platform's input caps and query costs.
            attributes={
                "Finish": ("Sunburst", "Black", "Olympic White")[i % 3],
                "Wood grain": f"Flame {i % 7}",
                "Body wood": "Alder",
                "Weight": f"{7 + i % 3}.{i % 10} lb",
            },
        )
        for i in range(count)
    )
    return Product(
        sku=SKU,
        title="Fender Stratocaster",
        price=Decimal("1299.00"),
        images=("https://img.example/fs/product.jpg",),
        units=units,
    )


def _live(sandbox: Sandbox, channel: str) -> Counter[str]:
    return Counter(
        listing.sku
        for listing in sandbox.channel_fakes()[channel].listings()
        if listing.stock > 0 and listing.sellable
    )


def _finishes(fakes: Any, unit: SerializedUnit) -> set[str]:
    """The unit's finish as each channel shows it (its variant's own field)."""
    sku = unit.integration_id
    (shopify,) = fakes["shopify"].variants_with_sku(sku)
    bigcommerce = next(v for v in fakes["bigcommerce"].variants.values() if v["sku"] == sku)
    woo = fakes["woocommerce"].variation_by_sku(sku)
    magento = fakes["magento"].product(sku)
    return {
        shopify.metafields[("serialsync", "finish")][1],
        next(
            m["value"]
            for m in fakes["bigcommerce"].metafields.of_variant(bigcommerce["id"])
            if m["key"] == "Finish"
        ),
        next(m["value"] for m in woo["meta_data"] if m["key"] == "serialsync_finish"),
        next(
            c["value"] for c in magento["custom_attributes"] if c["attribute_code"] == "pos_finish"
        ),
    }


def _open_host(sandbox: Sandbox, tmp_path: Path) -> Host:
    config = tmp_path / "serialsync.toml"
    config.write_text(sandbox.config_toml(tmp_path / "state.db"))
    return Host.from_settings(load_settings(config), sleep=lambda _s: None)


def test_700_serials_listed_whole_everywhere_then_shrunk_to_100_sold_out_and_back(
    tmp_path: Path,
) -> None:
    product = _catalogue(700)
    units = list(product.units)
    with Sandbox(catalogue=[product]) as sandbox:
        fakes = sandbox.channel_fakes()
        fakes["shopify"].max_variants = 300  # type: ignore[attr-defined]
        # The host sleeps no real time here: the bucket refills fast enough not to throttle
        # (pacing is tested elsewhere; this test is about the per-product limits).
        fakes["shopify"].restore_rate = 1_000_000.0  # type: ignore[attr-defined]
        host = _open_host(sandbox, tmp_path)
        host.inventory_pass()
        every = Counter(u.integration_id for u in units)
        for channel in CHANNELS:
            assert _live(sandbox, channel) == every, channel

        bigcommerce = fakes["bigcommerce"]
        names = sorted(p["name"] for p in bigcommerce.products.values())  # type: ignore[attr-defined]
        assert names == [
            "Fender Stratocaster",
            "Fender Stratocaster (2)",
            "Fender Stratocaster (3)",
        ]
        for option in bigcommerce.options.values():  # type: ignore[attr-defined]
            assert len(option["option_values"]) <= 250
        shopify = fakes["shopify"]
        sizes = sorted(
            len(p.variant_ids)
            for p in shopify.catalog.products.values()  # type: ignore[attr-defined]
        )
        assert sizes == [100, 300, 300]
        # Every unit's own photo reached Shopify.
        media = {m for p in shopify.catalog.products.values() for m in p.media}  # type: ignore[attr-defined]
        assert media >= {u.images[0] for u in units}
        # Every unit's own attributes reached every channel, siblings' units too.
        assert _finishes(fakes, units[650]) == {"Olympic White"}
        assert _finishes(fakes, units[3]) == {"Sunburst"}

        # A unit sold from a sibling maps back to its unit and is reported once.
        sold = units[650]
        bigcommerce.create_order([(sold.integration_id, 1)])
        host.order_pass()
        recorded = sandbox.pos_fakes()["aim_pos"].recorded_orders()
        assert [line[:2] for o in recorded for line in o.lines] == [(SKU, sold.serial)]
        for channel in CHANNELS:
            assert _live(sandbox, channel)[sold.integration_id] == 0, channel

        # 700 -> 100: the POS no longer offers the last 600.
        aim = sandbox.pos_fakes()["aim_pos"]
        for unit in units[100:]:
            if unit is not sold:
                aim.remove_unit(SKU, unit.serial)
        host.inventory_pass()
        kept = Counter(u.integration_id for u in units[:100])
        for channel in CHANNELS:
            assert _live(sandbox, channel) == kept, channel
        # No emptied sibling left, on either platform with siblings.
        assert [p["name"] for p in bigcommerce.products.values()] == ["Fender Stratocaster"]  # type: ignore[attr-defined]
        assert len(shopify.catalog.products) == 1  # type: ignore[attr-defined]
        # No orphan photo: the gallery holds the product's and the kept units' only.
        (left,) = shopify.catalog.products.values()  # type: ignore[attr-defined]
        assert sorted(left.media) == sorted(
            [product.images[0], *(u.images[0] for u in units[:100])]
        )
        # No stale option value: each belongs to a variant of its product.
        for option in bigcommerce.options.values():  # type: ignore[attr-defined]
            used = {
                ov["id"]
                for v in bigcommerce.variants.values()  # type: ignore[attr-defined]
                if v["product_id"] == option["product_id"]
                for ov in v["option_values"]
            }
            assert {v["id"] for v in option["option_values"]} <= used
        # Every product left is on show: it has units for sale.
        for channel in CHANNELS:
            assert set(fakes[channel].storefront().values()) == {True}, channel
        _assert_quiet(host, fakes)

        # The product's photo and brand and one unit's photo change in the POS: each channel
        # shows the new ones, and no old photo stays behind in Shopify's gallery.
        _photos_changed(host, sandbox, fakes, units[5])
        _assert_quiet(host, fakes)

        # Sold out: 99 sold at the counter, the last one online (withdrawn by the batched
        # withdrawal of the order pass): the product is hidden on every channel.
        for unit in units[1:100]:
            aim.mark_sold(SKU, unit.serial)  # type: ignore[attr-defined]
        host.inventory_pass()
        for channel in CHANNELS:
            assert set(fakes[channel].storefront().values()) == {True}, channel
        fakes["woocommerce"].create_order([(units[0].integration_id, 1)])
        host.order_pass()
        for channel in CHANNELS:
            assert _live(sandbox, channel) == Counter(), channel
            assert set(fakes[channel].storefront().values()) == {False}, channel
        _assert_quiet(host, fakes)

        # A unit returns to stock: listed, and its product shown again, everywhere.
        aim.set_status(SKU, units[7].serial, "Available")  # type: ignore[attr-defined]
        host.inventory_pass()
        for channel in CHANNELS:
            assert _live(sandbox, channel) == Counter([units[7].integration_id]), channel
            assert set(fakes[channel].storefront().values()) == {True}, channel
        _assert_quiet(host, fakes)
        host.close()


def _photos_changed(
    host: Host, sandbox: Sandbox, fakes: dict[str, FakeChannel], unit: SerializedUnit
) -> None:
    aim = sandbox.pos_fakes()["aim_pos"]
    new_product = "https://img.example/fs/product-2.jpg"
    new_unit = "https://img.example/fs/retake.jpg"
    aim.set_item_content(SKU, brand="Fender", images=(new_product,))  # type: ignore[attr-defined]
    aim.set_unit_content(SKU, unit.serial, images=(new_unit,))  # type: ignore[attr-defined]
    host.inventory_pass()
    sku = unit.integration_id

    shopify = fakes["shopify"]
    (listed,) = shopify.catalog.products.values()  # type: ignore[attr-defined]
    assert listed.vendor == "Fender"
    assert listed.media.count(new_product) == 1 and listed.media.count(new_unit) == 1
    assert "https://img.example/fs/product.jpg" not in listed.media
    assert unit.images[0] not in listed.media  # the unit's old photo: deleted, not orphaned
    (variant,) = shopify.variants_with_sku(sku)  # type: ignore[attr-defined]
    assert variant.image == new_unit

    bigcommerce = fakes["bigcommerce"]
    (product_id,) = bigcommerce.products  # type: ignore[attr-defined]
    assert bigcommerce.image_sources(product_id) == [new_product]  # type: ignore[attr-defined]
    (bc_variant,) = (v for v in bigcommerce.variants.values() if v["sku"] == sku)  # type: ignore[attr-defined]
    assert bc_variant["image_url"] == new_unit

    woo = fakes["woocommerce"]
    variation = woo.variation_by_sku(sku)  # type: ignore[attr-defined]
    assert variation["image"]["src"] == new_unit
    parent = woo.products[variation["parent_id"]]  # type: ignore[attr-defined]
    assert [i["src"] for i in parent["images"]] == [new_product]

    # The sandbox runs Magento without downloads (its photo URLs lead nowhere): the brand.
    magento = fakes["magento"].product(SKU)  # type: ignore[attr-defined]
    brands = [
        c["value"] for c in magento["custom_attributes"] if c["attribute_code"] == "pos_brand"
    ]
    assert brands == ["Fender"]


def _assert_quiet(host: Host, fakes: dict[str, FakeChannel]) -> None:
    """A further inventory pass writes nothing anywhere."""
    before = {n: len(f.requests) for n, f in fakes.items()}
    host.inventory_pass()
    for name, fake in fakes.items():
        new = fake.requests[before[name] :]
        writes = [r for r in new if r[0] in {"PUT", "DELETE", "PATCH"}]
        if name != "shopify":
            writes += [r for r in new if r[0] == "POST"]
        else:
            writes = new
        assert writes == [], (name, writes[:3])

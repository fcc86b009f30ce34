"""The two baseline scripts against the fakes: every unit listed, in the requests they claim.

The careful script is what serialsync's request counts are judged against, so its counts are
checked here (per product: Shopify 1, BigCommerce 1 + ceil(m/50) of m metafields, WooCommerce
1 + ceil(n/100), Magento n + 3; and per run the set-up each store needs once), and so is the
work it claims to do: every unit shown as serialsync shows it (issue 22 §3, issue 17).
"""

from __future__ import annotations

from typing import Any

import pytest
import serialsync as ss
from serialsync_bigcommerce import BigCommerceConnector, BigCommerceSettings
from serialsync_bigcommerce.fake import FakeBigCommerce
from serialsync_magento import MagentoConnector, MagentoSettings
from serialsync_magento.fake import FakeMagento
from serialsync_shopify import ShopifyConnector, ShopifySettings
from serialsync_shopify.fake import FakeShopify
from serialsync_woocommerce import WooCommerceConnector, WooCommerceSettings
from serialsync_woocommerce.fake import FakeWooCommerce

from bench.careful import run_careful
from bench.naive import run_naive
from bench.platforms import Limits, fake_options
from bench.sandbox_process import bench_catalogue
from bench.timescale import TimeScale
from tests.clocks import FakeClock

SKUS, UNITS = 3, 7
CONNECTORS: dict[str, tuple[Any, Any]] = {
    "shopify": (ShopifyConnector, ShopifySettings),
    "bigcommerce": (BigCommerceConnector, BigCommerceSettings),
    "woocommerce": (WooCommerceConnector, WooCommerceSettings),
    "magento": (MagentoConnector, MagentoSettings),
}


def _fake(name: str) -> Any:
    if name == "shopify":
        return FakeShopify()
    if name == "bigcommerce":
        return FakeBigCommerce()
    if name == "woocommerce":
        return FakeWooCommerce()
    return FakeMagento(serial_attribute="serial_number")


ATTRIBUTES = 4  # finish, wood grain, body wood, weight: every demo unit has each
BRANDS = 2  # the first three demo models are by Fender and Gibson
CAREFUL_REQUESTS = {
    # The location, and one definition per attribute, once; one productSet per product.
    "shopify": 1 + ATTRIBUTES + SKUS,
    # The product create, then its 7 x (4 attributes + summary) = 35 metafields in one batch.
    "bigcommerce": SKUS * 2,
    "woocommerce": BRANDS + SKUS * 2,
    # The serial attribute and the set's groups read; each attribute (the brand's too) made
    # and put in the set.
    "magento": 2 + 2 * (ATTRIBUTES + 1) + SKUS * (UNITS + 3),
}


@pytest.mark.parametrize("name", sorted(CAREFUL_REQUESTS))
def test_the_careful_script_lists_every_unit_in_its_documented_requests(name):
    fake = _fake(name)
    catalogue = bench_catalogue(skus=SKUS, units=UNITS, seed=7)
    section = fake.connector_settings(f"https://{fake.host}")
    run = run_careful(name, section, catalogue, TimeScale(1000.0), fake.transport())

    assert run["failed"] == 0 and run["throttled"] == 0
    assert len({p.brand for p in catalogue}) == BRANDS
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


def _shown(name: str, fake: Any, unit: ss.SerializedUnit) -> dict[str, Any]:
    """What the fake holds of one unit beyond its price and stock: its attributes (keyed as
    the platform holds them), and its summary and photo where the platform has them."""
    sku = unit.integration_id
    if name == "shopify":
        (variant,) = fake.variants_with_sku(sku)
        held = {k: v for (ns, k), (_, v) in variant.metafields.items() if ns == "serialsync"}
        return {**held, "photo": variant.image}
    if name == "bigcommerce":
        variant = next(v for v in fake.variants.values() if v["sku"] == sku)
        held = {m["key"]: m["value"] for m in fake.metafields.of_variant(variant["id"])}
        return {**held, "photo": variant["image_url"]}
    if name == "woocommerce":
        variation = fake.variation_by_sku(sku)
        held = {m["key"]: m["value"] for m in variation["meta_data"]}
        return {**held, "summary": variation["description"], "photo": variation["image"]["src"]}
    child = fake.product(sku)
    held = {c["attribute_code"]: c["value"] for c in child["custom_attributes"]}
    return {k: v for k, v in held.items() if k.startswith("pos_")}


def _publish_with_serialsync(name: str, fake: Any, catalogue: list[ss.Product]) -> None:
    connector, settings = CONNECTORS[name]
    raw = fake.connector_settings(f"https://{fake.host}")
    if name == "magento":
        raw = {**fake.connector_settings(f"http://{fake.host}"), "bulk": False}
    clock = FakeClock()
    context = ss.ConnectorContext(
        name=name, transport=fake.transport(), sleep=clock.sleep, clock=clock
    )
    plugin = connector(settings.model_validate(raw), context)
    for product in catalogue:
        changes = [ss.ListingChange(unit=u, action=ss.ListingAction.UPSERT) for u in product.units]
        outcomes = plugin.publish_variants(product, changes)
        assert {o.result for o in outcomes} == {ss.PublishResult.CREATED}


@pytest.mark.parametrize("name", sorted(CAREFUL_REQUESTS))
def test_the_careful_script_shows_each_unit_as_serialsync_does(name):
    """Issue 22 §3: the script serialsync is judged against does the same job: each unit's
    attributes (and summary and photo, where the platform holds them) as serialsync leaves
    them, not a bare variant."""
    catalogue = bench_catalogue(skus=SKUS, units=UNITS, seed=7)
    mine, script = _fake(name), _fake(name)
    _publish_with_serialsync(name, mine, catalogue)
    section = script.connector_settings(f"https://{script.host}")
    run_careful(name, section, catalogue, TimeScale(1000.0), script.transport())

    for unit in (u for p in catalogue for u in p.units):
        shown = _shown(name, script, unit)
        assert len([v for v in shown.values() if v]) >= ATTRIBUTES
        assert shown == _shown(name, mine, unit)


class _FrozenScale(TimeScale):
    """Platform time that moves only when slept on: the bucket refills by the waits alone."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float, name: str = "") -> None:
        self.slept[name] += seconds
        self.now += seconds


def test_the_careful_script_waits_for_shopifys_bucket_instead_of_being_refused():
    # 15 products of 20 pictured units with 4 attributes: about 96 points a productSet, 440
    # past the 1,000-point bucket; the fake's clock is the script's, as in the bench, and
    # moves only by the waits.
    scale = _FrozenScale()
    fake = FakeShopify(**fake_options("shopify", Limits(), scale))
    catalogue = bench_catalogue(skus=15, units=20, seed=7)
    section = fake.connector_settings(f"https://{fake.host}")
    run = run_careful("shopify", section, catalogue, scale, fake.transport())

    assert run["throttled"] == 0 and run["failed"] == 0
    assert run["requests"] == 1 + ATTRIBUTES + 15
    assert scale.slept["naive:shopify"] > 0

"""``serialsync reconcile`` against the channel fakes over loopback: drift made by hand through
the platform's own API, found by ``--dry-run`` (exit 1, nothing changed), repaired without it,
then ``--dry-run`` exits 0."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from serialsync import SerializedUnit
from serialsync.cli import app
from serialsync.cli.run import Reconciler
from serialsync.host import Host
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.settings import SyncSettings, load_settings
from serialsync_aim_pos.fake import FakeAim
from serialsync_bigcommerce.fake import FakeBigCommerce
from serialsync_magento.fake import FakeMagento
from serialsync_shopify.client import ShopifyClient
from serialsync_shopify.fake import FakeShopify
from serialsync_shopify.fake_catalog import PRIMARY_LOCATION
from serialsync_woocommerce.client import WooClient
from typer.testing import CliRunner

pytestmark = pytest.mark.e2e

runner = CliRunner()


def _sellable(sandbox: Sandbox, channel: str) -> dict[str, int]:
    """Integration id → how many sellable variants hold it."""
    found: dict[str, int] = {}
    for x in sandbox.channel_fakes()[channel].listings():
        if x.sellable and x.stock > 0:
            found[x.sku] = found.get(x.sku, 0) + 1
    return found


def _reconcile(config: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = runner.invoke(app, ["reconcile", "--json", "--config", str(config), *args])
    assert result.exit_code in (0, 1), result.output
    return result.exit_code, json.loads(result.stdout)


def _listed_then_one_sold(
    sandbox: Sandbox,
    config: Path,
    text: str,
    *,
    sold: SerializedUnit,
    never_listed: SerializedUnit,
) -> None:
    """Write ``text`` as ``config``; mark ``never_listed`` defective in the POS (serialsync
    never lists it); run once, sell ``sold`` on the sandbox's one channel, run again: the
    channel is in step, and a reconcile dry run finds nothing."""
    config.write_text(text)
    (pos,) = sandbox.pos_fakes().values()
    assert isinstance(pos, FakeAim)
    pos.set_status(never_listed.sku, never_listed.serial, "Defective")
    (fake,) = sandbox.channel_fakes().values()
    for step in range(2):
        if step:
            fake.create_order([(sold.integration_id, 1)])  # sold, then withdrawn
        done = runner.invoke(app, ["run", "--once", "--config", str(config)])
        assert done.exit_code == 0, done.output
    assert sold.integration_id not in _sellable(sandbox, next(iter(sandbox.channel_fakes())))
    code, report = _reconcile(config, "--dry-run")
    assert code == 0 and not report["drift_found"], report


def _found_then_repaired(
    sandbox: Sandbox,
    config: Path,
    channel: str,
    *,
    drift: set[tuple[str, str]],
    gone: tuple[SerializedUnit, ...],
    restored: tuple[SerializedUnit, ...],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The drift made by hand is found by a dry run (exit 1, exactly ``drift`` as (kind,
    integration id), nothing changed), repaired by a real run (exit 0: ``gone`` units are
    no longer sellable, ``restored`` ones sellable once), after which a dry run finds none.
    Returns the channel's report of the dry run and of the repair."""
    before = _sellable(sandbox, channel)
    code, report = _reconcile(config, "--dry-run", "--channel", channel)
    assert code == 1
    (found,) = report["channels"]
    assert {(d["kind"], d["integration_id"]) for d in found["drift"]} == drift
    assert _sellable(sandbox, channel) == before  # a dry run changes nothing

    code, report = _reconcile(config)
    (repair,) = report["channels"]
    assert code == 0, repair["repair_errors"]
    after = _sellable(sandbox, channel)
    for unit in gone:
        assert unit.integration_id not in after, unit.integration_id
    for unit in restored:
        assert after.get(unit.integration_id) == 1, unit.integration_id
    code, report = _reconcile(config, "--dry-run")
    assert code == 0, report
    return found, repair


def test_bigcommerce_drift_by_hand_is_found_then_repaired(tmp_path: Path) -> None:
    # No duplicate here: BigCommerce refuses a second variant with a SKU it holds (409).
    catalogue = demo_catalogue(seed=3, products=2, units_per_product=4)
    deleted, at_zero, retyped, _kept = catalogue[0].units
    sold, never_listed, *_rest = catalogue[1].units
    with Sandbox(catalogue=catalogue, types=["aim_pos", "bigcommerce"]) as sandbox:
        config = tmp_path / "serialsync.toml"
        text = sandbox.config_toml(tmp_path / "state.db")
        _listed_then_one_sold(sandbox, config, text, sold=sold, never_listed=never_listed)
        fake = sandbox.channel_fakes()["bigcommerce"]
        assert isinstance(fake, FakeBigCommerce)

        # Staff at work in the control panel (the same API it calls).
        base = sandbox.endpoints()["bigcommerce"].rstrip("/") + f"/stores/{fake.store_hash}"
        api = httpx.Client(base_url=base, headers={"X-Auth-Token": fake.access_token})
        variants = {v["sku"]: v for v in api.get("/v3/catalog/variants?limit=250").json()["data"]}
        gone = variants[deleted.integration_id]
        api.delete(f"/v3/catalog/products/{gone['product_id']}/variants/{gone['id']}")
        typo = f"{retyped.integration_id}X"
        changed = api.put(
            "/v3/catalog/variants",
            json=[
                {"id": variants[sold.integration_id]["id"], "inventory_level": 1},
                {"id": variants[at_zero.integration_id]["id"], "inventory_level": 0},
                {"id": variants[retyped.integration_id]["id"], "sku": typo},
            ],
        )
        assert changed.status_code == 200, changed.text
        # A variant added by hand for a unit serialsync never listed here (defective).
        home = variants[sold.integration_id]["product_id"]
        product = api.get(f"/v3/catalog/products/{home}?include=options").json()["data"]
        (option,) = product["options"]
        values = [{"id": v["id"], "label": v["label"]} for v in option["option_values"]]
        updated = api.put(
            f"/v3/catalog/products/{home}/options/{option['id']}",
            json={"option_values": [*values, {"label": never_listed.serial}]},
        )
        assert updated.status_code == 200, updated.text
        value = next(
            v for v in updated.json()["data"]["option_values"] if v["label"] == never_listed.serial
        )
        made = api.put(
            "/v3/catalog/variants",
            json=[
                {
                    "product_id": home,
                    "sku": never_listed.integration_id,
                    "inventory_level": 1,
                    "option_values": [{"id": value["id"], "option_id": option["id"]}],
                }
            ],
        )
        assert made.status_code == 200, made.text

        found, repair = _found_then_repaired(
            sandbox,
            config,
            "bigcommerce",
            drift={
                ("oversell", sold.integration_id),
                ("out-of-stock", at_zero.integration_id),
                ("missing", deleted.integration_id),
                ("missing", retyped.integration_id),
                ("orphan", typo),  # the POS knows no such unit: reported, not adopted
                ("orphan", never_listed.integration_id),
            },
            # never_listed is adopted, then withdrawn: it is defective.
            gone=(sold, never_listed),
            restored=(deleted, at_zero, retyped),
        )
        assert found["drift"][0]["kind"] == "oversell"  # the oversell waiting comes first
        assert repair["repaired"] is True
        # The retyped variant got its SKU back (its option value is the unit's serial).
        assert typo not in {v["sku"] for v in fake.variants.values()}


def test_the_run_loops_reconcile_repairs_an_oversell_from_its_second_turn(tmp_path: Path) -> None:
    assert SyncSettings().reconcile_every == timedelta(hours=6)
    catalogue = demo_catalogue(seed=4, products=1, units_per_product=2)
    sold = catalogue[0].units[0]
    with Sandbox(catalogue=catalogue, types=["aim_pos", "bigcommerce"]) as sandbox:
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        fake = sandbox.channel_fakes()["bigcommerce"]
        assert isinstance(fake, FakeBigCommerce)
        host = Host.from_settings(load_settings(config), sleep=lambda _s: None)
        try:
            host.run_once()
            fake.create_order([(sold.integration_id, 1)])
            host.order_pass()
            (variant,) = [v for v in fake.variants.values() if v["sku"] == sold.integration_id]
            base = sandbox.endpoints()["bigcommerce"].rstrip("/") + f"/stores/{fake.store_hash}"
            api = httpx.Client(base_url=base, headers={"X-Auth-Token": fake.access_token})
            api.put("/v3/catalog/variants", json=[{"id": variant["id"], "inventory_level": 1}])
            assert sold.integration_id in _sellable(sandbox, "bigcommerce")
            job = Reconciler(host)
            assert job() is None  # the first turn waits for the first inventory pass
            report = job()
            assert report is not None and report.channels[0].repaired
            assert [d.kind.value for d in report.channels[0].drifts] == ["oversell"]
            assert sold.integration_id not in _sellable(sandbox, "bigcommerce")
        finally:
            host.close()


def test_woocommerce_drift_by_hand_is_found_then_repaired(tmp_path: Path) -> None:
    # No duplicate here: WooCommerce refuses a SKU it holds (400 product_invalid_sku).
    catalogue = demo_catalogue(seed=6, products=2, units_per_product=4)
    deleted, at_zero, retyped, _kept = catalogue[0].units
    sold, never_listed, *_rest = catalogue[1].units
    with Sandbox(catalogue=catalogue, types=["aim_pos", "woocommerce"]) as sandbox:
        config = tmp_path / "serialsync.toml"
        text = sandbox.config_toml(tmp_path / "state.db")
        _listed_then_one_sold(sandbox, config, text, sold=sold, never_listed=never_listed)

        # Staff at work in wp-admin: the same REST API, signed as the shop's own key.
        host = Host.from_settings(load_settings(config), sleep=lambda _s: None)
        try:
            connector = host.plugins.connector("woocommerce").impl
            client: WooClient = connector.client  # type: ignore[attr-defined]
            by_sku = {
                v["sku"]: v
                for p, _pages in [client.products_page(1)]
                for product in p
                if product.get("type") == "variable"
                for v in client.list_variations(str(product["id"]))
            }
            for iid, update in (
                (sold.integration_id, {"stock_quantity": 1}),
                (at_zero.integration_id, {"stock_quantity": 0}),
            ):
                variation = by_sku[iid]
                client.batch_variations(
                    str(variation["parent_id"]), update=[{"id": variation["id"], **update}]
                )
            gone = by_sku[deleted.integration_id]
            client.batch_variations(str(gone["parent_id"]), delete=[int(gone["id"])])
            typo = f"{retyped.integration_id}X"
            changed = by_sku[retyped.integration_id]
            client.batch_variations(
                str(changed["parent_id"]), update=[{"id": changed["id"], "sku": typo}]
            )
            # A variation added by hand for a unit serialsync never listed here (defective):
            # its serial added to the parent's options first, as the admin does.
            home = str(by_sku[sold.integration_id]["parent_id"])
            parent = client.get_product(home)
            assert parent is not None
            attributes = [
                {**a, "options": [*a["options"], never_listed.serial]} if a.get("variation") else a
                for a in parent["attributes"]
            ]
            client.update_product(home, {"attributes": attributes})
            serial_name = next(a["name"] for a in attributes if a.get("variation"))
            made = client.batch_variations(
                home,
                create=[
                    {
                        "sku": never_listed.integration_id,
                        "regular_price": "10.00",
                        "manage_stock": True,
                        "stock_quantity": 1,
                        "attributes": [{"name": serial_name, "option": never_listed.serial}],
                    }
                ],
            )
            assert "error" not in str(made), made
        finally:
            host.close()

        _found_then_repaired(
            sandbox,
            config,
            "woocommerce",
            drift={
                ("oversell", sold.integration_id),
                ("out-of-stock", at_zero.integration_id),
                ("missing", deleted.integration_id),
                ("missing", retyped.integration_id),
                ("orphan", typo),  # the POS knows no such unit: reported, not adopted
                ("orphan", never_listed.integration_id),
            },
            gone=(sold, never_listed),  # never_listed adopted, then withdrawn: defective
            restored=(deleted, at_zero, retyped),
        )


def test_magento_drift_by_hand_is_found_then_repaired(tmp_path: Path) -> None:
    catalogue = demo_catalogue(seed=7, products=2, units_per_product=4)
    deleted, at_zero, retyped, _kept = catalogue[0].units
    sold, never_listed, *_rest = catalogue[1].units
    with Sandbox(catalogue=catalogue, types=["aim_pos", "magento"]) as sandbox:
        config = tmp_path / "serialsync.toml"
        text = sandbox.config_toml(tmp_path / "state.db")
        _listed_then_one_sold(sandbox, config, text, sold=sold, never_listed=never_listed)
        fake = sandbox.channel_fakes()["magento"]
        assert isinstance(fake, FakeMagento)
        assert never_listed.integration_id not in {x.sku for x in fake.listings()}

        # Staff at work through the REST API, with the store's own integration token.
        base = sandbox.endpoints()["magento"].rstrip("/") + "/rest/all/V1"
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {fake.token}"})
        assert api.delete(f"/products/{quote(deleted.integration_id, safe='')}").json() is True
        # A SKU cannot be changed through the REST API (a PUT ignores it): staff retype it in
        # the admin.
        typo = f"{retyped.integration_id}X"
        fake.retype_sku(retyped.integration_id, typo)
        stock = [
            {"sku": sold.integration_id, "source_code": "default", "quantity": 1, "status": 1},
            {"sku": at_zero.integration_id, "source_code": "default", "quantity": 0, "status": 0},
            {
                "sku": never_listed.integration_id,
                "source_code": "default",
                "quantity": 1,
                "status": 1,
            },
        ]
        made = api.post(
            "/products",
            json={
                "product": {
                    "sku": never_listed.integration_id,
                    "name": "Added by hand",
                    "attribute_set_id": 4,
                    "price": 10,
                    "status": 1,
                    "visibility": 1,
                    "type_id": "simple",
                }
            },
        )
        assert made.status_code == 200, made.text
        assert api.post("/inventory/source-items", json={"sourceItems": stock}).status_code == 200

        _found_then_repaired(
            sandbox,
            config,
            "magento",
            drift={
                ("oversell", sold.integration_id),
                ("out-of-stock", at_zero.integration_id),
                ("missing", deleted.integration_id),
                ("orphan", never_listed.integration_id),
                ("missing", retyped.integration_id),
                ("orphan", typo),  # the POS knows no such unit: reported, not adopted
            },
            gone=(sold, never_listed),  # never_listed adopted, then withdrawn: defective
            restored=(deleted, at_zero, retyped),
        )
        assert typo not in fake.products  # the retyped child is replaced by the unit's own


@pytest.mark.parametrize("read", ["paged", "bulk"])
def test_shopify_drift_by_hand_is_found_then_repaired(tmp_path: Path, read: str) -> None:
    catalogue = demo_catalogue(seed=8, products=2, units_per_product=5)
    deleted, at_zero, doubled, retyped, _kept = catalogue[0].units
    sold, never_listed, *_rest = catalogue[1].units
    with Sandbox(catalogue=catalogue, types=["aim_pos", "shopify"]) as sandbox:
        config = tmp_path / "serialsync.toml"
        text = sandbox.config_toml(tmp_path / "state.db")
        if read == "bulk":  # a "large" shop from the first variant: one bulk query operation
            section = "[connectors.shopify]\n"
            assert section in text
            text = text.replace(
                section, f"{section}listings_bulk_from = 1\nbulk_poll_interval = 0.05\n"
            )
        _listed_then_one_sold(sandbox, config, text, sold=sold, never_listed=never_listed)
        fake = sandbox.channel_fakes()["shopify"]
        assert isinstance(fake, FakeShopify)

        # Staff at work in the Shopify admin: the same GraphQL Admin API, the app's token.
        host = Host.from_settings(load_settings(config), sleep=lambda _s: None)
        try:
            client: ShopifyClient = host.plugins.connector("shopify").impl.client  # type: ignore[attr-defined]
            variants = {v.sku: v for v in fake.catalog.variants.values()}
            location = PRIMARY_LOCATION
            stock = [
                (variants[sold.integration_id], 1, 0),
                (variants[at_zero.integration_id], 0, 1),
            ]
            client.set_available(
                [
                    {
                        "inventoryItemId": v.inventory_item_id,
                        "locationId": location,
                        "quantity": quantity,
                        "changeFromQuantity": was,
                    }
                    for v, quantity, was in stock
                ],
                reason="correction",
            )
            gone = variants[deleted.integration_id]
            assert not client.variants_delete(gone.product_id, [gone.id])["userErrors"]
            typo = f"{retyped.integration_id}X"
            changed = variants[retyped.integration_id]
            answer = client.variants_update(
                changed.product_id, [{"id": changed.id, "inventoryItem": {"sku": typo}}]
            )
            assert not answer["userErrors"], answer
            twin = variants[doubled.integration_id]
            option = fake.catalog.products[twin.product_id].option_name
            for product_id, serial, iid in (
                (twin.product_id, f"{doubled.serial} copy", doubled.integration_id),
                (twin.product_id, never_listed.serial, never_listed.integration_id),
            ):
                made = client.variants_create(
                    product_id,
                    [
                        {
                            "optionValues": [{"optionName": option, "name": serial}],
                            "price": "10.00",
                            "inventoryPolicy": "DENY",
                            "inventoryItem": {"sku": iid, "tracked": True},
                            "inventoryQuantities": [
                                {"availableQuantity": 1, "locationId": location}
                            ],
                        }
                    ],
                    [],
                )
                assert not made["userErrors"], made
        finally:
            host.close()
        assert _sellable(sandbox, "shopify")[doubled.integration_id] == 2

        _found_then_repaired(
            sandbox,
            config,
            "shopify",
            drift={
                ("oversell", sold.integration_id),
                ("out-of-stock", at_zero.integration_id),
                ("missing", deleted.integration_id),
                ("duplicate", doubled.integration_id),
                ("orphan", never_listed.integration_id),
                ("missing", retyped.integration_id),
                ("orphan", typo),  # the POS knows no such unit: reported, not adopted
            },
            gone=(sold, never_listed),  # never_listed adopted, then withdrawn: defective
            restored=(deleted, at_zero, doubled, retyped),
        )
        # The retyped variant got its SKU back (its option value is the unit's serial).
        assert typo not in {v.sku for v in fake.catalog.variants.values()}
        ran = [op.status for op in fake.bulk.ops.values()]
        assert ran == (["COMPLETED"] * 4 if read == "bulk" else [])

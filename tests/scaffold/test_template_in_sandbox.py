"""A generated channel plugin works in the whole system: the sandbox serves its fake over real
HTTP on loopback, and the host's passes list units on it and report its orders to the POS."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from serialsync.host import Host
from serialsync.manager import PluginManager
from serialsync.model import FinancialStatus
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.scaffold import new_plugin
from serialsync.settings import load_settings

NAME = "sandboxed"


@pytest.fixture
def generated_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    root = new_plugin(NAME, tmp_path / "src-root")
    monkeypatch.syspath_prepend(str(root / "src"))
    yield importlib.import_module(f"serialsync_{NAME}.plugin")
    for module in [m for m in sys.modules if m.startswith(f"serialsync_{NAME}")]:
        del sys.modules[module]


@pytest.mark.e2e
def test_a_generated_channel_runs_in_the_sandbox(
    tmp_path: Path, generated_plugin: ModuleType
) -> None:
    catalogue = demo_catalogue(products=2, units_per_product=3)
    plugins = {NAME: generated_plugin}
    manager = PluginManager(plugins=plugins)
    with Sandbox(catalogue=catalogue, types=["aim_pos", NAME], plugins=manager) as sandbox:
        assert sandbox.endpoints()[NAME].startswith("http://127.0.0.1:")
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        fake = sandbox.channel_fakes()[NAME]
        with Host.from_settings(load_settings(config), plugins=plugins) as host:
            inventory = host.inventory_pass()
            assert inventory.ok, inventory.as_dict()
            units = [u for p in catalogue for u in p.units]
            assert inventory.counts(NAME).created == len(units)
            assert sorted(listing.sku for listing in fake.listings()) == sorted(
                u.integration_id for u in units
            )

            sold = units[0]
            fake.create_order([(sold.integration_id, 1)], status=FinancialStatus.PAID)
            orders = host.order_pass()
            assert orders.ok, orders.as_dict()
            assert orders.total("sales_reported") == 1
            [recorded] = sandbox.pos_fakes()["aim_pos"].recorded_orders()
            assert recorded.lines == ((sold.sku, sold.serial, 1),)

            # An unchanged catalogue costs the channel no write.
            before = len(fake.requests)
            again = host.inventory_pass()
            assert again.counts(NAME).published == 0
            assert [r for r in fake.requests[before:] if r[0] != "GET"] == []

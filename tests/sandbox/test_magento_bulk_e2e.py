"""Magento's first publish over real HTTP: a first product's children by async bulk while the
store's consumers run (the next synchronously, measuring that path's pace), the synchronous
path once a first bulk shows they do not; every unit listed either way, and each the store
records live is for sale on the fake."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from serialsync.host import Host
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.settings import load_settings
from serialsync.store import ListingState

pytestmark = pytest.mark.e2e


def _host(sandbox: Sandbox, tmp_path: Path) -> Host:
    config = tmp_path / "serialsync.toml"
    config.write_text(
        sandbox.config_toml(tmp_path / "state.db").replace(
            '[connectors.magento]\nplugin = "magento"\n',
            '[connectors.magento]\nplugin = "magento"\nbulk_detect_timeout = 1.0\n',
        )
    )
    # Real sleeps: the bulk's waits are short, and the consumers' clock is the real one.
    return Host.from_settings(load_settings(config), sleep=time.sleep)


def _check_listed(host: Host, fake: Any, catalogue: Any) -> None:
    sellable = {x.sku for x in fake.listings() if x.stock > 0 and x.sellable}
    for product in catalogue:
        listings = host.store.listings_of("magento", product.sku)
        for unit in product.units:
            assert listings[unit.serial].state == ListingState.LIVE, unit.serial
            assert unit.integration_id in sellable, unit.serial


@pytest.mark.parametrize("consumers", [1, 0])
def test_a_first_publish_by_bulk_or_without_consumers_synchronously(
    tmp_path: Path, consumers: int
) -> None:
    catalogue = demo_catalogue(seed=5, products=2, units_per_product=8)
    with Sandbox(catalogue=catalogue, types=["aim_pos", "magento"]) as sandbox:
        fake: Any = sandbox.channel_fakes()["magento"]
        fake.consumers = consumers
        host = _host(sandbox, tmp_path)
        try:
            host.inventory_pass()
            _check_listed(host, fake, catalogue)
            connector: Any = host.plugins.connector("magento").impl
            if consumers:
                # The first product's eight children by bulk, every operation done; the
                # second's synchronously ('auto' measures both paths, by turns, before it
                # chooses by their pace).
                (bulk,) = fake.bulks.values()
                assert [op["status"] for op in bulk["operations"]] == [1] * 8
                assert connector.bulk.consumers is True
                assert connector.bulk.pace.learning is True  # the bulk's turn next
            else:
                # The first product's bulk stayed open and was saved synchronously; the
                # second product went synchronously at once.
                assert len(fake.bulks) == 1
                assert connector.bulk.consumers is False
            fake.requests.clear()
            host.inventory_pass()
            assert fake.requests == []  # nothing left to send
        finally:
            host.close()

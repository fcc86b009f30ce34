"""Sibling products: a POS product continued past a channel's per-product capacity."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from serialsync import (
    ListingChange,
    Product,
    PublishOutcome,
    RemoteIds,
    hookimpl,
)
from serialsync.host import Host
from serialsync.manager import PluginManager
from serialsync.settings import SyncSettings
from serialsync.store import SQLiteStore

from tests.engine.memory import CHANNEL_TYPE, POS_TYPE, MemoryChannel, MemoryPos

SKU = "0113942719"


class CappedChannel(MemoryChannel):
    """A memory shop whose products hold at most ``capacity`` units, one product per
    ``listing_sku``; it deletes a retired product."""

    def __init__(self, capacity: int) -> None:
        super().__init__()
        self.capacity = capacity
        self.titles: dict[str, str] = {}
        self.retired: list[str] = []
        self.calls: list[tuple[str, int]] = []

    @hookimpl
    def product_capacity(self, connector: str) -> int:
        return self.capacity

    @hookimpl
    def retire_product(self, connector: str, product: Product, remote: RemoteIds) -> bool:
        self.retired.append(product.listing_sku)
        self.titles.pop(product.listing_sku, None)
        for sku in [s for s, v in self.variants.items() if v["product"] == product.listing_sku]:
            del self.variants[sku]
        return True

    @hookimpl
    def publish_variants(
        self, connector: str, product: Product, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        self.titles[product.listing_sku] = product.title
        self.calls.append((product.listing_sku, len(changes)))
        outcomes = MemoryChannel.publish_variants(self, connector, product, changes)
        answered = []
        for outcome in outcomes:
            iid = f"{outcome.sku}|||{outcome.serial}"
            if iid in self.variants:
                self.variants[iid]["product"] = product.listing_sku
            remote = RemoteIds(product_id=product.listing_sku, variant_id=iid)
            answered.append(outcome.model_copy(update={"remote": remote}))
        held = Counter(v["product"] for v in self.variants.values())
        assert max(held.values(), default=0) <= self.capacity, "a product past its capacity"
        return answered

    def products(self, *, live: bool = True) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for iid, variant in self.variants.items():
            if variant["stock"] > 0 or not live:
                out.setdefault(variant["product"], set()).add(iid.split("|||")[1])
        return out


def _host(tmp_path: Path, channel: CappedChannel, sync: SyncSettings | None = None):
    pos = MemoryPos()
    manager = PluginManager(load_entrypoints=False)
    manager.add_connector_instance("aim", POS_TYPE, pos)
    manager.add_connector_instance("shop", CHANNEL_TYPE, channel)
    store = SQLiteStore.open(tmp_path / "state.db")
    clock = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    host = Host(
        plugins=manager, store=store, sync=sync or SyncSettings(workers=1), now=lambda: clock
    )
    return host, pos


def _serials(count: int, prefix: str = "S") -> list[str]:
    return [f"{prefix}{i:03d}" for i in range(count)]


def test_units_past_the_capacity_continue_in_titled_siblings(tmp_path: Path) -> None:
    shop = CappedChannel(capacity=3)
    host, pos = _host(tmp_path, shop)
    pos.add_product(SKU, _serials(7))
    host.inventory_pass()
    assert shop.products() == {
        SKU: {"S000", "S001", "S002"},
        f"{SKU}|||2|||": {"S003", "S004", "S005"},
        f"{SKU}|||3|||": {"S006"},
    }
    assert shop.titles[f"{SKU}|||2|||"] == f"Guitar {SKU} (2)"
    shop.calls.clear()
    host.inventory_pass()
    assert shop.calls == []  # placed units stay put: nothing to send


def test_a_unit_stays_in_its_part_and_new_units_fill_the_lowest_part_with_room(
    tmp_path: Path,
) -> None:
    shop = CappedChannel(capacity=3)
    host, pos = _host(tmp_path, shop)
    pos.add_product(SKU, _serials(7))
    host.inventory_pass()
    pos.delete_unit(SKU, "S001")  # room in part 1
    host.inventory_pass()
    pos.set_unit(SKU, "NEW1")
    host.inventory_pass()
    products = shop.products()
    assert products[SKU] == {"S000", "S002", "NEW1"}
    assert products[f"{SKU}|||2|||"] == {"S003", "S004", "S005"}  # nobody moved
    assert products[f"{SKU}|||3|||"] == {"S006"}


def test_an_emptied_sibling_is_retired_once(tmp_path: Path) -> None:
    shop = CappedChannel(capacity=3)
    host, pos = _host(tmp_path, shop)
    pos.add_product(SKU, _serials(7))
    host.inventory_pass()
    for serial in ("S003", "S004", "S005", "S006"):
        pos.delete_unit(SKU, serial)
    host.inventory_pass()
    assert sorted(shop.retired) == [f"{SKU}|||2|||", f"{SKU}|||3|||"]
    assert shop.products(live=False) == {SKU: {"S000", "S001", "S002"}}
    host.inventory_pass()
    assert len(shop.retired) == 2
    # A unit that comes back starts a sibling again if part 1 is full.
    pos.set_unit(SKU, "S003")
    host.inventory_pass()
    assert shop.products()[f"{SKU}|||2|||"] == {"S003"}


def test_the_operator_names_the_siblings(tmp_path: Path) -> None:
    shop = CappedChannel(capacity=2)
    sync = SyncSettings(workers=1, sibling_title="{title} - lot {n} ({sku})")
    host, pos = _host(tmp_path, shop, sync)
    pos.add_product(SKU, _serials(3))
    host.inventory_pass()
    assert shop.titles[f"{SKU}|||2|||"] == f"Guitar {SKU} - lot 2 ({SKU})"


@pytest.mark.parametrize("bad", ["{title}", "{title} {part}", "{"])
def test_a_sibling_title_without_n_or_with_unknown_fields_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="sibling_title"):
        SyncSettings(sibling_title=bad)


def test_a_channel_without_capacity_keeps_one_product(tmp_path: Path) -> None:
    shop = MemoryChannel()
    pos = MemoryPos()
    manager = PluginManager(load_entrypoints=False)
    manager.add_connector_instance("aim", POS_TYPE, pos)
    manager.add_connector_instance("shop", CHANNEL_TYPE, shop)
    host = Host(plugins=manager, store=SQLiteStore.open(tmp_path / "s.db"), sync=SyncSettings())
    pos.add_product(SKU, _serials(20))
    host.inventory_pass()
    assert {v["product"] for v in shop.variants.values()} == {SKU}

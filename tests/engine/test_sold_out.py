"""A sold-out product (issue 17 #4): hidden from the storefront while none of its units is for
sale, shown again when one returns; ``[sync] sold_out = "show"`` keeps it visible. The state is
the engine's, so withdrawals batched by ``withdraw_units`` hide it too."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import pytest
from serialsync import (
    ListingChange,
    Product,
    PublishOutcome,
    PublishResult,
    RemoteIds,
    RetryableRemoteError,
    hookimpl,
)
from serialsync.host import Host
from serialsync.manager import PluginManager
from serialsync.settings import SyncSettings
from serialsync.store import SQLiteStore

from tests.engine.memory import CHANNEL_TYPE, POS_TYPE, MemoryChannel, MemoryPos
from tests.engine.test_siblings import CappedChannel

SKU = "0113942719"
T = TypeVar("T")


class ShowingChannel(CappedChannel):
    """A capped memory shop that can hide a product, withdraws in batches, and (when
    ``retires``) deletes an emptied sibling."""

    def __init__(self, capacity: int = 1000, *, retires: bool = True) -> None:
        super().__init__(capacity)
        self.retires = retires
        self.hidden: set[str] = set()
        self.visibility_calls: list[tuple[str, bool]] = []
        self.batches = 0
        self.fail_visibility = 0

    @hookimpl
    def retire_product(self, connector: str, product: Product, remote: RemoteIds) -> bool:
        if not self.retires:
            return False
        return CappedChannel.retire_product(self, connector, product, remote)

    @hookimpl
    def set_product_visibility(
        self, connector: str, product: Product, remote: RemoteIds, visible: bool
    ) -> bool:
        assert remote.product_id == product.listing_sku  # the ids of the product named
        if self.fail_visibility:
            self.fail_visibility -= 1
            raise RetryableRemoteError("shop: 503 Service Unavailable")
        self.visibility_calls.append((product.listing_sku, visible))
        if visible:
            self.hidden.discard(product.listing_sku)
        else:
            self.hidden.add(product.listing_sku)
        return True

    @hookimpl
    def withdraw_units(
        self, connector: str, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        self.batches += 1
        outcomes = []
        for change in changes:
            variant = self.variants.get(change.unit.integration_id)
            if variant is not None:
                variant["stock"] = 0
            outcomes.append(
                PublishOutcome(
                    sku=change.unit.sku,
                    serial=change.unit.serial,
                    result=PublishResult.WITHDRAWN,
                    remote=change.remote,
                )
            )
        return outcomes

    def shown(self) -> set[str]:
        """The products a shopper sees: those with a variant, not hidden."""
        return {v["product"] for v in self.variants.values()} - self.hidden


def _host(
    tmp_path: Path, channel: MemoryChannel, sync: SyncSettings | None = None
) -> tuple[Host, MemoryPos]:
    pos = MemoryPos()
    manager = PluginManager(load_entrypoints=False)
    manager.add_connector_instance("aim", POS_TYPE, pos)
    manager.add_connector_instance("shop", CHANNEL_TYPE, channel)
    clock = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    host = Host(
        plugins=manager,
        store=SQLiteStore.open(tmp_path / "state.db"),
        sync=sync or SyncSettings(workers=1),
        now=lambda: clock,
    )
    return host, pos


def test_a_product_sold_out_by_orders_is_hidden_and_shown_again_when_a_unit_returns(
    tmp_path: Path,
) -> None:
    shop = ShowingChannel()
    host, pos = _host(tmp_path, shop)
    pos.add_product(SKU, ["S1", "S2"])
    pos.add_product("OTHER", ["X1"])
    host.inventory_pass()
    assert shop.visibility_calls == []  # created visible: nothing to ask
    shop.place_order([(f"{SKU}|||S1", 1)])
    host.order_pass()
    assert shop.hidden == set()  # S2 is still for sale
    shop.place_order([(f"{SKU}|||S2", 1)])
    summary = host.order_pass()
    # Withdrawn in a batch, hidden in the same order pass, once; the other product untouched.
    assert shop.batches == 2 and summary.ok
    assert shop.visibility_calls == [(SKU, False)]
    assert shop.shown() == {"OTHER"}
    host.inventory_pass()
    host.order_pass()
    assert shop.visibility_calls == [(SKU, False)]  # remembered: not asked again
    pos.set_unit(SKU, "S3")  # a unit returns
    host.inventory_pass()
    assert shop.visibility_calls == [(SKU, False), (SKU, True)]
    assert shop.shown() == {SKU, "OTHER"}
    assert shop.live() == {f"{SKU}|||S3", "OTHER|||X1"}


def test_a_burst_settles_only_the_products_it_sells_out_with_a_few_reads_not_two_each(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serialsync.engine import visibility

    monkeypatch.setattr(visibility, "SETTLE_CHUNK", 2)  # three products: two reads of each
    shop = ShowingChannel()
    host, pos = _host(tmp_path, shop)
    skus = [f"P{n}" for n in range(5)]
    for sku in skus:
        pos.add_product(sku, [f"{sku}-1", f"{sku}-2"])
    host.inventory_pass()
    store = host.store
    reads: Counter[str] = Counter()
    for name in ("visibility_of", "visibility_of_skus", "listings_of_skus"):
        monkeypatch.setattr(store, name, _counted(reads, name, getattr(store, name)))
    # P0, P2 and P4 sell out, P1 and P3 keep a unit.
    shop.place_order([(f"{sku}|||{sku}-1", 1) for sku in skus])
    shop.place_order([(f"{sku}|||{sku}-2", 1) for sku in skus[::2]])
    summary = host.order_pass()
    assert summary.ok and shop.batches == 1
    assert sorted(shop.visibility_calls) == [("P0", False), ("P2", False), ("P4", False)]
    assert shop.shown() == {"P1", "P3"}
    # P1 and P3 still sell a unit: not read again (nothing to show or hide). The settle reads
    # listings twice (its two chunks); the withdrawal's plan read all five products' once.
    assert reads == {"visibility_of_skus": 2, "listings_of_skus": 2 + 1}


def _counted(reads: Counter[str], name: str, read: Callable[..., T]) -> Callable[..., T]:
    def counted(*args: object) -> T:
        reads[name] += 1
        return read(*args)

    return counted


def test_sold_out_show_keeps_the_product_visible_and_brings_back_a_hidden_one(
    tmp_path: Path,
) -> None:
    shop = ShowingChannel()
    host, pos = _host(tmp_path, shop)
    pos.add_product(SKU, ["S1"])
    host.inventory_pass()
    pos.delete_unit(SKU, "S1")
    host.inventory_pass()
    assert shop.hidden == {SKU}
    # The operator changes their mind: sold-out products stay visible.
    host.engine.sync = SyncSettings(workers=1, sold_out="show")
    host.inventory_pass()
    assert shop.hidden == set() and shop.visibility_calls == [(SKU, False), (SKU, True)]
    pos.add_product("OTHER", ["X1"])
    host.inventory_pass()
    pos.delete_unit("OTHER", "X1")
    host.inventory_pass()
    assert shop.visibility_calls == [(SKU, False), (SKU, True)]


def test_an_emptied_sibling_is_hidden_when_the_channel_cannot_delete_it(tmp_path: Path) -> None:
    shop = ShowingChannel(capacity=3, retires=False)
    host, pos = _host(tmp_path, shop)
    pos.add_product(SKU, ["S1", "S2", "S3", "S4", "S5"])
    host.inventory_pass()
    part2 = f"{SKU}|||2|||"
    assert shop.shown() == {SKU, part2}
    for serial in ("S4", "S5"):
        pos.delete_unit(SKU, serial)
    host.inventory_pass()
    assert shop.shown() == {SKU}  # no empty sibling left visible
    assert shop.visibility_calls == [(part2, False)]
    pos.set_unit(SKU, "S6")  # part 1 is full: the new unit fills part 2, shown again
    host.inventory_pass()
    assert shop.shown() == {SKU, part2}
    assert shop.visibility_calls == [(part2, False), (part2, True)]


def test_a_retired_sibling_costs_no_visibility_call(tmp_path: Path) -> None:
    shop = ShowingChannel(capacity=2)
    host, pos = _host(tmp_path, shop)
    pos.add_product(SKU, ["S1", "S2", "S3"])
    host.inventory_pass()
    pos.delete_unit(SKU, "S3")
    host.inventory_pass()
    host.inventory_pass()
    assert shop.retired == [f"{SKU}|||2|||"]
    assert shop.visibility_calls == []
    pos.set_unit(SKU, "S4")  # a new sibling product, created visible
    host.inventory_pass()
    assert shop.shown() == {SKU, f"{SKU}|||2|||"} and shop.visibility_calls == []


def test_a_failed_hide_is_counted_and_tried_again_next_pass(tmp_path: Path) -> None:
    shop = ShowingChannel()
    host, pos = _host(tmp_path, shop)
    pos.add_product(SKU, ["S1"])
    host.inventory_pass()
    pos.delete_unit(SKU, "S1")
    shop.fail_visibility = 1
    summary = host.inventory_pass()
    assert not summary.ok and "503" in summary.counts("shop").errors[0]
    assert shop.hidden == set()
    assert host.inventory_pass().ok
    assert shop.hidden == {SKU}


def test_a_plugin_without_the_hook_keeps_working(tmp_path: Path) -> None:
    shop = MemoryChannel()
    host, pos = _host(tmp_path, shop)
    pos.add_product(SKU, ["S1"])
    host.inventory_pass()
    pos.delete_unit(SKU, "S1")
    assert host.inventory_pass().ok
    assert shop.live() == set()
    assert host.store.visibility_of("shop", SKU) == {}

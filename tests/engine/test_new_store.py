"""A new store (a lost one started again) reads each channel's recent orders before it
publishes anything there, as far back as ``sync.order_lookback`` (issue 15 #10)."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from serialsync import ConfigurationError, RetryableRemoteError, StoreError, UnitStatus
from serialsync.host import Host
from serialsync.settings import SyncSettings, load_settings
from serialsync.store import OutboxState, SQLiteStore

from tests.engine.conftest import World, build_world

GUITAR = "0113942719|||US210033734"
RESERVED = "0113942719|||US210033735"


def sold_then_lost(tmp_path: Path, *, lookback: timedelta) -> tuple[World, str]:
    """A guitar sold on shop_a and reported; then the store is lost and started anew."""
    world = build_world(tmp_path, sync=SyncSettings(workers=1, order_lookback=lookback))
    world.pos.add_product("0113942719", ["US210033734", "US210033735", "US210033736"])
    world.host.run_once()
    order_id = world.a.place_order([(GUITAR, 1)])
    world.host.run_once()
    assert GUITAR not in world.a.live() | world.b.live()
    world.store.close()
    (tmp_path / "state.db").unlink()
    with pytest.raises(StoreError, match="--new-store"):
        SQLiteStore.open(tmp_path / "state.db")
    world.store = SQLiteStore.open(tmp_path / "state.db", new=True)
    world.host = Host(
        plugins=world.host.plugins,
        store=world.store,
        sync=world.host.engine.sync,
        now=lambda: world.clock[0],
    )
    return world, order_id


def order_time(world: World, order_id: str) -> datetime:
    return datetime.fromisoformat(world.a.state["orders"][order_id]["updated_at"])


def test_the_first_inventory_pass_reads_recent_orders_before_it_publishes(tmp_path: Path) -> None:
    world, order_id = sold_then_lost(tmp_path, lookback=timedelta(days=30))
    world.clock[0] = order_time(world, order_id) + timedelta(days=29)
    calls = world.pos.state["calls"]

    world.host.inventory_pass()

    assert GUITAR not in world.a.live() | world.b.live()  # never put back on sale
    assert world.store.get_unit("US210033734").status == UnitStatus.SOLD  # type: ignore[union-attr]
    assert "0113942719|||US210033736" in world.b.live()  # the rest is listed
    world.host.order_pass()
    record = world.store.get_outbox("shop_a", order_id)
    assert record is not None and record.state == OutboxState.REPORTED
    assert world.pos.state["calls"] == calls + 1  # one idempotent report: nothing recorded twice
    assert len(world.pos.orders) == 1
    world.store.close()


def test_a_channel_whose_first_read_fails_is_not_published_to(tmp_path: Path) -> None:
    world, order_id = sold_then_lost(tmp_path, lookback=timedelta(days=30))
    world.clock[0] = order_time(world, order_id) + timedelta(days=1)
    world.b.fetch_failures.append(RetryableRemoteError("shop_b is down"))
    summary = world.host.inventory_pass()
    assert world.store.get_cursor("shop_b", "orders") is None
    assert summary.counts("shop_b").created == 0  # waits until its orders are read
    assert GUITAR not in world.b.live()
    assert "0113942719|||US210033736" in world.a.live()
    world.host.inventory_pass()  # shop_b answers again: read, then published
    assert world.store.get_cursor("shop_b", "orders") is not None
    assert GUITAR not in world.b.live()
    world.store.close()


def test_orders_older_than_the_look_back_are_not_read(tmp_path: Path) -> None:
    world, order_id = sold_then_lost(tmp_path, lookback=timedelta(days=2))
    world.clock[0] = order_time(world, order_id) + timedelta(days=3)
    world.host.order_pass()
    assert world.store.get_outbox("shop_a", order_id) is None
    cursor = world.store.get_cursor("shop_a", "orders")
    # Read once, nothing found: the cursor says so, at the start of the window.
    assert cursor == (world.clock[0] - timedelta(days=2)).isoformat()
    world.store.close()


def test_the_look_back_is_set_in_sync_and_is_30_days_by_default(tmp_path: Path) -> None:
    assert SyncSettings().order_lookback == timedelta(days=30)
    config = tmp_path / "serialsync.toml"
    config.write_text("[sync]\norder_lookback = 86400\n")
    assert load_settings(config).sync.order_lookback == timedelta(days=1)
    config.write_text("[sync]\norder_lookback = 0\n")
    with pytest.raises(ConfigurationError, match="order_lookback"):
        load_settings(config)

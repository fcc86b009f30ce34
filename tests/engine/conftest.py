"""A small world for engine tests: one memory POS, two memory channels, a real store (SQLite
unless a test asks for another backend)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from serialsync.host import Host
from serialsync.manager import PluginManager
from serialsync.settings import SyncSettings
from serialsync.store.sql import SQLStore

from tests.engine.memory import CHANNEL_TYPE, POS_TYPE, MemoryChannel, MemoryPos
from tests.history import assert_history_follows_the_lifecycle
from tests.stores import StoreSpec


@dataclass
class World:
    host: Host
    pos: MemoryPos
    a: MemoryChannel
    b: MemoryChannel
    store: SQLStore
    clock: list[datetime]
    spec: StoreSpec | None = None  # None: the SQLite file the store was opened from

    def advance(self, **delta: float) -> None:
        self.clock[0] += timedelta(**delta)

    def reopen(self, checkpoint: Callable[[str], None] | None = None) -> None:
        """A new runner on the same store and platforms (what a restart is)."""
        self.host.store.close()
        spec = self.spec or StoreSpec("sqlite", Path(self.store.location))
        self.store = spec.open()
        self.host = Host(
            plugins=self.host.plugins,
            store=self.store,
            sync=self.host.engine.sync,
            now=lambda: self.clock[0],
            checkpoint=checkpoint,
        )


def build_world(
    path: Path,
    *,
    sync: SyncSettings | None = None,
    files: bool = False,
    spec: StoreSpec | None = None,
) -> World:
    pos = MemoryPos(path / "pos.json" if files else None)
    a = MemoryChannel(path / "a.json" if files else None)
    b = MemoryChannel(path / "b.json" if files else None)
    manager = PluginManager(load_entrypoints=False)
    manager.add_connector_instance("aim", POS_TYPE, pos)
    manager.add_connector_instance("shop_a", CHANNEL_TYPE, a)
    manager.add_connector_instance("shop_b", CHANNEL_TYPE, b)
    spec = spec or StoreSpec("sqlite", path / "state.db")
    store = spec.open()
    clock = [datetime(2026, 11, 23, 9, 0, tzinfo=UTC)]
    host = Host(
        plugins=manager,
        store=store,
        sync=sync or SyncSettings(workers=1),
        now=lambda: clock[0],
    )
    return World(host, pos, a, b, store, clock, spec)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path)
    w.pos.add_product("0113942719", ["US210033734", "US210033735", "US210033736"])
    w.pos.add_product("0113942720", ["MX1001", "MX1002"], price="1499.00")
    yield w
    # Every test of the engine ends with a history that follows the lifecycle (issue 15 #15).
    assert_history_follows_the_lifecycle(w.host.store)
    w.host.store.close()

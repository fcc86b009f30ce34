"""A full resync (issue 23 #2): the whole POS catalogue re-read, ignoring the cursor, on demand
(``run --full``) and every ``[sync] full_resync_every``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from serialsync.settings import SyncSettings

from tests.engine.conftest import World, build_world
from tests.history import assert_history_follows_the_lifecycle

KEY = "0113942719\x00US210033734"
VARIANT = "0113942719|||US210033734"


def _edit_missed_by_the_cursor(world: World) -> None:
    # A serial edited without its change date moving: an incremental read cannot see it.
    world.pos.state["units"][KEY]["price"] = "1234.50"


@pytest.fixture
def daily(tmp_path: Path) -> Iterator[World]:
    w = build_world(tmp_path, sync=SyncSettings(workers=1, full_resync_every=timedelta(hours=6)))
    w.pos.add_product("0113942719", ["US210033734", "US210033735"])
    yield w
    assert_history_follows_the_lifecycle(w.host.store)
    w.host.store.close()


def test_an_edit_the_cursor_missed_is_caught_by_a_full_pass_only(world: World) -> None:
    world.host.inventory_pass()
    price = world.a.variants[VARIANT]["price"]
    _edit_missed_by_the_cursor(world)
    world.advance(minutes=5)

    world.host.inventory_pass()
    assert world.a.variants[VARIANT]["price"] == price  # the incremental read missed it

    world.host.inventory_pass(full=True)
    assert world.a.variants[VARIANT]["price"] == "1234.50"
    assert world.b.variants[VARIANT]["price"] == "1234.50"


def test_a_full_pass_is_made_on_its_own_once_full_resync_every_has_passed(daily: World) -> None:
    daily.host.inventory_pass()  # the first read is whole, and counts as one
    _edit_missed_by_the_cursor(daily)
    daily.advance(hours=5)
    daily.host.inventory_pass()
    assert daily.a.variants[VARIANT]["price"] != "1234.50"

    daily.advance(hours=1)
    daily.host.inventory_pass()
    assert daily.a.variants[VARIANT]["price"] == "1234.50"


def test_a_full_pass_never_moves_the_cursor_back(world: World) -> None:
    world.host.inventory_pass()
    world.advance(minutes=5)
    world.pos.set_unit("0113942720", "MX1002", price="1500.00")
    world.host.inventory_pass()
    cursor = world.store.get_cursor("aim", "inventory")
    world.host.inventory_pass(full=True)
    assert world.store.get_cursor("aim", "inventory") == cursor


def test_full_resync_every_zero_turns_it_off(tmp_path: Path) -> None:
    w = build_world(tmp_path, sync=SyncSettings(workers=1, full_resync_every=timedelta(0)))
    w.pos.add_product("0113942719", ["US210033734", "US210033735"])
    w.host.inventory_pass()
    _edit_missed_by_the_cursor(w)
    w.advance(days=30)
    w.host.inventory_pass()
    assert w.a.variants[VARIANT]["price"] != "1234.50"
    w.host.store.close()

"""The oversell window of each sold unit (serialsync.engine.windows): from the order's creation
on its channel to the unit unsellable on every other channel, as the store records both; the
dashboard and /metrics read the same windows."""

from __future__ import annotations

from pathlib import Path

from serialsync import FinancialStatus
from serialsync.host import Host
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.settings import load_settings
from serialsync.store import ListingState, SaleWindow
from serialsync.store.sql import SQLStore
from serialsync.testing.fake import Faults


def test_a_window_runs_from_the_orders_creation_until_no_other_channel_sells_the_unit(
    tmp_path: Path,
) -> None:
    catalogue = demo_catalogue(seed=4, products=2, units_per_product=2)
    types = ["aim_pos", "shopify", "woocommerce", "bigcommerce"]
    with Sandbox(types=types, catalogue=catalogue) as sandbox:
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        with Host.from_settings(load_settings(config), sleep=lambda _s: None) as host:
            store = host.store
            host.inventory_pass()
            closed: list[SaleWindow] = []
            host.engine.window_closed = closed.append
            fakes = sandbox.channel_fakes()
            sold, reserved = catalogue[0].units[0], catalogue[1].units[0]
            sold_id = fakes["shopify"].create_order(
                [(sold.integration_id, 1)], status=FinancialStatus.PAID
            )
            reserved_id = fakes["woocommerce"].create_order(
                [(reserved.integration_id, 1)], status=FinancialStatus.PENDING
            )
            # BigCommerce cannot take a withdrawal: both units stay for sale there.
            fakes["bigcommerce"].set_faults(Faults(rate_5xx=1.0, seed=1))
            host.order_pass()
            windows = {w.serial: w for w in store.sale_windows()}
            assert set(windows) == {sold.serial, reserved.serial}
            assert all(w.closed_at is None and w.seconds is None for w in windows.values())
            assert closed == []
            for serial, (channel, order_id) in (
                (sold.serial, ("shopify", sold_id)),
                (reserved.serial, ("woocommerce", reserved_id)),
            ):
                window = windows[serial]
                assert (window.channel, window.order_id) == (channel, order_id)
                record = store.get_outbox(channel, order_id)
                assert record is not None
                # Timed from the order's creation as the channel dated it, not from our reading.
                assert window.placed_at == record.sale.placed_at
                assert window.placed_at <= window.claimed_at
                [bc] = [
                    li for li in store.listings_of_unit(serial) if li.connector == "bigcommerce"
                ]
                assert bc.state == ListingState.FAILED and bc.remote is not None

            # BigCommerce answers again: the next pass withdraws both and closes their windows.
            fakes["bigcommerce"].set_faults(Faults())
            host.order_pass()
            windows = {w.serial: w for w in store.sale_windows()}
            for window in windows.values():
                assert window.closed_at is not None and window.closed_at > window.claimed_at
                listings = store.listings_of_unit(window.serial)
                others = [li for li in listings if li.connector != window.channel]
                assert others and all(li.state == ListingState.WITHDRAWN for li in others)
                assert window.seconds == (window.closed_at - window.placed_at).total_seconds()
            # Told once each, as closed in the store.
            assert sorted(closed, key=lambda w: w.serial) == sorted(
                windows.values(), key=lambda w: w.serial
            )
            host.order_pass()
            assert len(closed) == 2


def test_only_a_unit_another_channel_still_sells_opens_a_window(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from serialsync.engine.context import EngineContext
    from serialsync.engine.windows import open_window
    from serialsync.manager import PluginManager
    from serialsync.model import RemoteIds
    from serialsync.store import ListingRecord, SQLiteStore

    placed = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    with SQLiteStore.open(tmp_path / "s.db") as store:
        ctx = EngineContext(plugins=PluginManager(load_entrypoints=False), store=store)

        def listed(connector: str, state: ListingState, remote: RemoteIds | None) -> None:
            with store.transaction():
                store.put_listing(ListingRecord(connector, "S1", "A", state, remote=remote))

        def opens(order_id: str) -> bool:
            with store.transaction():
                open_window(ctx, "shop", order_id, "S1", placed)
            return any(w.order_id == order_id for w in store.open_sale_windows("S1"))

        ids = RemoteIds(product_id="1", variant_id="2")
        listed("shop", ListingState.LIVE, ids)  # the channel that sold it does not count
        assert not opens("o1")
        listed("web", ListingState.WITHDRAWN, ids)
        listed("mall", ListingState.FAILED, None)  # a create that failed: nothing there
        assert not opens("o2")
        listed("mall", ListingState.FAILED, ids)  # a withdrawal that failed: still for sale
        assert opens("o3")
        listed("mall", ListingState.WITHDRAWN, ids)
        listed("web", ListingState.LIVE, ids)
        assert opens("o4")
        [window] = [w for w in store.sale_windows() if w.order_id == "o4"]
        assert window.placed_at == placed


def test_withdrawals_close_each_window_only_where_no_other_channel_still_sells_the_unit(
    store: SQLStore,
) -> None:
    from datetime import UTC, datetime, timedelta

    from serialsync.engine.context import EngineContext
    from serialsync.engine.windows import close_windows
    from serialsync.manager import PluginManager
    from serialsync.model import RemoteIds
    from serialsync.store import ListingRecord

    placed = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    at = placed + timedelta(seconds=7)
    told: list[SaleWindow] = []
    ctx = EngineContext(
        plugins=PluginManager(load_entrypoints=False), store=store, window_closed=told.append
    )
    ids = RemoteIds(product_id="1", variant_id="2")
    # Sold on "shop", listed on "web" and "mall"; more units than one statement carries.
    many = [f"M{n:04}" for n in range(1200)]
    states = {
        "A": {"web": ListingState.WITHDRAWN, "mall": ListingState.WITHDRAWN},  # closes
        "B": {"web": ListingState.WITHDRAWN, "mall": ListingState.LIVE},  # still for sale
        "C": {"web": ListingState.WITHDRAWN, "mall": ListingState.FAILED},  # its remote kept
        "D": {"web": ListingState.WITHDRAWN},  # never listed on "mall": closes
        **{s: {"web": ListingState.WITHDRAWN, "mall": ListingState.WITHDRAWN} for s in many},
    }
    with store.transaction():
        store.put_listings(
            [
                ListingRecord(channel, serial, "P", state, remote=ids)
                for serial, listed in states.items()
                for channel, state in {"shop": ListingState.LIVE, **listed}.items()
            ]
            # A failed create left nothing on "mall": D is not for sale there.
            + [ListingRecord("mall", "D", "P", ListingState.FAILED, remote=None)]
        )
        for serial in states:
            store.open_sale_window("shop", f"o-{serial}", serial, placed_at=placed, claimed_at=at)
        # A second order claimed A on "web" while "shop" still sells it: its window stays.
        store.open_sale_window("web", "w-A", "A", placed_at=placed, claimed_at=at)
        closed = close_windows(ctx, ["A", "B", "C", "D", *many, "X"], at)
    expected = {("shop", s) for s in ("A", "D", *many)}
    assert {(w.channel, w.serial) for w in closed} == expected
    assert all(w.closed_at == at and w.seconds == 7.0 for w in closed)
    assert sorted(told, key=lambda w: w.serial) == sorted(closed, key=lambda w: w.serial)
    assert {(w.channel, w.serial) for w in store.open_sale_windows_of(states)} == {
        ("web", "A"),
        ("shop", "B"),
        ("shop", "C"),
    }
    with store.transaction():  # closed once: nothing more to tell
        assert close_windows(ctx, ["A", *many], at) == []
        assert close_windows(ctx, [], at) == []
    assert len(told) == len(expected)

"""`serialsync run` against the sandbox: orders are worked while a long publish is under way."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from serialsync.cli import app
from serialsync.host import Host
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.settings import load_settings
from serialsync.store import SQLiteStore
from serialsync.testing import Faults
from typer.testing import CliRunner

pytestmark = pytest.mark.e2e


def test_an_order_is_withdrawn_and_reported_while_the_inventory_pass_publishes(
    tmp_path: Path,
) -> None:
    catalogue = demo_catalogue(seed=11, products=20, units_per_product=2)
    sold = catalogue[-1].units[0]
    with Sandbox(catalogue=catalogue, types=["aim_pos", "woocommerce"]) as sandbox:
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        with Host.from_settings(load_settings(config), sleep=lambda _s: None) as host:
            host.inventory_pass()  # everything listed once
        aim = sandbox.pos_fakes()["aim_pos"]
        woo = sandbox.channel_fakes()["woocommerce"]
        for product in catalogue:  # new prices: the next inventory pass re-sends every product
            for unit in product.units:
                aim.set_price(product.sku, unit.serial, "777.00")  # type: ignore[attr-defined]
        woo.create_order([(sold.integration_id, 1)])
        woo.set_faults(Faults(latency=0.1))  # each request 0.1 s from now: a publish of seconds

        seen: dict[str, object] = {}

        def watch() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if any(s == sold.serial for o in aim.recorded_orders() for _, s, _ in o.lines):
                    seen.setdefault(
                        "sellable", {x.sku for x in woo.listings() if x.stock and x.sellable}
                    )
                    with SQLiteStore.open(tmp_path / "state.db", lock=False) as store:
                        seen["runs"] = {(r.kind, r.finished_at is not None) for r in store.runs()}
                    # The order pass records its end a moment after AIM has the sale.
                    if ("orders", True) in seen["runs"]:  # type: ignore[operator]
                        break
                time.sleep(0.05)
            os.kill(os.getpid(), signal.SIGTERM)

        watcher = threading.Thread(target=watch)
        # Should the run end before the watcher's SIGTERM, the signal must not kill the test
        # runner: run puts this harmless handler back when it stops.
        before = signal.signal(signal.SIGTERM, lambda *_: None)
        watcher.start()
        try:
            result = CliRunner().invoke(app, ["run", "--config", str(config), "--json"])
        finally:
            watcher.join(70)
            signal.signal(signal.SIGTERM, before)
        assert result.exit_code == 0, result.output
        assert "stopped cleanly" in result.stderr

        # When AIM had the sale, the order pass had finished and the inventory pass that
        # started with it was still publishing: the order did not wait for it.
        assert ("orders", True) in seen["runs"]  # type: ignore[operator]
        assert ("inventory", False) in seen["runs"]  # type: ignore[operator]
        assert sold.integration_id not in seen["sellable"]  # type: ignore[operator]
        # And the publish that was under way did not list it again.
        assert sold.integration_id not in {x.sku for x in woo.listings() if x.stock and x.sellable}

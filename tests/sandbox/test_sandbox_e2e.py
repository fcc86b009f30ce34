"""End to end over loopback: every first-party plugin against its fake, served by the sandbox."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from serialsync import FinancialStatus
from serialsync.host import Host
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.settings import load_settings
from serialsync.store import OutboxState
from serialsync.testing import Faults

pytestmark = pytest.mark.e2e

CHANNELS = {"shopify", "bigcommerce", "woocommerce", "magento"}


def open_host(sandbox: Sandbox, tmp_path: Path) -> Host:
    config = tmp_path / "serialsync.toml"
    config.write_text(sandbox.config_toml(tmp_path / "state.db"))
    return Host.from_settings(load_settings(config), sleep=lambda _s: None)


def live_skus(sandbox: Sandbox, channel: str) -> Counter[str]:
    return Counter(
        listing.sku
        for listing in sandbox.channel_fakes()[channel].listings()
        if listing.stock > 0 and listing.sellable
    )


def test_sandbox_serves_every_platform_and_the_config_points_at_it(tmp_path) -> None:
    with Sandbox() as sandbox:
        assert set(sandbox.channel_fakes()) == CHANNELS
        assert set(sandbox.pos_fakes()) == {"aim_pos"}
        assert all(url.startswith("http://127.0.0.1:") for url in sandbox.endpoints().values())
        settings = load_settings(_write(tmp_path, sandbox))
        assert set(settings.connectors) == CHANNELS | {"aim_pos"}


def _write(tmp_path: Path, sandbox: Sandbox) -> Path:
    config = tmp_path / "serialsync.toml"
    config.write_text(sandbox.config_toml(tmp_path / "state.db"))
    return config


@pytest.mark.parametrize(
    "faults",
    [None, Faults(rate_429=0.1, rate_5xx=0.05)],
    ids=["clean", "429-and-5xx"],
)
def test_whole_flow_over_http(tmp_path, faults: Faults | None) -> None:
    catalogue = demo_catalogue(seed=3, products=3, units_per_product=3)
    units = [u for p in catalogue for u in p.units]
    with Sandbox(faults={"*": faults} if faults else None, catalogue=catalogue) as sandbox:
        host = open_host(sandbox, tmp_path)
        for _ in range(3):  # passes until quiet: with faults, some units wait a pass
            host.inventory_pass()
        for channel in CHANNELS:
            assert live_skus(sandbox, channel) == Counter(u.integration_id for u in units), channel

        channels = sandbox.channel_fakes()
        sold, pending, double = units[0], units[1], units[2]
        channels["shopify"].create_order([(sold.integration_id, 1)])
        channels["woocommerce"].create_order(
            [(pending.integration_id, 1)], status=FinancialStatus.PENDING
        )
        channels["bigcommerce"].create_order([(double.integration_id, 1)])
        channels["magento"].create_order([(double.integration_id, 1)])
        for _ in range(3):
            host.order_pass()

        reported = [o for o in sandbox.pos_fakes()["aim_pos"].recorded_orders()]
        serials = Counter(s for o in reported for _, s, _ in o.lines)
        assert serials == Counter({sold.serial: 1, double.serial: 1})
        for channel in CHANNELS:
            live = live_skus(sandbox, channel)
            for unit in (sold, pending, double):
                assert live[unit.integration_id] == 0, (channel, unit.integration_id)
            assert sum(live.values()) == len(units) - 3
        assert len(host.store.outbox(states=(OutboxState.CONFLICT,))) == 1

        # A pass over the unchanged catalogue makes no write request to any channel.
        before = {n: list(f.requests) for n, f in channels.items()}
        host.inventory_pass()
        for name, fake in channels.items():
            new = fake.requests[len(before[name]) :]
            writes = [r for r in new if r[0] in {"POST", "PUT", "DELETE", "PATCH"}]
            if name == "shopify":  # GraphQL reads are POSTs too: count none at all
                writes = new
            assert writes == [], (name, writes)
        host.close()

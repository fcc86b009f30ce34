"""``serialsync webhooks …`` and ``serialsync run`` serving webhooks, against the sandbox."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from serialsync.cli import app
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.store import OutboxState, SQLiteStore
from typer.testing import CliRunner

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(sandbox: Sandbox, folder: Path, port: int) -> Path:
    config = folder / "serialsync.toml"
    text = sandbox.config_toml(folder / "state.db")
    text = text.replace(
        "[sync]\n",
        f'[webhooks]\nlisten = "127.0.0.1:{port}"\npublic_url = "http://127.0.0.1:{port}"\n'
        'secret = "cli-test-master-secret"\n\n[sync]\norders_interval = 3600\n',
    )
    config.write_text(text)
    return config


@pytest.fixture
def sandbox():
    catalogue = demo_catalogue(seed=2, products=2, units_per_product=2)
    with Sandbox(types=["aim_pos", "shopify", "woocommerce"], catalogue=catalogue) as box:
        yield box
        for fake in box.channel_fakes().values():
            sender = getattr(getattr(fake, "webhooks", None), "sender", None)
            if sender is not None:
                sender.close()


def test_register_twice_list_and_remove(sandbox: Sandbox, tmp_path: Path):
    config = _config(sandbox, tmp_path, _free_port())
    shop = sandbox.channel_fakes()["shopify"]
    for _ in range(2):
        result = runner.invoke(app, ["webhooks", "register", "--config", str(config)])
        assert result.exit_code == 0, result.output
    assert len(shop.webhooks.subscriptions) == 4  # type: ignore[attr-defined]
    listed = json.loads(
        runner.invoke(app, ["webhooks", "list", "--json", "--config", str(config)]).stdout
    )
    by_name = {c["connector"]: c for c in listed["channels"]}
    assert len(by_name["shopify"]["subscriptions"]) == 4
    assert by_name["shopify"]["url"].endswith("/webhooks/shopify")
    shown = runner.invoke(app, ["webhooks", "list", "--config", str(config)])
    assert "ORDERS_CREATE" in shown.stdout
    assert "cli-test-master-secret" not in shown.stdout + shown.stderr
    removed = runner.invoke(
        app, ["webhooks", "remove", "--connector", "shopify", "--config", str(config)]
    )
    assert removed.exit_code == 0, removed.output
    assert shop.webhooks.subscriptions == {}  # type: ignore[attr-defined]


def test_a_subscription_shopify_removed_is_shown_missing_and_registered_again(
    sandbox: Sandbox, tmp_path: Path
):
    # Nothing listens at the public address: every delivery fails, is retried on Shopify's
    # schedule (time scaled), and the subscriptions of the failed topics are removed.
    config = _config(sandbox, tmp_path, _free_port())
    shop = sandbox.channel_fakes()["shopify"]
    registered = runner.invoke(
        app, ["webhooks", "register", "--connector", "shopify", "--config", str(config)]
    )
    assert registered.exit_code == 0, registered.output
    shop.create_order([("PLAIN-STRAP", 1)])
    assert shop.webhooks.sender.wait_idle(30)  # type: ignore[attr-defined]
    assert len(shop.webhooks.subscriptions) == 2  # type: ignore[attr-defined]

    shown = runner.invoke(
        app, ["webhooks", "list", "--connector", "shopify", "--config", str(config)]
    )
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.count("MISSING") == 2
    assert "webhooks register" in shown.stdout
    listed = json.loads(
        runner.invoke(app, ["webhooks", "list", "--json", "--config", str(config)]).stdout
    )
    (shopify,) = [c for c in listed["channels"] if c["connector"] == "shopify"]
    states = {s["topic"]: s["state"] for s in shopify["subscriptions"]}
    assert states == {
        "ORDERS_CREATE": "missing",
        "ORDERS_PAID": "missing",
        "ORDERS_UPDATED": "active",
        "ORDERS_CANCELLED": "active",
    }

    again = runner.invoke(app, ["webhooks", "register", "--config", str(config)])
    assert again.exit_code == 0, again.output
    assert len(shop.webhooks.subscriptions) == 4  # type: ignore[attr-defined]
    shown = runner.invoke(app, ["webhooks", "list", "--config", str(config)])
    assert "MISSING" not in shown.stdout


def test_register_without_a_public_url_is_a_usage_error(sandbox: Sandbox, tmp_path: Path):
    config = tmp_path / "serialsync.toml"
    config.write_text(sandbox.config_toml(tmp_path / "state.db"))
    result = runner.invoke(app, ["webhooks", "register", "--config", str(config)])
    assert result.exit_code == 2
    assert "webhooks.public_url" in result.stderr


def test_run_serves_webhooks_and_withdraws_a_sold_unit_before_any_order_pass(
    sandbox: Sandbox, tmp_path: Path
):
    port = _free_port()
    config = _config(sandbox, tmp_path, port)
    # One pass lists the units; then the runner is started with passes far apart, so only a
    # webhook can bring the order in while the test watches.
    assert runner.invoke(app, ["run", "--once", "--config", str(config)]).exit_code == 0
    assert runner.invoke(app, ["webhooks", "register", "--config", str(config)]).exit_code == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SERIALSYNC_EXTRA_PLUGINS", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serialsync.cli",
            "run",
            "--interval",
            "3600",
            "--config",
            str(config),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(timeout=5) as client:
            _wait(lambda: _healthy(client, url), proc, "the service never answered /healthz")
            _wait(lambda: _order_passes_ended(tmp_path) == 2, proc, "no first order pass")
            shop = sandbox.channel_fakes()["shopify"]
            woo = sandbox.channel_fakes()["woocommerce"]
            with SQLiteStore.open(tmp_path / "state.db", lock=False) as store:
                unit = store.all_units()[0].unit
            sku = f"{unit.sku}|||{unit.serial}"
            order_id = shop.create_order([(sku, 1)])
            _wait(
                lambda: not any(x.sku == sku and x.sellable and x.stock for x in woo.listings()),
                proc,
                "the unit was never withdrawn from WooCommerce",
            )
            # Withdrawn first, reported right after: wait for the receipt before stopping (a
            # stop at the report's checkpoint would leave it, rightly, to the next run).
            _wait(
                lambda: _outbox_state(tmp_path, order_id) == OutboxState.REPORTED,
                proc,
                "the sale was never reported",
            )
            metrics = client.get(f"{url}/metrics").text
            assert (
                'serialsync_webhook_deliveries_total{connector="shopify",result="accepted"}'
                in metrics
            )
        proc.send_signal(signal.SIGTERM)
        _stdout, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    with SQLiteStore.open(tmp_path / "state.db", lock=False) as store:
        record = store.get_outbox("shopify", order_id)
        assert record is not None and record.state == OutboxState.REPORTED
        # Only the first pass of the runner ran: the order came by webhook.
        assert [r.kind for r in store.runs()].count("orders") == 2


def _outbox_state(folder: Path, order_id: str) -> OutboxState | None:
    with SQLiteStore.open(folder / "state.db", lock=False) as store:
        record = store.get_outbox("shopify", order_id)
        return None if record is None else record.state


def _order_passes_ended(folder: Path) -> int:
    with SQLiteStore.open(folder / "state.db", lock=False) as store:
        return sum(1 for r in store.runs() if r.kind == "orders" and r.finished_at is not None)


def _healthy(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(f"{url}/healthz").status_code == 200
    except httpx.TransportError:
        return False


def _wait(condition, proc: subprocess.Popen[str], message: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def test_sigkill_while_deliveries_arrive_loses_nothing_polling_picks_up_the_rest(
    sandbox: Sandbox, tmp_path: Path
):
    port = _free_port()
    config = _config(sandbox, tmp_path, port)
    assert runner.invoke(app, ["run", "--once", "--config", str(config)]).exit_code == 0
    assert runner.invoke(app, ["webhooks", "register", "--config", str(config)]).exit_code == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("SERIALSYNC_EXTRA_PLUGINS", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "serialsync.cli",
            "run",
            "--interval",
            "3600",
            "--config",
            str(config),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    shop = sandbox.channel_fakes()["shopify"]
    woo = sandbox.channel_fakes()["woocommerce"]
    with SQLiteStore.open(tmp_path / "state.db", lock=False) as store:
        units = [f"{u.unit.sku}|||{u.unit.serial}" for u in store.all_units()][:4]
    try:
        with httpx.Client(timeout=5) as client:
            _wait(lambda: _healthy(client, f"http://127.0.0.1:{port}"), proc, "no /healthz")
            _wait(lambda: _order_passes_ended(tmp_path) == 2, proc, "no first order pass")
        orders = [shop.create_order([(sku, 1)]) for sku in units[:3]]
        proc.kill()  # SIGKILL: no clean stop, whatever was under way is cut off
        proc.communicate(timeout=20)
        orders.append(shop.create_order([(units[3], 1)]))  # delivered to nobody
    finally:
        if proc.poll() is None:
            proc.kill()
    # The platform retries, then gives up on the dead address: polling is the safety net.
    assert shop.webhooks.sender.wait_idle(30)  # type: ignore[attr-defined]
    assert runner.invoke(app, ["run", "--once", "--config", str(config)]).exit_code == 0
    with SQLiteStore.open(tmp_path / "state.db", lock=False) as store:
        states = [store.get_outbox("shopify", order_id) for order_id in orders]
        assert [s.state if s else None for s in states] == [OutboxState.REPORTED] * 4
    reported = [
        serial
        for order in sandbox.pos_fakes()["aim_pos"].recorded_orders()
        for _, serial, _ in order.lines
        if serial is not None
    ]
    missed = [d for d in shop.webhooks.sender.log if not d.delivered]  # type: ignore[attr-defined]
    assert missed, "no delivery was missed: the test would not prove the safety net"
    assert sorted(reported) == sorted(sku.split("|||")[1] for sku in units)  # each once
    for sku in units:
        assert not any(x.sku == sku and x.sellable and x.stock for x in woo.listings()), sku

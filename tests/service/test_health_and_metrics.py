"""``/healthz`` and ``/metrics`` over real HTTP, with and without webhooks."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from serialsync.host import Host
from serialsync.manager import PluginManager
from serialsync.service import Service
from serialsync.settings import MetricsSettings
from serialsync.store import SQLiteStore
from serialsync.testing import Faults

from tests.clocks import WallClock

from .conftest import Running, start_running

pytestmark = pytest.mark.e2e


@pytest.fixture
def bare(tmp_path: Path) -> Iterator[tuple[Host, Service, httpx.Client]]:
    """A host with no connector, served with metrics only (no [webhooks])."""
    host = Host(
        plugins=PluginManager(load_entrypoints=False),
        store=SQLiteStore.open(tmp_path / "s.db"),
        owns_store=True,
    )
    service = Service(
        host,
        metrics=MetricsSettings(listen="127.0.0.1:0"),
        every={"inventory": timedelta(minutes=5), "orders": timedelta(minutes=1)},
    )
    with service, httpx.Client(timeout=10) as client:
        yield host, service, client
    host.close()


def test_metrics_and_health_are_served_without_webhooks(bare):
    _host, service, client = bare
    url = service.urls[0]
    assert service.receiver is None
    assert client.get(f"{url}/healthz").status_code == 200
    assert client.get(f"{url}/metrics").status_code == 200
    assert client.post(f"{url}/webhooks/shopify", content=b"{}").status_code == 404


def test_healthz_is_503_with_a_reason_when_a_pass_is_overdue_and_200_once_it_ran(bare):
    host, service, client = bare
    url = service.urls[0]
    clock = WallClock(datetime.now(UTC))
    service.health.now = clock
    service.health.started_at = clock.now
    host.inventory_pass()
    host.order_pass()
    assert client.get(f"{url}/healthz").json() == {"status": "ok"}

    clock.now += timedelta(minutes=3)  # orders every minute: allowed 1 + 5 minutes of grace
    assert client.get(f"{url}/healthz").status_code == 200
    clock.now += timedelta(minutes=4)
    late = client.get(f"{url}/healthz")
    assert late.status_code == 503
    body = late.json()
    assert body["status"] == "unhealthy"
    assert set(body["problems"]) == {"orders_pass"}
    assert "every 60 s" in body["problems"]["orders_pass"]

    service.health.now = lambda: datetime.now(UTC)
    host.order_pass()
    assert client.get(f"{url}/healthz").status_code == 200


def test_healthz_is_503_before_any_pass_once_the_first_is_late(bare):
    _host, service, client = bare
    clock = WallClock(datetime.now(UTC))
    service.health.now = clock
    service.health.started_at = clock.now
    assert client.get(f"{service.urls[0]}/healthz").status_code == 200  # just started
    clock.now += timedelta(hours=1)
    body = client.get(f"{service.urls[0]}/healthz").json()
    assert body["status"] == "unhealthy"
    assert "since start" in body["problems"]["inventory_pass"]


def test_healthz_is_503_when_the_store_cannot_be_written(bare):
    host, service, client = bare
    host.store.close()
    answer = client.get(f"{service.urls[0]}/healthz")
    assert answer.status_code == 503
    assert answer.json()["problems"]["store"].startswith("not writable")


def test_metrics_count_passes_requests_throttles_and_the_outbox(tmp_path: Path):
    for running in start_running(tmp_path, ["aim_pos", "shopify", "woocommerce"]):
        _exercise_metrics(running)


def _exercise_metrics(running: Running) -> None:
    running.host.order_pass()
    text = running.client.get(f"{running.url}/metrics").text
    assert "# TYPE serialsync_pass_duration_seconds histogram" in text
    assert running.metric("serialsync_passes_total", kind="orders", ok="true") == 1
    assert running.metric("serialsync_pass_duration_seconds_count", kind="orders") == 1
    assert running.metric("serialsync_http_requests_total", connector="shopify", status="200") > 0
    assert running.metric("serialsync_outbox", state="pending") == 0

    # Throttled answers are counted by connector.
    woo = running.channel("woocommerce")
    woo.set_faults(Faults(rate_429=1.0, seed=1))
    running.host.order_pass()
    woo.set_faults(Faults())
    assert running.metric("serialsync_http_throttled_total", connector="woocommerce") > 0
    # Each throttled attempt was sent again (or the pass gave up on it after the last).
    [last] = running.host.store.runs(limit=1)
    retried = last.summary["connectors"]["woocommerce"]["http"]["retries"]
    assert retried > 0
    assert running.metric("serialsync_http_retries_total", connector="woocommerce") == retried
    assert (
        running.metric("serialsync_http_requests_total", connector="woocommerce", status="429") > 0
    )

    # A sale the POS cannot take yet waits in the outbox, and the gauge says so.
    shop = running.channel("shopify")
    unit = sorted(f"{u.unit.sku}|||{u.unit.serial}" for u in running.host.store.all_units())[0]
    running.sandbox.pos_fakes()["aim_pos"].set_faults(Faults(rate_5xx=1.0, seed=1))
    shop.create_order([(unit, 1)])
    running.host.order_pass()
    assert running.metric("serialsync_outbox", state="pending") == 1
    assert running.metric("serialsync_oversell_window_seconds_count") == 1
    # The window the store recorded (and the dashboard charts), observed as it closed.
    [window] = running.host.store.sale_windows()
    assert window.seconds is not None
    observed = running.metric("serialsync_oversell_window_seconds_sum")
    assert observed == pytest.approx(window.seconds)
    assert running.metric("serialsync_passes_total", kind="orders", ok="false") >= 1

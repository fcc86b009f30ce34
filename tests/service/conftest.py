"""The service over real HTTP: the sandbox's fakes on loopback, the host, and the service."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from serialsync.host import Host
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.service import Service
from serialsync.service.subscriptions import Action, manage
from serialsync.settings import MetricsSettings, WebhookSettings, load_settings
from serialsync.store import OutboxState
from serialsync.testing import FakeChannel

MASTER_SECRET = "test-master-secret-3141"


@dataclass
class Running:
    """A sandbox, a host on it (units listed everywhere), and the service serving webhooks."""

    sandbox: Sandbox
    host: Host
    service: Service
    webhooks: WebhookSettings
    client: httpx.Client

    @property
    def url(self) -> str:
        return self.service.urls[0]

    def channel(self, name: str) -> FakeChannel:
        return self.sandbox.channel_fakes()[name]

    def register(self, only: str | None = None) -> None:
        results = manage(self.host.plugins, self.webhooks, Action.REGISTER, only=only)
        assert [r.error for r in results if r.error] == []

    def settle(self, channel: str) -> None:
        """Wait until the channel's deliveries were answered and the orders they named worked."""
        sender = self.channel(channel).webhooks.sender  # type: ignore[attr-defined]
        assert sender.wait_idle(20), "the fake's deliveries did not finish"
        assert self.service.worker is not None
        assert self.service.worker.wait_idle(20), "the webhook orders were not worked"

    def worker_idle(self) -> bool:
        assert self.service.worker is not None
        return self.service.worker.wait_idle(20)

    def outbox_state(self, channel: str, order_id: str) -> OutboxState | None:
        record = self.host.store.get_outbox(channel, order_id)
        return None if record is None else record.state

    def sellable(self, channel: str, integration_id: str) -> bool:
        return any(
            listing.sku == integration_id and listing.sellable and listing.stock > 0
            for listing in self.channel(channel).listings()
        )

    def metric(self, name: str, **labels: str) -> float:
        text = self.client.get(f"{self.url}/metrics").text
        wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        for line in text.splitlines():
            if line.startswith("#"):
                continue
            key, _, value = line.rpartition(" ")
            metric, _, rest = key.partition("{")
            found = ",".join(sorted(rest.rstrip("}").split(","))) if rest else ""
            if metric == name and found == wanted:
                return float(value)
        return 0.0


def start_running(tmp_path: Path, types: list[str]) -> Iterator[Running]:
    catalogue = demo_catalogue(seed=5, products=2, units_per_product=3)
    with Sandbox(types=types, catalogue=catalogue) as sandbox:
        config = tmp_path / "serialsync.toml"
        config.write_text(sandbox.config_toml(tmp_path / "state.db"))
        host = Host.from_settings(load_settings(config), sleep=lambda _s: None)
        host.inventory_pass()
        listen = WebhookSettings(listen="127.0.0.1:0", secret=SecretStr(MASTER_SECRET))
        service = Service(host, webhooks=listen, metrics=MetricsSettings())
        service.start()
        webhooks = listen.model_copy(update={"public_url": service.urls[0]})
        try:
            with httpx.Client(timeout=10) as client:
                yield Running(sandbox, host, service, webhooks, client)
        finally:
            service.stop()
            for fake in sandbox.channel_fakes().values():
                sender = getattr(getattr(fake, "webhooks", None), "sender", None)
                if sender is not None:
                    sender.close()
            host.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """Shopify (with webhooks) and WooCommerce (another channel to withdraw from), and AIM."""
    yield from start_running(tmp_path, ["aim_pos", "shopify", "woocommerce"])

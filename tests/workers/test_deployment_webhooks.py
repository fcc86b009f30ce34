"""A deployment's webhooks (issue 18 #3, a webhook-triggered order fetch): a worker serving
``/m/<merchant>/webhooks/<connector>`` answers the platform's signed deliveries and queues a job
that fetches the one order (as ``serialsync run`` does, not a whole order pass), which withdraws
the unit everywhere and reports the sale once; the event ids are kept in the merchant's store.
The fakes deliver over loopback as the platforms do."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serialsync import hmac_sha256_base64
from serialsync.sandbox import Sandbox, demo_catalogue
from serialsync.testing import FakeChannel

from tests.merchants.world import invoke, wait_until

ROOT = Path(__file__).resolve().parents[2]
SECRET = "deployment-webhooks-master-secret"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _sellable(fake: FakeChannel, integration_id: str) -> bool:
    return any(x.sku == integration_id and x.sellable and x.stock > 0 for x in fake.listings())


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    catalogue = demo_catalogue(seed=11, products=1, units_per_product=3)
    with Sandbox(types=["aim_pos", "woocommerce", "shopify"], catalogue=catalogue) as running:
        yield running
        for fake in running.channel_fakes().values():
            sender = getattr(getattr(fake, "webhooks", None), "sender", None)
            if sender is not None:
                sender.close()


def test_a_delivery_queues_the_merchants_order_pass_and_the_unit_is_withdrawn(
    deployment: Path, tmp_path: Path, sandbox: Sandbox
) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    text = sandbox.config_toml(tmp_path / "unused.db")
    text = re.sub(r"\[store\]\npath = [^\n]*\n", "", text)
    text += f'\n[webhooks]\npublic_url = "{base}/m/acme"\nsecret = "{SECRET}"\n'
    config = tmp_path / "acme.toml"
    config.write_text(text)
    assert invoke(deployment, "merchants", "add", "acme", "--config", str(config)).exit_code == 0

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "serialsync.cli", "--config", str(deployment), "worker"]
    worker = subprocess.Popen(
        [*command, "--heartbeat", "1", "--listen", f"127.0.0.1:{port}"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    woo = sandbox.channel_fakes()["woocommerce"]
    shop = sandbox.channel_fakes()["shopify"]
    try:
        with httpx.Client(timeout=10) as client:

            def serving() -> bool:
                assert worker.poll() is None, "the worker stopped"
                try:
                    return client.get(f"{base}/healthz").status_code == 200
                except httpx.HTTPError:
                    return False

            wait_until(serving, "the worker's webhook server")
            assert invoke(deployment, "schedule", "--now").exit_code == 0
            wait_until(lambda: len([x for x in woo.listings() if x.sellable]) == 3, "the publish")
            listed = sorted(x.sku for x in woo.listings())
            registered = invoke(
                deployment,
                "--merchant",
                "acme",
                "webhooks",
                "register",
                "--connector",
                "woocommerce",
            )
            assert registered.exit_code == 0, registered.output
            hooks = woo.webhooks.hooks.values()  # type: ignore[attr-defined]
            assert {h["delivery_url"] for h in hooks} == {f"{base}/m/acme/webhooks/woocommerce"}

            unit = listed[0]
            assert _sellable(shop, unit)
            woo.create_order([(unit, 1)])
            wait_until(lambda: not _sellable(shop, unit), "the unit's withdrawal from Shopify")
            pos = sandbox.pos_fakes()["aim_pos"]
            wait_until(lambda: len(pos.recorded_orders()) == 1, "the sale reported")
            delivered = woo.webhooks.sender.log  # type: ignore[attr-defined]
            created = [d for d in delivered if d.delivery.topic == "order.created" and d.delivered]
            assert created
            # The event is in the merchant's store (not only in this worker's memory), and a
            # platform's retry of it is a replay: nothing more is worked.
            assert ("woocommerce",) in _events(deployment, "acme")
            again = client.post(
                created[0].delivery.url,
                content=created[0].delivery.body,
                headers=dict(created[0].delivery.headers),
            )
            assert again.status_code == 200

            body = b'{"id": 1}'
            forged = {"X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Signature": "AAAA"}
            answer = client.post(
                f"{base}/m/acme/webhooks/woocommerce", content=body, headers=forged
            )
            assert answer.status_code == 401
            signed = {
                "X-WC-Webhook-Topic": "order.created",
                "X-WC-Webhook-Signature": hmac_sha256_base64("whatever", body),
            }
            nobody = client.post(
                f"{base}/m/nobody/webhooks/woocommerce", content=body, headers=signed
            )
            assert nobody.status_code == 404
        time.sleep(1)
        assert len(pos.recorded_orders()) == 1  # reported once
    finally:
        worker.terminate()
        try:
            out, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            out, _ = worker.communicate()
    assert SECRET not in out
    # The delivery's order was fetched and worked by a job of its own (the order path of
    # `serialsync run`), not left to a whole order pass.
    assert '"webhook.order_done"' in out


def _events(deployment: Path, merchant: str) -> list[tuple[str]]:
    """The connectors of the webhook events kept in the merchant's store."""
    import psycopg
    from psycopg import sql
    from serialsync.merchants.registry import MerchantRegistry
    from serialsync.settings import load_settings

    settings = load_settings(deployment)
    with MerchantRegistry.open(settings) as registry:
        schema = registry.store_schema(merchant)
    assert settings.store.url is not None
    with psycopg.connect(settings.store.url) as db:
        rows = db.execute(
            sql.SQL("SELECT connector FROM {}.webhook_events").format(sql.Identifier(schema))
        ).fetchall()
    return [(str(row[0]),) for row in rows]

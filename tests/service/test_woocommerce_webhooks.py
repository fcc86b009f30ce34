"""WooCommerce webhooks end to end: signed deliveries (and the ping) from the fake over loopback."""

from __future__ import annotations

import json

import httpx
import pytest
from serialsync import hmac_sha256_base64
from serialsync.service import connector_secret
from serialsync.service.subscriptions import Action, manage
from serialsync.store import OutboxState
from serialsync_woocommerce.fake import FakeWooCommerce

from .conftest import Running

pytestmark = pytest.mark.e2e


def _woo(running: Running) -> FakeWooCommerce:
    woo = running.channel("woocommerce")
    assert isinstance(woo, FakeWooCommerce)
    return woo


def _unit(running: Running, n: int = 0) -> str:
    return sorted(f"{u.unit.sku}|||{u.unit.serial}" for u in running.host.store.all_units())[n]


def _secret(running: Running) -> str:
    return connector_secret(running.webhooks.secret, "woocommerce").get_secret_value()


def _post(running: Running, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return running.client.post(f"{running.url}/webhooks/woocommerce", content=body, headers=headers)


def _signed(running: Running, body: bytes, topic: str = "order.created") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Signature": hmac_sha256_base64(_secret(running), body),
        "X-WC-Webhook-Delivery-ID": "d-1",
    }


def _order_body(woo: FakeWooCommerce, order_id: str) -> bytes:
    return json.dumps(woo.orders[int(order_id)]).encode()


def test_an_order_arrives_by_webhook_and_its_unit_is_withdrawn_everywhere(running: Running):
    running.register("woocommerce")
    woo = _woo(running)
    unit = _unit(running)
    assert running.sellable("shopify", unit)
    order_id = woo.create_order([(unit, 1)])
    running.settle("woocommerce")

    assert not running.sellable("shopify", unit)
    assert running.outbox_state("woocommerce", order_id) == OutboxState.REPORTED
    assert len(running.sandbox.pos_fakes()["aim_pos"].recorded_orders()) == 1
    assert running.metric("serialsync_oversell_window_seconds_count") == 1


def test_the_ping_of_a_new_webhook_is_answered_and_changes_nothing(running: Running):
    running.register("woocommerce")
    woo = _woo(running)
    assert woo.webhooks.sender.wait_idle(20)
    pings = [d for d in woo.webhooks.sender.log if d.delivery.topic == "ping"]
    assert len(pings) == 2  # one per webhook saved active
    assert all(d.delivered for d in pings)
    assert pings[0].delivery.body.startswith(b"webhook_id=")
    assert "x-wc-webhook-signature" not in {k.lower() for k in pings[0].delivery.headers}
    assert (
        running.metric(
            "serialsync_webhook_deliveries_total", connector="woocommerce", result="ping"
        )
        >= 2
    )
    assert running.host.store.outbox() == []


def test_registering_twice_creates_nothing_new_and_makes_a_disabled_one_anew(
    running: Running,
):
    running.register("woocommerce")
    woo = _woo(running)
    first = sorted(woo.webhooks.hooks)
    assert {h["topic"] for h in woo.webhooks.hooks.values()} == {"order.created", "order.updated"}
    assert {h["secret"] for h in woo.webhooks.hooks.values()} == {_secret(running)}
    running.register("woocommerce")
    assert sorted(woo.webhooks.hooks) == first
    woo.webhooks.hooks[first[0]]["status"] = "disabled"  # WooCommerce gave up on failures
    topic = woo.webhooks.hooks[first[0]]["topic"]
    running.register("woocommerce")
    # Switched back on it would keep its failure count (one failure from disabled): remade.
    now = sorted(woo.webhooks.hooks)
    assert first[0] not in now and first[1] in now and len(now) == 2
    assert {h["status"] for h in woo.webhooks.hooks.values()} == {"active"}
    assert {h["topic"] for h in woo.webhooks.hooks.values()} == {"order.created", "order.updated"}
    assert woo.webhooks.hooks[max(now)]["topic"] == topic
    (listed,) = manage(running.host.plugins, running.webhooks, Action.LIST, only="woocommerce")
    assert sorted(int(s.remote_id) for s in listed.subscriptions) == now
    manage(running.host.plugins, running.webhooks, Action.REMOVE, only="woocommerce")
    assert woo.webhooks.hooks == {}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda running, body: {"X-WC-Webhook-Topic": "order.created"}, id="missing"),
        pytest.param(
            lambda running, body: (
                _signed(running, body)
                | {"X-WC-Webhook-Signature": hmac_sha256_base64("not ours", body)}
            ),
            id="wrong-secret",
        ),
        pytest.param(lambda running, body: _signed(running, body + b" "), id="other-body"),
    ],
)
def test_a_bad_or_missing_signature_is_401_and_changes_nothing(running: Running, headers):
    woo = _woo(running)
    unit = _unit(running)
    order_id = woo.create_order([(unit, 1)])  # no webhook registered: nothing delivered
    body = _order_body(woo, order_id)
    reads = len(woo.requests)
    answer = _post(running, body, headers(running, body))
    assert answer.status_code == 401
    assert running.worker_idle()
    assert len(woo.requests) == reads  # not even fetched
    assert running.outbox_state("woocommerce", order_id) is None
    assert running.sellable("shopify", unit)


def test_a_valid_delivery_is_worked_and_its_replay_changes_nothing(running: Running):
    woo = _woo(running)
    unit = _unit(running, 1)
    order_id = woo.create_order([(unit, 1)])
    body = _order_body(woo, order_id)
    answer = _post(running, body, _signed(running, body))
    assert (answer.status_code, answer.json()["result"]) == (200, "accepted")
    assert running.worker_idle()
    assert running.outbox_state("woocommerce", order_id) == OutboxState.REPORTED
    gets = [p for m, p in woo.requests if m == "GET" and p.endswith(f"/orders/{order_id}")]
    # The same modification delivered again (another delivery id): a replay.
    again = _post(running, body, _signed(running, body) | {"X-WC-Webhook-Delivery-ID": "d-2"})
    assert (again.status_code, again.json()["result"]) == (200, "replay")
    assert running.worker_idle()
    assert [p for m, p in woo.requests if m == "GET" and p.endswith(f"/orders/{order_id}")] == gets
    assert len(running.sandbox.pos_fakes()["aim_pos"].recorded_orders()) == 1


def test_a_body_over_one_mebibyte_is_413(running: Running):
    body = b"[" + b" " * (1024 * 1024) + b"]"
    assert _post(running, body, _signed(running, body)).status_code == 413


def test_a_delivery_before_the_order_is_readable_is_left_to_the_next_poll(running: Running):
    running.register("woocommerce")
    woo = _woo(running)
    unit = _unit(running, 2)
    woo.hide_new_orders = True
    order_id = woo.create_order([(unit, 1)])
    running.settle("woocommerce")
    assert (
        running.metric(
            "serialsync_webhook_deliveries_total", connector="woocommerce", result="not_readable"
        )
        >= 1
    )
    assert running.outbox_state("woocommerce", order_id) is None
    assert running.sellable("shopify", unit)

    woo.hidden_orders.clear()
    woo.hide_new_orders = False
    running.host.order_pass()
    assert running.outbox_state("woocommerce", order_id) == OutboxState.REPORTED
    assert not running.sellable("shopify", unit)

"""Shopify webhooks end to end: the fake delivers signed order events over loopback to the service.

Every test speaks real HTTP: the sandbox serves the fakes, uvicorn serves the service, the
fake's sender posts deliveries to it, and the worker fetches the order through the plugin.
"""

from __future__ import annotations

import json

import pytest
from serialsync import hmac_sha256_base64
from serialsync.service import Service
from serialsync.settings import MetricsSettings
from serialsync.store import OutboxState
from serialsync_shopify.fake import DEFAULT_CLIENT_SECRET, FakeShopify

from .conftest import Running

pytestmark = pytest.mark.e2e


def _units(running: Running) -> list[str]:
    return sorted(f"{u.unit.sku}|||{u.unit.serial}" for u in running.host.store.all_units())


def _shop(running: Running) -> FakeShopify:
    shop = running.channel("shopify")
    assert isinstance(shop, FakeShopify)
    return shop


def _post(running: Running, body: bytes, headers: dict[str, str]):
    return running.client.post(f"{running.url}/webhooks/shopify", content=body, headers=headers)


def _signed(body: bytes, topic: str = "orders/create", event: str = "ev-1") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": hmac_sha256_base64(DEFAULT_CLIENT_SECRET, body),
        "X-Shopify-Event-Id": event,
        "X-Shopify-Webhook-Id": f"wh-{event}",
    }


def test_an_order_arrives_by_webhook_and_its_unit_is_withdrawn_everywhere(running: Running):
    running.register()
    shop = _shop(running)
    unit = _units(running)[0]
    assert running.sellable("woocommerce", unit)

    order_id = shop.create_order([(unit, 1)])
    running.settle("shopify")

    # No order pass ran: the webhook alone withdrew the unit and reported the sale.
    assert not running.sellable("woocommerce", unit)
    assert not running.sellable("shopify", unit)
    record = running.host.store.get_outbox("shopify", order_id)
    assert record is not None and record.state == OutboxState.REPORTED
    recorded = running.sandbox.pos_fakes()["aim_pos"].recorded_orders()
    assert [line[1] for o in recorded for line in o.lines] == [unit.split("|||")[1]]
    assert (
        running.metric(
            "serialsync_webhook_deliveries_total", connector="shopify", result="accepted"
        )
        >= 1
    )
    assert (
        running.metric(
            "serialsync_webhook_deliveries_total", connector="shopify", result="processed"
        )
        >= 1
    )
    assert running.metric("serialsync_oversell_window_seconds_count") == 1


def test_every_event_delivered_twice_is_worked_once(running: Running):
    running.register()
    shop = _shop(running)
    shop.webhooks.sender.duplicate_rate = 1.0  # the platform delivers every event again
    unit = _units(running)[1]
    order_id = shop.create_order([(unit, 1)])
    running.settle("shopify")

    deliveries = [d for d in shop.webhooks.sender.log if d.delivery.topic == "ORDERS_CREATE"]
    assert [d.statuses for d in deliveries] == [[200, 200]]
    assert (
        running.metric("serialsync_webhook_deliveries_total", connector="shopify", result="replay")
        >= 1
    )
    recorded = running.sandbox.pos_fakes()["aim_pos"].recorded_orders()
    assert len(recorded) == 1
    assert running.outbox_state("shopify", order_id) == OutboxState.REPORTED


def test_registering_twice_creates_nothing_new_and_remove_removes_them(running: Running):
    running.register()
    shop = _shop(running)
    first = sorted(shop.webhooks.subscriptions)
    assert {s.topic for s in shop.webhooks.subscriptions.values()} == {
        "ORDERS_CREATE",
        "ORDERS_UPDATED",
        "ORDERS_PAID",
        "ORDERS_CANCELLED",
    }
    assert {s.uri for s in shop.webhooks.subscriptions.values()} == {
        f"{running.url}/webhooks/shopify"
    }
    running.register()
    assert sorted(shop.webhooks.subscriptions) == first
    creates = [c for c in shop.calls if c == "webhookSubscriptionCreate"]
    assert len(creates) == 4

    from serialsync.service.subscriptions import Action, manage

    (listed,) = [
        r
        for r in manage(running.host.plugins, running.webhooks, Action.LIST)
        if r.connector == "shopify"
    ]
    assert sorted(s.remote_id for s in listed.subscriptions) == first
    (woo,) = [
        r
        for r in manage(running.host.plugins, running.webhooks, Action.LIST)
        if r.connector == "woocommerce"
    ]
    assert woo.error is None
    manage(running.host.plugins, running.webhooks, Action.REMOVE, only="shopify")
    assert shop.webhooks.subscriptions == {}


def _order_body(shop: FakeShopify, order_id: str) -> bytes:
    from serialsync_shopify.fake_webhooks import order_payload

    return json.dumps(order_payload(shop.orders[order_id])).encode()


def _quiet_order(running: Running, unit: str) -> str:
    """An order placed with no subscription: nothing is delivered on its own."""
    return _shop(running).create_order([(unit, 1)])


def test_a_valid_signature_is_accepted_and_the_order_worked(running: Running):
    unit = _units(running)[0]
    order_id = _quiet_order(running, unit)
    body = _order_body(_shop(running), order_id)
    answer = _post(running, body, _signed(body))
    assert (answer.status_code, answer.json()["result"]) == (200, "accepted")
    assert running.worker_idle()
    assert not running.sellable("woocommerce", unit)


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda body: {}, id="missing"),
        pytest.param(
            lambda body: _signed(body) | {"X-Shopify-Hmac-Sha256": hmac_sha256_base64("x", body)},
            id="wrong-secret",
        ),
        pytest.param(
            lambda body: _signed(body + b" "),  # signed over other bytes than those sent
            id="other-body",
        ),
        pytest.param(
            lambda body: _signed(body) | {"X-Shopify-Hmac-Sha256": "not base64 at all"},
            id="garbage",
        ),
    ],
)
def test_a_bad_or_missing_signature_is_401_and_changes_nothing(running: Running, headers):
    shop = _shop(running)
    unit = _units(running)[0]
    order_id = _quiet_order(running, unit)
    body = _order_body(shop, order_id)
    reads_before = len(shop.documents)
    answer = _post(running, body, headers(body))
    assert answer.status_code == 401
    assert running.worker_idle()
    assert len(shop.documents) == reads_before  # the order was not even fetched
    assert running.host.store.get_outbox("shopify", order_id) is None
    assert running.sellable("woocommerce", unit)
    assert (
        running.metric(
            "serialsync_webhook_deliveries_total", connector="shopify", result="unauthorized"
        )
        == 1
    )


def test_a_replayed_event_is_200_and_changes_nothing(running: Running):
    shop = _shop(running)
    unit = _units(running)[0]
    order_id = _quiet_order(running, unit)
    body = _order_body(shop, order_id)
    assert _post(running, body, _signed(body, event="ev-7")).json()["result"] == "accepted"
    assert running.worker_idle()
    reads = [name for name, _ in shop.documents].count("OrderById")
    again = _post(running, body, _signed(body, event="ev-7"))
    assert (again.status_code, again.json()["result"]) == (200, "replay")
    assert running.worker_idle()
    assert [name for name, _ in shop.documents].count("OrderById") == reads
    assert len(running.sandbox.pos_fakes()["aim_pos"].recorded_orders()) == 1


def test_a_body_over_one_mebibyte_is_413(running: Running):
    body = b"{" + b" " * (1024 * 1024) + b"}"
    answer = _post(running, body, _signed(body))
    assert answer.status_code == 413
    # Also when the size is not declared up front (chunked): it is counted as it streams in.
    chunked = running.client.post(
        f"{running.url}/webhooks/shopify",
        content=iter([body[:600_000], body[600_000:]]),
        headers=_signed(body),
    )
    assert chunked.status_code == 413
    assert (
        running.metric(
            "serialsync_webhook_deliveries_total", connector="shopify", result="too_large"
        )
        == 2
    )


def test_an_unknown_topic_is_200_and_ignored(running: Running):
    shop = _shop(running)
    unit = _units(running)[0]
    order_id = _quiet_order(running, unit)
    body = _order_body(shop, order_id)
    answer = _post(running, body, _signed(body, topic="orders/fulfilled", event="ev-9"))
    assert (answer.status_code, answer.json()["result"]) == (200, "ignored")
    assert running.worker_idle()
    assert running.host.store.get_outbox("shopify", order_id) is None


def test_a_connector_without_webhooks_is_404(running: Running):
    answer = running.client.post(f"{running.url}/webhooks/woocommerce_nope", content=b"{}")
    assert answer.status_code == 404
    answer = running.client.post(f"{running.url}/webhooks/aim_pos", content=b"{}")
    assert answer.status_code == 404


def test_a_delivery_before_the_order_is_readable_is_left_to_the_next_poll(running: Running):
    running.register()
    shop = _shop(running)
    unit = _units(running)[2]
    shop.hide_new_orders = True  # the event leaves before the API can show the order
    order_id = shop.create_order([(unit, 1)])
    running.settle("shopify")

    assert (
        running.metric(
            "serialsync_webhook_deliveries_total", connector="shopify", result="not_readable"
        )
        >= 1
    )
    assert running.host.store.get_outbox("shopify", order_id) is None
    assert running.sellable("woocommerce", unit)

    shop.hidden_orders.clear()  # readable now: polling, the safety net, finds it
    shop.hide_new_orders = False
    running.host.order_pass()
    assert running.outbox_state("shopify", order_id) == OutboxState.REPORTED
    assert not running.sellable("woocommerce", unit)


def test_a_replay_after_a_restart_of_the_service_is_still_a_replay(running: Running):
    shop = _shop(running)
    unit = _units(running)[1]
    order_id = _quiet_order(running, unit)
    body = _order_body(shop, order_id)
    assert _post(running, body, _signed(body, event="ev-restart")).json()["result"] == "accepted"
    assert running.worker_idle()
    reads = [name for name, _ in shop.documents].count("OrderById")

    # The event ids are in the store, not only in the stopped service's memory.
    running.service.stop()
    again = Service(running.host, webhooks=running.webhooks, metrics=MetricsSettings())
    again.start()
    try:
        answer = running.client.post(
            f"{again.urls[0]}/webhooks/shopify",
            content=body,
            headers=_signed(body, event="ev-restart"),
        )
        assert (answer.status_code, answer.json()["result"]) == (200, "replay")
        assert again.worker is not None and again.worker.wait_idle(20)
    finally:
        again.stop()
    assert [name for name, _ in shop.documents].count("OrderById") == reads
    assert len(running.sandbox.pos_fakes()["aim_pos"].recorded_orders()) == 1

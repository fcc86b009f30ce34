"""BigCommerce webhooks end to end: thin deliveries with our secret header, over loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serialsync.service import connector_secret
from serialsync.service.subscriptions import Action, manage
from serialsync.store import OutboxState
from serialsync_bigcommerce.fake import FakeBigCommerce

from .conftest import Running, start_running

pytestmark = pytest.mark.e2e

HEADER = "X-Serialsync-Webhook-Secret"


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    """BigCommerce (with webhooks), WooCommerce (another channel to withdraw from), and AIM."""
    yield from start_running(tmp_path, ["aim_pos", "bigcommerce", "woocommerce"])


def _bc(running: Running) -> FakeBigCommerce:
    fake = running.channel("bigcommerce")
    assert isinstance(fake, FakeBigCommerce)
    return fake


def _unit(running: Running, n: int = 0) -> str:
    return sorted(f"{u.unit.sku}|||{u.unit.serial}" for u in running.host.store.all_units())[n]


def _secret(running: Running) -> str:
    return connector_secret(running.webhooks.secret, "bigcommerce").get_secret_value()


def _body(order_id: str, event: str = "e-1", scope: str = "store/order/created") -> bytes:
    return json.dumps(
        {"scope": scope, "data": {"type": "order", "id": int(order_id)}, "hash": event}
    ).encode()


def _post(running: Running, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return running.client.post(
        f"{running.url}/webhooks/bigcommerce",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )


def test_an_order_arrives_by_webhook_and_its_unit_is_withdrawn_everywhere(running: Running):
    running.register("bigcommerce")
    bc = _bc(running)
    unit = _unit(running)
    assert running.sellable("woocommerce", unit)
    order_id = bc.create_order([(unit, 1)])
    running.settle("bigcommerce")

    assert not running.sellable("woocommerce", unit)
    assert running.outbox_state("bigcommerce", order_id) == OutboxState.REPORTED
    assert len(running.sandbox.pos_fakes()["aim_pos"].recorded_orders()) == 1
    (delivery,) = bc.webhooks.sender.log
    assert {k.lower(): v for k, v in delivery.delivery.headers.items()}[HEADER.lower()] == (
        _secret(running)
    )


def test_registering_twice_creates_one_hook_and_reactivates_a_deactivated_one(
    running: Running,
):
    running.register("bigcommerce")
    bc = _bc(running)
    (hook_id,) = bc.webhooks.hooks
    hook = bc.webhooks.hooks[hook_id]
    assert hook["scope"] == "store/order/*"
    assert hook["destination"] == f"{running.url}/webhooks/bigcommerce"
    running.register("bigcommerce")
    assert list(bc.webhooks.hooks) == [hook_id]
    hook["is_active"] = False  # BigCommerce deactivates a hook whose deliveries keep failing
    running.register("bigcommerce")
    assert list(bc.webhooks.hooks) == [hook_id] and bc.webhooks.hooks[hook_id]["is_active"]
    (listed,) = manage(running.host.plugins, running.webhooks, Action.LIST, only="bigcommerce")
    assert [s.remote_id for s in listed.subscriptions] == [str(hook_id)]
    manage(running.host.plugins, running.webhooks, Action.REMOVE, only="bigcommerce")
    assert bc.webhooks.hooks == {}


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(lambda running: {}, id="missing"),
        pytest.param(lambda running: {HEADER: "not-the-secret"}, id="wrong"),
        pytest.param(lambda running: {HEADER: _secret(running)[:-1]}, id="prefix"),
    ],
)
def test_a_missing_or_wrong_secret_header_is_401_and_changes_nothing(running: Running, headers):
    bc = _bc(running)
    unit = _unit(running)
    order_id = bc.create_order([(unit, 1)])
    reads = len(bc.requests)
    answer = _post(running, _body(order_id), headers(running))
    assert answer.status_code == 401
    assert running.worker_idle()
    assert len(bc.requests) == reads
    assert running.outbox_state("bigcommerce", order_id) is None
    assert running.sellable("woocommerce", unit)


def test_a_valid_delivery_is_worked_and_its_replay_changes_nothing(running: Running):
    bc = _bc(running)
    unit = _unit(running, 1)
    order_id = bc.create_order([(unit, 1)])
    secret = {HEADER: _secret(running)}
    answer = _post(running, _body(order_id, "h-9"), secret)
    assert (answer.status_code, answer.json()["result"]) == (200, "accepted")
    assert running.worker_idle()
    assert running.outbox_state("bigcommerce", order_id) == OutboxState.REPORTED
    reads = len(bc.requests)
    again = _post(running, _body(order_id, "h-9"), secret)
    assert (again.status_code, again.json()["result"]) == (200, "replay")
    assert running.worker_idle()
    assert len(bc.requests) == reads
    other = _post(running, _body(order_id, "h-10", scope="store/product/updated"), secret)
    assert (other.status_code, other.json()["result"]) == (200, "ignored")


def test_a_body_over_one_mebibyte_is_413(running: Running):
    body = b"{" + b" " * (1024 * 1024) + b"}"
    assert _post(running, body, {HEADER: _secret(running)}).status_code == 413


def test_a_delivery_before_the_order_is_readable_is_left_to_the_next_poll(running: Running):
    running.register("bigcommerce")
    bc = _bc(running)
    unit = _unit(running, 2)
    bc.hide_new_orders = True
    order_id = bc.create_order([(unit, 1)])
    running.settle("bigcommerce")
    assert (
        running.metric(
            "serialsync_webhook_deliveries_total", connector="bigcommerce", result="not_readable"
        )
        >= 1
    )
    assert running.outbox_state("bigcommerce", order_id) is None
    assert running.sellable("woocommerce", unit)

    bc.hidden_orders.clear()
    bc.hide_new_orders = False
    running.host.order_pass()
    assert running.outbox_state("bigcommerce", order_id) == OutboxState.REPORTED
    assert not running.sellable("woocommerce", unit)

"""BigCommerce's webhook wire format: the secret header and the thin payload."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from serialsync import WebhookSignatureError
from serialsync_bigcommerce import webhooks

SECRET = SecretStr("our-shared-secret")
OK = {"x-serialsync-webhook-secret": "our-shared-secret"}


def _body(**fields: object) -> bytes:
    payload = {"scope": "store/order/updated", "data": {"type": "order", "id": 250}, "hash": "ab"}
    return json.dumps(payload | fields).encode()


def test_the_right_header_names_the_order_and_the_event():
    delivery = webhooks.verify(OK, _body(), SECRET)
    assert (delivery.topic, delivery.order_id, delivery.delivery_id) == (
        "store/order/updated",
        "250",
        "ab",
    )


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-serialsync-webhook-secret": ""}, {"x-serialsync-webhook-secret": "our-shared"}],
    ids=["missing", "empty", "prefix"],
)
def test_a_missing_or_wrong_header_is_refused(headers):
    with pytest.raises(WebhookSignatureError):
        webhooks.verify(headers, _body(), SECRET)


def test_an_empty_secret_never_matches():
    with pytest.raises(WebhookSignatureError):
        webhooks.verify({"x-serialsync-webhook-secret": ""}, _body(), SECRET.__class__(""))


def test_other_scopes_and_odd_bodies_name_no_order():
    assert webhooks.verify(OK, _body(scope="store/product/updated"), SECRET).order_id is None
    assert webhooks.verify(OK, _body(data={"type": "order", "id": "x"}), SECRET).order_id is None
    assert webhooks.verify(OK, b"not json", SECRET).order_id is None


def test_bigcommerce_retry_schedule_is_eleven_retries_over_48_hours():
    from serialsync_bigcommerce.fake_webhooks import RETRY_SCHEDULE, retry_delays

    assert len(RETRY_SCHEDULE) == 11
    assert 48 * 3600 <= sum(RETRY_SCHEDULE) < 49 * 3600
    assert retry_delays(1.0) == [float(s) for s in RETRY_SCHEDULE]
    assert sum(retry_delays()) == pytest.approx(3.0)  # the fake's default: 48 h in 3 s


def test_a_hook_whose_delivery_fails_every_retry_is_deactivated_and_listed_disabled(
    fake, connector
):
    import httpx
    from serialsync.testing import WebhookSender
    from serialsync_bigcommerce.fake_webhooks import retry_delays

    fake.webhooks.sender = WebhookSender(
        duplicate_rate=0,
        delays=retry_delays(1e-6),
        transport=httpx.MockTransport(lambda request: httpx.Response(503)),
    )
    url = "https://sync.example.com/webhooks/bc"
    first = connector.register_webhooks(url, SECRET)
    assert {s.state for s in first} == {"active"}
    fake.create_order([("PLAIN-STRAP", 1)])
    assert fake.webhooks.sender.wait_idle(10)

    logged = fake.webhooks.sender.log
    assert logged and all(entry.statuses == [503] * 12 for entry in logged)  # 1 + 11 retries
    [listed] = connector.list_webhooks(url)  # the one store/order/* hook
    assert (listed.topic, listed.state) == ("store/order/*", "disabled")
    assert fake.webhooks.hooks[int(listed.remote_id)]["is_active"] is False
    again = connector.register_webhooks(url, SECRET)  # updated active again, nothing new made
    assert {s.state for s in again} == {"active"}
    assert sorted(s.remote_id for s in again) == sorted(s.remote_id for s in first)
    fake.webhooks.sender.close()

"""WooCommerce's webhook wire format: the ping, the signature, the order a delivery names."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from serialsync import WebhookSignatureError, hmac_sha256_base64
from serialsync_woocommerce import webhooks

SECRET = SecretStr("a-secret-of-ours")
BODY = json.dumps({"id": 77, "date_modified_gmt": "2026-11-01T12:00:00"}).encode()


def _signed(body: bytes, topic: str = "order.updated") -> dict[str, str]:
    return {
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-signature": hmac_sha256_base64(SECRET, body),
        "x-wc-webhook-delivery-id": "abc",
    }


def test_the_unsigned_ping_is_a_ping():
    delivery = webhooks.verify({}, b"webhook_id=12", SECRET)
    assert (delivery.ping, delivery.order_id) == (True, None)


def test_a_ping_shaped_body_with_a_wrong_signature_is_refused():
    with pytest.raises(WebhookSignatureError):
        webhooks.verify({"x-wc-webhook-signature": "forged"}, b"webhook_id=12", SECRET)


def test_one_modification_is_one_event_whichever_delivery_brings_it():
    first = webhooks.verify(_signed(BODY), BODY, SECRET)
    again = webhooks.verify(_signed(BODY) | {"x-wc-webhook-delivery-id": "other"}, BODY, SECRET)
    assert first.order_id == "77"
    assert first.delivery_id == again.delivery_id == "order.updated:77:2026-11-01T12:00:00"


@pytest.mark.parametrize(
    "headers",
    [{}, {"x-wc-webhook-signature": ""}, {"x-wc-webhook-signature": "bm90IGl0"}],
    ids=["missing", "empty", "wrong"],
)
def test_a_missing_or_wrong_signature_is_refused(headers):
    with pytest.raises(WebhookSignatureError):
        webhooks.verify({"x-wc-webhook-topic": "order.created", **headers}, BODY, SECRET)


def test_an_unfollowed_topic_or_a_body_naming_no_order_names_no_order():
    assert webhooks.verify(_signed(BODY, "product.updated"), BODY, SECRET).order_id is None
    odd = b'{"id": "seventy"}'
    assert webhooks.verify(_signed(odd), odd, SECRET).order_id is None


def test_a_webhook_woocommerce_disabled_is_listed_disabled_and_registered_anew(fake, connector):
    url = "https://sync.example.com/webhooks/woo"
    secret = SecretStr("woo-webhook-secret")
    first = connector.register_webhooks(url, secret)
    assert {s.state for s in first} == {"active"}
    disabled = first[0]
    # WooCommerce disables a webhook after its 7th consecutive failed delivery, its failure
    # count left at 6 (see the fake's tests).
    hook_id = int(disabled.remote_id)
    fake.webhooks.hooks[hook_id]["status"] = "disabled"
    fake.webhooks.failures[hook_id] = 6

    listed = {s.remote_id: s.state for s in connector.list_webhooks(url)}
    assert listed[disabled.remote_id] == "disabled"
    assert sorted(listed.values()).count("active") == len(first) - 1

    again = connector.register_webhooks(url, secret)
    assert {s.state for s in again} == {"active"}
    # Switched back on, it would be one failure from disabled again: it is made anew instead,
    # with a clean count, for the same topic and address.
    assert hook_id not in fake.webhooks.hooks
    remade = next(s for s in again if s.topic == disabled.topic)
    assert remade.remote_id != disabled.remote_id and remade.url == url
    assert fake.webhooks.failures.get(int(remade.remote_id), 0) == 0
    assert len(again) == len(first)
    fake.webhooks.sender.close()


def test_a_webhook_the_merchant_paused_is_switched_back_on(fake, connector):
    url = "https://sync.example.com/webhooks/woo"
    secret = SecretStr("woo-webhook-secret")
    first = connector.register_webhooks(url, secret)
    paused = first[0]
    fake.webhooks.hooks[int(paused.remote_id)]["status"] = "paused"

    again = connector.register_webhooks(url, secret)

    assert {s.state for s in again} == {"active"}
    assert {s.remote_id for s in again} == {s.remote_id for s in first}
    fake.webhooks.sender.close()

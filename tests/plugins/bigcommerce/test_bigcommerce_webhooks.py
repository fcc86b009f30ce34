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

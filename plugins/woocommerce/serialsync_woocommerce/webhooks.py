"""How WooCommerce speaks webhooks: the topics followed, the signature, the ping, the order named.

A webhook is made through ``/wc/v3/webhooks`` with a ``secret`` of the subscriber's choosing;
each delivery carries ``X-WC-Webhook-Signature``, the base64 HMAC-SHA256 of the raw body keyed
with that secret, and ``X-WC-Webhook-Topic`` (``order.created``). When a webhook is saved
active, WooCommerce first sends a *ping*: a form-encoded ``webhook_id=<id>`` body without any
signature, which must be answered 2xx. The body of an order topic is the order as the REST API
shows it; serialsync reads only its ``id`` and ``date_modified_gmt`` (one modification is one
event: a retry, or the same change delivered to two webhooks, carries the same pair).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from pydantic import SecretStr
from serialsync import WebhookDelivery, WebhookSignatureError, signature_matches

ORDER_TOPICS = ("order.created", "order.updated")

SIGNATURE_HEADER = "x-wc-webhook-signature"
TOPIC_HEADER = "x-wc-webhook-topic"
DELIVERY_HEADER = "x-wc-webhook-delivery-id"
_PING = re.compile(rb"webhook_id=(\d+)")


def verify(headers: Mapping[str, str], body: bytes, secret: SecretStr) -> WebhookDelivery:
    """Answer the ping; otherwise check the signature over the raw body, then name the order.

    :param headers: the request headers, names in lower case.
    :raises WebhookSignatureError: the signature is missing or does not match.
    """
    signature = headers.get(SIGNATURE_HEADER)
    ping = _PING.fullmatch(body.strip())
    if ping is not None and not signature:
        # Unsigned by WooCommerce's design; it changes nothing, so it needs no proof.
        webhook = ping.group(1).decode()
        return WebhookDelivery(topic="ping", delivery_id=f"ping:{webhook}", ping=True)
    if not signature_matches(secret, body, signature):
        raise WebhookSignatureError("X-WC-Webhook-Signature missing or wrong")
    topic = headers.get(TOPIC_HEADER, "")
    fallback = headers.get(DELIVERY_HEADER) or ""
    if topic not in ORDER_TOPICS:
        return WebhookDelivery(topic=topic, delivery_id=fallback or topic)
    order_id, modified = _order_of(body)
    if order_id is None:
        return WebhookDelivery(topic=topic, delivery_id=fallback or topic)
    event = f"{topic}:{order_id}:{modified}" if modified else fallback or f"{topic}:{order_id}"
    return WebhookDelivery(topic=topic, delivery_id=event, order_id=order_id)


def _order_of(body: bytes) -> tuple[str | None, str | None]:
    """The order id and modification time of an order payload (``None`` when it names none)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None, None
    if not isinstance(payload, dict):
        return None, None
    number = payload.get("id")
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        return None, None
    modified = payload.get("date_modified_gmt")
    return str(number), modified if isinstance(modified, str) else None

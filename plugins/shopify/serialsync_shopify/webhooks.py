"""How Shopify speaks webhooks: the topics followed, the signature, the order a delivery names.

Shopify signs each delivery with the app's client secret: ``X-Shopify-Hmac-Sha256`` is the
base64 HMAC-SHA256 of the raw body. ``X-Shopify-Topic`` is the topic in its REST spelling
(``orders/create``); ``X-Shopify-Event-Id`` is the same for every delivery of one event (a
retry, or one per subscription), which is what serialsync de-duplicates on;
``X-Shopify-Webhook-Id`` is kept by the retries of one delivery only. The body of an order topic
is the order in REST form; serialsync reads only its id (``admin_graphql_api_id``), and fetches
the order itself.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from pydantic import SecretStr
from serialsync import WebhookDelivery, WebhookSignatureError, signature_matches

#: The subscription topics (GraphQL enum) and the ``X-Shopify-Topic`` each delivers as.
ORDER_TOPICS: dict[str, str] = {
    "ORDERS_CREATE": "orders/create",
    "ORDERS_UPDATED": "orders/updated",
    "ORDERS_PAID": "orders/paid",
    "ORDERS_CANCELLED": "orders/cancelled",
}
_FOLLOWED = set(ORDER_TOPICS.values())

HMAC_HEADER = "x-shopify-hmac-sha256"
TOPIC_HEADER = "x-shopify-topic"
EVENT_HEADER = "x-shopify-event-id"
WEBHOOK_ID_HEADER = "x-shopify-webhook-id"


def verify(
    headers: Mapping[str, str], body: bytes, client_secret: SecretStr | None
) -> WebhookDelivery:
    """Check the signature over the raw body, then name the event and the order.

    :param headers: the request headers, names in lower case.
    :raises WebhookSignatureError: no client secret configured, or the signature is missing or
        does not match.
    """
    if client_secret is None or not client_secret.get_secret_value():
        raise WebhookSignatureError(
            "the connector has no client_secret: Shopify's signatures cannot be checked"
        )
    if not signature_matches(client_secret, body, headers.get(HMAC_HEADER)):
        raise WebhookSignatureError("X-Shopify-Hmac-Sha256 missing or wrong")
    topic = headers.get(TOPIC_HEADER, "")
    event = (
        headers.get(EVENT_HEADER)
        or headers.get(WEBHOOK_ID_HEADER)
        or hashlib.sha256(body).hexdigest()
    )
    if topic not in _FOLLOWED:
        return WebhookDelivery(topic=topic, delivery_id=event)
    return WebhookDelivery(topic=topic, delivery_id=event, order_id=_order_gid(body))


def _order_gid(body: bytes) -> str | None:
    """The order's GraphQL id from a REST-form order payload (``None`` if it names none)."""
    try:
        payload = json.loads(body)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    gid = payload.get("admin_graphql_api_id")
    if isinstance(gid, str) and gid.startswith("gid://shopify/Order/"):
        return gid
    number = payload.get("id")
    if isinstance(number, int) and not isinstance(number, bool) and number > 0:
        return f"gid://shopify/Order/{number}"
    return None

"""How BigCommerce speaks webhooks: the scope followed, the secret header, the order named.

A webhook is made through ``/v3/hooks`` (``scope``, ``destination``, ``is_active`` and custom
``headers`` sent with every delivery). BigCommerce signs nothing, so the subscriber sets a
secret header at creation and checks it on every delivery; serialsync's is
``X-Serialsync-Webhook-Secret``, compared in constant time. Payloads are thin: the scope
(``store/order/created``), ``data: {"type": "order", "id": 250}`` and a ``hash`` of the event
that is the same for every delivery of it (what serialsync de-duplicates on).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from pydantic import SecretStr
from serialsync import WebhookDelivery, WebhookSignatureError, secret_matches

#: One subscription to every order event (created, updated, statusUpdated, archived …).
ORDER_SCOPE = "store/order/*"
_ORDER_EVENTS = ("store/order/created", "store/order/updated", "store/order/statusUpdated")
SECRET_HEADER = "X-Serialsync-Webhook-Secret"  # noqa: S105 - a header name


def verify(headers: Mapping[str, str], body: bytes, secret: SecretStr) -> WebhookDelivery:
    """Check the secret header, then name the event and the order.

    :param headers: the request headers, names in lower case.
    :raises WebhookSignatureError: the header is missing or wrong.
    """
    if not secret_matches(secret, headers.get(SECRET_HEADER.lower())):
        raise WebhookSignatureError(f"{SECRET_HEADER} missing or wrong")
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if not isinstance(payload, dict):
        return WebhookDelivery(topic="", delivery_id=hashlib.sha256(body).hexdigest())
    scope = str(payload.get("scope") or "")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    event = payload.get("hash")
    number = data.get("id") if isinstance(data, dict) else None
    delivery_id = (
        str(event)
        if isinstance(event, str) and event
        else f"{scope}:{number}:{payload.get('created_at')}"
    )
    if scope not in _ORDER_EVENTS or isinstance(number, bool) or not isinstance(number, int):
        return WebhookDelivery(topic=scope, delivery_id=delivery_id)
    return WebhookDelivery(topic=scope, delivery_id=delivery_id, order_id=str(number))

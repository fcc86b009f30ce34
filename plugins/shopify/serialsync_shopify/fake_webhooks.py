"""The fake store's webhook subscriptions, and the signed deliveries it sends on order events.

Subscriptions are made, listed and deleted through the GraphQL Admin API as on Shopify
(``webhookSubscriptionCreate`` with a ``uri``; a second subscription to the same topic and
address is refused with a user error, as Shopify does). An order event is delivered to each
subscription of its topic, signed with the app's client secret, with one
``X-Shopify-Event-Id`` per event and one ``X-Shopify-Webhook-Id`` per delivery, through a
:class:`~serialsync.testing.WebhookSender` (at least once, sometimes twice).

A delivery not answered 2xx is retried as Shopify retries it: 8 times over 4 hours on an
exponential schedule, the original payload and headers to the address of the moment it was
triggered (https://shopify.dev/changelog/updates-to-webhook-retry-mechanism, September 2024;
older docs said 19 retries over 48 hours). When the retries fail too, Shopify removes the
subscription ("if failures persist, the subscription is removed",
https://shopify.dev/docs/apps/build/webhooks/troubleshoot; the HTTPS delivery page says so of a
subscription made through the Admin API, as every one here is): the fake deletes it, and
``serialsync webhooks list`` shows its topic missing until ``register`` makes it again.
Shopify publishes neither the exact intervals nor whether failures of several events count
together: assumed here, the pause doubles after each retry (the eight sum to 4 hours), and
one event whose every retry failed removes its subscription.
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from serialsync import hmac_sha256_base64
from serialsync.testing import Delivery, WebhookSender

from serialsync_shopify.fake_catalog import gid_number
from serialsync_shopify.fake_graphql import connection
from serialsync_shopify.fake_orders import FakeOrder
from serialsync_shopify.webhooks import ORDER_TOPICS

#: Retries after a failed delivery, and the window they span (seconds).
RETRIES = 8
RETRY_WINDOW = 4 * 3600.0

#: How much faster than Shopify the fake retries by default: the 4-hour schedule in 3 seconds.
TIME_SCALE = 3.0 / RETRY_WINDOW


def retry_delays(time_scale: float = TIME_SCALE) -> list[float]:
    """The pause before each of Shopify's retries, doubling and summing to the 4-hour window
    (the doubling is assumed: Shopify says only "exponential backoff"), times ``time_scale``."""
    first = RETRY_WINDOW / (2**RETRIES - 1)
    return [first * 2**n * time_scale for n in range(RETRIES)]


@dataclass
class FakeSubscription:
    """One subscription: its id, topic (GraphQL enum) and address."""

    id: str
    topic: str
    uri: str
    created_at: datetime


class WebhookBook:
    """Subscriptions, and the deliveries of order events to them."""

    def __init__(
        self,
        *,
        gid: Callable[[str], str],
        client_secret: str,
        shop_domain: str,
        api_version: str,
        sender: WebhookSender,
        lock: threading.RLock,
    ) -> None:
        self._gid = gid
        self.client_secret = client_secret
        self.shop_domain = shop_domain
        self.api_version = api_version
        self.sender = sender
        self._lock = lock
        self.subscriptions: dict[str, FakeSubscription] = {}
        #: Subscriptions Shopify removed after their deliveries failed, by id.
        self.removed: dict[str, FakeSubscription] = {}

    # -- the API ------------------------------------------------------------------------------

    def search(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``webhookSubscriptions`` query (filtered by ``uri`` and ``topics``)."""
        uri = args.get("uri") or args.get("callbackUrl")
        topics = args.get("topics")
        found = [
            s
            for s in self.subscriptions.values()
            if (uri is None or s.uri == uri) and (not topics or s.topic in topics)
        ]
        return connection(
            found, args, key=lambda s: (gid_number(s.id),), view=lambda s: self.view(s)
        )

    def create(self, args: dict[str, Any]) -> dict[str, Any]:
        """``webhookSubscriptionCreate``: one per topic and address."""
        topic = str(args["topic"])
        given = args.get("webhookSubscription") or {}
        uri = given.get("uri") or given.get("callbackUrl")
        if not uri:
            return _user_error(["webhookSubscription", "uri"], "Address can't be blank")
        if not str(uri).startswith(("https://", "http://")):
            return _user_error(["webhookSubscription", "uri"], "Address protocol is not supported")
        if any(s.topic == topic and s.uri == uri for s in self.subscriptions.values()):
            # Shopify refuses a second subscription to one topic and address; the wording is
            # the one its REST API answered (Shopify/shopify_app#263), assumed in userErrors.
            return _user_error(
                ["webhookSubscription", "uri"], "Address for this topic has already been taken"
            )
        subscription = FakeSubscription(
            id=self._gid("WebhookSubscription"),
            topic=topic,
            uri=str(uri),
            created_at=datetime.now(UTC),
        )
        self.subscriptions[subscription.id] = subscription
        return {"webhookSubscription": self.view(subscription), "userErrors": []}

    def delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """``webhookSubscriptionDelete``."""
        subscription_id = str(args["id"])
        if self.subscriptions.pop(subscription_id, None) is None:
            return {
                "deletedWebhookSubscriptionId": None,
                "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
            }
        return {"deletedWebhookSubscriptionId": subscription_id, "userErrors": []}

    def view(self, subscription: FakeSubscription) -> dict[str, Any]:
        """A subscription as the projector walks it."""
        return {
            "__typename": "WebhookSubscription",
            "id": subscription.id,
            "topic": subscription.topic,
            "uri": subscription.uri,
            "callbackUrl": subscription.uri,
            "format": "JSON",
            "createdAt": subscription.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    # -- deliveries ---------------------------------------------------------------------------

    def order_event(self, topic: str, order: FakeOrder) -> None:
        """Deliver one order event (``ORDERS_CREATE`` …) to every subscription of its topic."""
        targets = [s for s in self.subscriptions.values() if s.topic == topic]
        if not targets:
            return
        body = json.dumps(order_payload(order)).encode()
        event = str(uuid.uuid4())
        for subscription in targets:
            self.sender.send(
                Delivery(
                    url=subscription.uri,
                    body=body,
                    topic=topic,
                    headers={
                        "Content-Type": "application/json",
                        "X-Shopify-Topic": ORDER_TOPICS[topic],
                        "X-Shopify-Hmac-Sha256": hmac_sha256_base64(self.client_secret, body),
                        "X-Shopify-Shop-Domain": self.shop_domain,
                        "X-Shopify-API-Version": self.api_version,
                        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                        "X-Shopify-Event-Id": event,
                        "X-Shopify-Triggered-At": datetime.now(UTC).isoformat(),
                    },
                ),
                on_done=functools.partial(self.delivered, subscription.id),
            )

    def delivered(self, subscription_id: str, ok: bool) -> None:
        """One delivery's end: a delivery whose retries all failed removes its subscription."""
        if ok:
            return
        with self._lock:
            subscription = self.subscriptions.pop(subscription_id, None)
            if subscription is not None:  # not deleted meanwhile
                self.removed[subscription_id] = subscription


def order_payload(order: FakeOrder) -> dict[str, Any]:
    """An order in the REST form Shopify delivers on order topics (the fields a reader needs)."""
    return {
        "id": gid_number(order.id),
        "admin_graphql_api_id": order.id,
        "name": order.name,
        "created_at": order.created_at.isoformat(),
        "updated_at": order.updated_at.isoformat(),
        "cancelled_at": order.cancelled_at.isoformat() if order.cancelled_at else None,
        "financial_status": order.financial.lower(),
        "currency": order.currency,
        "line_items": [
            {
                "id": gid_number(line.id),
                "sku": line.sku,
                "title": line.title,
                "quantity": line.quantity,
                "price": format(line.price, "f"),
            }
            for line in order.lines
        ],
    }


def _user_error(field: list[str], message: str) -> dict[str, Any]:
    return {"webhookSubscription": None, "userErrors": [{"field": field, "message": message}]}

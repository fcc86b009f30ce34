"""The fake store's webhooks (``/wc/v3/webhooks``) and the deliveries it sends on order events.

As WooCommerce: a webhook has a topic (``order.created``), a ``delivery_url``, a ``secret``
(generated when none is given) and a status; deleting needs ``force=true`` (webhooks cannot be
trashed); creating one active sends the unsigned, form-encoded ``webhook_id=<id>`` ping. Each
order event goes to every active webhook of its topic, signed (``X-WC-Webhook-Signature``),
through a :class:`~serialsync.testing.WebhookSender`, once: WooCommerce never retries a
delivery.

Failures as ``WC_Webhook::log_delivery`` and ``failed_delivery`` count them (woocommerce/
woocommerce, ``plugins/woocommerce/includes/class-wc-webhook.php``): a 2xx, 301 or 302 answer
resets the webhook's count; any other answer, or none, adds one while the count is at most
5 (the ``woocommerce_max_webhook_delivery_failures`` filter's default), and past that the
webhook is disabled instead, so the 7th consecutive failure disables it. Saving it active again
(``PUT webhooks/{id}`` with ``status``) leaves the count as it was (the REST controller and
``WC_Webhook_Data_Store::update`` do not reset it): one more failure disables it again. That
save pings only when the delivery URL changed or the creation's ping never got its 200.
"""

from __future__ import annotations

import functools
import json
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from serialsync import hmac_sha256_base64
from serialsync.testing import Delivery, WebhookSender

Json = dict[str, Any]

#: The topics this fake knows (WooCommerce has more; these are the order ones and a product one).
TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored", "product.updated")

#: WooCommerce disables a webhook at a failure that finds its count of consecutive failures
#: already above this (the default of the ``woocommerce_max_webhook_delivery_failures`` filter):
#: the count stops at 6, and the 7th consecutive failure disables it.
MAX_DELIVERY_FAILURES = 5


class WebhookError(Exception):
    """A refusal in WooCommerce's error shape: HTTP status, code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class WooWebhooks:
    """The webhooks of the fake store, and their deliveries."""

    def __init__(
        self,
        *,
        new_id: Callable[[], int],
        stamp: Callable[[], str],
        source: str,
        sender: WebhookSender,
    ) -> None:
        self._new_id = new_id
        self._stamp = stamp
        self.source = source
        self.sender = sender
        self.hooks: dict[int, Json] = {}
        #: Consecutive failed deliveries per webhook (kept in the webhook's post meta by
        #: WooCommerce, not shown by the REST API).
        self.failures: dict[int, int] = {}
        #: Webhooks whose ping has not been answered 200 yet.
        self.pending: set[int] = set()

    # -- the API ------------------------------------------------------------------------------

    def create(self, body: Json) -> Json:
        """``POST webhooks``: the webhook as WooCommerce answers it (201)."""
        topic = body.get("topic")
        url = body.get("delivery_url")
        if topic not in TOPICS:
            raise WebhookError(400, "rest_invalid_param", "Invalid parameter(s): topic")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise WebhookError(400, "rest_invalid_param", "Invalid parameter(s): delivery_url")
        hook_id = self._new_id()
        resource, event = str(topic).split(".", 1)
        hook: Json = {
            "id": hook_id,
            "name": str(body.get("name") or f"Webhook created on {self._stamp()}"),
            "status": str(body.get("status") or "active"),
            "topic": topic,
            "resource": resource,
            "event": event,
            "hooks": [f"woocommerce_{resource}_{event}"],
            "delivery_url": url,
            "secret": str(body.get("secret") or secrets.token_urlsafe(32)),
            "date_created_gmt": self._stamp(),
            "date_modified_gmt": self._stamp(),
        }
        self.hooks[hook_id] = hook
        # Pending until a ping gets its 200 (WooCommerce's pending_delivery, not shown).
        self.pending.add(hook_id)
        if hook["status"] == "active":
            self.ping(hook)
        return self.view(hook)

    def update(self, hook_id: int, body: Json) -> Json:
        """``PUT webhooks/{id}``."""
        hook = self.get(hook_id)
        moved = "delivery_url" in body and body["delivery_url"] != hook["delivery_url"]
        for key in ("name", "status", "secret", "delivery_url"):
            if key in body:
                hook[key] = body[key]
        hook["date_modified_gmt"] = self._stamp()
        # The failure count is kept (nothing in the REST API resets it); a ping goes out only
        # to a new address, or while no ping has been answered yet.
        if hook["status"] == "active" and (moved or hook_id in self.pending):
            self.ping(hook)
        return self.view(hook)

    def delete(self, hook_id: int, force: bool) -> Json:
        """``DELETE webhooks/{id}``: only with ``force=true``."""
        hook = self.get(hook_id)
        if not force:
            raise WebhookError(
                501, "woocommerce_rest_trash_not_supported", "Webhooks do not support trashing."
            )
        del self.hooks[hook_id]
        return self.view(hook)

    def get(self, hook_id: int) -> Json:
        """One webhook, or WooCommerce's 404."""
        hook = self.hooks.get(hook_id)
        if hook is None:
            raise WebhookError(404, "woocommerce_rest_webhook_invalid_id", "Invalid ID.")
        return hook

    def listing(self) -> list[Json]:
        """Every webhook, newest first (as ``GET webhooks`` orders them)."""
        return [self.view(h) for h in sorted(self.hooks.values(), key=lambda h: -h["id"])]

    @staticmethod
    def view(hook: Json) -> Json:
        """A webhook as the API shows it (the secret included: the keys are an admin's)."""
        return dict(hook)

    # -- deliveries ---------------------------------------------------------------------------

    def ping(self, hook: Json) -> None:
        """The unsigned ping WooCommerce sends when a webhook is created (or moved) active."""
        self.sender.send(
            Delivery(
                url=hook["delivery_url"],
                body=f"webhook_id={hook['id']}".encode(),
                topic="ping",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
            on_done=functools.partial(self.pinged, hook["id"]),
        )

    def pinged(self, hook_id: int, ok: bool) -> None:
        """A ping's outcome: answered, the webhook is no longer pending (failures of a ping are
        not counted: ``deliver_ping`` only reports them)."""
        if ok:
            self.pending.discard(hook_id)

    def order_event(self, topic: str, order: Json) -> None:
        """Deliver one order event to every active webhook of ``topic``."""
        body = json.dumps(order).encode()
        resource, event = topic.split(".", 1)
        for hook in self.hooks.values():
            if hook["topic"] != topic or hook["status"] != "active":
                continue
            self.sender.send(
                Delivery(
                    url=hook["delivery_url"],
                    body=body,
                    topic=topic,
                    headers={
                        "Content-Type": "application/json",
                        "X-WC-Webhook-Source": self.source,
                        "X-WC-Webhook-Topic": topic,
                        "X-WC-Webhook-Resource": resource,
                        "X-WC-Webhook-Event": event,
                        "X-WC-Webhook-Signature": hmac_sha256_base64(hook["secret"], body),
                        "X-WC-Webhook-ID": str(hook["id"]),
                        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
                    },
                ),
                on_done=functools.partial(self.delivered, hook["id"]),
            )

    def delivered(self, hook_id: int, ok: bool) -> None:
        """Count one delivery's outcome as ``failed_delivery`` does: a failure that finds the
        count above the limit disables the webhook (the count stays), any other adds one."""
        hook = self.hooks.get(hook_id)
        if hook is None:
            return  # deleted meanwhile
        if ok:
            self.failures[hook_id] = 0
            return
        failures = self.failures.get(hook_id, 0)
        if failures > MAX_DELIVERY_FAILURES:
            hook["status"] = "disabled"
        else:
            self.failures[hook_id] = failures + 1

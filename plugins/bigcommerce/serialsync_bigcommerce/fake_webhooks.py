"""The fake store's webhooks (``/v3/hooks``) and the thin deliveries it sends on order events.

As BigCommerce: a hook has a ``scope`` (``store/order/*`` follows every order event), a
``destination`` (HTTPS on the real platform; the sandbox serves plain HTTP on loopback), custom
``headers`` sent with every delivery, and ``is_active``. A delivery names the event's scope and
the order's id, with a ``hash`` of the event that every delivery of it repeats; it is posted
through a :class:`~serialsync.testing.WebhookSender` (at least once, sometimes twice).

A delivery not answered 2xx is retried on BigCommerce's published schedule (60 s, 180 s, 300 s,
600 s, 900 s, 1800 s, 3600 s, 7200 s, 21600 s, 50400 s, 86400 s: eleven retries, some 48 hours),
time scaled; after the final retry the hook is deactivated (``is_active`` false) until it is
updated active again ("Callback retry mechanism", developer.bigcommerce.com/docs/integrations/
webhooks/https-webhook-overview, bigcommerce/docs). Not modelled: the blocklisting of a whole
domain whose success ratio falls below 90 % in a two-minute window, and the retries counted per
domain rather than per hook.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Any

from serialsync.testing import Delivery, WebhookSender

Json = dict[str, Any]

#: The pause before each retry of a failed delivery, in platform seconds (BigCommerce's table;
#: confirmed in bigcommerce/docs docs/integrations/webhooks/https-webhook-overview.mdx at 24f580c,
#: 2026-04-01: eleven retries, cumulatively 48 hours, then the hook deactivated).
RETRY_SCHEDULE = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)

#: How much faster than BigCommerce the fake retries by default: the 48 hours in 3 seconds.
TIME_SCALE = 3.0 / sum(RETRY_SCHEDULE)


def retry_delays(time_scale: float = TIME_SCALE) -> list[float]:
    """BigCommerce's retry schedule times ``time_scale``."""
    return [pause * time_scale for pause in RETRY_SCHEDULE]


class HookError(Exception):
    """A refusal: HTTP status and title, in BigCommerce's v3 error shape."""

    def __init__(self, status: int, title: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title


class BigCommerceHooks:
    """The webhooks of the fake store, and their deliveries."""

    def __init__(
        self,
        *,
        new_id: Callable[[], int],
        clock: Callable[[], float],
        store_hash: str,
        sender: WebhookSender,
        lock: threading.RLock,
    ) -> None:
        self._new_id = new_id
        self._clock = clock
        self.store_hash = store_hash
        self.sender = sender
        self._lock = lock
        self.hooks: dict[int, Json] = {}

    # -- the API ------------------------------------------------------------------------------

    def create(self, body: Json) -> Json:
        """``POST /v3/hooks``."""
        scope = body.get("scope")
        destination = body.get("destination")
        if not isinstance(scope, str) or not scope.startswith("store/"):
            raise HookError(422, "scope is not a known webhook scope")
        if not isinstance(destination, str) or not destination.startswith(("https://", "http://")):
            raise HookError(422, "destination must be a URL")
        if any(
            h["scope"] == scope and h["destination"] == destination for h in self.hooks.values()
        ):
            # Assumed wording; BigCommerce refuses the same scope twice for one destination.
            raise HookError(422, "A hook with this scope and destination already exists")
        now = int(self._clock())
        hook: Json = {
            "id": self._new_id(),
            "client_id": "fake-client",
            "store_hash": self.store_hash,
            "scope": scope,
            "destination": destination,
            "headers": dict(body.get("headers") or {}),
            "is_active": bool(body.get("is_active", True)),
            "created_at": now,
            "updated_at": now,
        }
        self.hooks[hook["id"]] = hook
        return dict(hook)

    def update(self, hook_id: int, body: Json) -> Json:
        """``PUT /v3/hooks/{id}``."""
        hook = self.get(hook_id)
        for key in ("destination", "headers", "is_active"):
            if key in body:
                hook[key] = body[key]
        hook["updated_at"] = int(self._clock())
        return dict(hook)

    def delete(self, hook_id: int) -> Json:
        """``DELETE /v3/hooks/{id}``: the deleted hook."""
        return dict(self.hooks.pop(self.get(hook_id)["id"]))

    def get(self, hook_id: int) -> Json:
        """One hook, or BigCommerce's 404."""
        hook = self.hooks.get(hook_id)
        if hook is None:
            raise HookError(404, "Hook not found")
        return hook

    def listing(self) -> list[Json]:
        """Every hook, by id."""
        return [dict(h) for _, h in sorted(self.hooks.items())]

    # -- deliveries ---------------------------------------------------------------------------

    def order_event(self, scope: str, order_id: int) -> None:
        """Deliver one order event to every active hook whose scope covers it."""
        now = int(self._clock())
        data = {"type": "order", "id": order_id}
        event = hashlib.sha1(  # noqa: S324 - the platform's event hash, not a security measure
            json.dumps({"scope": scope, "data": data, "at": now}).encode()
        ).hexdigest()
        body = json.dumps(
            {
                "scope": scope,
                "store_id": "1000001",
                "data": data,
                "hash": event,
                "created_at": now,
                "producer": f"stores/{self.store_hash}",
            }
        ).encode()
        for hook in self.hooks.values():
            if not hook["is_active"] or not _covers(hook["scope"], scope):
                continue
            self.sender.send(
                Delivery(
                    url=hook["destination"],
                    body=body,
                    topic=scope,
                    headers={"Content-Type": "application/json", **hook["headers"]},
                ),
                on_done=functools.partial(self.delivered, hook["id"]),
            )

    def delivered(self, hook_id: int, ok: bool) -> None:
        """One delivery's end: after its final retry failed, the hook is deactivated."""
        if ok:
            return
        with self._lock:
            hook = self.hooks.get(hook_id)
            if hook is not None:  # not deleted meanwhile
                hook["is_active"] = False


def _covers(subscribed: str, scope: str) -> bool:
    if subscribed.endswith("/*"):
        return scope.startswith(subscribed[:-1])
    return subscribed == scope

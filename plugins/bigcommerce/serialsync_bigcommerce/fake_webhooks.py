"""The fake store's webhooks (``/v3/hooks``) and the thin deliveries it sends on order events.

As BigCommerce: a hook has a ``scope`` (``store/order/*`` follows every order event), a
``destination`` (HTTPS on the real platform; the sandbox serves plain HTTP on loopback), custom
``headers`` sent with every delivery, and ``is_active``. A delivery names the event's scope and
the order's id, with a ``hash`` of the event that every delivery of it repeats; it is posted
through a :class:`~serialsync.testing.WebhookSender` (at least once, sometimes twice, retried on
non-2xx).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from serialsync.testing import Delivery, WebhookSender

Json = dict[str, Any]


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
    ) -> None:
        self._new_id = new_id
        self._clock = clock
        self.store_hash = store_hash
        self.sender = sender
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
                )
            )


def _covers(subscribed: str, scope: str) -> bool:
    if subscribed.endswith("/*"):
        return scope.startswith(subscribed[:-1])
    return subscribed == scope

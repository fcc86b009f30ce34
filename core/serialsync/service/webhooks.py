"""Receiving webhook deliveries: size, signature, de-duplication, then a trigger for the worker.

``POST /webhooks/<connector>`` is answered in this order, and nothing after a refusal runs:

1. a connector that is not a channel implementing ``verify_webhook``: 404;
2. a body over :data:`MAX_BODY` (by its ``Content-Length``, or as it streams in): 413;
3. the plugin's ``verify_webhook`` on the raw bytes: a missing or wrong signature is 401;
4. a ping, or a topic that names no order: 200, ignored;
5. an event already seen (the platform's retry, or one delivery per subscription): 200, replay;
6. otherwise the order is queued for the :class:`~serialsync.service.worker.OrderWorker` and
   the platform gets its 200 at once; the POS is never waited on here.

The event ids seen are kept in the store (:meth:`~serialsync.store.Store.first_delivery`), so a
replay is a replay after a restart too, and for every runner sharing the store; they are
forgotten after :data:`EVENT_MEMORY` (the platforms stop retrying well within it). The latest
:data:`DEDUPE_SIZE` are kept in memory as well, so that a burst of replays costs no write. Were
the store to fail, the delivery is taken: the order path itself makes a repeat harmless (an
order seen with the same update changes nothing).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

from pydantic import SecretStr

from serialsync.connector import Role
from serialsync.errors import ConfigurationError, WebhookSignatureError
from serialsync.logging import get_logger
from serialsync.manager import PluginManager

MAX_BODY = 1024 * 1024
DEDUPE_SIZE = 100_000
#: How long an event id is remembered in the store.
EVENT_MEMORY = timedelta(days=7)
#: Events taken between two clear-outs of those older than :data:`EVENT_MEMORY`.
FORGET_EVERY = 1000
WEBHOOK_PATH = "/webhooks/{connector}"

_log = get_logger("serialsync.service")


class DeliveryResult(StrEnum):
    """How a delivery was answered (the label of ``serialsync_webhook_deliveries``)."""

    ACCEPTED = "accepted"
    REPLAY = "replay"
    IGNORED = "ignored"
    PING = "ping"
    UNAUTHORIZED = "unauthorized"
    TOO_LARGE = "too_large"
    UNKNOWN_CONNECTOR = "unknown_connector"
    ERROR = "error"


STATUS = {
    DeliveryResult.ACCEPTED: 200,
    DeliveryResult.REPLAY: 200,
    DeliveryResult.IGNORED: 200,
    DeliveryResult.PING: 200,
    DeliveryResult.UNAUTHORIZED: 401,
    DeliveryResult.TOO_LARGE: 413,
    DeliveryResult.UNKNOWN_CONNECTOR: 404,
    # A plugin's bug: a 5xx makes the platform deliver again later.
    DeliveryResult.ERROR: 500,
}


def connector_secret(master: SecretStr | None, connector: str) -> SecretStr:
    """The secret one connector's subscriptions are signed with, derived from ``[webhooks] secret``.

    Derived rather than stored: the same on every start and every runner, and one leaked
    connector secret tells nothing of another's. Empty when no master secret is set (a plugin
    that signs with a key of its own, Shopify's client secret, needs none).
    """
    if master is None or not master.get_secret_value():
        return SecretStr("")
    digest = hmac.new(
        master.get_secret_value().encode(),
        f"serialsync-webhooks:{connector}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return SecretStr(digest)


def callback_url(public_url: str | None, connector: str) -> str:
    """The address a channel calls for ``connector``: ``<public_url>/webhooks/<connector>``."""
    if not public_url:
        raise ConfigurationError(
            "webhooks.public_url: not set; it is the address the platforms call "
            "(https://sync.example.com), /webhooks/<connector> is appended"
        )
    return public_url.rstrip("/") + WEBHOOK_PATH.format(connector=connector)


@dataclass(frozen=True)
class Answer:
    """What the receiver answers one delivery: the result, and what to tell the caller."""

    result: DeliveryResult
    detail: str = ""

    @property
    def status(self) -> int:
        """The HTTP status."""
        return STATUS[self.result]


class _SeenEvents:
    """The latest event ids seen, per connector (a bounded, thread-safe set)."""

    def __init__(self, size: int = DEDUPE_SIZE) -> None:
        self._size = size
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, connector: str, event: str) -> bool:
        """True (and remembered) when the event was not seen here; False for a replay."""
        key = (connector, event)
        with self._lock:
            if key in self._seen:
                self._seen.move_to_end(key)
                return False
            self._seen[key] = None
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
            return True


class OrderSink(Protocol):
    """Where a receiver hands the orders that deliveries name: the
    :class:`~serialsync.service.worker.OrderWorker` of ``serialsync run``, or a deployment's job
    queue (:mod:`serialsync.workers.webhooks`)."""

    def submit(self, connector: str, order_id: str) -> bool:
        """Take one order to work; False when it was taken already."""
        ...


class DeliveryLog(Protocol):
    """Where a receiver keeps the event ids it took: a :class:`~serialsync.store.Store`
    (``serialsync run``), or a deployment merchant's table of them
    (:class:`~serialsync.workers.webhooks.MerchantDeliveries`)."""

    def first_delivery(self, connector: str, event_id: str, at: datetime) -> bool:
        """Remember an event; True when it was not seen before."""
        ...

    def forget_deliveries(self, before: datetime) -> int:
        """Forget the events seen before ``before``; how many."""
        ...


class WebhookReceiver:
    """Answers deliveries (see the module's docstring) and hands orders to the worker."""

    def __init__(
        self,
        plugins: PluginManager,
        worker: OrderSink,
        *,
        secret: SecretStr | None = None,
        observe: Callable[[str, str], None] | None = None,
        store: DeliveryLog | None = None,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.plugins = plugins
        self.worker = worker
        self._master = secret
        self._observe = observe
        self._seen = _SeenEvents()
        self._store = store
        self._now = now
        self._taken = 0
        self._taken_lock = threading.Lock()

    def accepts(self, connector: str) -> bool:
        """True when ``connector`` is a channel whose plugin verifies webhooks."""
        try:
            handle = self.plugins.connector(connector)
        except ConfigurationError:
            return False
        return handle.role == Role.CHANNEL and self.plugins.implements(connector, "verify_webhook")

    def receive(self, connector: str, headers: dict[str, str], body: bytes) -> Answer:
        """Answer one delivery whose body was read in full (and is within :data:`MAX_BODY`)."""
        answer = self._answer(connector, headers, body)
        self.observe(connector, answer.result)
        return answer

    def observe(self, connector: str, result: DeliveryResult) -> None:
        """Count one answered delivery."""
        if self._observe is not None:
            self._observe(connector if self.accepts(connector) else "-", result.value)

    def _answer(self, connector: str, headers: dict[str, str], body: bytes) -> Answer:
        if not self.accepts(connector):
            return Answer(DeliveryResult.UNKNOWN_CONNECTOR, "no webhook endpoint for it")
        log = _log.bind(connector=connector, operation="webhook")
        secret = connector_secret(self._master, connector)
        try:
            delivery = self.plugins.verify_webhook(connector, headers, body, secret)
        except WebhookSignatureError as exc:
            # Nothing of the body is logged: it was not proved to come from the platform.
            log.warning("webhook.refused", why=str(exc))
            return Answer(DeliveryResult.UNAUTHORIZED, "signature missing or wrong")
        except Exception as exc:
            log.error("webhook.verify_failed", error=type(exc).__name__)
            return Answer(DeliveryResult.ERROR, "could not be read")
        if delivery.ping:
            log.info("webhook.ping", topic=delivery.topic)
            return Answer(DeliveryResult.PING)
        if delivery.order_id is None:
            log.debug("webhook.ignored", topic=delivery.topic)
            return Answer(DeliveryResult.IGNORED, f"topic {delivery.topic} is not followed")
        if not self._first_time(connector, delivery.delivery_id):
            log.info("webhook.replay", topic=delivery.topic, event_id=delivery.delivery_id)
            return Answer(DeliveryResult.REPLAY)
        self.worker.submit(connector, delivery.order_id)
        log.info(
            "webhook.accepted",
            topic=delivery.topic,
            event_id=delivery.delivery_id,
            order_id=delivery.order_id,
        )
        return Answer(DeliveryResult.ACCEPTED)

    def _first_time(self, connector: str, event: str) -> bool:
        """Whether an event is new: in memory first, then in the store (across restarts)."""
        if not self._seen.first_time(connector, event):
            return False
        if self._store is None:
            return True
        now = self._now()
        try:
            first = self._store.first_delivery(connector, event, now)
            with self._taken_lock:
                self._taken += 1
                forget = self._taken % FORGET_EVERY == 0
            if forget:
                self._store.forget_deliveries(now - EVENT_MEMORY)
        except Exception as exc:  # taken: a repeat is harmless, a lost order is not
            _log.warning("webhook.events_not_stored", connector=connector, error=type(exc).__name__)
            return True
        return first

"""Webhooks for every merchant of a deployment: ``POST /m/<merchant>/webhooks/<connector>``.

``serialsync worker --listen ADDRESS`` serves them beside its jobs. A merchant's subscriptions
call ``<its [webhooks] public_url>/webhooks/<connector>``, so a merchant whose ``public_url`` is
``https://sync.example.com/m/acme`` is registered by ``serialsync --merchant acme webhooks
register`` exactly as a single runner would be, and its deliveries land here.

Each delivery is answered as ``serialsync run`` answers it (the same
:class:`~serialsync.service.webhooks.WebhookReceiver`: size, the merchant's own signature
secret, replays), and the order it names becomes a job of its own (``serialsync.order``) that
fetches that one order and works it as ``run`` does (applied, withdrawn everywhere, reported),
at the highest priority and beside the merchant's passes: not a whole order pass. Deliveries
of one order fold into one job (its queueing lock). The event ids are kept in the merchant's
store (``webhook_events``, as ``run`` keeps them), so a platform's retry that reaches another
worker, or this one after a restart, is a replay there too. The platform gets its answer
before any of the work starts. A merchant unknown, disabled or without a webhook-capable
channel of that name is a 404.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serialsync.connector import ConnectorContext
from serialsync.errors import ConfigurationError
from serialsync.logging import get_logger
from serialsync.manager import PluginManager
from serialsync.merchants.registry import MerchantNotFoundError
from serialsync.service.app import webhook_endpoint
from serialsync.service.webhooks import WebhookReceiver
from serialsync.settings import Settings
from serialsync.workers.flows import WorkerResources

if TYPE_CHECKING:
    import procrastinate

_log = get_logger("serialsync.workers")

#: The path of a merchant's deliveries (``public_url`` of the merchant ends in ``/m/<name>``).
MERCHANT_WEBHOOK_PATH = "/m/{merchant}/webhooks/{connector}"


#: ``defer(merchant, connector, order_id)``: queue the job of one order (True), or find it
#: queued already (False).
OrderDeferrer = Callable[[str, str, str], bool]


class QueueOrders:
    """Hands the orders of one merchant's deliveries to the job queue, one job an order."""

    def __init__(self, defer: OrderDeferrer, merchant: str) -> None:
        self._defer = defer
        self.merchant = merchant

    def submit(self, connector: str, order_id: str) -> bool:
        """Queue the order's job (which fetches it); False when it is queued already."""
        queued = self._defer(self.merchant, connector, order_id)
        _log.info(
            "workers.webhook_order",
            merchant=self.merchant,
            connector=connector,
            order_id=order_id,
            queued=queued,
        )
        return queued


class DeploymentWebhooks:
    """The receivers of a deployment's merchants, built on first use and rebuilt when the
    merchant's configuration changes.

    :param defer: ``defer(merchant, connector, order_id)`` queues the job of one order (True)
        or finds it queued (False).
    :param plugins: extra plugin objects (tests), as the jobs take them.
    """

    def __init__(
        self,
        deployment: Settings,
        defer: OrderDeferrer,
        *,
        plugins: dict[str, object] | None = None,
        resources: WorkerResources | None = None,
    ) -> None:
        self.deployment = deployment
        self._defer = defer
        self._plugins = plugins
        self._own = resources is None
        #: The process's pool: a delivery borrows a connection instead of opening one.
        self.resources = resources if resources is not None else WorkerResources(deployment)
        self._lock = threading.Lock()
        self._receivers: dict[str, tuple[datetime, WebhookReceiver, PluginManager]] = {}

    def receiver(self, merchant: str) -> WebhookReceiver | None:
        """The receiver of ``merchant``, or ``None`` when it is unknown or disabled."""
        with self.resources.registry() as registry:
            try:
                found = registry.get(merchant)
            except MerchantNotFoundError:
                return None
            if not found.enabled:
                return None
            with self._lock:
                cached = self._receivers.get(merchant)
                if cached is not None and cached[0] == found.updated_at:
                    return cached[1]
            settings = registry.settings(merchant)
        manager = PluginManager(
            allow=settings.plugins.allow, deny=settings.plugins.deny, plugins=self._plugins
        )
        for name, section in settings.connectors.items():
            if section.enabled:
                context = ConnectorContext(name=name)
                manager.add_connector(
                    name, section.plugin, section.options(reveal_secrets=True), context
                )
        receiver = WebhookReceiver(
            manager,
            QueueOrders(self._defer, merchant),
            secret=settings.webhooks.secret,
            store=MerchantDeliveries(self.resources, settings.store.db_schema),
        )
        with self._lock:
            old = self._receivers.get(merchant)
            self._receivers[merchant] = (found.updated_at, receiver, manager)
        if old is not None:
            old[2].close()
        return receiver

    def close(self) -> None:
        """Close every merchant's connectors."""
        with self._lock:
            for _, _, manager in self._receivers.values():
                manager.close()
            self._receivers.clear()
        if self._own:
            self.resources.close()

    def app(self) -> Starlette:
        """The ASGI app: each merchant's webhooks, and ``/healthz`` (the register answers)."""

        def find(request: Request) -> WebhookReceiver | None:
            try:
                return self.receiver(request.path_params["merchant"])
            except ConfigurationError as exc:  # a merchant's settings no longer valid
                _log.error("workers.webhook_receiver_failed", error=str(exc))
                return None

        async def healthz(_request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            try:
                count = await run_in_threadpool(self._count)
            except Exception as exc:
                return JSONResponse({"ok": False, "reason": type(exc).__name__}, status_code=503)
            return JSONResponse({"ok": True, "merchants": count})

        return Starlette(
            routes=[
                Route("/healthz", healthz, methods=["GET"]),
                Route(MERCHANT_WEBHOOK_PATH, webhook_endpoint(find), methods=["POST"]),
            ]
        )

    def _count(self) -> int:
        with self.resources.registry() as registry:
            return len(registry.list())


class MerchantDeliveries:
    """The event ids of one merchant's deliveries, in its store's ``webhook_events`` (the table
    ``serialsync run`` keeps them in), written on a connection of the worker's pool.

    Written straight to the table, not through a store opened per delivery: opening one takes
    the store's writer lock, which a job's transaction may hold for a while, and a platform
    wants its answer within seconds (Shopify: 5). One ``INSERT … ON CONFLICT DO NOTHING`` is
    atomic by itself. A store not created yet (no job of the merchant ran) has no table: the
    receiver then takes the delivery, and the order path makes a repeat harmless.
    """

    def __init__(self, resources: WorkerResources, store_schema: str) -> None:
        self._resources = resources
        self.store_schema = store_schema

    def __repr__(self) -> str:
        return f"MerchantDeliveries({self.store_schema!r})"

    def _table(self) -> Any:
        from psycopg import sql

        return sql.SQL("{}.webhook_events").format(sql.Identifier(self.store_schema))

    def first_delivery(self, connector: str, event_id: str, at: datetime) -> bool:
        """Remember an event; True when it was not seen before (see the Store's)."""
        from psycopg import sql

        statement = sql.SQL(
            "INSERT INTO {} (connector, event_id, seen_at) VALUES (%s, %s, %s) "
            "ON CONFLICT (connector, event_id) DO NOTHING"
        ).format(self._table())
        with self._resources.pool.connection() as db:
            cursor = db.execute(statement, (connector, event_id, _seen_at(at)))
            return bool(cursor.rowcount == 1)

    def forget_deliveries(self, before: datetime) -> int:
        """Forget the events seen before ``before``; how many."""
        from psycopg import sql

        statement = sql.SQL("DELETE FROM {} WHERE seen_at < %s").format(self._table())
        with self._resources.pool.connection() as db:
            return int(db.execute(statement, (_seen_at(before),)).rowcount)


def _seen_at(at: datetime) -> str:
    # As the stores write it (text, ISO 8601 in UTC): forgetting compares it as text.
    return at.astimezone(UTC).isoformat()


def queue_deferrer(app: procrastinate.App) -> OrderDeferrer:
    """``defer(merchant, connector, order_id)`` through ``app`` (opened synchronously by the
    caller)."""
    from procrastinate import exceptions as pexc

    from serialsync.workers.app import order_deferrer

    def defer(merchant: str, connector: str, order_id: str) -> bool:
        try:
            order_deferrer(app, merchant, connector, order_id).defer(
                merchant=merchant, connector=connector, order_id=order_id
            )
        except pexc.AlreadyEnqueued:
            return False
        return True

    return defer

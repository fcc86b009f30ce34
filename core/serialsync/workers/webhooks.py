"""Webhooks for every merchant of a deployment: ``POST /m/<merchant>/webhooks/<connector>``.

``serialsync worker --listen ADDRESS`` serves them beside its jobs. A merchant's subscriptions
call ``<its [webhooks] public_url>/webhooks/<connector>``, so a merchant whose ``public_url`` is
``https://sync.example.com/m/acme`` is registered by ``serialsync --merchant acme webhooks
register`` exactly as a single runner would be, and its deliveries land here.

Each delivery is answered as ``serialsync run`` answers it (the same
:class:`~serialsync.service.webhooks.WebhookReceiver`: size, the merchant's own signature
secret, replays), and an order it names becomes a job: the merchant's order pass, queued at
once with the highest priority (its queueing lock folds a burst of deliveries into one pass;
an order arriving while a pass runs queues the next one). The platform gets its answer before
any of that work starts. A merchant unknown, disabled or without a webhook-capable channel of
that name is a 404.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serialsync.connector import ConnectorContext
from serialsync.errors import ConfigurationError
from serialsync.logging import get_logger
from serialsync.manager import PluginManager
from serialsync.merchants.registry import MerchantRegistry
from serialsync.service.app import webhook_endpoint
from serialsync.service.webhooks import WebhookReceiver
from serialsync.settings import Settings
from serialsync.workers.flows import Flow

if TYPE_CHECKING:
    import procrastinate

_log = get_logger("serialsync.workers")

#: The path of a merchant's deliveries (``public_url`` of the merchant ends in ``/m/<name>``).
MERCHANT_WEBHOOK_PATH = "/m/{merchant}/webhooks/{connector}"


class QueueOrders:
    """Hands the orders of one merchant's deliveries to the job queue as its order pass."""

    def __init__(self, defer: Callable[[str, Flow], bool], merchant: str) -> None:
        self._defer = defer
        self.merchant = merchant

    def submit(self, connector: str, order_id: str) -> bool:
        """Queue the merchant's order pass (which reads the order); False when one is queued."""
        queued = self._defer(self.merchant, Flow.ORDERS)
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

    :param defer: ``defer(merchant, flow)`` queues a flow (True) or finds it queued (False).
    :param plugins: extra plugin objects (tests), as the jobs take them.
    """

    def __init__(
        self,
        deployment: Settings,
        defer: Callable[[str, Flow], bool],
        *,
        plugins: dict[str, object] | None = None,
    ) -> None:
        self.deployment = deployment
        self._defer = defer
        self._plugins = plugins
        self._lock = threading.Lock()
        self._receivers: dict[str, tuple[datetime, WebhookReceiver, PluginManager]] = {}

    def receiver(self, merchant: str) -> WebhookReceiver | None:
        """The receiver of ``merchant``, or ``None`` when it is unknown or disabled."""
        with MerchantRegistry.open(self.deployment) as registry:
            found = {m.name: m for m in registry.list()}.get(merchant)
            if found is None or not found.enabled:
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
            manager, QueueOrders(self._defer, merchant), secret=settings.webhooks.secret
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
        with MerchantRegistry.open(self.deployment) as registry:
            return len(registry.list())


def queue_deferrer(app: procrastinate.App) -> Callable[[str, Flow], bool]:
    """``defer(merchant, flow)`` through ``app`` (opened synchronously by the caller)."""
    from procrastinate import exceptions as pexc

    from serialsync.workers.app import flow_deferrer

    def defer(merchant: str, flow: Flow) -> bool:
        try:
            flow_deferrer(app, merchant, flow).defer(merchant=merchant, flow=str(flow))
        except pexc.AlreadyEnqueued:
            return False
        return True

    return defer

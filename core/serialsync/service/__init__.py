"""The service ``serialsync run`` serves beside its passes: webhooks, ``/healthz``, ``/metrics``.

Generic: how a platform signs a delivery and how its subscriptions are made is wire format,
behind the optional hooks ``verify_webhook``, ``register_webhooks``, ``list_webhooks`` and
``remove_webhooks`` (and ``fetch_order`` to read the order a delivery names).

Modules: ``app`` (the Starlette routes), ``webhooks`` (answering a delivery), ``worker``
(working the order it names), ``health`` (what ``/healthz`` checks), ``metrics`` (what
``/metrics`` shows), ``subscriptions`` (registering webhooks for ``serialsync webhooks``),
``server`` (:class:`Service`: all of it started and stopped together).
"""

from serialsync.service.app import create_app
from serialsync.service.health import HealthPolicy, check_health
from serialsync.service.metrics import Metrics
from serialsync.service.server import Service
from serialsync.service.webhooks import MAX_BODY, WebhookReceiver, callback_url, connector_secret
from serialsync.service.worker import OrderResult, OrderWorker

__all__ = [
    "MAX_BODY",
    "HealthPolicy",
    "Metrics",
    "OrderResult",
    "OrderWorker",
    "Service",
    "WebhookReceiver",
    "callback_url",
    "check_health",
    "connector_secret",
    "create_app",
]

"""The ASGI app ``serialsync run`` serves: ``/webhooks/<connector>``, ``/healthz``, ``/metrics``.

The handlers are thin: reading the request within its limits and turning answers into HTTP.
What a delivery means is :mod:`serialsync.service.webhooks`; what health means is
:mod:`serialsync.service.health`. Blocking work (the store, a plugin's check) runs in the
thread pool, so one slow scrape never holds a webhook's answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from serialsync.service.health import HealthPolicy, check_health
from serialsync.service.metrics import CONTENT_TYPE, Metrics
from serialsync.service.webhooks import MAX_BODY, Answer, DeliveryResult, WebhookReceiver
from serialsync.store import Store


def create_app(
    *,
    store: Store,
    metrics: Metrics,
    health: HealthPolicy,
    receiver: WebhookReceiver | None = None,
) -> Starlette:
    """The app: webhooks when a receiver is given; health and metrics always."""

    async def healthz(_request: Request) -> Response:
        ok, details = await run_in_threadpool(check_health, store, health)
        return JSONResponse(details, status_code=200 if ok else 503)

    async def metrics_endpoint(_request: Request) -> Response:
        body = await run_in_threadpool(metrics.exposition)
        return Response(body, media_type=CONTENT_TYPE)

    webhook = webhook_endpoint(lambda _request: receiver)

    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/webhooks/{connector}", webhook, methods=["POST"]),
    ]
    return Starlette(routes=routes)


def webhook_endpoint(
    find: Callable[[Request], WebhookReceiver | None],
) -> Callable[[Request], Awaitable[Response]]:
    """The handler of ``POST …/webhooks/{connector}``: ``find`` names the receiver of the request
    (``None``: webhooks are not served there)."""

    async def webhook(request: Request) -> Response:
        connector = request.path_params["connector"]
        receiver = await run_in_threadpool(find, request)
        if receiver is None:
            return _json(Answer(DeliveryResult.UNKNOWN_CONNECTOR, "webhooks are not served"))
        if not receiver.accepts(connector):
            receiver.observe(connector, DeliveryResult.UNKNOWN_CONNECTOR)
            return _json(Answer(DeliveryResult.UNKNOWN_CONNECTOR, "no webhook endpoint for it"))
        body = await _read_body(request)
        if body is None:
            receiver.observe(connector, DeliveryResult.TOO_LARGE)
            return _json(Answer(DeliveryResult.TOO_LARGE, f"body over {MAX_BODY} bytes"))
        headers = {key.lower(): value for key, value in request.headers.items()}
        answer = await run_in_threadpool(receiver.receive, connector, headers, body)
        return _json(answer)

    return webhook


async def _read_body(request: Request) -> bytes | None:
    """The raw body, or ``None`` once it is over :data:`MAX_BODY` (read no further)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return bytes(body)


def _json(answer: Answer) -> Response:
    content: dict[str, str] = {"result": answer.result.value}
    if answer.detail:
        content["detail"] = answer.detail
    return JSONResponse(content, status_code=answer.status)

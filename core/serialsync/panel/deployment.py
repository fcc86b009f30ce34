"""One panel for the merchants of a deployment: users of the deployment, each seeing only the
merchants granted to them.

``serialsync panel --deployment`` serves it. Its users live in a store of their own (the
schema ``<register>_panel``, added with ``serialsync panel user add NAME --deployment``);
``serialsync merchants grant USER MERCHANT`` lets one of them see a merchant. After logging in,
a user chooses one of their merchants (``/merchants``); every page then reads and acts on that
merchant's store, and the grant is checked again on every request. The register is asked at
most once every :data:`GRANT_TTL` seconds per user (:class:`GrantCache`): a revoked grant or a
disabled merchant counts within that many seconds, and a new grant shows as soon. Pages other
than the login and the choice are refused until a granted merchant is chosen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from serialsync.host import Host
from serialsync.merchants.registry import MerchantRegistry
from serialsync.panel.app import build_app
from serialsync.panel.csrf import FIELD, csrf_ok
from serialsync.panel.ratelimit import LoginLimiter
from serialsync.panel.web import (
    Panel,
    choose_merchant,
    current_user,
    login_required,
    panel_of,
    render,
)
from serialsync.settings import Settings
from serialsync.store.opening import open_store
from serialsync.store.sql import SQLStore

#: Seconds a user's grants are taken as read: a revoked grant may still work this long.
GRANT_TTL = 5.0

#: Pages served before a merchant is chosen.
_OPEN_PATHS = ("/login", "/logout", "/merchants", "/static/")


def open_users_store(deployment: Settings) -> SQLStore:
    """The store of the deployment panel's users (no runner lock: nothing runs on it)."""
    with MerchantRegistry.open(deployment) as registry:
        schema = registry.panel_schema()
    settings = deployment.store.model_copy(update={"db_schema": schema})
    return open_store(settings, lock=False)


class GrantCache:
    """``granted(user)``, asked of the register at most once every ``ttl`` seconds per user.

    Every request of the panel checks its user's grants (a page, its assets, each form); asked
    each time, that is a query per request against the deployment's database. For ``ttl``
    seconds after a read, a revoked grant or a disabled merchant still counts as granted.
    """

    def __init__(
        self,
        granted: Callable[[str], list[str]],
        *,
        ttl: float = GRANT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._granted = granted
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._read: dict[str, tuple[float, list[str]]] = {}

    def __call__(self, user: str) -> list[str]:
        now = self._clock()
        with self._lock:
            found = self._read.get(user)
            if found is not None and now - found[0] < self._ttl:
                return list(found[1])
        merchants = self._granted(user)
        with self._lock:
            self._read[user] = (now, merchants)
        return list(merchants)


class _Hosts:
    """Each merchant's host, built on first use (its store without the runner lock, so the
    panel's acts take their turn beside a running worker or runner)."""

    def __init__(self, registry: MerchantRegistry, plugins: dict[str, object] | None) -> None:
        self._registry = registry
        self._plugins = plugins
        self._lock = threading.Lock()
        self._hosts: dict[str, Host] = {}

    def __call__(self, merchant: str) -> Host:
        with self._lock:
            host = self._hosts.get(merchant)
            if host is None:
                settings = self._registry.settings(merchant)
                store = open_store(settings.store, lock=False)
                host = Host.from_settings(settings, plugins=self._plugins, store=store)
                self._hosts[merchant] = host
            return host

    def close(self) -> None:
        with self._lock:
            for host in self._hosts.values():
                host.close()
            self._hosts.clear()


class _ChosenMerchant(BaseHTTPMiddleware):
    """Sends a logged-in user without a granted merchant chosen to ``/merchants``."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if not request.url.path.startswith(_OPEN_PATHS) and await run_in_threadpool(
            _needs_choice, request
        ):
            return RedirectResponse("/merchants", status_code=303)
        return await call_next(request)


def _needs_choice(request: Request) -> bool:
    # The store and the register are read here: in the thread pool, not on the event loop.
    return current_user(request) is not None and panel_of(request).merchant is None


@login_required
def merchants_page(request: Request) -> Response:
    """The merchants granted to the user, to choose one."""
    user = current_user(request)
    assert user is not None  # login_required
    return render(request, "merchants.html", merchants=panel_of(request).merchants(user.name))


async def choose(request: Request) -> Response:
    """Work on one of the user's merchants (refused for one not granted to them)."""
    form = await request.form()
    if not csrf_ok(request, form.get(FIELD)):
        return render(request, "refused.html", 403, why="the form has no valid CSRF token")
    user = current_user(request)
    if user is None:
        return RedirectResponse("/login", status_code=303)
    merchant = str(form.get("merchant", ""))
    if merchant not in panel_of(request).merchants(user.name):
        return render(request, "refused.html", 403, why="that merchant is not granted to you")
    choose_merchant(request, merchant)
    return RedirectResponse("/", status_code=303)


def create_deployment_panel_app(
    deployment: Settings,
    *,
    plugins: dict[str, object] | None = None,
    session_secret: SecretStr | None = None,
    https_only: bool = False,
    limiter: LoginLimiter | None = None,
    grant_ttl: float = GRANT_TTL,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[Starlette, Callable[[], None]]:
    """The deployment's panel, and the function that closes what it opened.

    :param grant_ttl: seconds a user's grants are taken as read (:class:`GrantCache`).
    :param clock: the monotonic clock of that cache (tests move it on).
    """
    registry = MerchantRegistry.open(deployment)
    users = open_users_store(deployment)
    hosts = _Hosts(registry, plugins)
    panel = Panel(
        host=None,
        limiter=limiter or LoginLimiter(),
        users=users,
        host_of=hosts,
        granted_to=GrantCache(registry.granted, ttl=grant_ttl, clock=clock),
    )
    app = build_app(
        panel,
        session_secret=session_secret,
        https_only=https_only,
        extra_routes=[
            Route("/merchants", merchants_page, methods=["GET"]),
            Route("/merchants", choose, methods=["POST"]),
        ],
        extra_middleware=[Middleware(_ChosenMerchant)],
    )

    def close() -> None:
        hosts.close()
        users.close()
        registry.close()

    return app, close

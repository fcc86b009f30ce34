"""The panel's ASGI app: Starlette routes, signed session cookies, and the packaged static
files (nothing is loaded from elsewhere)."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from serialsync.host import Host
from serialsync.panel.ratelimit import LoginLimiter
from serialsync.panel.views import routes
from serialsync.panel.web import Panel

_STATIC = Path(__file__).parent / "static"
#: How long a session lasts without logging in again.
SESSION_SECONDS = 8 * 3600
#: The session cookie's name.
COOKIE = "serialsync_panel"


def create_panel_app(
    host: Host,
    *,
    session_secret: SecretStr | None = None,
    https_only: bool = False,
    limiter: LoginLimiter | None = None,
) -> Starlette:
    """The panel on ``host``'s store and plugins.

    :param session_secret: signs the session cookie; a random one when ``None`` (sessions then
        end with the process).
    :param https_only: mark the cookie Secure (behind a TLS proxy).
    """
    panel = Panel(host=host, limiter=limiter or LoginLimiter())
    return build_app(panel, session_secret=session_secret, https_only=https_only)


def build_app(
    panel: Panel,
    *,
    session_secret: SecretStr | None = None,
    https_only: bool = False,
    extra_routes: Sequence[BaseRoute] = (),
    extra_middleware: Sequence[Middleware] = (),
) -> Starlette:
    """The panel's app around ``panel``: its pages, ``extra_routes``, the signed session, and
    ``extra_middleware`` inside the session (it sees the session)."""
    secret = session_secret.get_secret_value() if session_secret else secrets.token_urlsafe(32)
    app = Starlette(
        routes=[
            *extra_routes,
            *routes(),
            Mount("/static", StaticFiles(directory=_STATIC), name="static"),
        ],
        middleware=[
            Middleware(
                SessionMiddleware,
                secret_key=secret,
                session_cookie=COOKIE,
                max_age=SESSION_SECONDS,
                same_site="strict",
                https_only=https_only,
            ),
            *extra_middleware,
        ],
    )
    app.state.panel = panel
    return app

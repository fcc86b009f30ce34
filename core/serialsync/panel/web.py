"""What every page shares: the panel's state, the logged-in user, rendering, and the guards.

Templates escape everything (autoescape), and every value printed passes :func:`visible`,
which writes control characters as ``\\xNN``: a serial or a title from the POS or a channel
holding ``<script>``, quotes or an escape sequence renders as the text it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from serialsync.host import Host
from serialsync.panel.csrf import FIELD, csrf_token
from serialsync.panel.ratelimit import LoginLimiter
from serialsync.panel.users import Role
from serialsync.store import PanelUser, Store

_TEMPLATES = Path(__file__).parent / "templates"
_SESSION_USER = "user"


def visible(value: Any) -> Any:
    """A value as printed: text with control characters written as escapes (``\\x1b``)."""
    if value is None:
        return ""
    if isinstance(value, str) and not value.isprintable():
        return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in value)
    return value


def make_templates() -> jinja2.Environment:
    """The panel's Jinja environment: autoescaped, every printed value through
    :func:`visible`, undefined names an error rather than an empty string."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(_TEMPLATES),
        autoescape=True,
        finalize=visible,
        undefined=jinja2.StrictUndefined,
    )
    env.globals["urlencode"] = urlencode
    env.filters["web_url"] = web_url
    return env


def web_url(value: object) -> str:
    """``value`` when it is an http(s) address, else ``""``: escaping does not stop a
    ``javascript:`` link, so a link from the POS or a channel is kept only when it is a web
    address."""
    if isinstance(value, str) and value.lower().startswith(("https://", "http://")):
        return value
    return ""


@dataclass
class Panel:
    """The panel's state, shared by its pages (``request.app.state.panel``).

    ``merchants_of`` is the seam for many merchants on one PostgreSQL database (issue 18):
    given a user, the merchants (store schemas) they are granted; ``None`` (the only case
    today) means the one store this panel serves.
    """

    host: Host
    templates: jinja2.Environment = field(default_factory=make_templates)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    merchants_of: Callable[[PanelUser], list[str] | None] = lambda _user: None

    @property
    def store(self) -> Store:
        """The state store the panel reads (and acts on through operations)."""
        return self.host.store


def panel_of(request: Request) -> Panel:
    """The :class:`Panel` serving ``request``."""
    panel: Panel = request.app.state.panel
    return panel


def login_session(request: Request, user: PanelUser) -> None:
    """Start a fresh session for ``user`` (anything of the session before it is dropped, so
    a session fixed before login is worth nothing after it)."""
    request.session.clear()
    request.session[_SESSION_USER] = user.name


def current_user(request: Request) -> PanelUser | None:
    """The logged-in user, read again from the store (a removed user or a changed role counts
    at once), or ``None``."""
    name = request.session.get(_SESSION_USER)
    if not isinstance(name, str):
        return None
    return panel_of(request).store.get_panel_user(name)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the user, the CSRF token and the page's ``context``."""
    env = panel_of(request).templates
    notice = request.session.pop("notice", None)
    user = current_user(request)
    html = env.get_template(template).render(
        request=request,
        user=user,
        can_act=is_operator(user),
        csrf_field=FIELD,
        csrf=csrf_token(request),
        notice=notice,
        **context,
    )
    return HTMLResponse(html, status_code=status_code, headers=_SECURITY_HEADERS)


#: Nothing is loaded from elsewhere, nothing runs inline, no page is framed by another site.
_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

Page = Callable[[Request], Response]
AsyncPage = Callable[[Request], Awaitable[Response]]


def login_required(view: Page) -> Page:
    """A page for logged-in users; anyone else is sent to the login page."""

    def guarded(request: Request) -> Response:
        if current_user(request) is None:
            return RedirectResponse(
                "/login?" + urlencode({"next": request.url.path}), status_code=303
            )
        return view(request)

    guarded.__name__ = view.__name__
    guarded.__doc__ = view.__doc__
    return guarded


def is_operator(user: PanelUser | None) -> bool:
    """True when ``user`` may act (not only read)."""
    return user is not None and user.role == Role.OPERATOR.value


def notice(request: Request, text: str) -> None:
    """A one-line message shown on the next page rendered."""
    request.session["notice"] = text

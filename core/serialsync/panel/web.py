"""What every page shares: the panel's state, the logged-in user, rendering, and the guards.

Templates escape everything (autoescape), and every value printed passes :func:`visible`,
which writes control characters as ``\\xNN``: a serial or a title from the POS or a channel
holding ``<script>``, quotes or an escape sequence renders as the text it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
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
_SESSION_MERCHANT = "merchant"


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


class NoMerchantChosenError(LookupError):
    """A page of a deployment's panel asked for the merchant before one was chosen."""


@dataclass
class Panel:
    """The panel's state, shared by its pages (``request.app.state.panel``).

    A panel serves one store (``host``), or, for a deployment of many merchants, the merchant
    the session chose among those granted to its user: ``host_of(merchant)`` builds that
    merchant's host and ``granted_to(user)`` names the merchants a user may see. Users then live
    in a store of their own (``users``), not in any merchant's.
    """

    host: Host | None
    templates: jinja2.Environment = field(default_factory=make_templates)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    users: Store | None = None
    host_of: Callable[[str], Host] | None = None
    granted_to: Callable[[str], list[str]] | None = None
    merchant: str | None = None

    @property
    def current_host(self) -> Host:
        """The host of the store the pages read and act on."""
        if self.host is None:
            raise NoMerchantChosenError("no merchant is chosen")
        return self.host

    @property
    def store(self) -> Store:
        """The state store the panel reads (and acts on through operations)."""
        return self.current_host.store

    @property
    def users_store(self) -> Store:
        """Where the panel's users are kept."""
        return self.users if self.users is not None else self.store

    @property
    def many(self) -> bool:
        """True for the panel of a deployment's merchants."""
        return self.host_of is not None

    def merchants(self, user: str) -> list[str]:
        """The merchants ``user`` may see (a deployment's panel only)."""
        return self.granted_to(user) if self.granted_to is not None else []

    def for_request(self, request: Request) -> Panel:
        """This panel as ``request`` sees it: a deployment's panel on the merchant its session
        chose, if that merchant is (still) granted to its user."""
        if self.host_of is None:
            return self
        merchant = request.session.get(_SESSION_MERCHANT)
        user = request.session.get(_SESSION_USER)
        if not isinstance(merchant, str) or not isinstance(user, str):
            return self
        if merchant not in self.merchants(user):
            request.session.pop(_SESSION_MERCHANT, None)
            return self
        return replace(self, host=self.host_of(merchant), merchant=merchant)


def panel_of(request: Request) -> Panel:
    """The :class:`Panel` serving ``request`` (on the merchant its session chose)."""
    cached = request.scope.get("serialsync.panel")
    if isinstance(cached, Panel):
        return cached
    base: Panel = request.app.state.panel
    panel = base.for_request(request)
    request.scope["serialsync.panel"] = panel
    return panel


def choose_merchant(request: Request, merchant: str) -> None:
    """Remember the merchant the session works on (checked against its grants each request)."""
    request.session[_SESSION_MERCHANT] = merchant
    request.scope.pop("serialsync.panel", None)


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
    return panel_of(request).users_store.get_panel_user(name)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with the user, the CSRF token and the page's ``context``."""
    panel = panel_of(request)
    env = panel.templates
    notice = request.session.pop("notice", None)
    user = current_user(request)
    html = env.get_template(template).render(
        request=request,
        user=user,
        merchant=panel.merchant,
        many_merchants=panel.many,
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

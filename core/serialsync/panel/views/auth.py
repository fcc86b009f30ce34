"""Logging in and out. Failed logins are limited per address and per name
(:mod:`serialsync.panel.ratelimit`); a login starts a fresh session."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from serialsync.logging import get_logger
from serialsync.panel.csrf import FIELD, csrf_ok
from serialsync.panel.users import authenticate, login_state, spend_login
from serialsync.panel.web import login_session, panel_of, render

_log = get_logger("serialsync.panel")


def _next(target: object) -> str:
    # Only a path of this site: an open redirect would hand the login to anyone's page.
    if isinstance(target, str) and target.startswith("/") and not target.startswith("//"):
        return target
    return "/"


def login_page(request: Request) -> Response:
    """The login form."""
    return render(request, "login.html", next=_next(request.query_params.get("next")))


async def login(request: Request) -> Response:
    """Check a name and password; on success start the session and go where the user was
    going."""
    form = await request.form()
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    target = _next(form.get("next"))
    if not csrf_ok(request, form.get(FIELD)):
        return render(request, "login.html", 403, next=target, error="the form expired; try again")
    panel = panel_of(request)
    client = f"address:{request.client.host if request.client else '-'}"
    keys = (client, f"name:{name}")
    wait = panel.limiter.retry_after(*keys)
    if wait > 0:
        _log.warning("panel.login_limited", user=name)
        page = render(
            request,
            "login.html",
            429,
            next=target,
            error=f"too many failed logins; try again in {int(wait) + 1} seconds",
        )
        page.headers["Retry-After"] = str(int(wait) + 1)
        return page
    user = await run_in_threadpool(authenticate, panel.users_store, name, password)
    if user is None:
        panel.limiter.failed(*keys)
        _log.warning("panel.login_failed", user=name)
        return render(request, "login.html", 401, next=target, error="wrong name or password")
    panel.limiter.succeeded(*keys)
    login_session(request, user)
    _log.info("panel.login", user=user.name)
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    """End the session (a form with its CSRF token, so no other site can log a user out)."""
    form = await request.form()
    if not csrf_ok(request, form.get(FIELD)):
        return Response("the form has no valid CSRF token", status_code=403)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)


#: Why a one-time login is refused, by its state (:func:`login_state`).
_ONCE_REFUSED = {
    "used": "This one-time login was used already: it works once.",
    "expired": "This one-time login has expired.",
    "unknown": "This is not a login link of this panel.",
}
_ONCE_HINT = (
    "Log in with a name and password, or ask for a new link (serialsync panel user link NAME)."
)


def _once_refused(request: Request, state: str) -> Response:
    # 410 Gone: the link existed and is spent (or never was), and asking again will not help.
    return render(
        request,
        "once.html",
        410,
        refused=_ONCE_REFUSED.get(state, _ONCE_REFUSED["unknown"]),
        hint=_ONCE_HINT,
    )


async def once_page(request: Request) -> Response:
    """A one-time login link: a button that spends it (a GET spends nothing, so a link
    previewer or a prefetch cannot use it up), or why it no longer works."""
    token = request.path_params["token"]
    state = await run_in_threadpool(login_state, panel_of(request).users_store, token)
    if state != "ready":
        return _once_refused(request, state)
    return render(request, "once.html", token=token)


async def once_login(request: Request) -> Response:
    """Spend a one-time login and start the session of its user; refused once it is spent."""
    form = await request.form()
    token = request.path_params["token"]
    if not csrf_ok(request, form.get(FIELD)):
        return render(request, "refused.html", 403, why="the form has no valid CSRF token")
    store = panel_of(request).users_store
    user = await run_in_threadpool(spend_login, store, token)
    if user is None:
        _log.warning("panel.login_link_refused")
        return _once_refused(request, await run_in_threadpool(login_state, store, token))
    login_session(request, user)
    _log.info("panel.login", user=user.name, how="one-time link")
    return RedirectResponse("/", status_code=303)

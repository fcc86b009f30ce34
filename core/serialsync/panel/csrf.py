"""CSRF tokens: one random token per session, carried by every form and checked on every POST.

The session cookie is SameSite already; the token is the second guard, for a browser or a
proxy that does not honour SameSite.
"""

from __future__ import annotations

import hmac
import secrets

from starlette.requests import Request

_KEY = "csrf"
#: The name of the hidden field every form carries.
FIELD = "csrf_token"


def csrf_token(request: Request) -> str:
    """This session's token (drawn on first use)."""
    token = request.session.get(_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[_KEY] = token
    return token


def csrf_ok(request: Request, given: object) -> bool:
    """True when ``given`` (the form's field) is this session's token; compared in constant
    time."""
    token = request.session.get(_KEY)
    return (
        isinstance(token, str)
        and isinstance(given, str)
        and hmac.compare_digest(token.encode(), given.encode())
    )

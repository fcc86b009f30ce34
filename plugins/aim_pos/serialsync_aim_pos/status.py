"""AIM's in-band ``Status``: what kind of failure it reports, and the typed error for it.

Every AIM response carries ``Status {StatusCode, ErrorCode, ErrorMessage, ErrorDisplayText,
Login}``; ``StatusCode`` is ``"Ok"`` on success, and a failure often arrives with HTTP 200. A
response **without** ``Status`` is not taken as a success. :func:`classify` maps the status
values listed in :data:`STATUS_CODES`, :data:`ERROR_CODES` and :data:`LOGIN_FAILURES` (each with
its source or "assumed" in ``docs/aim.md``); anything else is an :attr:`StatusKind.UNKNOWN`
failure carrying AIM's own text, never a guess from keywords.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from serialsync import (
    AuthenticationError,
    PermanentRemoteError,
    RemoteError,
    RetryableRemoteError,
)


class StatusKind(StrEnum):
    """What an AIM ``Status`` says happened."""

    OK = "ok"
    NOT_FOUND = "not_found"  # the record asked for does not exist (an order not yet posted)
    NOT_LICENSED = "not_licensed"  # the store lacks the active-e service this call needs
    AUTH = "auth"  # key, login or token refused or expired
    TRANSIENT = "transient"  # busy, timed out: the same call may succeed later
    VALIDATION = "validation"  # the request was refused as it is
    UNKNOWN = "unknown"  # an error we cannot place


#: ``StatusCode`` values: ``Ok`` is documented; the failure values are assumed (integrators quote
#: ``Failed``; ``Error`` is ServiceStack's usual word). Compared without case.
STATUS_CODES: dict[str, bool] = {"ok": True, "failed": False, "error": False}

#: ``ErrorCode`` values the plugin relies on, each mapped to its kind (all assumed: AIM
#: publishes no error-code list; see ``docs/aim.md``). Compared without case.
ERROR_CODES: dict[str, StatusKind] = {
    "invalidapikey": StatusKind.AUTH,
    "invalidtoken": StatusKind.AUTH,
    "tokenexpired": StatusKind.AUTH,
    "loginfailed": StatusKind.AUTH,
    "notlicensed": StatusKind.NOT_LICENSED,
    "validationerror": StatusKind.VALIDATION,
    "ordernotfound": StatusKind.NOT_FOUND,
    "notfound": StatusKind.NOT_FOUND,
    "servicebusy": StatusKind.TRANSIENT,
    "timeout": StatusKind.TRANSIENT,
}

#: ``Login`` values that mean the session is gone (assumed). Compared without case.
LOGIN_FAILURES = frozenset({"expired", "invalid", "failed", "loggedout", "notloggedin"})

#: The documented refusal of an operation the store is not licensed for: each operation's page
#: says "Requires active-e … Service"; AIM sends that sentence as the message.
_UNLICENSED = re.compile(r"\brequires active-e\b", re.IGNORECASE)


def _norm(text: object) -> str:
    return re.sub(r"[^A-Z0-9]", "", str(text or "").upper())


@dataclass(frozen=True, slots=True)
class AimStatus:
    """One parsed ``Status`` block. ``kind`` is what :func:`classify` made of it."""

    kind: StatusKind
    code: str
    message: str

    @property
    def ok(self) -> bool:
        """True when AIM reported success."""
        return self.kind is StatusKind.OK


def classify(body: Mapping[str, Any] | None) -> AimStatus:
    """Read the ``Status`` of a response body.

    No ``Status`` block, or a ``StatusCode`` not in :data:`STATUS_CODES`, is an
    :attr:`StatusKind.UNKNOWN` failure; a failure's ``ErrorCode`` is looked up in
    :data:`ERROR_CODES` and ``Login`` in :data:`LOGIN_FAILURES`; an unknown code is an
    :attr:`StatusKind.UNKNOWN` failure with AIM's text.
    """
    status = (body or {}).get("Status")
    if not isinstance(status, Mapping):
        return AimStatus(StatusKind.UNKNOWN, "", "answered without a Status")
    code = str(status.get("ErrorCode") or "")
    message = str(status.get("ErrorMessage") or status.get("ErrorDisplayText") or "")
    status_code = str(status.get("StatusCode") or "")
    success = STATUS_CODES.get(status_code.strip().lower())
    if success is None:
        return AimStatus(StatusKind.UNKNOWN, code, message or f"unknown StatusCode {status_code!r}")
    if success:
        return AimStatus(StatusKind.OK, code, message)
    if _norm(status.get("Login")).lower() in LOGIN_FAILURES:
        return AimStatus(StatusKind.AUTH, code, message or "login expired")
    kind = ERROR_CODES.get(_norm(code).lower())
    if kind is not None:
        return AimStatus(kind, code, message)
    if _UNLICENSED.search(message):
        return AimStatus(StatusKind.NOT_LICENSED, code, message)
    return AimStatus(StatusKind.UNKNOWN, code, message)


def error_for(
    status: AimStatus, *, operation: str, connector: str, http_status: int | None = None
) -> RemoteError:
    """The typed error for a failed ``Status``: the engine retries only what may succeed."""
    detail = f"{status.code}: {status.message}" if status.code else status.message
    detail = detail or "no error message"
    text = f"AIM {operation} refused: {detail}"
    kwargs: dict[str, Any] = {"connector": connector, "status": http_status, "code": status.code}
    if status.kind is StatusKind.AUTH:
        return AuthenticationError(
            f"AIM {operation}: credentials refused or token expired after renewing it ({detail}); "
            "check api_key, app_id, username and password",
            **kwargs,
        )
    if status.kind is StatusKind.NOT_LICENSED:
        return PermanentRemoteError(
            f"AIM {operation}: this store is not licensed for the active-e service the call "
            f"needs ({detail}); ask Tri-Tech to enable it",
            **kwargs,
        )
    if status.kind is StatusKind.TRANSIENT:
        return RetryableRemoteError(f"{text} (transient, will retry later)", **kwargs)
    return PermanentRemoteError(text, **kwargs)

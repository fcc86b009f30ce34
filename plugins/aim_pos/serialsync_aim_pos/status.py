"""AIM's in-band ``Status``: what kind of failure it reports, and the typed error for it.

Every AIM response carries ``Status {StatusCode, ErrorCode, ErrorMessage, ErrorDisplayText,
Login}``; ``StatusCode`` is ``"Ok"`` on success, and a failure often arrives with HTTP 200. The
error codes are not documented, so :func:`classify` reads the code, the messages and ``Login``
by keyword (an assumption, written down in :data:`_KEYWORDS`), most specific kind first.
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


# Keywords looked for in the normalised ErrorCode + messages (upper case, letters and digits
# only). Assumed from the operation docs ("Requires active-e … Service") and common ServiceStack
# codes; the order matters: "InvalidToken" is an auth failure, not a validation one.
_KEYWORDS: tuple[tuple[StatusKind, tuple[str, ...]], ...] = (
    (StatusKind.NOT_FOUND, ("NOTFOUND", "DOESNOTEXIST", "NORECORD")),
    (StatusKind.NOT_LICENSED, ("LICENS", "LICENC", "REQUIRESACTIVEE")),
    (
        StatusKind.AUTH,
        # Not "EXPIRED" alone: SQL Server's "Timeout expired" is a transient failure.
        ("TOKEN", "LOGIN", "AUTH", "APIKEY", "CREDENTIAL", "PASSWORD", "SESSION"),
    ),
    (
        StatusKind.TRANSIENT,
        ("TIMEOUT", "TIMEDOUT", "BUSY", "UNAVAILABLE", "TEMPORAR", "DEADLOCK", "TRYAGAIN"),
    ),
    (
        StatusKind.VALIDATION,
        ("VALIDAT", "INVALID", "REQUIRED", "MISSING", "ARGUMENT", "FORMAT", "UNKNOWNSKU"),
    ),
)
_FAILED_LOGINS = frozenset({"EXPIRED", "INVALID", "FAILED", "LOGGEDOUT", "NOTLOGGEDIN"})


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

    A body without ``Status`` is taken as a success only when it has other content (some
    ServiceStack replies omit it); an empty body is an :attr:`StatusKind.UNKNOWN` failure.
    """
    status = (body or {}).get("Status")
    if not isinstance(status, Mapping):
        if body:
            return AimStatus(StatusKind.OK, "", "")
        return AimStatus(StatusKind.UNKNOWN, "", "empty answer")
    code = str(status.get("ErrorCode") or "")
    message = str(status.get("ErrorMessage") or status.get("ErrorDisplayText") or "")
    if _norm(status.get("StatusCode")) in ("OK", "SUCCESS"):
        return AimStatus(StatusKind.OK, code, message)
    if _norm(status.get("Login")) in _FAILED_LOGINS:
        return AimStatus(StatusKind.AUTH, code, message or "login expired")
    # The code decides when it is known; the free text only when the code says nothing.
    for haystack in (_norm(code), _norm(f"{message} {status.get('ErrorDisplayText') or ''}")):
        for kind, words in _KEYWORDS:
            if any(word in haystack for word in words):
                return AimStatus(kind, code, message)
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

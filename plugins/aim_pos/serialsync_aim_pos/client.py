"""The wire: every HTTP call the AIM plugin makes, with AIM's login dance and in-band errors.

Login (well attested by integrators, not first-party documented):

1. ``GET {discovery}/api/GetEndPoint`` with ``ApiKey`` + ``AppId`` headers answers the store's
   own root (``NewEndpointDomain``) and an ``OAuthToken``;
2. ``POST {store}/api/Security`` (the ``Security`` request DTO: ``Username`` = employee id,
   ``Password``, ``DeviceId``, ``AppId``, and ``Acct`` / ``DeviceName`` when configured) answers
   a login ``Token``, a session ``OAuthToken``, the store's ``Domain`` and the employee's
   ``UserDetails.Location``.

Every later call sends ``ApiKey``, ``AppId``, ``DeviceId``, the ``OAuthToken`` that ``Security``
returned (the discovery one only when it returned none) and ``Token``; ``Domain`` becomes the
API root, and ``UserDetails.Location`` the orders' location unless ``order_location`` is set.
When AIM refuses a token (in ``Status`` or by HTTP 401/403) the client logs in again **once** and
repeats the call; a second refusal is an :class:`~serialsync.AuthenticationError`.

Transient in-band errors and malformed bodies of *reads* are retried by the core client (via its
retry signal); a write (``CustomerOrders``) is never repeated here, since AIM may have applied it:
the connector looks the order up before posting again.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from serialsync import (
    AuthenticationError,
    ConnectorContext,
    HttpClient,
    PermanentRemoteError,
    RetryableRemoteError,
    RetryHint,
)

from serialsync_aim_pos.settings import AimSettings
from serialsync_aim_pos.status import AimStatus, StatusKind, classify, error_for

#: Operations whose requests change AIM: never repeated blindly.
WRITE_OPERATIONS = frozenset({"customerorders"})

#: ``ECommerceOrderStatus`` order type for third-party web orders.
THIRD_PARTY_ORDER_TYPE = "3"


@dataclass(frozen=True)
class _Session:
    """A logged-in session: the store's API root, the two tokens, the employee's location."""

    api_root: str
    oauth_token: str
    token: str
    location: str | None = None


def _operation_of(url: httpx.URL) -> str:
    return url.path.rsplit("/", 1)[-1].lower()


def _json_body(response: httpx.Response) -> dict[str, Any] | None:
    try:
        # Decimals, not floats: prices must survive the trip exactly.
        body = json.loads(response.content or b"null", parse_float=Decimal)
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def retry_signal(response: httpx.Response) -> RetryHint | None:
    """Retry a read that AIM answered with a transient in-band error or a malformed body."""
    operation = _operation_of(response.request.url)
    if operation in WRITE_OPERATIONS or operation == "metadata" or response.status_code >= 300:
        # A write is never repeated; ServiceStack's metadata pages are HTML, not AIM replies.
        return None
    body = _json_body(response)
    if body is None:
        return RetryHint("AIM answered a body that is not a JSON object")
    status = classify(body)
    if status.kind is StatusKind.TRANSIENT:
        return RetryHint(f"AIM busy: {status.code or status.message}")
    return None


def store_root(domain: str) -> str:
    """The API root of the store from ``NewEndpointDomain`` (bare host or full URL)."""
    domain = domain.strip().rstrip("/")
    if not domain.startswith(("http://", "https://")):
        # Integrators report a bare host name here as well as a URL: assume HTTPS then.
        domain = "https://" + domain
    if domain.lower().endswith("/api"):
        domain = domain[: -len("/api")]
    return domain + "/api"


class AimClient:
    """Speaks AIM Web Services for one connector; holds the session between calls."""

    def __init__(self, settings: AimSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.connector = context.name
        self.log = context.log()
        self.http: HttpClient = context.http_client(
            settings,
            headers={"Accept": "application/json"},
            secret_headers=("ApiKey", "OAuthToken", "Token"),
            retry_signal=retry_signal,
        )
        self._session: _Session | None = None
        #: How many logins (discovery + Security) this client made; tests and benchmarks read it.
        self.logins = 0

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    # -- login --------------------------------------------------------------------------------

    def _base_headers(self) -> dict[str, str]:
        return {
            "ApiKey": self.settings.api_key.get_secret_value(),
            "AppId": self.settings.app_id,
            "DeviceId": self.settings.device_id,
        }

    def _login(self) -> _Session:
        self.logins += 1
        found = self._checked(
            "GetEndPoint",
            self.http.get(
                f"{self.settings.discovery_url}/api/GetEndPoint",
                headers=self._base_headers(),
                operation="GetEndPoint",
            ),
        )
        domain = str(found.get("NewEndpointDomain") or "")
        oauth = str(found.get("OAuthToken") or "")
        if not domain or not oauth:
            raise AuthenticationError(
                "AIM GetEndPoint answered without NewEndpointDomain or OAuthToken; check "
                "api_key and app_id",
                connector=self.connector,
            )
        root = store_root(domain)
        # Credentials go in the JSON body, never in the query string (which servers log).
        answer = self._checked(
            "Security",
            self.http.post(
                f"{root}/Security",
                headers={**self._base_headers(), "OAuthToken": oauth},
                json=self._login_fields(),
                operation="Security",
                # A login changes nothing a repeat could double: safe to retry on a 5xx.
                idempotent=True,
            ),
        )
        token = str(answer.get("Token") or "")
        if not token:
            raise AuthenticationError(
                "AIM Security answered without a Token; check username and password",
                connector=self.connector,
            )
        # Security's own OAuthToken and Domain supersede discovery's (the store may hand the
        # session a token and host of its own); discovery's stay as the fallback.
        oauth = str(answer.get("OAuthToken") or "") or oauth
        domain = str(answer.get("Domain") or "")
        if domain:
            root = store_root(domain)
        details = answer.get("UserDetails")
        location = details.get("Location") if isinstance(details, Mapping) else None
        self.log.info("aim.logged_in", store=httpx.URL(root).host)
        return _Session(
            api_root=root,
            oauth_token=oauth,
            token=token,
            location=str(location) if location else None,
        )

    def _login_fields(self) -> dict[str, str]:
        """The ``Security`` request DTO; the optional fields only when configured."""
        fields = {
            "Username": self.settings.username,
            "Password": self.settings.password.get_secret_value(),
            "DeviceId": self.settings.device_id,
            "AppId": self.settings.app_id,
        }
        if self.settings.acct:
            fields["Acct"] = self.settings.acct
        if self.settings.device_name:
            fields["DeviceName"] = self.settings.device_name
        return fields

    def login_location(self) -> str | None:
        """The logged-in employee's ``UserDetails.Location`` (logs in when needed)."""
        self._session = self._session or self._login()
        return self._session.location

    def _checked(self, operation: str, response: httpx.Response) -> dict[str, Any]:
        """The body of a login call, or the typed error (no renewal: this *is* the login)."""
        body, status = self._read(operation, response)
        if status.ok and body is not None:
            return body
        if status.kind in (StatusKind.UNKNOWN, StatusKind.VALIDATION):
            # A refused login is a credentials problem whatever code AIM chose for it.
            status = AimStatus(StatusKind.AUTH, status.code, status.message)
        raise error_for(
            status, operation=operation, connector=self.connector, http_status=response.status_code
        )

    def _read(
        self, operation: str, response: httpx.Response
    ) -> tuple[dict[str, Any] | None, AimStatus]:
        """Parse a response into its body and its ``Status`` (HTTP errors folded in)."""
        body = _json_body(response)
        code = response.status_code
        if code in (401, 403):
            status = classify(body) if body else AimStatus(StatusKind.AUTH, str(code), "")
            if status.ok or status.kind is StatusKind.UNKNOWN:
                status = AimStatus(StatusKind.AUTH, str(code), status.message or f"HTTP {code}")
            return body, status
        if code >= 400:
            if body is not None and isinstance(body.get("Status"), Mapping):
                status = classify(body)
                if not status.ok:
                    return body, status
            raise self.http.error_for(response)
        if body is None:
            raise RetryableRemoteError(
                f"AIM {operation} answered a body that is not a JSON object "
                f"(HTTP {code}, {len(response.content)} bytes)",
                connector=self.connector,
                status=code,
            )
        return body, classify(body)

    # -- secured calls ------------------------------------------------------------------------

    def call(
        self,
        operation: str,
        method: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Mapping[str, Any] | None = None,
        accept: frozenset[StatusKind] = frozenset(),
    ) -> tuple[dict[str, Any], AimStatus]:
        """Call one secured operation; return its body and status.

        Logs in first when there is no session, and once more when AIM refuses the token. A
        failed ``Status`` raises the typed error unless its kind is in ``accept`` (a lookup
        that may find nothing accepts :attr:`StatusKind.NOT_FOUND`).
        """
        for attempt in (1, 2):
            session = self._session or self._login()
            self._session = session
            response = self.http.request(
                method,
                f"{session.api_root}/{operation}",
                params=params,
                content=exact_json(body) if body is not None else None,
                headers={
                    **({"Content-Type": "application/json"} if body is not None else {}),
                    **self._base_headers(),
                    "OAuthToken": session.oauth_token,
                    "Token": session.token,
                },
                idempotent=operation.lower() not in WRITE_OPERATIONS,
                operation=operation,
            )
            data, status = self._read(operation, response)
            if status.kind is StatusKind.AUTH and attempt == 1:
                self.log.info("aim.token_renewal", operation=operation, code=status.code)
                self._session = None
                continue
            if status.ok or status.kind in accept:
                return data or {}, status
            raise error_for(
                status,
                operation=operation,
                connector=self.connector,
                http_status=response.status_code,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    # -- operations ---------------------------------------------------------------------------

    def search_inventory(
        self, *, changed_since: str | None, offset: int, count: int
    ) -> dict[str, Any]:
        """One page of serialized items changed since ``changed_since`` (AIM local time)."""
        body: dict[str, Any] = {
            "IncludeSerials": True,
            "IncludeMedia": False,
            "IncludeAccessories": False,
            "IncludePackages": False,
            # Deleted items must come back so their serials can be withdrawn online.
            "IncludeDeleted": True,
            "StartOffset": offset,
            "RecordCount": count,
        }
        if changed_since is not None:
            body["ChangedDate"] = changed_since
        return self.call("SearchInventory", "POST", body=body)[0]

    def inventory_detail(self, pk: int) -> dict[str, Any] | None:
        """One item with its serials (``IncludeSerialInfo``); ``None`` if AIM has no such item."""
        data, status = self.call(
            "InventoryDetail",
            "POST",
            body={"Pk": pk, "IncludeSerialInfo": True, "SkipImages": False},
            accept=frozenset({StatusKind.NOT_FOUND}),
        )
        return data if status.ok else None

    def order_status(self, order_number: str) -> dict[str, Any] | None:
        """The third-party order ``order_number`` as AIM has it, or ``None`` if it has none."""
        data, status = self.call(
            "ECommerceOrderStatus",
            "GET",
            params={"OrderNumber": order_number, "OrderType": THIRD_PARTY_ORDER_TYPE},
            accept=frozenset({StatusKind.NOT_FOUND}),
        )
        if not status.ok or not (data.get("OrderStatus") or data.get("LineItems")):
            # Some AIM versions answer "Ok" with an empty order for an unknown number.
            return None
        return data

    def post_order(self, order: Mapping[str, Any]) -> None:
        """Post one ``ThirdPartyOrder``; AIM answers only a ``Status``."""
        self.call("CustomerOrders", "POST", body={"Orders": [dict(order)]})

    def metadata(self) -> tuple[str, bytes]:
        """The store's ServiceStack ``/metadata`` page and ``/types/metadata`` JSON (read-only).

        Logs in first only to learn the store's API root (the login writes nothing).
        """
        self._session = self._session or self._login()
        root = self._session.api_root
        pages = []
        for path in ("metadata", "types/metadata"):
            response = self.http.get(
                f"{root}/{path}", headers=self._base_headers(), operation=f"/{path}"
            )
            if response.status_code >= 400:
                raise self.http.error_for(response)
            pages.append(response.content)
        return pages[0].decode("utf-8", "replace"), pages[1]

    def require_list(self, value: Any, what: str) -> list[dict[str, Any]]:
        """``value`` as a list of objects, or a clear error naming the field."""
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise PermanentRemoteError(
                f"AIM answered {what} that is not a list of objects", connector=self.connector
            )
        return value


def exact_json(body: Mapping[str, Any]) -> bytes:
    """``body`` as JSON with each :class:`~decimal.Decimal` written as the exact number it is.

    ``json`` would refuse a Decimal, and a float loses digits (``12345678901234567.89``);
    ServiceStack reads a JSON number into a .NET ``decimal`` exactly.
    """
    # A marker no string of the body can hold (fresh each call), replaced by the number.
    marker = f"exact-{secrets.token_hex(8)}:"

    def encode(value: object) -> str:
        if isinstance(value, Decimal) and value.is_finite():
            return f"{marker}{value}"
        raise TypeError(f"{type(value).__name__} {value!r} is not a JSON number")

    text = json.dumps(body, default=encode, ensure_ascii=False)
    return re.sub(f'"{re.escape(marker)}([^"]+)"', lambda m: m[1], text).encode()

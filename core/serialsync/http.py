"""The HTTP client every plugin speaks through: timeouts, retries, pacing, redacted logs.

:class:`HttpClient` wraps :class:`httpx.Client`. Each request:

1. waits for the connector's :class:`RateLimiter`, if any, so that it is sent *before* the
   platform would refuse it;
2. is sent; connect errors, timeouts, dropped connections, 429, 502/503/504 and whatever the
   plugin's :data:`RetrySignal` flags (Shopify's ``THROTTLED`` in an HTTP 200) are retried by
   tenacity with exponential backoff and jitter, honouring ``Retry-After`` (seconds or an HTTP
   date, capped);
3. is logged once per attempt (connector, method, host, path, status, attempt, elapsed) with
   secrets masked.

A non-idempotent request (POST, PATCH) is retried only when it cannot have been applied: the
connection never opened, or the platform refused it outright (429, a throttle signal). Pass
``idempotent=True`` for a POST that is safe to repeat (a GraphQL query, an upsert).

Attempts and total wait are bounded by :class:`RetryPolicy`. ``sleep``, ``clock`` and the
jitter's random source are injectable, so tests never wait; ``transport`` lets tests (respx,
:class:`httpx.MockTransport`) and embedding applications put their own transport underneath.
``stop`` (a :class:`threading.Event`, the host's) ends any wait at once and keeps the next
request from being sent: both raise :class:`~serialsync.stopping.StopRequested`.
"""

from __future__ import annotations

import contextlib
import email.utils
import itertools
import json
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import tenacity
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from serialsync.errors import (
    AuthenticationError,
    ConfigurationError,
    PermanentRemoteError,
    RateLimitedError,
    RemoteError,
    RetryableRemoteError,
)
from serialsync.http11 import Http11Transport
from serialsync.logging import adapt_logger, get_logger
from serialsync.metering import current_meter
from serialsync.redaction import (
    MASK,
    Redactor,
    redact_personal_data,
    register_secret,
    registered_secrets,
)
from serialsync.stopping import raise_if_stopped, stoppable

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
_BODY_EXCERPT = 300
_URL_CACHE_SIZE = 256


class RetryPolicy(BaseModel):
    """How hard the client tries. Every connector may override it in its settings."""

    model_config = ConfigDict(frozen=True)

    max_attempts: int = Field(default=6, ge=1, le=50)
    max_total_wait: float = Field(default=120.0, ge=0, description="seconds, over all retries")
    backoff_initial: float = Field(default=0.5, ge=0)
    backoff_max: float = Field(default=30.0, ge=0)
    retry_after_cap: float = Field(default=300.0, ge=0)
    retry_statuses: frozenset[int] = frozenset({429, 502, 503, 504})


class Timeouts(BaseModel):
    """Explicit timeouts, in seconds."""

    model_config = ConfigDict(frozen=True)

    connect: float = 10.0
    read: float = 60.0
    write: float = 60.0
    pool: float = 10.0

    def to_httpx(self) -> httpx.Timeout:
        """The same timeouts as :class:`httpx.Timeout`."""
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.write, pool=self.pool)


@dataclass(frozen=True, slots=True)
class RetryHint:
    """A plugin's verdict that a response must be retried (a throttle in a 200 body).

    ``wait`` is the time the platform asks for, if it says; ``reason`` is logged.
    A hinted response is taken as *refused*, not applied, so it is retried whatever the method.
    """

    reason: str
    wait: float | None = None


RetrySignal = Callable[[httpx.Response], RetryHint | None]
"""A plugin's extra retry rule: look at a response, return a :class:`RetryHint` to retry it."""


class RateLimiter(Protocol):
    """Paces requests from what the platform's responses say about the remaining budget."""

    def wait_time(self) -> float:
        """Seconds to wait before the next request may be sent (0 when it may go now)."""
        ...

    def observe(self, response: httpx.Response) -> None:
        """Update the budget from a response's headers or body."""
        ...


class _RetryNeededError(Exception):
    """Internal: the attempt must be retried; carries what to say if it is the last."""

    def __init__(
        self,
        reason: str,
        *,
        wait: float | None,
        response: httpx.Response | None = None,
        throttled: bool = False,
        unreachable: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.response = response
        self.throttled = throttled
        self.unreachable = unreachable


#: :attr:`RemoteError.code` of a request that never reached its host (refused, unknown name,
#: connect timeout): the setting naming the host, or the host itself, is what to check.
UNREACHABLE = "unreachable"


def _connect_cause(exc: httpx.TransportError) -> str:
    """What kept a connection from opening, in an operator's words (no exception class)."""
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return "timed out"
    text = str(exc).lower()
    if "refused" in text:
        return "connection refused"
    unknown = ("name or service not known", "nodename nor servname", "name resolution")
    if any(words in text for words in unknown):
        return "unknown host name"
    if "certificate" in text or "ssl" in text:
        return "TLS failed"
    return "no connection"


#: Environment variable choosing the default transport: ``serialsync`` (the default, our own
#: HTTP/1.1 transport, :mod:`serialsync.http11`) or ``httpx`` (httpx's own, through httpcore and
#: h11). The way back, without code, for an operator whose network or server does not get
#: along with the lean transport; embedders pass ``transport=`` instead.
TRANSPORT_ENV = "SERIALSYNC_HTTP_TRANSPORT"
_TRANSPORTS = ("serialsync", "httpx")


def _default_transport(verify: bool) -> httpx.BaseTransport:
    # TCP_NODELAY: a request or response written in two segments (headers, then body) would
    # otherwise wait for the peer's delayed ACK, about 40 ms per request on Linux.
    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    choice = os.environ.get(TRANSPORT_ENV, "").strip().lower() or "serialsync"
    if choice == "httpx":
        return httpx.HTTPTransport(verify=verify, socket_options=options)
    if choice != "serialsync":
        raise ConfigurationError(
            f"{TRANSPORT_ENV}={choice!r} is not a transport: use one of {', '.join(_TRANSPORTS)}"
        )
    return Http11Transport(verify=verify, socket_options=options)


def _is_json(content: bytes) -> bool:
    if not content:
        return True  # an empty 2xx (204-like) is an answer, not a truncation
    try:
        json.loads(content)
    except ValueError:
        return False
    return True


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds asked by a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _response_date(response: httpx.Response) -> datetime | None:
    """The instant a response's ``Date`` header names, if it has a valid one."""
    value = response.headers.get("date")
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def retry_after_of(response: httpx.Response) -> float | None:
    """The wait a response's ``Retry-After`` asks for, in seconds.

    An HTTP date is read against the response's own ``Date`` header when it has one: both come
    from the server's clock, so a skew between its clock and ours does not change the wait.
    """
    return parse_retry_after(response.headers.get("retry-after"), now=_response_date(response))


class _RedactHttpxUrls(logging.Filter):
    """Masks secrets in the URL httpx itself logs for every request.

    httpx logs ``HTTP Request: GET <full url> ...`` at INFO on the ``httpx`` logger. An
    embedding application that shows INFO would otherwise print a ``consumer_secret`` query
    parameter; this filter rewrites the URL argument, and changes nothing else.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and any(isinstance(a, httpx.URL) for a in args):
            redactor = Redactor(registered_secrets())
            record.args = tuple(
                redactor.url(str(a)) if isinstance(a, httpx.URL) else a for a in args
            )
        return True


_HTTPX_URL_FILTER = _RedactHttpxUrls()


def _guard_httpx_log() -> None:
    logger = logging.getLogger("httpx")
    if _HTTPX_URL_FILTER not in logger.filters:
        logger.addFilter(_HTTPX_URL_FILTER)


ResponseObserver = Callable[[str, str, bool], None]
"""``observer(connector, status, throttled)``: called once per attempt, ``status`` being the HTTP
status (``"200"``) or ``"error"`` for a request that got no answer (for metrics)."""

_response_observers: list[ResponseObserver] = []


def add_response_observer(observer: ResponseObserver) -> None:
    """Have ``observer`` called after every attempt of every client in this process."""
    if observer not in _response_observers:
        _response_observers.append(observer)


def remove_response_observer(observer: ResponseObserver) -> None:
    """Stop calling ``observer`` (no-op when it was not added)."""
    if observer in _response_observers:
        _response_observers.remove(observer)


def _notify(connector: str, status: str, throttled: bool) -> None:
    for observer in list(_response_observers):
        try:
            observer(connector, status, throttled)
        except Exception:  # an observer's bug must never fail a request
            get_logger("serialsync.http").exception("http.observer_failed")


#: What httpx.Client sends unless told otherwise (kept, so that no platform sees a change).
_DEFAULT_HEADERS = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": f"python-httpx/{httpx.__version__}",
}


def _debug_shown(log: Any) -> bool:
    """Whether ``log`` would show a debug event (yes, for a logger that cannot say)."""
    check = getattr(log, "is_enabled_for", None)
    return True if check is None else bool(check(logging.DEBUG))


def _with_trailing_slash(base_url: str) -> str:
    """The base URL a relative path is appended to (httpx's rule: it ends with ``/``)."""
    if not base_url or base_url.endswith("/"):
        return base_url
    return base_url + "/"


class _AttemptLog:
    """One attempt's log fields, bound only when an event is logged: the success of a request
    logs at debug level, and binding (with the path redacted) cost more than sending."""

    __slots__ = ("_attempt", "_client", "_operation", "_request")

    def __init__(
        self, client: HttpClient, request: httpx.Request, attempt: int, operation: str | None
    ) -> None:
        self._client = client
        self._request = request
        self._attempt = attempt
        self._operation = operation

    def _bound(self) -> Any:
        request = self._request
        return self._client._log.bind(
            method=request.method,
            host=request.url.host,
            path=self._client.redactor.url(request.url.raw_path.decode("ascii", "replace")),
            attempt=self._attempt,
            operation=self._operation,
        )

    def debug(self, event: str, **values: Any) -> None:
        """Log at debug level, when a debug event is shown at all."""
        if _debug_shown(self._client._log):
            self._bound().debug(event, **values)

    def warning(self, event: str, **values: Any) -> None:
        """Log at warning level."""
        self._bound().warning(event, **values)


class HttpClient:
    """One connector's HTTP client. Create it with :meth:`ConnectorContext.http_client`."""

    def __init__(
        self,
        *,
        connector: str,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        params: Mapping[str, str] | None = None,
        secrets: Iterable[SecretStr | str | None] = (),
        secret_params: Iterable[str] = (),
        secret_headers: Iterable[str] = (),
        policy: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        transport: httpx.BaseTransport | None = None,
        rate_limiter: RateLimiter | None = None,
        retry_signal: RetrySignal | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        verify: bool = True,
        logger: Any = None,
        stop: threading.Event | None = None,
        fail_fast: bool = False,
    ) -> None:
        self.connector = connector
        self.policy = policy or RetryPolicy()
        self.rate_limiter = rate_limiter
        self.retry_signal = retry_signal
        self._stop_event = stop
        # `check` asks a host that cannot be reached once: refused or unknown is not transient.
        self._fail_fast = fail_fast
        # Retry backoffs and pacing pauses end at once on a stop (SIGTERM during a long wait).
        self._sleep = stoppable(sleep, stop, "http.wait")
        self._clock = clock
        self._rng = rng or random.Random()
        secrets = list(secrets)
        self.redactor = Redactor(secrets, params=secret_params, headers=secret_headers)
        # Known to the process-wide scrubbers too: redact_event and httpx's own request log.
        for secret in secrets:
            register_secret(secret)
        _guard_httpx_log()
        self._log = (adapt_logger(logger) or get_logger("serialsync.http")).bind(
            connector=connector
        )
        # No httpx.Client: a connector needs none of its cookie jar, redirects or per-request
        # merging of URLs, and they were a third of the CPU of a request. What it kept is
        # done once here: the base URL, the default headers and parameters, the timeouts.
        self._transport = transport or _default_transport(verify)
        self._auth = auth
        self._base_url = _with_trailing_slash(base_url)
        self._headers = httpx.Headers(_DEFAULT_HEADERS)
        self._headers.update(dict(headers or {}))
        self._params = httpx.QueryParams(dict(params or {}))
        self._timeout = (timeouts or Timeouts()).to_httpx().as_dict()
        # Parsed URLs by their text: httpx checks a URL character by character, a third of
        # what building a request cost, and a connector sends to few distinct URLs (one
        # GraphQL endpoint, a batch endpoint) many times. httpx.URL is immutable: shared.
        self._urls: dict[str, httpx.URL] = {}
        self._stats_lock = threading.Lock()
        self._stats: dict[str, float] = {"requests": 0, "retries": 0, "throttled": 0, "waited": 0.0}
        # One retry controller for every request: tenacity keeps each call's state per thread.
        self._retrying = tenacity.Retrying(
            stop=self._stop,
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_RetryNeededError),
            sleep=self._record_sleep,
            reraise=True,
        )
        if not verify:
            self._log.warning(
                "http.tls_verification_disabled", base_url=self.redactor.url(base_url)
            )

    def __repr__(self) -> str:
        return f"<HttpClient connector={self.connector!r}>"

    @property
    def base_url(self) -> str:
        """The URL a relative request URL is joined to (``""``: none)."""
        return self._base_url

    @property
    def headers(self) -> dict[str, str]:
        """The headers every request carries (secrets among them: never log this)."""
        return dict(self._headers)

    @property
    def stats(self) -> dict[str, float]:
        """Counters a benchmark or test may read (a copy): requests sent, retries, throttles
        received, seconds waited. Updated under a lock: one client serves several threads."""
        with self._stats_lock:
            return dict(self._stats)

    def _count(self, key: str, amount: float = 1) -> None:
        with self._stats_lock:
            self._stats[key] += amount
        self._meter(key, amount)

    def _meter(self, key: str, amount: float = 1) -> None:
        # The pass this request serves counts it too (see serialsync.metering).
        meter = current_meter()
        if meter is not None:
            meter.add(self.connector, key, amount)

    # -- public API -------------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
        operation: str | None = None,
        expect_json: bool = False,
    ) -> httpx.Response:
        """Send a request with pacing and retries; return the final response.

        With ``expect_json=True``, a 2xx answer whose body is not JSON (cut short by a proxy or
        a dropped upstream) is retried like a 5xx when the request is safe to repeat, and
        returned as it is otherwise.

        Non-retryable responses (4xx other than 429, and anything a plugin does not flag) are
        returned as they are: the plugin reads the platform's error shape, or calls
        :meth:`raise_for_status`. When retries run out, :class:`RateLimitedError` (throttled)
        or :class:`RetryableRemoteError` (5xx, timeouts, dropped connections) is raised.
        """
        method = method.upper()
        safe_to_repeat = idempotent if idempotent is not None else method in IDEMPOTENT_METHODS

        def build() -> httpx.Request:
            # A fresh request per attempt: an auth flow (OAuth 1.0a signing) edits the request
            # it is given, and a retry must be signed anew, not carry the last signature.
            return self._build(method, url, params, json, content, data, headers)

        attempts = itertools.count(1)
        try:
            response: httpx.Response = self._retrying(
                self._attempt, build, safe_to_repeat, operation, attempts, expect_json
            )
            return response
        except _RetryNeededError as last:
            # Built again only to name it in the error: the hot path builds one per attempt.
            raise self._exhausted(build(), last) from None

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        """``request("GET", url, ...)``."""
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        """``request("POST", url, ...)``; not retried once sent unless ``idempotent=True``."""
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        """``request("PUT", url, ...)``."""
        return self.request("PUT", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        """``request("DELETE", url, ...)``."""
        return self.request("DELETE", url, **kwargs)

    def add_secret(self, value: SecretStr | str | None) -> None:
        """Redact a secret learned at run time (a session token) from what this client logs."""
        self.redactor.add(value)

    def raise_for_status(self, response: httpx.Response) -> httpx.Response:
        """Return a 2xx/3xx response; raise the matching :class:`RemoteError` otherwise."""
        if response.status_code < 400:
            return response
        raise self.error_for(response)

    def error_for(self, response: httpx.Response, message: str | None = None) -> RemoteError:
        """The typed, redacted error for a failed response (401/403 → authentication)."""
        status = response.status_code
        url = self.redactor.url(str(response.request.url))
        text = (
            message
            or f"{response.request.method} {url} answered {status}: {self.excerpt(response)}"
        )
        if status in (401, 403):
            return AuthenticationError(text, connector=self.connector, status=status, url=url)
        if status == 429:
            return RateLimitedError(
                text,
                connector=self.connector,
                status=status,
                url=url,
                retry_after=retry_after_of(response),
            )
        if status >= 500 or status == 408:
            return RetryableRemoteError(text, connector=self.connector, status=status, url=url)
        return PermanentRemoteError(text, connector=self.connector, status=status, url=url)

    def excerpt(self, response: httpx.Response) -> str:
        """The start of a response body, redacted, for an error message."""
        try:
            body = response.text
        except (httpx.ResponseNotRead, UnicodeDecodeError):
            return "<unreadable body>"
        # Personal data first, while a JSON body is still whole enough to be read field by field.
        body = self.redactor.text(" ".join(redact_personal_data(body).split()))
        # Platforms echo requests back in errors: mask what this one carried in secret query
        # parameters and headers too (a signature, a Basic credential are not settings).
        try:
            request = response.request
        except RuntimeError:  # a response built by hand, with no request
            request = None
        if request is not None:
            carried = self.redactor.request_secrets(
                request.url.params.multi_items(), request.headers.multi_items()
            )
            for value in carried:
                body = body.replace(value, MASK)
        if len(body) > _BODY_EXCERPT:
            body = body[:_BODY_EXCERPT] + "…"
        return body or "<empty body>"

    def close(self) -> None:
        """Close the connection pool."""
        self._transport.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one attempt ------------------------------------------------------------------------

    def _build(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        json: Any,
        content: bytes | str | None,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
    ) -> httpx.Request:
        """The request as httpx.Client would build it, less its cookies: a relative ``url``
        joined to the base URL, the default parameters and headers under the request's own."""
        url = str(url)
        if not url.startswith(("http://", "https://")):
            url = self._base_url + url.lstrip("/")
        parsed = self._urls.get(url)
        if parsed is None:
            if len(self._urls) >= _URL_CACHE_SIZE:
                self._urls.clear()  # URLs with ids in them: start over rather than grow
            parsed = self._urls[url] = httpx.URL(url)
        merged_params: httpx.QueryParams | Mapping[str, Any] | None = params
        if self._params:
            merged_params = self._params.merge(params)
        merged_headers = self._headers
        if headers:
            merged_headers = self._headers.copy()
            merged_headers.update(headers)
        return httpx.Request(
            method,
            parsed,
            params=merged_params,
            headers=merged_headers,
            json=json,
            content=content,
            data=data,
            extensions={"timeout": self._timeout},
        )

    def _send(self, request: httpx.Request) -> httpx.Response:
        """Send through the transport (running the auth flow, if any) and read the body."""
        try:
            if self._auth is None:
                response = self._transport.handle_request(request)
                response.request = request
            else:
                response = self._send_with_auth(request)
            try:
                response.read()
            except BaseException:
                response.close()
                raise
        except httpx.RequestError as exc:
            with contextlib.suppress(RuntimeError):
                exc.request = request  # as httpx.Client names it; the first one set wins
            raise
        return response

    def _send_with_auth(self, request: httpx.Request) -> httpx.Response:
        assert self._auth is not None
        flow = self._auth.sync_auth_flow(request)
        request = next(flow)
        while True:
            response = self._transport.handle_request(request)
            response.request = request
            try:
                following = flow.send(response)
            except StopIteration:
                return response
            response.read()
            response.close()
            request = following

    def _attempt(
        self,
        build: Callable[[], httpx.Request],
        safe_to_repeat: bool,
        operation: str | None,
        attempts: Iterator[int],
        expect_json: bool = False,
    ) -> httpx.Response:
        attempt = next(attempts)
        # Stopped: the request is not sent at all (never half of a pass's writes after a stop).
        raise_if_stopped(self._stop_event, "http.before_send")
        request = build()
        if self.rate_limiter is not None:
            pause = self.rate_limiter.wait_time()
            if pause > 0:
                self._log.debug("http.paced", wait=round(pause, 3), operation=operation)
                self._count("waited", pause)
                self._sleep(pause)
        log = _AttemptLog(self, request, attempt, operation)
        started = self._clock()
        self._count("requests")
        try:
            response = self._send(request)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never left: repeating it cannot apply it twice.
            self._log_failure(log, started, exc)
            reason = f"could not connect to {request.url.netloc.decode()} ({_connect_cause(exc)})"
            if self._fail_fast and not isinstance(exc, httpx.PoolTimeout):
                raise RetryableRemoteError(
                    reason,
                    connector=self.connector,
                    url=self.redactor.url(str(request.url)),
                    code=UNREACHABLE,
                ) from None
            raise _RetryNeededError(reason, wait=None, unreachable=True) from None
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            self._log_failure(log, started, exc)
            if not safe_to_repeat:
                raise RetryableRemoteError(
                    f"{request.method} {self.redactor.url(str(request.url))} failed after it was "
                    f"sent ({type(exc).__name__}); not retried because it may have been applied",
                    connector=self.connector,
                    url=self.redactor.url(str(request.url)),
                ) from None
            raise _RetryNeededError(f"{type(exc).__name__} after sending", wait=None) from None
        elapsed = self._clock() - started
        elapsed_ms = round(elapsed * 1000, 1)
        if self.rate_limiter is not None:
            self.rate_limiter.observe(response)
        hint = self.retry_signal(response) if self.retry_signal is not None else None
        status = response.status_code
        self._meter("seconds", elapsed)
        if status >= 500:
            self._meter("errors")
        _notify(self.connector, str(status), hint is not None or status == 429)
        if hint is not None:
            self._count("throttled")
            log.warning(
                "http.retry_signal", status=status, elapsed_ms=elapsed_ms, reason=hint.reason
            )
            raise _RetryNeededError(hint.reason, wait=hint.wait, response=response, throttled=True)
        if status in self.policy.retry_statuses:
            refused = status == 429
            if refused:
                self._count("throttled")
            log.warning("http.retryable_status", status=status, elapsed_ms=elapsed_ms)
            if refused or safe_to_repeat:
                raise _RetryNeededError(
                    f"HTTP {status}",
                    wait=retry_after_of(response),
                    response=response,
                    throttled=refused,
                )
            return response
        if expect_json and safe_to_repeat and status < 300 and not _is_json(response.content):
            log.warning("http.malformed_body", status=status, elapsed_ms=elapsed_ms)
            raise _RetryNeededError("a body that is not JSON", wait=None, response=response)
        log.debug("http.response", status=status, elapsed_ms=elapsed_ms)
        return response

    def _log_failure(self, log: _AttemptLog, started: float, exc: Exception) -> None:
        _notify(self.connector, "error", False)
        self._meter("errors")
        self._meter("seconds", self._clock() - started)
        log.warning(
            "http.transport_error",
            error=type(exc).__name__,
            elapsed_ms=round((self._clock() - started) * 1000, 1),
        )

    # -- tenacity strategies ------------------------------------------------------------------

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        if state.attempt_number >= self.policy.max_attempts:
            return True
        remaining = self.policy.max_total_wait - state.idle_for
        if remaining <= 0:
            return True
        # When the platform named a wait longer than the budget left, give up now: sleeping
        # only part of it and asking again early would just be refused again.
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.wait if isinstance(exc, _RetryNeededError) else None
        return asked is not None and min(asked, self.policy.retry_after_cap) > remaining

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        asked = exc.wait if isinstance(exc, _RetryNeededError) else None
        if asked is not None:
            # The platform said how long; add a little jitter so runners don't stampede.
            wait = min(asked, self.policy.retry_after_cap) + self._rng.uniform(0, 0.1)
        else:
            ceiling = min(
                self.policy.backoff_max,
                self.policy.backoff_initial * 2 ** (state.attempt_number - 1),
            )
            wait = self._rng.uniform(ceiling / 2, ceiling)
        # Never exceed the total wait budget.
        return max(0.0, min(wait, self.policy.max_total_wait - state.idle_for))

    def _record_sleep(self, seconds: float) -> None:
        self._count("retries")
        self._count("waited", seconds)
        self._sleep(seconds)

    def _exhausted(self, request: httpx.Request, last: _RetryNeededError) -> RemoteError:
        url = self.redactor.url(str(request.url))
        status = last.response.status_code if last.response is not None else None
        text = f"{request.method} {url} still failing after retries: {last.reason}"
        if last.response is not None:
            text += f" ({self.excerpt(last.response)})"
        self._log.error("http.gave_up", method=request.method, url=url, reason=last.reason)
        if last.throttled:
            return RateLimitedError(
                text, connector=self.connector, status=status, url=url, retry_after=last.wait
            )
        code = UNREACHABLE if last.unreachable else None
        return RetryableRemoteError(
            text, connector=self.connector, status=status, url=url, code=code
        )

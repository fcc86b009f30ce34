"""How a request to WooCommerce carries its credentials: the three auth modes as httpx.Auth.

* HTTP Basic: :class:`httpx.BasicAuth` (nothing of ours).
* :class:`QueryStringAuth`: the keys as ``consumer_key`` / ``consumer_secret`` query parameters.
* :class:`OAuth1Auth`: OAuth 1.0a one-legged (no token) with HMAC-SHA1, per RFC 5849, its
  parameters sent in the query string as WooCommerce reads them (some hosts strip the
  ``Authorization`` header, which is why the query string is used rather than that header).

Each is applied by httpx when the request is *sent*, after the core HTTP client has built and
logged it, so neither keys nor signatures are part of what the client logs. Each attempt of a
retry is signed afresh (new nonce, new timestamp): WooCommerce refuses a nonce it has seen.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Generator, Iterable
from urllib.parse import parse_qsl, quote

import httpx
from pydantic import SecretStr

__all__ = [
    "OAuth1Auth",
    "QueryStringAuth",
    "build_auth",
    "hmac_sha1_signature",
    "percent_encode",
    "signature_base_string",
]

_FORM = "application/x-www-form-urlencoded"


def percent_encode(text: str) -> str:
    """RFC 5849 §3.6 encoding: UTF-8, then every byte but ``A-Z a-z 0-9 - . _ ~`` as ``%XX``."""
    return quote(text, safe="-._~")


def base_string_uri(url: httpx.URL) -> str:
    """RFC 5849 §3.4.1.2: scheme and host lower-cased, default port dropped, no query."""
    scheme = url.scheme.lower()
    host = url.host.lower()
    default = {"http": 80, "https": 443}.get(scheme)
    port = f":{url.port}" if url.port is not None and url.port != default else ""
    path = url.raw_path.split(b"?", 1)[0].decode("ascii") or "/"
    return f"{scheme}://{host}{port}{path}"


def normalized_parameters(params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1.3.2: encode each name and value, sort by name then value, join."""
    pairs = sorted((percent_encode(k), percent_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in pairs)


def signature_base_string(method: str, url: httpx.URL, params: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 §3.4.1: ``METHOD&enc(base URI)&enc(normalized parameters)``.

    ``params`` are every decoded parameter that is signed: the query's, a form body's, and the
    ``oauth_*`` ones except ``oauth_signature``.
    """
    return "&".join(
        (
            method.upper(),
            percent_encode(base_string_uri(url)),
            percent_encode(normalized_parameters(params)),
        )
    )


def hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str = "") -> str:
    """RFC 5849 §3.4.2: base64 HMAC-SHA1 of the base string, keyed ``secret&token_secret``."""
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _signed_request_params(request: httpx.Request) -> list[tuple[str, str]]:
    params = list(request.url.params.multi_items())
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == _FORM:
        # A single-part form body is signed too (RFC 5849 §3.4.1.3.1); JSON bodies are not.
        params += parse_qsl(request.content.decode("utf-8"), keep_blank_values=True)
    return params


class OAuth1Auth(httpx.Auth):
    """OAuth 1.0a one-legged HMAC-SHA1 signing, the parameters added to the query string.

    ``clock`` (seconds since the epoch) and ``nonce`` are injectable so tests are repeatable.
    """

    requires_request_body = True

    def __init__(
        self,
        consumer_key: SecretStr,
        consumer_secret: SecretStr,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self._key = consumer_key
        self._secret = consumer_secret
        self._clock = clock
        self._nonce = nonce

    def __repr__(self) -> str:
        return "<OAuth1Auth HMAC-SHA1>"

    def oauth_params(self) -> list[tuple[str, str]]:
        """The ``oauth_*`` parameters of one request, before its signature."""
        return [
            ("oauth_consumer_key", self._key.get_secret_value()),
            ("oauth_nonce", self._nonce()),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", str(int(self._clock()))),
        ]

    def sign(self, request: httpx.Request) -> None:
        """Add the ``oauth_*`` parameters and their signature to ``request``'s query string."""
        # A retry sends the same request object again: drop the last attempt's oauth_* first
        # (only then: each new URL is parsed again, a third of a signature's CPU).
        items = request.url.params.multi_items()
        if any(k.startswith("oauth_") for k, _ in items):
            kept = [(k, v) for k, v in items if not k.startswith("oauth_")]
            request.url = request.url.copy_with(params=kept)
        oauth = self.oauth_params()
        base = signature_base_string(
            request.method, request.url, [*_signed_request_params(request), *oauth]
        )
        signature = hmac_sha1_signature(base, self._secret.get_secret_value())
        request.url = request.url.copy_merge_params([*oauth, ("oauth_signature", signature)])

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign the request (httpx calls this for every attempt)."""
        self.sign(request)
        yield request


class QueryStringAuth(httpx.Auth):
    """The consumer key and secret as query parameters, for hosts that strip ``Authorization``."""

    def __init__(self, consumer_key: SecretStr, consumer_secret: SecretStr) -> None:
        self._key = consumer_key
        self._secret = consumer_secret

    def __repr__(self) -> str:
        return "<QueryStringAuth>"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the keys to the query string."""
        request.url = request.url.copy_merge_params(
            {
                "consumer_key": self._key.get_secret_value(),
                "consumer_secret": self._secret.get_secret_value(),
            }
        )
        yield request


def build_auth(
    mode: str,
    consumer_key: SecretStr,
    consumer_secret: SecretStr,
    *,
    clock: Callable[[], float] = time.time,
) -> httpx.Auth:
    """The :class:`httpx.Auth` for one of the settings' ``auth_mode`` values."""
    if mode == "basic":
        return httpx.BasicAuth(consumer_key.get_secret_value(), consumer_secret.get_secret_value())
    if mode == "query":
        return QueryStringAuth(consumer_key, consumer_secret)
    if mode == "oauth1":
        return OAuth1Auth(consumer_key, consumer_secret, clock=clock)
    raise ValueError(f"unknown WooCommerce auth mode {mode!r}")

"""OAuth 1.0a request signing (RFC 5849) for Magento integrations, as an :class:`httpx.Auth`.

Magento signs with HMAC-SHA256 (HMAC-SHA1 also accepted). The body is JSON, so only the query
parameters and the ``oauth_*`` parameters enter the signature base string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Generator
from urllib.parse import parse_qsl, quote

import httpx

from serialsync_magento.settings import OAuth1Credentials


def _enc(value: str) -> str:
    # RFC 5849 §3.6: percent-encode everything but the unreserved characters.
    return quote(value, safe="-._~")


def signature_base_string(method: str, url: httpx.URL, oauth_params: dict[str, str]) -> str:
    """The RFC 5849 §3.4.1 base string of a request: method, base URI and sorted parameters."""
    port = url.port
    default_port = {"http": 80, "https": 443}.get(url.scheme)
    netloc = url.host if port in (None, default_port) else f"{url.host}:{port}"
    base_uri = f"{url.scheme.lower()}://{netloc.lower()}{url.path}"
    query = url.query.decode("ascii")
    pairs = parse_qsl(query, keep_blank_values=True) + list(oauth_params.items())
    normalized = "&".join(f"{k}={v}" for k, v in sorted((_enc(k), _enc(v)) for k, v in pairs))
    return "&".join((method.upper(), _enc(base_uri), _enc(normalized)))


class OAuth1Auth(httpx.Auth):
    """Signs every request with the integration's consumer and access-token secrets.

    ``clock`` and ``nonce`` are injectable so a test can pin the signature.
    """

    def __init__(
        self,
        credentials: OAuth1Credentials,
        *,
        clock: Callable[[], float] = time.time,
        nonce: Callable[[], str] = lambda: secrets.token_hex(16),
    ) -> None:
        self._credentials = credentials
        self._clock = clock
        self._nonce = nonce

    def __repr__(self) -> str:
        return "<OAuth1Auth>"  # never the secrets

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the ``Authorization: OAuth …`` header to the request."""
        request.headers["Authorization"] = self.header(request.method, request.url)
        yield request

    def header(self, method: str, url: httpx.URL) -> str:
        """The ``Authorization`` header value for one request."""
        creds = self._credentials
        params = {
            "oauth_consumer_key": creds.consumer_key.get_secret_value(),
            "oauth_nonce": self._nonce(),
            "oauth_signature_method": creds.signature_method,
            "oauth_timestamp": str(int(self._clock())),
            "oauth_token": creds.access_token.get_secret_value(),
            "oauth_version": "1.0",
        }
        key = (
            f"{_enc(creds.consumer_secret.get_secret_value())}&"
            f"{_enc(creds.access_token_secret.get_secret_value())}"
        )
        digest = hashlib.sha256 if creds.signature_method == "HMAC-SHA256" else hashlib.sha1
        base = signature_base_string(method, url, params)
        mac = hmac.new(key.encode(), base.encode(), digest).digest()
        params["oauth_signature"] = base64.b64encode(mac).decode()
        return "OAuth " + ", ".join(f'{_enc(k)}="{_enc(v)}"' for k, v in sorted(params.items()))

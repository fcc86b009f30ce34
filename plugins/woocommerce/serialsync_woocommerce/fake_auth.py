"""How the fake WooCommerce checks credentials, written the way WooCommerce's server does it.

WooCommerce (``WC_REST_Authentication``) accepts HTTP Basic or ``consumer_key`` /
``consumer_secret`` query parameters only over HTTPS; over plain HTTP it accepts only OAuth 1.0a
one-legged signatures. Its signature check sorts the parameters by name, "double-encodes" each
name and value, joins them with ``%3D`` and ``%26``, and keys the HMAC with ``secret&``.

This module deliberately does *not* reuse the plugin's signer: a shared misunderstanding of
RFC 5849 would then pass unnoticed. It follows the server's steps instead.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

import httpx

#: WooCommerce refuses an OAuth timestamp more than 15 minutes away from its clock.
TIMESTAMP_WINDOW = 15 * 60

AUTH_ERROR = "woocommerce_rest_authentication_error"


class AuthRefusedError(Exception):
    """Credentials refused: carries WooCommerce's code, message and status."""

    def __init__(self, code: str, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _rawurlencode(text: str) -> str:
    # PHP's rawurlencode: everything but A-Z a-z 0-9 - _ . ~ as %XX.
    return quote(text, safe="-_.~")


@dataclass
class WooAuthChecker:
    """Checks one request's credentials against one key pair."""

    consumer_key: str
    consumer_secret: str
    now: Callable[[], float]
    basic_over_http: bool = False
    seen_nonces: set[tuple[str, str]] = field(default_factory=set)

    def check(self, request: httpx.Request) -> None:
        """Return when the request is authenticated; raise :class:`AuthRefusedError` if not."""
        secure = request.url.scheme == "https" or self.basic_over_http
        params = dict(request.url.params.multi_items())
        if secure:
            pair = self._basic(request) or (
                (params["consumer_key"], params.get("consumer_secret", ""))
                if "consumer_key" in params
                else None
            )
            if pair is not None:
                self._check_keys(*pair)
                return
        if "oauth_signature" in params or "oauth_consumer_key" in params:
            self._check_oauth(request, params)
            return
        # No credentials WooCommerce will look at: the request is anonymous.
        raise AuthRefusedError(
            "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401
        )

    def _basic(self, request: httpx.Request) -> tuple[str, str] | None:
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthRefusedError(AUTH_ERROR, "Consumer key is invalid.") from None
        key, _, secret = decoded.partition(":")
        return key, secret

    def _check_keys(self, key: str, secret: str) -> None:
        if not hmac.compare_digest(key, self.consumer_key):
            raise AuthRefusedError(AUTH_ERROR, "Consumer key is invalid.")
        if not hmac.compare_digest(secret, self.consumer_secret):
            raise AuthRefusedError(AUTH_ERROR, "Consumer secret is invalid.")

    def _check_oauth(self, request: httpx.Request, params: dict[str, str]) -> None:
        required = (
            "oauth_consumer_key",
            "oauth_timestamp",
            "oauth_nonce",
            "oauth_signature",
            "oauth_signature_method",
        )
        missing = [name for name in required if not params.get(name)]
        if missing:
            raise AuthRefusedError(AUTH_ERROR, f"Missing OAuth parameter {', '.join(missing)}", 401)
        if not hmac.compare_digest(params["oauth_consumer_key"], self.consumer_key):
            raise AuthRefusedError(AUTH_ERROR, "Consumer key is invalid.")
        method = params["oauth_signature_method"]
        if method not in ("HMAC-SHA1", "HMAC-SHA256"):
            raise AuthRefusedError(AUTH_ERROR, "Invalid signature - signature method is invalid.")
        if not hmac.compare_digest(
            self.expected_signature(request, params),
            unquote(params["oauth_signature"].replace(" ", "+")),
        ):
            raise AuthRefusedError(
                AUTH_ERROR, "Invalid signature - provided signature does not match."
            )
        timestamp = params["oauth_timestamp"]
        if not timestamp.isdigit() or abs(self.now() - int(timestamp)) > TIMESTAMP_WINDOW:
            raise AuthRefusedError(AUTH_ERROR, "Invalid timestamp.")
        nonce = (timestamp, params["oauth_nonce"])
        if nonce in self.seen_nonces:
            raise AuthRefusedError(AUTH_ERROR, "Invalid nonce - nonce has already been used.")
        self.seen_nonces.add(nonce)

    def expected_signature(self, request: httpx.Request, params: dict[str, str]) -> str:
        """The signature WooCommerce computes for ``request`` (its own steps, not the RFC's)."""
        url = request.url
        port = "" if url.port in (None, 80, 443) else f":{url.port}"
        path = url.raw_path.split(b"?", 1)[0].decode("ascii")
        base_uri = _rawurlencode(f"{url.scheme}://{url.host}{port}{path}")
        signed = {k: v for k, v in params.items() if k != "oauth_signature"}
        pieces = []
        for key in sorted(signed):
            # WooCommerce's normalize_parameters: decode, encode, then encode the '%' again.
            name = _rawurlencode(unquote(key)).replace("%", "%25")
            value = _rawurlencode(unquote(signed[key])).replace("%", "%25")
            pieces.append(f"{name}%3D{value}")
        string_to_sign = f"{request.method.upper()}&{base_uri}&{'%26'.join(pieces)}"
        algorithm = (
            hashlib.sha256 if params["oauth_signature_method"] == "HMAC-SHA256" else hashlib.sha1
        )
        digest = hmac.new(
            f"{self.consumer_secret}&".encode(), string_to_sign.encode(), algorithm
        ).digest()
        return base64.b64encode(digest).decode("ascii")

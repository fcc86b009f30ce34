"""Keeping secrets out of log lines, exception messages and reprs.

A :class:`Redactor` knows the secret *values* of one connector (tokens, keys, passwords) and the
*names* of query parameters and headers that carry secrets on any platform. The HTTP client runs
every URL, header and body excerpt it logs or puts in an error through one.

:func:`redact_event` is a structlog processor the CLI installs as a last line of defence: it
scrubs every value registered with :func:`register_secret` from every event.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from pydantic import SecretStr

MASK = "***"

#: Query parameters that carry credentials on the platforms we speak (WooCommerce's
#: ``consumer_secret``, OAuth 1.0a's ``oauth_signature``, and the usual suspects).
SECRET_PARAMS = frozenset(
    {
        "access_token",
        "api_key",
        "apikey",
        "client_secret",
        "consumer_key",
        "consumer_secret",
        "key",
        "oauth_consumer_key",
        "oauth_nonce",
        "oauth_signature",
        "oauth_token",
        "password",
        "secret",
        "signature",
        "token",
    }
)

#: Headers that carry credentials (compared case-insensitively).
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-shopify-access-token",
        "x-auth-token",
        "x-auth-client",
        "apikey",
        "appid",
        "oauthtoken",
        "token",
        "x-api-key",
    }
)

# Secrets shorter than this are not scrubbed from free text: masking every "1" in a log line
# would hide more than it protects. Settings refuse such short secrets anyway.
_MIN_SCRUB_LENGTH = 4

_registry_lock = threading.Lock()
_registered: set[str] = set()


def reveal(value: SecretStr | str | None) -> str:
    """The plain text of a secret setting (``""`` for ``None``)."""
    if value is None:
        return ""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


class MaskedOptions(dict[str, Any]):
    """Settings whose values are masked: a copy to show, never to build a connector from.

    The plugin manager refuses one, so code that still expects the plain values fails with a
    clear error instead of sending ``***`` as a token.
    """


def mask_values(value: Any) -> Any:
    """``value`` with every leaf masked (mappings and lists kept, so the keys stay readable).

    Booleans and ``None`` tell nothing and stay as they are.
    """
    if isinstance(value, Mapping):
        return {k: mask_values(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_values(v) for v in value]
    if value is None or isinstance(value, bool):
        return value
    return MASK


def register_secret(value: SecretStr | str | None) -> None:
    """Remember a secret value so :func:`redact_event` scrubs it from every log event."""
    text = reveal(value)
    if len(text) >= _MIN_SCRUB_LENGTH:
        with _registry_lock:
            _registered.add(text)


def registered_secrets() -> frozenset[str]:
    """Every value passed to :func:`register_secret` in this process."""
    with _registry_lock:
        return frozenset(_registered)


class Redactor:
    """Masks known secret values, secret query parameters and secret headers."""

    def __init__(
        self,
        secrets: Iterable[SecretStr | str | None] = (),
        *,
        params: Iterable[str] = (),
        headers: Iterable[str] = (),
    ) -> None:
        self._values: list[str] = []
        self.add(*secrets)
        self._params = SECRET_PARAMS | {p.lower() for p in params}
        self._headers = SECRET_HEADERS | {h.lower() for h in headers}

    def add(self, *secrets: SecretStr | str | None) -> None:
        """Mask these values too (a login token the platform issued at run time)."""
        plain = {reveal(s) for s in secrets}
        # A secret may also travel percent-encoded in a URL or a form body.
        values = plain | {quote(v, safe="") for v in plain} | {quote_plus(v) for v in plain}
        merged = set(self._values) | {v for v in values if len(v) >= _MIN_SCRUB_LENGTH}
        # Longest first, so a secret that contains another is masked whole.
        self._values = sorted(merged, key=len, reverse=True)

    def text(self, value: str) -> str:
        """``value`` with every known secret value replaced by ``***``."""
        for secret in self._values:
            if secret in value:
                value = value.replace(secret, MASK)
        return value

    def url(self, url: str) -> str:
        """``url`` with credentials in the user-info and secret query parameters masked."""
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            netloc = f"{MASK}@{netloc.rsplit('@', 1)[1]}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, MASK if k.lower() in self._params else v) for k, v in pairs], safe="*[]"
            )
        return self.text(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))

    def request_secrets(
        self, params: Iterable[tuple[str, str]], headers: Iterable[tuple[str, str]]
    ) -> list[str]:
        """The values a request carries in secret query parameters and secret headers.

        A platform may echo a request back in its error body; these values (an OAuth
        signature, a ``Basic`` credential) are not settings, so :meth:`text` would not know
        them. For ``Authorization: Bearer x`` both the whole value and ``x`` are returned.
        """
        found = [v for k, v in params if k.lower() in self._params]
        for name, value in headers:
            if name.lower() in self._headers:
                found.append(value)
                scheme, _, credential = value.partition(" ")
                if credential and scheme.isalpha():
                    found.append(credential.strip())
        return sorted((v for v in found if len(v) >= _MIN_SCRUB_LENGTH), key=len, reverse=True)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """A copy of ``headers`` with every secret header's value masked."""
        return {
            k: (MASK if k.lower() in self._headers else self.text(v)) for k, v in headers.items()
        }


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, secrets) for v in value)
    return value


def redact_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """structlog processor: scrub every registered secret from every value of the event."""
    # Longest first, so a secret that contains another is masked whole.
    secrets = sorted(registered_secrets(), key=len, reverse=True)
    if not secrets:
        return event
    return {k: _scrub(v, secrets) for k, v in event.items()}

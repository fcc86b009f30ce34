"""Keeping secrets and customers' personal data out of log lines, exception messages and reprs.

A :class:`Redactor` knows the secret *values* of one connector (tokens, keys, passwords) and the
*names* of query parameters and headers that carry secrets on any platform. The HTTP client runs
every URL, header and body excerpt it logs or puts in an error through one.

:func:`redact_event` is a structlog processor the CLI installs as a last line of defence: it
scrubs every value registered with :func:`register_secret` from every event.

:func:`redact_personal_data` masks a customer's personal data (names, emails, phone numbers,
addresses) in text a platform sent: values under the keys platforms put them in (``email``,
``billing_address``, ``firstName``…), in JSON, form, XML or PHP-dump shape, and emails and
phone numbers anywhere. Every exception serialsync raises, every excerpt of a response body,
every log event the CLI writes and every pass record (``run --json``, the ``runs`` table) goes
through it. A name in free prose ("Order for Jane Doe failed") cannot be told from other words
and is not caught; the platforms put names in fields, where it is.
"""

from __future__ import annotations

import json
import re
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


# -- customers' personal data -------------------------------------------------------------------

#: Keys (folded to snake_case) whose value is one piece of a person: name, contact, address.
PERSONAL_FIELDS = frozenset(
    {
        "first_name",
        "last_name",
        "middle_name",
        "firstname",
        "lastname",
        "middlename",
        "full_name",
        "fullname",
        "display_name",
        "name_on_card",
        "email",
        "email_address",
        "contact_email",
        "billing_email",
        "phone",
        "phone_number",
        "telephone",
        "mobile",
        "fax",
        "street",
        "street_1",
        "street_2",
        "street1",
        "street2",
        "street_address",
        "address1",
        "address2",
        "address_1",
        "address_2",
        "line1",
        "line2",
        "city",
        "postcode",
        "post_code",
        "postal_code",
        "zip",
        "zip_code",
        "company",
        "ip_address",
        "browser_ip",
        "customer_note",
    }
)

#: Keys (folded) whose whole value is a person or an address: every leaf under them is masked.
PERSONAL_CONTAINERS = frozenset(
    {
        "billing",
        "shipping",
        "customer",
        "buyer",
        "recipient",
        "contact",
        "address",
        "addresses",
        "default_billing",
        "default_shipping",
        "destination",
    }
)

# "customer_firstname", "customer_email", "customer_dob" (Magento) are personal; a customer's id
# or group is not, and an operator needs it to find the order.
_NOT_PERSONAL_SUFFIXES = ("_id", "_ids", "_is_guest", "_group", "_count", "_type")

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_WORD = re.compile(r"[^a-z0-9]+")


def _fold(key: str) -> str:
    """``billingAddress``, ``Billing-Address``, ``billing address`` → ``billing_address``."""
    return _NON_WORD.sub("_", _CAMEL.sub("_", key).lower()).strip("_")


def is_personal_key(key: str) -> bool:
    """Whether a field named ``key`` holds a piece of a person (a name, an email…)."""
    folded = _fold(key)
    if folded in PERSONAL_FIELDS:
        return True
    return folded.startswith("customer_") and not folded.endswith(_NOT_PERSONAL_SUFFIXES)


def is_personal_container(key: str) -> bool:
    """Whether a field named ``key`` holds a whole person or address (mask all under it)."""
    folded = _fold(key)
    return folded in PERSONAL_CONTAINERS or folded.endswith(("_address", "_addresses"))


def _names_a_person(key: str) -> bool:
    return is_personal_key(key) or is_personal_container(key)


def _mask_personal(value: Any, inside: bool = False) -> Any:
    if isinstance(value, dict):
        masked: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key)
            if is_personal_container(name):
                masked[key] = _mask_personal(item, inside=True)
            elif is_personal_key(name):
                masked[key] = mask_values(item)
            else:
                masked[key] = _mask_personal(item, inside)
        return masked
    if isinstance(value, list):
        return [_mask_personal(item, inside) for item in value]
    if inside:
        return mask_values(value)
    if isinstance(value, str):
        return _mask_personal_text(value)
    return value


#: ``"key": "value"`` (or a number), also inside an escaped JSON string, and a value cut short
#: at the end of an excerpt.
_JSON_PAIR = re.compile(
    r'(?P<head>\\?"(?P<key>[A-Za-z_][\w -]*)\\?"\s*:\s*)'
    r'(?P<value>\\?"(?:[^"\\]|\\[^"])*(?:\\?"|$)|-?\d[\d.]*)'
)
#: ``key=value`` in a query string or a form body.
_FORM_PAIR = re.compile(
    r"(?P<head>(?:^|(?<=[?&;\s]))(?P<key>[A-Za-z_][\w.\[\]-]*)=)(?P<value>[^&\s]*)"
)
#: ``<key>value</key>``.
_XML_PAIR = re.compile(r"(?P<head><(?P<key>[A-Za-z_][\w-]*)>)(?P<value>[^<]*)(?=</(?P=key)>)")
#: ``[key] => value`` (a PHP ``print_r`` dump in an error page).
_PHP_PAIR = re.compile(
    r"(?P<head>\[(?P<key>[A-Za-z_][\w-]*)\]\s*=>\s*)(?P<value>[^\[\n)]*?)(?=\s*(?:\[|\)|\n|$))"
)

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
#: International numbers (``+44 20 7946 0958``) and North American ones (``(555) 123-4567``,
#: ``555-123-4567``). Bare digit runs are left alone: they are SKUs, serials and ids.
_PHONE = re.compile(
    r"(?<![\w+])\+\d{1,3}(?:[\s.-]?\(?\d{1,4}\)?){2,5}(?![\w])"
    r"|(?<![\w(])\(?\d{3}\)?[\s.-]\d{3}[\s.-]\d{4}(?!\w)"
)


def _masked_pair(match: re.Match[str]) -> str:
    if not _names_a_person(match["key"]):
        return match[0]
    value = match["value"]
    if value.startswith(('\\"', '"')):
        quote = '\\"' if value.startswith("\\") else '"'
        return f"{match['head']}{quote}{MASK}{quote}"
    return f"{match['head']}{MASK}"


def _mask_personal_text(text: str) -> str:
    for pattern in (_JSON_PAIR, _FORM_PAIR, _XML_PAIR, _PHP_PAIR):
        text = pattern.sub(_masked_pair, text)
    return _PHONE.sub(_masked_phone, _EMAIL.sub(MASK, text))


def _masked_phone(match: re.Match[str]) -> str:
    # A phone number has at least 8 digits with its country code; "+0000" ending an RFC 2822
    # date, or "+1 2 3", has fewer.
    return MASK if sum(ch.isdigit() for ch in match[0]) >= 8 else match[0]


def redact_personal_data(text: str) -> str:
    """``text`` with a customer's personal data masked (see the module docstring).

    A JSON body is masked field by field and written back as JSON; any other text (a cut-short
    body, an HTML page, a message quoting a body) by the patterns of its key/value pairs.
    """
    stripped = text.strip()
    if stripped[:1] in ("{", "["):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            pass
        else:
            return json.dumps(_mask_personal(parsed), ensure_ascii=False)
    return _mask_personal_text(text)


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return redact_personal_data(value)
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, dict):
        return {
            k: mask_values(v) if _names_a_person(str(k)) else _scrub(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v, secrets) for v in value)
    return value


def redact_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> Any:
    """structlog processor: scrub every registered secret and a customer's personal data
    (:func:`redact_personal_data`) from every value of the event."""
    # Longest first, so a secret that contains another is masked whole.
    secrets = sorted(registered_secrets(), key=len, reverse=True)
    return {
        k: mask_values(v) if _names_a_person(k) else _scrub(v, secrets) for k, v in event.items()
    }

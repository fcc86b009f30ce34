"""Webhook signatures: the HMAC-SHA256 most platforms sign deliveries with, checked safely.

A plugin's ``verify_webhook`` checks the signature over the **raw bytes** of the body, before
parsing anything, and compares with :func:`hmac.compare_digest` (constant time: a timing
difference must not tell an attacker how much of a forged signature was right).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from pydantic import SecretStr


def _key(secret: SecretStr | str | bytes) -> bytes:
    if isinstance(secret, SecretStr):
        secret = secret.get_secret_value()
    return secret.encode() if isinstance(secret, str) else secret


def hmac_sha256_base64(secret: SecretStr | str | bytes, body: bytes) -> str:
    """The base64 HMAC-SHA256 of ``body`` keyed with ``secret`` (Shopify's and WooCommerce's)."""
    digest = hmac.new(_key(secret), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_matches(secret: SecretStr | str | bytes, body: bytes, given: str | None) -> bool:
    """True when ``given`` is the base64 HMAC-SHA256 of ``body`` keyed with ``secret``.

    A missing or empty signature, or an empty secret, never matches.
    """
    key = _key(secret)
    if not given or not key:
        return False
    expected = hmac_sha256_base64(key, body).encode("ascii")
    return hmac.compare_digest(expected, given.strip().encode("utf-8", "replace"))


def secret_matches(expected: SecretStr | str | bytes, given: str | None) -> bool:
    """True when a shared secret sent as a header equals ``expected`` (constant time)."""
    key = _key(expected)
    if not given or not key:
        return False
    return hmac.compare_digest(key, given.encode("utf-8", "replace"))

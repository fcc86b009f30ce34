"""Merchants' configurations sealed at rest with a key from the environment.

A deployment keeps each merchant's configuration (connector tokens and passwords included) in
its database. The database is backed up, replicated and read by people who must not see a
shop's access token, so the configuration is stored only as a Fernet token (AES-128-CBC with an
HMAC-SHA256, from the maintained ``cryptography`` package: authenticated, so a tampered row is
refused rather than read as garbage).

The key comes from ``SERIALSYNC_SECRET_KEY``: one Fernet key, or several separated by commas,
newest first. The first one seals; every one of them opens. That is what makes rotation a
routine step (``docs/deploying.md``): put the new key in front, run
``serialsync merchants rotate-key`` (every row resealed with the new key), then drop the old one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from serialsync.errors import ConfigurationError

SECRET_KEY_ENV = "SERIALSYNC_SECRET_KEY"  # noqa: S105 - the variable's name, not a key


class SecretKeyError(ConfigurationError):
    """The secret key is missing, malformed, or not the one a row was sealed with."""


def new_key() -> str:
    """A fresh random key, as ``SERIALSYNC_SECRET_KEY`` takes it (url-safe base64 text)."""
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode("ascii")


class SecretBox:
    """Seals and opens text with the keys of ``SERIALSYNC_SECRET_KEY`` (newest first).

    The keys never appear in a repr, a log line or an error message: errors name the variable
    and the position of a bad key, nothing of its value.
    """

    def __init__(self, keys: Sequence[str]):
        try:
            from cryptography.fernet import Fernet, MultiFernet
        except ImportError:  # pragma: no cover - part of the postgres extra
            raise ConfigurationError(
                "merchants need the postgres extra: pip install 'serialsync[postgres]'"
            ) from None
        if not keys:
            raise SecretKeyError(_missing())
        fernets = []
        for position, key in enumerate(keys, start=1):
            try:
                fernets.append(Fernet(key.strip().encode("ascii")))
            except (ValueError, UnicodeEncodeError):
                raise SecretKeyError(
                    f"{SECRET_KEY_ENV}: key {position} of {len(keys)} is not a Fernet key "
                    "(32 bytes in url-safe base64); make one with `serialsync merchants new-key`"
                ) from None
        self._box = MultiFernet(fernets)
        self.key_count = len(fernets)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SecretBox:
        """The box of ``SERIALSYNC_SECRET_KEY`` (comma-separated keys, newest first)."""
        value = (os.environ if environ is None else environ).get(SECRET_KEY_ENV, "")
        keys = [key for key in (part.strip() for part in value.split(",")) if key]
        if not keys:
            raise SecretKeyError(_missing())
        return cls(keys)

    def __repr__(self) -> str:
        return f"SecretBox({self.key_count} key{'s' if self.key_count != 1 else ''})"

    def seal(self, text: str) -> bytes:
        """``text`` sealed with the newest key."""
        return self._box.encrypt(text.encode("utf-8"))

    def open(self, token: bytes, *, what: str) -> str:
        """The text sealed in ``token``; ``what`` names it in the error when no key opens it."""
        from cryptography.fernet import InvalidToken

        try:
            return self._box.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken:
            raise SecretKeyError(
                f"{what} cannot be opened with the keys in {SECRET_KEY_ENV}: it was sealed "
                "with another key, or the row was altered (put the key it was sealed with "
                f"back in {SECRET_KEY_ENV}, after the new one)"
            ) from None

    def reseal(self, token: bytes, *, what: str) -> bytes:
        """``token`` sealed again with the newest key (for key rotation)."""
        from cryptography.fernet import InvalidToken

        try:
            return self._box.rotate(bytes(token))
        except InvalidToken:
            raise SecretKeyError(
                f"{what} cannot be opened with the keys in {SECRET_KEY_ENV}: keep the old key "
                f"in {SECRET_KEY_ENV}, after the new one, until every row is resealed"
            ) from None


def _missing() -> str:
    return (
        f"{SECRET_KEY_ENV} is not set: merchants' configurations are stored encrypted with it "
        "(make a key with `serialsync merchants new-key` and keep it out of the database)"
    )

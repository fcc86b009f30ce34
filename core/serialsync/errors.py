"""Every error serialsync raises, in one tree.

::

    SerialsyncError
    ├── ConfigurationError          bad settings file, unknown plugin, invalid connector section
    ├── PluginError                 a plugin failed to import, register or answer its hook
    ├── WebhookSignatureError       a webhook delivery whose signature is missing or wrong
    ├── InvalidRecordError          a record that breaks a rule of the domain (quarantined)
    │   ├── IntegrationIdError      an SKU / serial pair that cannot make an unambiguous id
    │   ├── SerialPatternError      a serial that breaks the organisation's pattern or profile
    │   ├── DuplicateSerialError    a serial already held by another SKU
    │   └── LifecycleError          a move the lifecycle does not allow
    ├── RemoteError                 a platform answered with an error (or not at all)
    │   ├── RetryableRemoteError    transient: try again later (timeouts, 5xx, throttling)
    │   │   └── RateLimitedError    throttled, with the wait the platform asked for
    │   └── PermanentRemoteError    the platform refused: retrying the same request won't help
    │       ├── AuthenticationError credentials refused or expired beyond renewal
    │       └── SaleLinesRefusedError  the POS refused a sale for some of its lines (named)
    └── StoreError                  the state store cannot be used
        ├── StoreLockedError        another runner holds the store
        └── SchemaVersionError      the database was written by a newer serialsync

Messages never carry secrets: remote errors carry a redacted URL and a short excerpt of the
body, never request headers. Nor do they carry a customer's personal data: every message goes
through :func:`~serialsync.redaction.redact_personal_data` when the error is made, whoever
wrote it (a plugin quoting its platform's refusal included).
"""

from __future__ import annotations

from typing import Any

from serialsync.redaction import redact_personal_data


class SerialsyncError(Exception):
    """Base of every error serialsync raises on purpose."""

    def __init__(self, *args: Any) -> None:
        if args and isinstance(args[0], str):
            args = (redact_personal_data(args[0]), *args[1:])
        super().__init__(*args)


class ConfigurationError(SerialsyncError):
    """The configuration is unusable; the message names the key and the problem."""


class PluginError(SerialsyncError):
    """A plugin could not be loaded, registered, or did not answer its hook."""


class WebhookSignatureError(SerialsyncError):
    """A webhook delivery whose signature is missing or does not match: it is refused (401)."""


class InvalidRecordError(SerialsyncError, ValueError):
    """A record breaks a domain rule. The engine quarantines it with this message as reason."""


class IntegrationIdError(InvalidRecordError):
    """An SKU/serial pair that cannot be written as an unambiguous integration id.

    ``rule`` names the rule broken (for example ``"serial-contains-pipe"``), so callers and
    tests can tell the cases apart without parsing the message.
    """

    def __init__(self, message: str, *, rule: str) -> None:
        super().__init__(message)
        self.rule = rule


class SerialPatternError(InvalidRecordError):
    """A serial that does not match the organisation's serial pattern or profile."""


class DuplicateSerialError(InvalidRecordError):
    """A serial already belongs to another SKU: serials are unique within the organisation."""


class LifecycleError(InvalidRecordError):
    """A lifecycle move that is not allowed (for example ``sold → reserved``)."""


class RemoteError(SerialsyncError):
    """A platform answered with an error, or did not answer.

    ``status`` is the HTTP status when there was a response; ``connector`` names the configured
    connector; ``url`` is already redacted.
    """

    def __init__(
        self,
        message: str,
        *,
        connector: str | None = None,
        status: int | None = None,
        url: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.connector = connector
        self.status = status
        self.url = url
        self.code = code


class RetryableRemoteError(RemoteError):
    """A transient failure: the same request may succeed later."""


class RateLimitedError(RetryableRemoteError):
    """The platform throttled us; ``retry_after`` is the wait it asked for, in seconds."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        connector: str | None = None,
        status: int | None = None,
        url: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, connector=connector, status=status, url=url, code=code)
        self.retry_after = retry_after


class PermanentRemoteError(RemoteError):
    """The platform refused the request; sending it again unchanged will not help."""


class AuthenticationError(PermanentRemoteError):
    """Credentials were refused, or expired and could not be renewed."""


class SaleLinesRefusedError(PermanentRemoteError):
    """The POS refused a sale because of some of its lines; ``line_ids`` names them.

    A POS plugin raises it from ``report_sale`` when the POS names what it will not take (a
    plain SKU it does not carry). The host then reports the sale again without those lines when
    none of them is a serialized unit, and notes on the sale what was left out.
    """

    def __init__(self, message: str, *, line_ids: tuple[str, ...], **details: Any) -> None:
        # ``details`` are RemoteError's own keywords (connector, status, url, code).
        super().__init__(message, **details)
        self.line_ids = line_ids


class StoreError(SerialsyncError):
    """The state store cannot be opened or used."""


class StoreLockedError(StoreError):
    """Another runner holds the store; only one runner may write to a store at a time."""


class SchemaVersionError(StoreError):
    """The database was written by a newer serialsync than this one."""

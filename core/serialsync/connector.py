"""Connector types, the registrar plugins declare them with, and what a connector is given.

A *plugin* is a package (found by entry point); a *connector type* is what it offers (say
``"shopify"``, a channel, with :class:`ShopifySettings`); a *connector* is one configured
instance of a type (the store ``acme.myshopify.com``), registered with the plugin manager under
its own name, whose methods are the hook implementations.

A plugin declares its types from the ``register_connector_types`` hook::

    @hookimpl
    def register_connector_types(registrar: ConnectorTypeRegistrar) -> None:
        registrar.add(ConnectorType(
            name="shopify", role=Role.CHANNEL,
            settings_model=ShopifySettings, factory=ShopifyConnector,
        ))
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Generic, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from serialsync.errors import PluginError
from serialsync.http import HttpClient, RateLimiter, RetryPolicy, RetrySignal, Timeouts
from serialsync.logging import adapt_logger, get_logger


class Role(StrEnum):
    """Which side of the house a connector serves."""

    POS = "pos"  # system of record: fetch_inventory, report_sale
    CHANNEL = "channel"  # a web shop: publish_variants, fetch_orders


class ConnectorSettings(BaseModel):
    """Base of every connector type's settings model.

    Subclass it and declare secrets as :class:`~pydantic.SecretStr`: the host registers them for
    redaction and they never appear in a repr. ``retry``, ``timeouts`` and ``verify_tls`` are
    common to every connector.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    timeouts: Timeouts = Field(default_factory=Timeouts)
    verify_tls: bool = True

    def secret_values(self) -> list[SecretStr]:
        """Every :class:`SecretStr` field of these settings (recursively)."""
        return list(_secrets_in(self))


def _secrets_in(value: object) -> Iterable[SecretStr]:
    # Nested models, and lists / dicts of them (``dict[str, SecretStr]`` of per-store keys).
    if isinstance(value, SecretStr):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _secrets_in(getattr(value, name))
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            yield from _secrets_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _secrets_in(item)


SettingsT = TypeVar("SettingsT", bound=ConnectorSettings)


@dataclass
class ConnectorContext:
    """What the host hands a connector: its name and the shared machinery.

    Embedding applications set ``transport`` (their own :class:`httpx.BaseTransport`), and tests
    set ``sleep`` and ``clock`` so that retries and pacing never really wait.
    """

    name: str
    transport: httpx.BaseTransport | None = None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random | None = None
    logger: Any = None
    #: The host's stop event: set, it ends the client's waits and keeps requests from going.
    stop: threading.Event | None = None
    #: Give up at once on a host that cannot be reached (``check``), instead of retrying.
    fail_fast: bool = False

    def __post_init__(self) -> None:
        # A standard-library logger is accepted too (see serialsync.logging.adapt_logger).
        self.logger = adapt_logger(self.logger)

    def log(self) -> Any:
        """A structlog logger bound with this connector's name."""
        return (self.logger or get_logger("serialsync")).bind(connector=self.name)

    def http_client(
        self,
        settings: ConnectorSettings,
        *,
        base_url: str = "",
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        params: Mapping[str, str] | None = None,
        secret_params: Iterable[str] = (),
        secret_headers: Iterable[str] = (),
        rate_limiter: RateLimiter | None = None,
        retry_signal: RetrySignal | None = None,
    ) -> HttpClient:
        """An :class:`HttpClient` for this connector.

        Its retry policy, timeouts and TLS verification come from ``settings``, and every
        secret in ``settings`` is redacted from what it logs.
        """
        return HttpClient(
            connector=self.name,
            base_url=base_url,
            headers=headers,
            auth=auth,
            params=params,
            secrets=settings.secret_values(),
            secret_params=secret_params,
            secret_headers=secret_headers,
            policy=settings.retry,
            timeouts=settings.timeouts,
            transport=self.transport,
            rate_limiter=rate_limiter,
            retry_signal=retry_signal,
            sleep=self.sleep,
            clock=self.clock,
            rng=self.rng,
            verify=settings.verify_tls,
            logger=self.logger,
            stop=self.stop,
            fail_fast=self.fail_fast,
        )


class Connector(Generic[SettingsT]):
    """Convenient base for a connector: keeps its name, settings and context.

    Subclasses add the hook implementations (``@hookimpl`` methods). Nothing requires this
    base: any object with hook implementations can be a connector.
    """

    def __init__(self, settings: SettingsT, context: ConnectorContext) -> None:
        self.name = context.name
        self.settings = settings
        self.context = context
        self.log = context.log()

    def close(self) -> None:
        """Release connections; the host calls it when it shuts down."""

    def __repr__(self) -> str:
        # Settings are left out on purpose: a repr must never show a secret.
        return f"<{type(self).__name__} {self.name!r}>"


ConnectorFactory = Callable[[Any, ConnectorContext], object]


@dataclass(frozen=True)
class ConnectorType:
    """A kind of connector a plugin offers.

    ``name`` is what a settings section names in ``plugin = "…"``; ``factory`` builds a
    connector from validated settings and a context; ``fake`` (optional) builds an in-memory
    fake of the platform, used by the sandbox and the conformance suite.
    """

    name: str
    role: Role
    settings_model: type[ConnectorSettings]
    factory: ConnectorFactory
    description: str = ""
    fake: Callable[[], Any] | None = None
    plugin: str = field(default="", compare=False)


class ConnectorTypeRegistrar:
    """Handed to ``register_connector_types``; collects the types each plugin declares."""

    def __init__(self) -> None:
        self._types: dict[str, ConnectorType] = {}
        self._current_plugin = ""

    def add(self, connector_type: ConnectorType) -> None:
        """Declare a connector type. A name already taken by another plugin is refused."""
        existing = self._types.get(connector_type.name)
        if existing is not None:
            raise PluginError(
                f"connector type {connector_type.name!r} is declared by both plugin "
                f"{existing.plugin!r} and plugin {self._current_plugin!r}"
            )
        self._types[connector_type.name] = _with_plugin(connector_type, self._current_plugin)

    @property
    def types(self) -> dict[str, ConnectorType]:
        """Every connector type declared so far, by name."""
        return dict(self._types)


def _with_plugin(connector_type: ConnectorType, plugin: str) -> ConnectorType:
    if connector_type.plugin:
        return connector_type
    return ConnectorType(
        name=connector_type.name,
        role=connector_type.role,
        settings_model=connector_type.settings_model,
        factory=connector_type.factory,
        description=connector_type.description,
        fake=connector_type.fake,
        plugin=plugin,
    )

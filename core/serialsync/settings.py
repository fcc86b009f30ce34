"""Settings: a TOML file, ``SERIALSYNC_…`` environment overrides, and explicit values.

Precedence, lowest first: the TOML file < ``.env`` < the environment < values passed in code.
Nested keys use ``__`` in the environment: ``SERIALSYNC_CONNECTORS__SHOP__ACCESS_TOKEN=…`` sets
``access_token`` in ``[connectors.shop]``.

The file is ``--config``, else ``$SERIALSYNC_CONFIG``, else ``./serialsync.toml`` if present.
Each ``[connectors.<name>]`` section names its ``plugin``; the rest of the section is validated
by that plugin's settings model when the connector is built. Any problem is one
:class:`~serialsync.errors.ConfigurationError` naming the key.
"""

from __future__ import annotations

import os
import re
import tomllib
import urllib.parse
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    SecretStr,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from serialsync.errors import ConfigurationError
from serialsync.integration_id import SerialRules
from serialsync.manager import format_validation_error
from serialsync.redaction import MaskedOptions, mask_values

CONFIG_ENV = "SERIALSYNC_CONFIG"
CONNECTOR_NAME = re.compile(r"[a-z][a-z0-9_]*")
DEFAULT_CONFIG_FILE = "serialsync.toml"

# The parsed TOML file, handed from load_settings() to _TomlSource for one construction. (A
# class attribute would not do: pydantic turns an underscore attribute into a private field.)
_TOML_DATA: ContextVar[dict[str, Any] | None] = ContextVar("serialsync_toml_data", default=None)


class ConnectorSection(BaseModel):
    """One ``[connectors.<name>]`` section: the plugin, and that plugin's own settings.

    The plugin's settings stay unvalidated here (the plugin's model validates them when the
    connector is built), so only the plugin knows which of them are secret. Until then every
    value is kept out of sight: the repr, :meth:`options`, ``model_dump()`` and
    ``model_dump_json()`` show the keys with masked values, and the values are not attributes.
    A caller that needs them asks explicitly: ``options(reveal_secrets=True)``, or
    ``model_dump(context={"reveal_secrets": True})``.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    plugin: str
    enabled: bool = True
    _options: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _hide_options(self) -> ConnectorSection:
        # Moved out of the model's extras, which pydantic shows as attributes, in
        # ``model_extra`` and in ``dict(section)``.
        extra = self.__pydantic_extra__ or {}
        self._options = dict(extra)
        extra.clear()
        return self

    def options(self, *, reveal_secrets: bool = False) -> dict[str, Any]:
        """The section without ``plugin`` and ``enabled``: what the plugin's model validates.

        Masked unless ``reveal_secrets`` is true (building a connector is the one use that
        needs the plain values).
        """
        if reveal_secrets:
            return dict(self._options)
        return MaskedOptions(mask_values(self._options))

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        return {**data, **self.options(reveal_secrets=_reveal_asked(info))}

    def __repr_args__(self) -> Iterator[tuple[str, Any]]:
        yield "plugin", self.plugin
        yield "enabled", self.enabled
        yield "options", f"<{len(self._options)} hidden>"


def _reveal_asked(info: SerializationInfo) -> bool:
    """Whether a ``model_dump`` asked for the secrets: ``context={"reveal_secrets": True}``."""
    return bool(isinstance(info.context, dict) and info.context.get("reveal_secrets"))


def _secret_out(value: SecretStr, info: SerializationInfo) -> Any:
    if _reveal_asked(info):
        return value.get_secret_value()
    return value if info.mode == "python" else str(value)


#: A secret of the host's own settings: masked like any :class:`SecretStr`, and given in
#: plain only to ``model_dump(context={"reveal_secrets": True})``, like the connector options.
SettingSecret = Annotated[SecretStr, PlainSerializer(_secret_out)]


class StoreSettings(BaseModel):
    """Where state is kept: a SQLite file (``path``, created on first use), or a PostgreSQL
    database (``url``, with the ``postgres`` extra installed) where many runners share one,
    each store in a schema of its own (``schema``, ``public`` unless told).

    The database password never goes in the URL (a file others read): it comes from the
    environment, ``SERIALSYNC_STORE__PASSWORD`` (or libpq's own ``PGPASSWORD``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    path: Path = Path("serialsync.db")
    url: str | None = Field(
        default=None,
        description='a PostgreSQL store, "postgresql://user@host:5432/database" (no password)',
    )
    password: SettingSecret | None = Field(
        default=None, description="the PostgreSQL password (SERIALSYNC_STORE__PASSWORD)"
    )
    db_schema: str = Field(
        default="public",
        alias="schema",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description=(
            "the PostgreSQL schema that holds this store: one per merchant keeps each "
            "merchant's rows apart in one database"
        ),
    )

    @field_validator("url")
    @classmethod
    def _postgres_without_password(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("postgresql://", "postgres://")):
            # Never echo the value: it may hold a password.
            raise ValueError("must be a postgresql:// URL (a SQLite file is [store] path)")
        parts = urllib.parse.urlsplit(value)
        if ":" in parts.netloc.rpartition("@")[0] or "password" in urllib.parse.parse_qs(
            parts.query
        ):
            raise ValueError(
                "must not hold the password: set SERIALSYNC_STORE__PASSWORD (or PGPASSWORD) "
                "in the environment instead"
            )
        return value


class SyncSettings(BaseModel):
    """How passes run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    interval: timedelta = Field(
        default=timedelta(minutes=5), description="between inventory passes (serialsync run)"
    )
    inventory_interval: timedelta | None = None
    orders_interval: timedelta | None = None
    order_overlap: timedelta = Field(
        default=timedelta(minutes=10),
        description="how far before its cursor an order pass re-reads",
    )
    order_lookback: timedelta = Field(
        default=timedelta(days=30),
        gt=timedelta(0),
        description=(
            "how far back a channel's orders are read the first time (a new store): units "
            "sold in that window are never listed again"
        ),
    )
    full_resync_every: timedelta = Field(
        default=timedelta(days=1),
        ge=timedelta(0),
        description=(
            "between inventory passes that re-read the whole POS catalogue, ignoring the "
            "cursor, so a change the incremental read missed is caught (0 turns them off; "
            "serialsync run --full forces one)"
        ),
    )
    reconcile_every: timedelta = Field(
        default=timedelta(hours=6),
        ge=timedelta(0),
        description=(
            "between reconciles of what each channel holds with the store (serialsync run; "
            "0 turns them off)"
        ),
    )
    report_orders: Literal["serialized", "all"] = "serialized"
    serial_pattern: str | None = None
    serial_profile: Literal["gs1"] | None = None
    report_retry_initial: timedelta = timedelta(minutes=1)
    report_retry_max: timedelta = timedelta(hours=1)
    workers: int = Field(default=4, ge=1, le=32, description="channels served side by side")
    publish_chunk: int = Field(
        default=50,
        ge=1,
        description=(
            "units sent to one product in one call at most; between calls the engine reads "
            "again which units orders claimed, so a sale during a product's publish is "
            "withdrawn after that one call"
        ),
    )
    sibling_title: str = Field(
        default="{title} ({n})",
        description=(
            "title of a product continuing a POS product past a channel's per-product limit "
            "({title}, {sku}, {n}: 2, 3, ...)"
        ),
    )

    sold_out: Literal["hide", "show"] = Field(
        default="hide",
        description=(
            "what a channel shows of a product none of whose units is for sale: hide it from "
            "the storefront until a unit returns, or show it sold out"
        ),
    )

    @field_validator("sibling_title")
    @classmethod
    def _formats(cls, value: str) -> str:
        try:
            shown = value.format(title="Fender Stratocaster", sku="0113942719", n=2)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"may use only {{title}}, {{sku}} and {{n}} ({type(exc).__name__}: {exc})"
            ) from None
        if "{n}" not in value:
            raise ValueError("must contain {n}: siblings need titles of their own")
        if not shown.strip():
            raise ValueError("gives an empty title")
        return value

    def sibling(self, title: str, sku: str, n: int) -> str:
        """The title of sibling ``n`` (2, 3, …) of the POS product ``sku`` titled ``title``."""
        return self.sibling_title.format(title=title, sku=sku, n=n)

    @field_validator("serial_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    def serial_rules(self) -> SerialRules:
        """The organisation's serial rules as a :class:`SerialRules`."""
        return SerialRules(pattern=self.serial_pattern, profile=self.serial_profile)


class PluginSettings(BaseModel):
    """Which installed plugins load (entry-point names)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    allow: list[str] | None = None
    deny: list[str] = Field(default_factory=list)


class LogSettings(BaseModel):
    """Logging, as the CLI configures it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


def _host_port(value: str | None) -> str | None:
    """``host:port`` (``127.0.0.1:8787``, ``[::1]:8787``, ``:8787`` for every address)."""
    if value is None:
        return None
    _host, sep, port = value.strip().rpartition(":")
    # Port 0 asks the kernel for a free port (tests, and the sandbox).
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise ValueError(f"{value!r} is not host:port (like '127.0.0.1:8787')")
    return value.strip()


class WebhookSettings(BaseModel):
    """Receiving the channels' webhooks (``serialsync run`` serves them when ``listen`` is set).

    ``listen`` is where the server binds (``127.0.0.1:8787``); ``public_url`` is the address
    the platforms call (a reverse proxy's ``https://sync.example.com``), to which
    ``/webhooks/<connector>`` is appended. ``secret`` keys the per-connector secrets that
    signed subscriptions are created with (WooCommerce, BigCommerce); keep it in the
    environment (``SERIALSYNC_WEBHOOKS__SECRET``). Shopify signs with its app's client secret.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str | None = None
    public_url: str | None = None
    secret: SettingSecret | None = None
    workers: int = Field(
        default=4, ge=1, le=32, description="orders named by webhooks worked side by side"
    )

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        return _host_port(value)

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} must be an http(s) URL")
        return value.rstrip("/")


class MetricsSettings(BaseModel):
    """Serving ``/healthz`` and ``/metrics`` (also without webhooks) when ``listen`` is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str | None = None

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        return _host_port(value)


class MerchantsSettings(BaseModel):
    """Where a deployment of many merchants keeps its register of them (on the PostgreSQL
    store of ``[store] url``). Each merchant's state lives in a schema of its own, named
    ``<schema>__<merchant>``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    db_schema: str = Field(
        default="serialsync_merchants",
        alias="schema",
        pattern=r"^[a-z_][a-z0-9_]{0,20}$",
        description="the PostgreSQL schema of the merchants' register",
    )


#: Where ``serialsync panel`` listens unless told otherwise: loopback only.
PANEL_DEFAULT_LISTEN = "127.0.0.1:8788"

_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


def is_loopback(address: str) -> bool:
    """True when ``host:port`` binds only this machine (``127.x``, ``::1``, ``localhost``)."""
    host = address.rpartition(":")[0].strip("[]")
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


class PanelSettings(BaseModel):
    """The admin panel (``serialsync panel``, and within ``serialsync run`` when ``listen`` is
    set).

    ``listen`` binds loopback unless ``allow_remote`` says otherwise: the panel speaks plain
    HTTP, so anything wider belongs behind a TLS proxy. ``session_secret`` signs the session
    cookies (keep it in the environment, ``SERIALSYNC_PANEL__SESSION_SECRET``); without it a
    random one is drawn at each start, and everyone logs in again after a restart.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: str | None = None
    allow_remote: bool = False
    session_secret: SettingSecret | None = None

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str | None) -> str | None:
        return _host_port(value)

    @model_validator(mode="after")
    def _loopback_unless_allowed(self) -> PanelSettings:
        if self.listen and not self.allow_remote and not is_loopback(self.listen):
            raise ValueError(
                f"[panel] listen = {self.listen!r} is not a loopback address: the panel speaks "
                "plain HTTP; put a TLS proxy in front and set allow_remote = true to bind it"
            )
        return self


class Settings(BaseSettings):
    """Everything serialsync is configured with."""

    model_config = SettingsConfigDict(
        env_prefix="SERIALSYNC_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="forbid",
        frozen=True,
    )

    store: StoreSettings = Field(default_factory=StoreSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    plugins: PluginSettings = Field(default_factory=PluginSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    webhooks: WebhookSettings = Field(default_factory=WebhookSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    merchants: MerchantsSettings = Field(default_factory=MerchantsSettings)
    panel: PanelSettings = Field(default_factory=PanelSettings)
    connectors: dict[str, ConnectorSection] = Field(default_factory=dict)

    @field_validator("connectors")
    @classmethod
    def _connector_names(cls, value: dict[str, ConnectorSection]) -> dict[str, ConnectorSection]:
        # Names travel through environment variables (SERIALSYNC_CONNECTORS__<NAME>__…), which
        # are case-folded and cannot hold a hyphen: only names that survive that are allowed.
        for name in value:
            if not CONNECTOR_NAME.fullmatch(name):
                raise ValueError(
                    f"connector name {name!r} must be lower-case letters, digits and '_', "
                    "starting with a letter"
                )
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values, then the environment, then ``.env``, then the TOML file."""
        return (
            init_settings,
            env_settings,
            _KnownKeysOnly(settings_cls, dotenv_settings),
            _TomlSource(settings_cls),
        )


class _KnownKeysOnly(PydanticBaseSettingsSource):
    """A source with every top-level key that is not a setting dropped.

    A ``.env`` file is shared with other tools (``DATABASE_URL=…``, ``SERIALSYNC_CONFIG=…``);
    with ``extra="forbid"`` pydantic-settings would pass its unrelated lines through as extra
    inputs and refuse the whole configuration. Unknown keys *inside* a section still fail.
    """

    def __init__(self, settings_cls: type[BaseSettings], inner: PydanticBaseSettingsSource):
        super().__init__(settings_cls)
        self._inner = inner

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        return {key: value for key, value in self._inner().items() if key in fields}


class _TomlSource(PydanticBaseSettingsSource):
    """The TOML file, read by :func:`load_settings` and handed over through a context variable."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(_TOML_DATA.get() or {})


def find_config(config: Path | str | None = None) -> Path | None:
    """The configuration file: explicit, else ``$SERIALSYNC_CONFIG``, else ``./serialsync.toml``."""
    if config is not None:
        return Path(config)
    from_env = os.environ.get(CONFIG_ENV)
    if from_env:
        return Path(from_env)
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.exists() else None


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file, turning every problem into a :class:`ConfigurationError`."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigurationError(
            f"configuration file {path} does not exist (run `serialsync init` to write one)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot be read: {exc.strerror}") from None


def load_settings(config: Path | str | None = None, **explicit: Any) -> Settings:
    """Load settings from the file, ``.env``, the environment, and ``explicit`` values.

    Raises :class:`ConfigurationError` with one line per problem, each naming its key.
    """
    path = find_config(config)
    data = read_toml(path) if path is not None else {}
    token = _TOML_DATA.set(data)
    try:
        settings = Settings(**explicit)
    except ValidationError as exc:
        where = f" in {path}" if path else ""
        raise ConfigurationError(
            f"invalid configuration{where}: {format_validation_error(exc, prefix='')}"
        ) from None
    finally:
        _TOML_DATA.reset(token)
    if path is not None and not settings.store.path.is_absolute():
        # A relative store path is relative to the configuration file, not to the shell (made
        # absolute, so it stays right if the process changes directory later).
        folder = path.parent.absolute()
        store = settings.store.model_copy(update={"path": folder / settings.store.path})
        settings = settings.model_copy(update={"store": store})
    return settings


class _StoredSettings(Settings):
    """Settings from given values only: no environment, no ``.env``, no file.

    A merchant's configuration comes from the deployment's register; the worker's environment
    (``SERIALSYNC_CONNECTORS__SHOP__ACCESS_TOKEN=…``) must not leak into every merchant it
    serves.
    """

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values only."""
        return (init_settings,)


def settings_from_data(data: dict[str, Any], *, where: str, **explicit: Any) -> Settings:
    """Settings from parsed TOML ``data`` and ``explicit`` values alone, ignoring the
    environment (a merchant's stored configuration); ``where`` names it in errors."""
    try:
        return _StoredSettings(**{**data, **explicit})
    except ValidationError as exc:
        raise ConfigurationError(
            f"invalid configuration in {where}: {format_validation_error(exc, prefix='')}"
        ) from None

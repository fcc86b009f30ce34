"""The plugin manager: finds plugins, builds connectors, and calls their hooks.

Plugins are found through the entry-point group ``serialsync``; first-party plugins register
there exactly as a third-party one would. A plugin that fails to import or to declare its
connector types is recorded in :attr:`PluginManager.broken` with its error and skipped: one
broken plugin never takes the host down.

``SERIALSYNC_DISABLE_PLUGIN_AUTOLOAD=1`` turns entry-point discovery off (as pytest's
``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` does); ``allow`` / ``deny`` lists pick which entry points
load.

The rest of serialsync calls the typed methods here (``fetch_inventory(...)`` →
:class:`InventoryPage`), never ``pm.hook.x(...)`` directly.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import pluggy
from pydantic import SecretStr, ValidationError

from serialsync import hookspecs
from serialsync.connector import (
    ConnectorContext,
    ConnectorSettings,
    ConnectorType,
    ConnectorTypeRegistrar,
    Role,
)
from serialsync.diagnosis import env_var
from serialsync.errors import ConfigurationError, PluginError, SerialsyncError
from serialsync.logging import get_logger
from serialsync.model import (
    InventoryPage,
    ListingChange,
    ListingsPage,
    Order,
    OrdersPage,
    ProbeReport,
    Product,
    PublishOutcome,
    RemoteIds,
    Sale,
    SaleReceipt,
    StillForSale,
    UnreadableRecord,
    WebhookDelivery,
    WebhookSubscription,
    every_unit_for_sale,
)
from serialsync.redaction import MaskedOptions, Redactor, register_secret

ENTRY_POINT_GROUP = "serialsync"
DISABLE_AUTOLOAD_ENV = "SERIALSYNC_DISABLE_PLUGIN_AUTOLOAD"

_log = get_logger("serialsync.plugins")
_T = TypeVar("_T")


@dataclass(frozen=True)
class LoadedPlugin:
    """A plugin the host loaded: its entry-point name, distribution and version."""

    name: str
    module: str
    distribution: str | None
    version: str | None


@dataclass(frozen=True)
class BrokenPlugin:
    """A plugin that could not be loaded, with the error that stopped it."""

    name: str
    target: str
    error: str


@dataclass(frozen=True)
class ConnectorHandle:
    """A configured connector: its name, type, and the object implementing its hooks."""

    name: str
    type: ConnectorType
    settings: ConnectorSettings | None
    impl: object

    @property
    def role(self) -> Role:
        """POS or channel."""
        return self.type.role


def format_validation_error(error: ValidationError, *, prefix: str) -> str:
    """One line per problem, each naming the full key (``connectors.shop.token: …``)."""
    lines = []
    for item in error.errors():
        loc = ".".join(str(part) for part in item["loc"])
        key = ".".join(part for part in (prefix, loc) if part) or "(top level)"
        if item["type"] == "missing" and key != "(top level)":
            # A missing secret most often: say where it is set (secrets live in the environment).
            env = env_var(*key.split("."))
            lines.append(f"{key}: missing; set {env} in the environment (or the key in the file)")
        else:
            lines.append(f"{key}: {item['msg']}")
    return "; ".join(lines)


class _TypeClashError(PluginError):
    """Two plugins declare one connector type: both are reported broken."""

    def __init__(self, type_name: str, owner: str, newcomer: str) -> None:
        super().__init__(
            f"connector type {type_name!r} is declared by both plugin {owner!r} and plugin "
            f"{newcomer!r}; neither is loaded: uninstall one"
        )
        self.owner = owner


class PluginManager:
    """pluggy underneath, typed methods on top.

    :param load_entrypoints: discover plugins by entry point (unless the environment variable
        ``SERIALSYNC_DISABLE_PLUGIN_AUTOLOAD`` is set).
    :param allow: when given, only these entry-point names load.
    :param deny: these entry-point names never load.
    :param plugins: extra plugin objects (modules or instances) to register, for embedding and
        tests; they are registered exactly as entry-point plugins are.
    """

    def __init__(
        self,
        *,
        load_entrypoints: bool = True,
        allow: Iterable[str] | None = None,
        deny: Iterable[str] = (),
        plugins: Mapping[str, object] | None = None,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.loaded: list[LoadedPlugin] = []
        self.broken: list[BrokenPlugin] = []
        #: Installed plugins that ``allow`` / ``deny`` kept from loading, with why.
        self.excluded: dict[str, str] = {}
        self.connector_types: dict[str, ConnectorType] = {}
        self._connectors: dict[str, ConnectorHandle] = {}
        self._callers: dict[tuple[str, str], Any] = {}
        self._registrar = ConnectorTypeRegistrar()
        if load_entrypoints and not os.environ.get(DISABLE_AUTOLOAD_ENV):
            self._load_entrypoints(set(allow) if allow is not None else None, set(deny))
        for name, plugin in (plugins or {}).items():
            self.add_plugin(plugin, name=name)

    # -- plugins ----------------------------------------------------------------------------

    def _load_entrypoints(self, allow: set[str] | None, deny: set[str]) -> None:
        found = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=_ep_key)
        targets: dict[str, set[str]] = {}
        for ep in found:
            targets.setdefault(ep.name, set()).add(ep.value)
        for ep in found:
            if ep.name in deny:
                self.excluded[ep.name] = "denied by [plugins] deny"
                _log.debug("plugin.skipped", plugin=ep.name, why="denied by settings")
                continue
            if allow is not None and ep.name not in allow:
                self.excluded[ep.name] = "not allowed by [plugins] allow"
                _log.debug("plugin.skipped", plugin=ep.name, why="not allowed by settings")
                continue
            if len(targets[ep.name]) > 1:
                # Two packages under one name (a generated serialsync_shopify beside the real
                # one): loading either would silently hide the other, so neither loads.
                others = ", ".join(sorted(targets[ep.name]))
                self._record_broken(
                    ep.name,
                    ep.value,
                    PluginError(
                        f"the plugin name {ep.name!r} is taken by more than one installed "
                        f"package ({others}); neither is loaded: uninstall one"
                    ),
                )
                continue
            if self.pm.has_plugin(ep.name):
                continue
            try:
                module = ep.load()
            except Exception as exc:  # a broken plugin must never take the host down
                self._record_broken(ep.name, ep.value, exc)
                continue
            dist = getattr(ep, "dist", None)
            self.add_plugin(
                module,
                name=ep.name,
                distribution=dist.name if dist else None,
                version=dist.version if dist else None,
                target=ep.value,
            )

    def add_plugin(
        self,
        plugin: object,
        *,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
        target: str | None = None,
    ) -> bool:
        """Register a plugin object and collect its connector types.

        Returns ``False`` (and records it in :attr:`broken`) when the plugin fails to register
        or its ``register_connector_types`` raises.
        """
        target = target or str(getattr(plugin, "__name__", type(plugin).__name__))
        try:
            self.pm.register(plugin, name=name)
        except Exception as exc:
            self._record_broken(name, target, exc)
            return False
        try:
            self._refuse_unknown_hooks(plugin, f"plugin {name!r}")
            self._collect_types(name)
        except _TypeClashError as clash:
            # Both plugins are broken: which one would serve the type is an accident of order.
            self.pm.unregister(name=name)
            self._record_broken(name, target, clash)
            self._unload(clash.owner, clash)
            return False
        except Exception as exc:
            self.pm.unregister(name=name)
            self._record_broken(name, target, exc)
            return False
        self.loaded.append(LoadedPlugin(name, target, distribution, version))
        return True

    def _collect_types(self, plugin_name: str) -> None:
        impls = [
            impl
            for impl in self.pm.hook.register_connector_types.get_hookimpls()
            if impl.plugin_name == plugin_name
        ]
        own = ConnectorTypeRegistrar()
        own._current_plugin = plugin_name
        for impl in impls:
            impl.function(registrar=own)
        for type_name in own.types:
            holder = self._registrar.types.get(type_name)
            if holder is not None:
                raise _TypeClashError(type_name, holder.plugin, plugin_name)
        # Commit only when the whole plugin registered cleanly.
        staged = ConnectorTypeRegistrar()
        staged._types = {**self._registrar._types, **own._types}
        self._registrar = staged
        self.connector_types = staged.types

    def _unload(self, name: str, why: Exception) -> None:
        """Take a loaded plugin back out (its types too) and record it as broken."""
        loaded = next((p for p in self.loaded if p.name == name), None)
        if loaded is None:
            return
        self.pm.unregister(name=name)
        self.loaded.remove(loaded)
        self._registrar._types = {
            n: t for n, t in self._registrar._types.items() if t.plugin != name
        }
        self.connector_types = self._registrar.types
        self._record_broken(name, loaded.module, why)

    def _refuse_unknown_hooks(self, plugin: object, who: str) -> None:
        """Raise :class:`PluginError` when ``plugin`` implements a hook no spec declares.

        pluggy accepts such an implementation silently, and it is then never called: a typo
        (``fetch_inventories``) would look like a connector that "does not implement" the hook.
        """
        unknown = sorted(c.name for c in self.pm.get_hookcallers(plugin) or [] if c.spec is None)
        if unknown:
            known = ", ".join(sorted(n for n in dir(hookspecs) if _is_spec(n)))
            raise PluginError(
                f"{who} implements unknown hook(s) {', '.join(unknown)}; the hooks are: {known}"
            )

    def _record_broken(self, name: str, target: str, exc: BaseException) -> None:
        # Our own refusals are sentences; a plugin's crash keeps its class (ImportError: …).
        error = str(exc) if isinstance(exc, PluginError) else f"{type(exc).__name__}: {exc}"
        self.broken.append(BrokenPlugin(name, target, error))
        _log.warning("plugin.broken", plugin=name, target=target, error=error)

    def plugin_hooks(self, name: str) -> list[str]:
        """Names of the hooks a registered plugin (or, failing that, connector) implements."""
        plugin = self.pm.get_plugin(name) or self.pm.get_plugin(_connector_key(name))
        if plugin is None:
            return []
        return sorted(caller.name for caller in self.pm.get_hookcallers(plugin) or [])

    # -- connectors -------------------------------------------------------------------------

    def add_connector(
        self,
        name: str,
        type_name: str,
        settings: Mapping[str, Any] | ConnectorSettings,
        context: ConnectorContext | None = None,
    ) -> ConnectorHandle:
        """Build a connector of type ``type_name`` from its settings and register it as ``name``.

        Raises :class:`ConfigurationError` naming the key when the settings are invalid or the
        type is unknown, and :class:`PluginError` when the plugin's factory fails.
        """
        if name in self._connectors:
            raise ConfigurationError(f"connectors.{name}: the name is already taken")
        ctype = self.connector_types.get(type_name)
        if ctype is None:
            known = ", ".join(sorted(self.connector_types)) or "none installed"
            hint = ""
            if any(b.name == type_name for b in self.broken):
                hint = f" (the plugin {type_name!r} is installed but broken: `serialsync plugins`)"
            if type_name in self.excluded:
                raise ConfigurationError(
                    f"connectors.{name}.plugin: {type_name} is installed but "
                    f"{self.excluded[type_name]}"
                )
            raise ConfigurationError(
                f"connectors.{name}.plugin: unknown connector type {type_name!r}{hint}; "
                f"known types: {known}"
            )
        if isinstance(settings, MaskedOptions):
            raise ConfigurationError(
                f"connectors.{name}: the settings given are masked; build a connector from "
                "section.options(reveal_secrets=True)"
            )
        if isinstance(settings, ConnectorSettings):
            validated = settings
        else:
            try:
                validated = ctype.settings_model.model_validate(dict(settings))
            except ValidationError as exc:
                raise ConfigurationError(
                    format_validation_error(exc, prefix=f"connectors.{name}")
                ) from None
        for secret in validated.secret_values():
            register_secret(secret)
        try:
            impl = ctype.factory(validated, context or ConnectorContext(name=name))
        except SerialsyncError:
            raise
        except Exception as exc:  # a plugin's bug must not surface as a bare traceback
            detail = Redactor(validated.secret_values()).text(f"{type(exc).__name__}: {exc}")
            raise PluginError(
                f"connector {name!r} (type {type_name!r}, plugin {ctype.plugin!r}) could not be "
                f"built: {detail}"
            ) from exc
        return self.add_connector_instance(name, ctype, impl, validated)

    def add_connector_instance(
        self,
        name: str,
        connector_type: ConnectorType,
        impl: object,
        settings: ConnectorSettings | None = None,
    ) -> ConnectorHandle:
        """Register an already-built connector object under ``name``."""
        if name in self._connectors:
            raise ConfigurationError(f"connectors.{name}: the name is already taken")
        try:
            # Connectors have their own namespace in pluggy, so a connector may bear its
            # plugin's name (``[connectors.shopify]`` with ``plugin = "shopify"``).
            self.pm.register(impl, name=_connector_key(name))
        except (ValueError, pluggy.PluginValidationError) as exc:
            # A second registration of one object, or a hook whose arguments the spec lacks.
            raise PluginError(f"connector {name!r} could not be registered: {exc}") from exc
        try:
            self._refuse_unknown_hooks(impl, f"connector {name!r}")
        except PluginError:
            self.pm.unregister(name=_connector_key(name))
            raise
        handle = ConnectorHandle(name, connector_type, settings, impl)
        self._connectors[name] = handle
        self._callers.clear()
        return handle

    def connector(self, name: str) -> ConnectorHandle:
        """The connector registered as ``name``."""
        try:
            return self._connectors[name]
        except KeyError:
            raise ConfigurationError(f"no connector named {name!r}") from None

    def connectors(self, role: Role | None = None) -> list[ConnectorHandle]:
        """Every connector, or those of one role, in registration order."""
        return [h for h in self._connectors.values() if role is None or h.role == role]

    def close(self) -> None:
        """Close every connector that has a ``close`` method."""
        for handle in self._connectors.values():
            close = getattr(handle.impl, "close", None)
            if callable(close):
                close()

    # -- typed hook calls -------------------------------------------------------------------

    def _caller(self, hook: str, connector: str) -> Any:
        """The hook caller that reaches ``connector`` alone (plus every wrapper plugin)."""
        key = (hook, connector)
        caller = self._callers.get(key)
        if caller is None:
            self.connector(connector)
            others = [h.impl for n, h in self._connectors.items() if n != connector]
            caller = self.pm.subset_hook_caller(hook, remove_plugins=others)
            self._callers[key] = caller
        return caller

    def _call(self, hook: str, connector: str, **kwargs: Any) -> Any:
        result = self._caller(hook, connector)(connector=connector, **kwargs)
        if result is None:
            raise PluginError(f"connector {connector!r} does not implement {hook}")
        return result

    def fetch_inventory(
        self, connector: str, since: datetime | None, page: str | None
    ) -> InventoryPage:
        """Call ``fetch_inventory`` on one POS connector."""
        return _expect(
            self._call("fetch_inventory", connector, since=since, page=page),
            InventoryPage,
            "fetch_inventory",
            connector,
        )

    def report_sale(self, connector: str, sale: Sale) -> SaleReceipt:
        """Call ``report_sale`` on one POS connector."""
        return _expect(
            self._call("report_sale", connector, sale=sale), SaleReceipt, "report_sale", connector
        )

    def publish_variants(
        self,
        connector: str,
        product: Product,
        changes: Sequence[ListingChange],
        still_for_sale: StillForSale = every_unit_for_sale,
        *,
        first_publish: bool = False,
    ) -> list[PublishOutcome]:
        """Call ``publish_variants`` on one channel connector (``still_for_sale``: what the
        plugin may ask before it makes units sellable, by default every unit stays for sale;
        ``first_publish``: the store never recorded a listing of the product there)."""
        result = self._call(
            "publish_variants",
            connector,
            product=product,
            changes=changes,
            still_for_sale=still_for_sale,
            first_publish=first_publish,
        )
        if not isinstance(result, list) or not all(isinstance(o, PublishOutcome) for o in result):
            raise PluginError(
                f"connector {connector!r}: publish_variants must return a list of PublishOutcome"
            )
        return result

    def withdraw_units(
        self, connector: str, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome] | None:
        """Call the optional ``withdraw_units`` on one channel connector.

        Returns ``None`` when the connector does not implement it: the caller then withdraws
        through :meth:`publish_variants`, one product at a time.
        """
        if not self.implements(connector, "withdraw_units"):
            return None
        result = self._call("withdraw_units", connector, changes=changes)
        if not isinstance(result, list) or not all(isinstance(o, PublishOutcome) for o in result):
            raise PluginError(
                f"connector {connector!r}: withdraw_units must return a list of PublishOutcome"
            )
        return result

    def product_capacity(self, connector: str) -> int | None:
        """Call the optional ``product_capacity`` on one channel connector.

        ``None`` when the connector does not implement it or names no limit: one product per
        POS SKU. Raises :class:`PluginError` for an answer that is not a positive ``int``.
        """
        if not self.implements(connector, "product_capacity"):
            return None
        result = self._caller("product_capacity", connector)(connector=connector)
        if result is None:
            return None
        if not isinstance(result, int) or isinstance(result, bool) or result < 1:
            raise PluginError(
                f"connector {connector!r}: product_capacity must return a positive int or None, "
                f"not {result!r}"
            )
        return result

    def retire_product(self, connector: str, product: Product, remote: RemoteIds) -> bool:
        """Call the optional ``retire_product`` on one channel connector.

        ``False`` when the connector does not implement it (the emptied sibling stays, its
        units withdrawn).
        """
        if not self.implements(connector, "retire_product"):
            return False
        result = self._caller("retire_product", connector)(
            connector=connector, product=product, remote=remote
        )
        return bool(result)

    def set_product_visibility(
        self, connector: str, product: Product, remote: RemoteIds, visible: bool
    ) -> bool | None:
        """Call the optional ``set_product_visibility`` on one channel connector.

        ``None`` when the connector does not implement it (its sold-out products stay
        visible); else whether the product is now shown or hidden as asked.
        """
        if not self.implements(connector, "set_product_visibility"):
            return None
        result = self._caller("set_product_visibility", connector)(
            connector=connector, product=product, remote=remote, visible=visible
        )
        return bool(result)

    def list_listings(self, connector: str, page: str | None) -> ListingsPage | None:
        """Call the optional ``list_listings`` on one channel connector.

        ``None`` when the connector does not implement it: its channel cannot be reconciled.
        """
        if not self.implements(connector, "list_listings"):
            return None
        return _expect(
            self._call("list_listings", connector, page=page),
            ListingsPage,
            "list_listings",
            connector,
        )

    def admin_url(self, connector: str, remote: RemoteIds) -> str | None:
        """Call the optional ``admin_url`` on one channel connector: the platform's admin page
        of a listing, or ``None`` (not implemented, or no page for these ids)."""
        if not self.implements(connector, "admin_url"):
            return None
        url = self._caller("admin_url", connector)(connector=connector, remote=remote)
        return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None

    def fetch_orders(self, connector: str, since: datetime | None, page: str | None) -> OrdersPage:
        """Call ``fetch_orders`` on one channel connector."""
        return _expect(
            self._call("fetch_orders", connector, since=since, page=page),
            OrdersPage,
            "fetch_orders",
            connector,
        )

    def implements(self, connector: str, hook: str) -> bool:
        """Whether ``connector`` itself implements ``hook`` (wrapper plugins not counted)."""
        impl = self.connector(connector).impl
        return any(caller.name == hook for caller in self.pm.get_hookcallers(impl) or [])

    def fetch_order(self, connector: str, order_id: str) -> Order | UnreadableRecord | None:
        """Call the optional ``fetch_order`` on one channel connector.

        ``None`` means the channel has no such order. Raises :class:`PluginError` when the
        connector's plugin does not implement the hook (check :meth:`implements` first).
        """
        if not self.implements(connector, "fetch_order"):
            plugin = self.connector(connector).type.plugin
            raise PluginError(
                f"connector {connector!r} (plugin {plugin!r}) cannot read one order by id: "
                "its plugin does not implement fetch_order"
            )
        result = self._caller("fetch_order", connector)(connector=connector, order_id=order_id)
        if result is not None and not isinstance(result, Order | UnreadableRecord):
            raise PluginError(
                f"connector {connector!r}: fetch_order returned {type(result).__name__}, "
                "expected Order, UnreadableRecord or None"
            )
        return result

    def verify_webhook(
        self, connector: str, headers: Mapping[str, str], body: bytes, secret: SecretStr
    ) -> WebhookDelivery:
        """Call ``verify_webhook`` on one channel connector (it raises on a bad signature)."""
        return _expect(
            self._call("verify_webhook", connector, headers=headers, body=body, secret=secret),
            WebhookDelivery,
            "verify_webhook",
            connector,
        )

    def register_webhooks(
        self, connector: str, url: str, secret: SecretStr
    ) -> list[WebhookSubscription]:
        """Call ``register_webhooks`` on one channel connector."""
        return _subscriptions(
            self._call("register_webhooks", connector, url=url, secret=secret),
            "register_webhooks",
            connector,
        )

    def list_webhooks(self, connector: str, url: str | None) -> list[WebhookSubscription]:
        """Call ``list_webhooks`` on one channel connector."""
        return _subscriptions(
            self._call("list_webhooks", connector, url=url), "list_webhooks", connector
        )

    def remove_webhooks(self, connector: str, url: str) -> list[WebhookSubscription]:
        """Call ``remove_webhooks`` on one channel connector."""
        return _subscriptions(
            self._call("remove_webhooks", connector, url=url), "remove_webhooks", connector
        )

    def probe_contract(self, connector: str) -> ProbeReport | None:
        """Call the optional ``probe_contract``; ``None`` when the connector has none."""
        if not self.implements(connector, "probe_contract"):
            return None
        return _expect(
            self._call("probe_contract", connector), ProbeReport, "probe_contract", connector
        )

    def check_connection(self, connector: str) -> str:
        """Call ``check_connection`` on one connector."""
        return _expect(
            self._call("check_connection", connector), str, "check_connection", connector
        )


def _expect(value: Any, kind: type[_T], hook: str, connector: str) -> _T:
    if not isinstance(value, kind):
        raise PluginError(
            f"connector {connector!r}: {hook} returned {type(value).__name__}, "
            f"expected {kind.__name__}"
        )
    return value


def _subscriptions(value: Any, hook: str, connector: str) -> list[WebhookSubscription]:
    if not isinstance(value, list) or not all(isinstance(s, WebhookSubscription) for s in value):
        raise PluginError(
            f"connector {connector!r}: {hook} must return a list of WebhookSubscription"
        )
    return value


def _is_spec(name: str) -> bool:
    return hasattr(getattr(hookspecs, name, None), f"{hookspecs.PROJECT_NAME}_spec")


def _connector_key(name: str) -> str:
    """The name a connector is registered under in pluggy (apart from plugin names)."""
    return f"connector:{name}"


def _ep_key(ep: importlib.metadata.EntryPoint) -> str:
    return ep.name

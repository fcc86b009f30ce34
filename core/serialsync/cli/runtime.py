"""What every command shares: the configuration, logging, the host, the store, and output.

A command asks its :class:`Runtime` for what it needs, in the order it needs it:
``rt.settings()`` (loads the file and configures logging, once), then ``rt.host()`` (the full
host, holding the runner lock) or ``rt.read_store()`` (read-only, works while ``run`` runs).

Extra plugins, for tests and embedding: mutate :data:`EXTRA_PLUGINS` (name → plugin object), or
set ``SERIALSYNC_EXTRA_PLUGINS=name=module:attribute,…`` (``name=`` is optional) in the
environment. They are registered beside the entry-point plugins, exactly as those are.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from serialsync.errors import ConfigurationError
from serialsync.host import Host
from serialsync.logging import configure_logging
from serialsync.manager import PluginManager
from serialsync.settings import Settings, find_config, load_settings
from serialsync.store import SQLiteStore, Store
from serialsync.store.file import marker_path, real_path
from serialsync.store.opening import open_store
from serialsync.store.sql import SQLStore

EXTRA_PLUGINS_ENV = "SERIALSYNC_EXTRA_PLUGINS"

#: Extra plugin objects by name, registered by every command (for tests and embedding).
EXTRA_PLUGINS: dict[str, object] = {}

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="The configuration file (else $SERIALSYNC_CONFIG, else ./serialsync.toml).",
        show_default=False,
        dir_okay=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]

# Consoles that are not a terminal (pipes, tests) get a wide page, so that an integration id
# is never cut by rich's 80-column default.
_PIPE_WIDTH = 200


class _StderrProxy:
    """``sys.stderr`` looked up at each write, so rich's live display can redirect log lines."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def make_console(*, stderr: bool = False) -> Console:
    """A rich console on stdout (or stderr), wide when it is not a terminal.

    Markup is off: what is printed is data (error messages, titles, SKUs) in which ``[…]`` is
    text, not style. Style is given with :class:`rich.text.Text` where it is wanted.
    """
    options: dict[str, Any] = {"stderr": stderr, "highlight": False, "markup": False}
    console = Console(**options)
    if not console.is_terminal:
        console = Console(**options, width=_PIPE_WIDTH)
    return console


def extra_plugins() -> dict[str, object]:
    """:data:`EXTRA_PLUGINS` plus those named in ``$SERIALSYNC_EXTRA_PLUGINS``."""
    plugins = dict(EXTRA_PLUGINS)
    for item in filter(None, (p.strip() for p in os.environ.get(EXTRA_PLUGINS_ENV, "").split(","))):
        name, _, target = item.rpartition("=")
        module_name, _, attribute = target.partition(":")
        if not module_name or not attribute:
            raise ConfigurationError(
                f"{EXTRA_PLUGINS_ENV}: {item!r} is not of the form [name=]module:attribute"
            )
        try:
            plugin = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise ConfigurationError(
                f"{EXTRA_PLUGINS_ENV}: cannot load {target!r}: {exc}"
            ) from None
        plugins[name or attribute] = plugin
    return plugins


@dataclass
class Runtime:
    """One invocation's shared state (kept in the click context's ``obj``)."""

    config: Path | None = None
    merchant: str | None = None
    """The merchant every command works on (``--merchant``), in a deployment of many."""
    log_level: str | None = None
    """The root's ``--log-level`` / ``-v``: wins over ``[log] level``."""
    out: Console = field(default_factory=make_console)
    err: Console = field(default_factory=lambda: make_console(stderr=True))
    _settings: Settings | None = None
    _config_path: Path | None = None
    _logging_ready: bool = False

    def setup_logging(self, settings: Settings | None = None) -> None:
        """Configure logging once per invocation, from the settings when there are some."""
        if self._logging_ready:
            return
        log = settings.log if settings is not None else None
        configure_logging(
            level=self.log_level or (log.level if log else "info"),
            format=log.format if log else "auto",
            stream=_StderrProxy(),  # type: ignore[arg-type]  # a TextIO in all that is used
        )
        self._logging_ready = True

    def deployment_settings(self, config: Path | None = None) -> Settings:
        """The settings of the deployment itself (its ``[store] url`` holds the merchants):
        the file of ``config``, else the root's ``--config``, else the default."""
        path = find_config(config or self.config)
        try:
            settings = load_settings(path)
        finally:
            self.setup_logging()
        return settings

    def settings(self, config: Path | None = None) -> Settings:
        """Load the settings (the command's ``--config``, else the root's, else the default);
        with ``--merchant``, that merchant's settings from the deployment's register."""
        if self._settings is None and self.merchant is not None:
            from serialsync.merchants.registry import MerchantRegistry

            with MerchantRegistry.open(self.deployment_settings(config)) as registry:
                self._settings = registry.settings(self.merchant)
            return self._settings
        if self._settings is None:
            path = find_config(config or self.config)
            self._config_path = path
            try:
                settings = load_settings(path)
                if path is None and not settings.connectors:
                    # Settings may come from the environment alone, but with no connector
                    # there, the operator most likely forgot the file.
                    raise ConfigurationError(
                        "no configuration file: pass --config PATH, set SERIALSYNC_CONFIG, "
                        "or write ./serialsync.toml with `serialsync init`"
                    )
            except ConfigurationError:
                self.setup_logging()
                raise
            self._settings = settings
            self.setup_logging(settings)
        return self._settings

    def plugin_manager(self, settings: Settings | None = None) -> PluginManager:
        """Every installed plugin and the extra ones, without connectors; with ``settings``,
        only those its ``[plugins] allow`` / ``deny`` let load (the others are ``excluded``)."""
        self.setup_logging(settings)
        if settings is None:
            return PluginManager(plugins=extra_plugins())
        return PluginManager(
            plugins=extra_plugins(), allow=settings.plugins.allow, deny=settings.plugins.deny
        )

    def optional_settings(self, config: Path | None = None) -> Settings | None:
        """The settings when a configuration file is named or found, else ``None``."""
        if find_config(config or self.config) is None:
            return None
        return self.settings(config)

    def host(
        self,
        settings: Settings,
        *,
        store: Store | None = None,
        new_store: bool = False,
        fail_fast: bool = False,
    ) -> Host:
        """The host built from ``settings``; it holds the runner lock unless given a store.

        :param new_store: accept starting a new store where one was used before (``--new-store``).
        :param fail_fast: connectors give up at once on a host they cannot reach (``check``).
        """
        if store is None:
            store = open_store(settings.store, new=new_store)
        try:
            # The runtime opened the store for this host: the host closes it.
            return Host.from_settings(
                settings, plugins=extra_plugins(), store=store, fail_fast=fail_fast, owns_store=True
            )
        except BaseException:
            store.close()
            raise

    def operator_store(self, settings: Settings) -> SQLStore:
        """The state store for a person's writes (``sales retry``, ``quarantine``, the panel):
        without the runner lock, so they work while ``serialsync run`` runs. Each write is
        one transaction that waits its turn with the runner's (SQLite's write lock,
        PostgreSQL's writer lock) and reads again what it depends on inside it."""
        return open_store(settings.store, lock=False)

    def operator_host(self, settings: Settings) -> Host:
        """The host for a person's acts beside a running runner (see :meth:`operator_store`);
        its plugins can read an order again (``quarantine retry``)."""
        return self.host(settings, store=self.operator_store(settings))

    def read_store(self, settings: Settings) -> SQLStore:
        """The state store, read-only: no runner lock, so it works while ``run`` runs, and it
        works on a file serialsync may not write."""
        if settings.store.url is not None:
            return open_store(settings.store, lock=False, read_only=True)
        path = settings.store.path
        if not path.exists() and not marker_path(real_path(path)).exists():
            raise ConfigurationError(
                f"there is no state store at {path} yet (run `serialsync run --once` first)"
            )
        return SQLiteStore.open(path, read_only=True)

    def sandbox_hint(self, config: Path | None = None) -> str | None:
        """What to say when connectors cannot be reached and the configuration is the
        sandbox's (the demo's leftovers): its fakes are gone until served again."""
        from serialsync.sandbox.sandbox import is_sandbox_config

        path = find_config(config) if config is not None else self._config_path
        if not is_sandbox_config(path):
            return None
        return (
            f"this configuration is the sandbox's: start `serialsync sandbox serve --config "
            f"{path}` first (its fakes run only while it does)"
        )

    def print_json(self, data: Any) -> None:
        """Print ``data`` as JSON on stdout (dates as ISO text)."""
        typer.echo(json.dumps(data, indent=2, default=_json_default))

    def print_json_line(self, data: Any) -> None:
        """Print ``data`` as one line of JSON (a stream of records, as ``run --json`` prints)."""
        typer.echo(json.dumps(data, default=_json_default))


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def runtime(ctx: typer.Context) -> Runtime:
    """The invocation's :class:`Runtime` (created by the root command)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Runtime):
        root.obj = Runtime()
    return root.obj


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one line on stderr and return the exit to raise (``raise fail(...)``)."""
    typer.echo(f"serialsync: {message}", err=True)
    return typer.Exit(code)

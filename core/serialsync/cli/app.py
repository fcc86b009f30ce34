"""The ``serialsync`` command: one Typer app, its commands, and how errors become exit codes.

Exit codes (also in ``serialsync run --help`` and the README), each failure one clear
line on stderr, never a traceback:

* 0 ok;
* 1 the work had failures (a pass, a check, a retry that could not be done, a unit not found);
* 2 bad configuration or usage;
* 3 the state store cannot be used: missing where one was used before, replaced, damaged,
  read-only, on a full disk, written by a newer serialsync, or in use by another runner.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from serialsync import __version__
from serialsync.cli import (
    connectors,
    demo,
    ids,
    merchants,
    newplugin,
    outbox,
    panel,
    probe,
    refs,
    serials,
    starter,
    status,
    store,
    webhooks,
    workers,
)
from serialsync.cli.reconcile import reconcile_command
from serialsync.cli.run import run_command
from serialsync.cli.runtime import EXTRA_PLUGINS, ConfigOption, Runtime
from serialsync.errors import ConfigurationError, PluginError, StoreError

__all__ = ["EXTRA_PLUGINS", "app", "main"]

#: Errors that mean "fix the configuration or the command line", not "the work failed".
_USAGE_ERRORS = (ConfigurationError, PluginError)

#: The exit code of each kind of error that stops a command (see the module docstring).
EXIT_USAGE = 2
EXIT_STORE = 3


class _Group(TyperGroup):
    """The root group: turns configuration and store errors into their exit code and one line,
    and lists its commands with their summaries whole."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """Each command with its whole first sentence (click cuts it at the width, with …)."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=10_000)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: Any) -> Any:  # typer's own click Context; Any keeps mypy quiet
        try:
            return super().invoke(ctx)
        except _USAGE_ERRORS as exc:
            typer.echo(f"serialsync: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from None
        except StoreError as exc:
            typer.echo(f"serialsync: {exc}", err=True)
            raise typer.Exit(EXIT_STORE) from None


app = typer.Typer(
    name="serialsync",
    cls=_Group,
    help="Keep serialized inventory in step between a point of sale and the web shops.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"serialsync {__version__}")
        raise typer.Exit(0)


class LogLevel(StrEnum):
    """The levels of ``--log-level``."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@app.callback()
def _root(
    ctx: typer.Context,
    config: ConfigOption = None,
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
    log_level: Annotated[
        LogLevel | None,
        typer.Option(
            "--log-level",
            case_sensitive=False,
            help="Log from this level on, for any command (wins over [log] level).",
            show_default=False,
        ),
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Log everything (--log-level debug).")
    ] = False,
    merchant: Annotated[
        str | None,
        typer.Option(
            "--merchant",
            "-m",
            envvar="SERIALSYNC_MERCHANT",
            help="Work on this merchant of a deployment on PostgreSQL (`serialsync merchants`).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Keep serialized inventory in step between a point of sale and the web shops.

    Start with `serialsync demo`, then `serialsync init` for a configuration of your own.
    """
    level = "debug" if verbose else (log_level.value if log_level is not None else None)
    ctx.obj = Runtime(config=config, merchant=merchant, log_level=level)


app.command("run")(run_command)
app.command("check")(connectors.check_command)
app.command("status")(status.status_command)
app.command("reconcile")(reconcile_command)
app.command("plugins")(connectors.plugins_command)
app.add_typer(serials.app, name="serials")
app.add_typer(refs.app, name="refs")
app.add_typer(outbox.sales_app, name="sales")
app.add_typer(outbox.quarantine_app, name="quarantine")
app.add_typer(ids.app, name="id")
app.add_typer(store.app, name="store")
app.add_typer(merchants.app, name="merchants")
app.command("worker")(workers.worker_command)
app.command("schedule")(workers.schedule_command)
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(panel.app, name="panel")
app.command("probe")(probe.probe_command)
app.add_typer(probe.aim_app, name="aim")
app.command("init")(starter.init_command)
app.command("demo")(demo.demo_command)
app.add_typer(demo.sandbox_app, name="sandbox")
app.command("new-plugin")(newplugin.new_plugin_command)


def main() -> None:
    """Entry point of the ``serialsync`` console script."""
    app(prog_name="serialsync")

"""``serialsync merchants …``: the merchants of a deployment on PostgreSQL.

The deployment's own configuration (the root ``--config``, ``$SERIALSYNC_CONFIG`` or
``./serialsync.toml``) names the database (``[store] url``); each merchant brings a
configuration of its own (its connectors and ``[sync]``), stored sealed with
``SERIALSYNC_SECRET_KEY``. Every other command works on one merchant with the root option
``--merchant NAME`` (or ``$SERIALSYNC_MERCHANT``): ``serialsync --merchant acme status``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from serialsync.cli.runtime import JsonOption, Runtime, extra_plugins, runtime
from serialsync.errors import ConfigurationError
from serialsync.manager import PluginManager
from serialsync.merchants.registry import Merchant, MerchantRegistry, parse_configuration
from serialsync.merchants.secrets import SECRET_KEY_ENV, new_key
from serialsync.settings import Settings, read_toml

app = typer.Typer(
    help="The merchants of a deployment on PostgreSQL: add, list, show, disable, remove.",
    no_args_is_help=True,
)

NameArgument = Annotated[str, typer.Argument(help="The merchant's name (lower case, a-z0-9_).")]
MerchantFile = Annotated[
    Path,
    typer.Option(
        "--config",
        "-c",
        help="The merchant's configuration file (its [connectors.*] and [sync]; no [store]).",
        exists=True,
        dir_okay=False,
    ),
]
DeploymentOption = Annotated[
    Path | None,
    typer.Option(
        "--deployment",
        help="The deployment's configuration ([store] url); else the root --config.",
        show_default=False,
        dir_okay=False,
    ),
]


def _registry(rt: Runtime, deployment: Path | None) -> MerchantRegistry:
    return MerchantRegistry.open(rt.deployment_settings(deployment))


def _read(path: Path) -> str:
    read_toml(path)  # one clear error for a missing or malformed file
    return path.read_text(encoding="utf-8")


def validate_connectors(settings: Settings) -> None:
    """Build each enabled connector once (nothing is called), so a bad setting is refused when
    the merchant is added, not at its first pass."""
    manager = PluginManager(
        allow=settings.plugins.allow, deny=settings.plugins.deny, plugins=extra_plugins()
    )
    try:
        for name, section in settings.connectors.items():
            if section.enabled:
                manager.add_connector(name, section.plugin, section.options(reveal_secrets=True))
    finally:
        manager.close()


def _row(merchant: Merchant) -> dict[str, Any]:
    return {
        "name": merchant.name,
        "enabled": merchant.enabled,
        "store_schema": merchant.store_schema,
        "connectors": merchant.connectors,
        "created_at": merchant.created_at,
        "updated_at": merchant.updated_at,
    }


def _queue_state(rt: Runtime, deployment: Path | None, name: str) -> dict[str, dict[str, int]]:
    from serialsync.workers.queue import queue_state

    return queue_state(rt.deployment_settings(deployment), name)


@app.command("add")
def add_command(
    ctx: typer.Context,
    name: NameArgument,
    config: MerchantFile,
    deployment: DeploymentOption = None,
    json_out: JsonOption = False,
) -> None:
    """Register a merchant with its configuration (validated, stored encrypted)."""
    rt = runtime(ctx)
    text = _read(config)
    parse_configuration(text, where=str(config))
    with _registry(rt, deployment) as registry:
        validate_connectors(registry.settings_of(name, text))
        merchant = registry.add(name, text)
    if json_out:
        rt.print_json(_row(merchant))
        return
    rt.out.print(
        f"merchant {merchant.name} added: {len(merchant.connectors)} connector(s), state in "
        f"schema {merchant.store_schema} (configuration stored encrypted)"
    )


@app.command("update")
def update_command(
    ctx: typer.Context,
    name: NameArgument,
    config: MerchantFile,
    deployment: DeploymentOption = None,
) -> None:
    """Replace a merchant's configuration (validated, stored encrypted)."""
    rt = runtime(ctx)
    text = _read(config)
    with _registry(rt, deployment) as registry:
        validate_connectors(registry.settings_of(name, text))
        merchant = registry.update(name, text)
    rt.out.print(f"merchant {merchant.name} updated")


@app.command("list")
def list_command(
    ctx: typer.Context, deployment: DeploymentOption = None, json_out: JsonOption = False
) -> None:
    """Every merchant: name, enabled, connectors, state schema (needs no secret key)."""
    rt = runtime(ctx)
    with _registry(rt, deployment) as registry:
        merchants = registry.list()
    if json_out:
        rt.print_json([_row(m) for m in merchants])
        return
    if not merchants:
        rt.out.print("no merchants yet (`serialsync merchants add NAME --config FILE`)")
        return
    table = Table("merchant", "enabled", "connectors", "state schema")
    for merchant in merchants:
        connectors = ", ".join(f"{k} ({v})" for k, v in merchant.connectors.items())
        table.add_row(
            merchant.name, "yes" if merchant.enabled else "no", connectors, merchant.store_schema
        )
    rt.out.print(table)


@app.command("show")
def show_command(
    ctx: typer.Context,
    name: NameArgument,
    deployment: DeploymentOption = None,
    json_out: JsonOption = False,
) -> None:
    """One merchant: its connectors with their settings (secrets masked) and its store."""
    rt = runtime(ctx)
    with _registry(rt, deployment) as registry:
        merchant = registry.get(name)
        settings = registry.settings(name)
    data = _row(merchant)
    data["connector_settings"] = {
        key: {"plugin": section.plugin, "enabled": section.enabled, **section.options()}
        for key, section in settings.connectors.items()
    }
    data["sync"] = settings.sync.model_dump(mode="json")
    data["jobs"] = _queue_state(rt, deployment, name)
    if json_out:
        rt.print_json(data)
        return
    state = "enabled" if merchant.enabled else "disabled"
    rt.out.print(f"merchant {merchant.name} ({state}), state in schema {merchant.store_schema}")
    for key, options in data["connector_settings"].items():
        shown = ", ".join(f"{k}={v}" for k, v in options.items() if k != "plugin")
        rt.out.print(f"  {key} ({options['plugin']}): {shown}")
    for flow, counts in data["jobs"].items():
        shown = ", ".join(f"{status} {n}" for status, n in counts.items())
        rt.out.print(f"  jobs {flow}: {shown}")


def _set_enabled(ctx: typer.Context, name: str, deployment: Path | None, enabled: bool) -> None:
    rt = runtime(ctx)
    with _registry(rt, deployment) as registry:
        registry.set_enabled(name, enabled)
    rt.out.print(f"merchant {name} {'enabled' if enabled else 'disabled'}")


@app.command("disable")
def disable_command(
    ctx: typer.Context, name: NameArgument, deployment: DeploymentOption = None
) -> None:
    """Stop serving a merchant (its state and configuration are kept)."""
    _set_enabled(ctx, name, deployment, False)


@app.command("enable")
def enable_command(
    ctx: typer.Context, name: NameArgument, deployment: DeploymentOption = None
) -> None:
    """Serve a disabled merchant again."""
    _set_enabled(ctx, name, deployment, True)


@app.command("remove")
def remove_command(
    ctx: typer.Context,
    name: NameArgument,
    deployment: DeploymentOption = None,
    yes: Annotated[
        bool, typer.Option("--yes", help="Confirm: the merchant's whole state is dropped.")
    ] = False,
) -> None:
    """Unregister a merchant and drop its state (asks for --yes)."""
    rt = runtime(ctx)
    if not yes:
        raise ConfigurationError(
            f"removing merchant {name} drops its whole state (units, listings, sales): "
            "add --yes to confirm"
        )
    with _registry(rt, deployment) as registry:
        merchant = registry.remove(name)
    rt.out.print(f"merchant {name} removed (schema {merchant.store_schema} dropped)")


@app.command("rotate-key")
def rotate_key_command(ctx: typer.Context, deployment: DeploymentOption = None) -> None:
    """Reseal every merchant's configuration with the newest key of SERIALSYNC_SECRET_KEY.

    Put the new key first (``NEW,OLD``), run this, then drop the old key.
    """
    rt = runtime(ctx)
    with _registry(rt, deployment) as registry:
        count = registry.rotate_key()
    rt.out.print(
        f"{count} merchant configuration(s) resealed with the first key of {SECRET_KEY_ENV}; "
        "the old key can be removed from it now"
    )


@app.command("new-key")
def new_key_command() -> None:
    """Print a fresh secret key for SERIALSYNC_SECRET_KEY (keep it out of the database)."""
    typer.echo(new_key())


UserArgument = Annotated[str, typer.Argument(help="The panel user (serialsync panel user add).")]


def _change_grants(
    ctx: typer.Context, user: str, names: list[str], deployment: Path | None, give: bool
) -> None:
    rt = runtime(ctx)
    with _registry(rt, deployment) as registry:
        for name in names:
            if give:
                registry.grant(user, name)
            else:
                registry.revoke(user, name)
        granted = registry.granted(user)
    rt.out.print(f"{user} may see: {', '.join(granted) or 'no merchant'}")


@app.command("grant")
def grant_command(
    ctx: typer.Context,
    user: UserArgument,
    names: Annotated[list[str], typer.Argument(help="The merchants to grant.")],
    deployment: DeploymentOption = None,
) -> None:
    """Let a user of the deployment's panel see (and, as operator, act on) merchants."""
    _change_grants(ctx, user, names, deployment, give=True)


@app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    user: UserArgument,
    names: Annotated[list[str], typer.Argument(help="The merchants to take back.")],
    deployment: DeploymentOption = None,
) -> None:
    """Take merchants back from a user of the deployment's panel (counts at their next page)."""
    _change_grants(ctx, user, names, deployment, give=False)

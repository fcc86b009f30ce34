"""``serialsync webhooks register | list | remove``: the channels' subscriptions to our webhooks.

Each works through the platforms' own APIs and touches no state (an in-memory store), so it
runs beside ``serialsync run``. ``register`` is idempotent: twice creates nothing new.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serialsync.cli.render import table
from serialsync.cli.runtime import ConfigOption, JsonOption, Runtime, runtime
from serialsync.service.subscriptions import Action, ChannelSubscriptions, manage
from serialsync.store import SQLiteStore

app = typer.Typer(
    help="Webhook subscriptions on the channels (`serialsync run` receives the deliveries).",
    no_args_is_help=True,
)

ConnectorOption = Annotated[
    str | None, typer.Option("--connector", help="Only this channel connector.")
]


def _manage(
    ctx: typer.Context, action: Action, connector: str | None, config: Path | None, json_out: bool
) -> None:
    rt = runtime(ctx)
    settings = rt.settings(config)
    host = rt.host(settings, store=SQLiteStore.open(":memory:"))
    try:
        results = manage(host.plugins, settings.webhooks, action, only=connector)
    finally:
        host.close()
    _show(rt, action, results, json_out)
    if any(r.error for r in results):
        raise typer.Exit(1)


def _show(rt: Runtime, action: Action, results: list[ChannelSubscriptions], json_out: bool) -> None:
    if json_out:
        rt.print_json(
            {
                "action": action.value,
                "channels": [
                    {
                        "connector": r.connector,
                        "url": r.url,
                        "supported": r.supported,
                        "error": r.error,
                        "subscriptions": [s.model_dump() for s in r.subscriptions],
                    }
                    for r in results
                ],
            }
        )
        return
    if not results:
        rt.out.print("no channel connector is configured")
        return
    title = {Action.REGISTER: "registered", Action.LIST: "subscribed", Action.REMOVE: "removed"}
    grid = table(f"webhooks {title[action]}", "connector", "topic", "id", "address")
    for r in results:
        if not r.supported:
            grid.add_row(r.connector, "-", "-", "no webhooks: polling only")
        elif r.error:
            grid.add_row(r.connector, "-", "-", f"FAILED: {r.error}")
        elif not r.subscriptions:
            grid.add_row(r.connector, "-", "-", f"none for {r.url}")
        for s in r.subscriptions:
            state = "" if s.state == "active" else f"{s.state.upper()}: "
            grid.add_row(r.connector, s.topic, s.remote_id or "-", f"{state}{s.url}")
    rt.out.print(grid)
    if action is not Action.REMOVE and any(
        s.state != "active" for r in results for s in r.subscriptions
    ):
        # A platform removes or disables a subscription whose deliveries kept failing.
        rt.out.print(
            "some subscriptions are missing or disabled (deliveries failed): orders still "
            "arrive by polling; run 'serialsync webhooks register' to restore them"
        )


@app.command("register")
def register_command(
    ctx: typer.Context,
    connector: ConnectorOption = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Subscribe <public_url>/webhooks/<connector> to each channel's order events."""
    _manage(ctx, Action.REGISTER, connector, config, json_out)


@app.command("list")
def list_command(
    ctx: typer.Context,
    connector: ConnectorOption = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """The subscriptions calling this runner's address, per channel."""
    _manage(ctx, Action.LIST, connector, config, json_out)


@app.command("remove")
def remove_command(
    ctx: typer.Context,
    connector: ConnectorOption = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Delete the subscriptions calling this runner's address."""
    _manage(ctx, Action.REMOVE, connector, config, json_out)

"""``serialsync check`` and ``serialsync plugins``: what is installed, and whether it answers."""

from __future__ import annotations

from typing import Any

import typer
from rich.text import Text

from serialsync import hookspecs
from serialsync.cli.render import table
from serialsync.cli.runtime import ConfigOption, JsonOption, runtime
from serialsync.connector import ConnectorType
from serialsync.hookspecs import PROJECT_NAME
from serialsync.store import SQLiteStore


def check_command(
    ctx: typer.Context, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """Validate the configuration and make one read-only call per connector.

    Exit code: 0 when every connector answered, 1 when one failed, 2 on bad configuration.
    """
    rt = runtime(ctx)
    settings = rt.settings(config)
    # An in-memory store: checking touches no state, and works while `run` holds the lock.
    host = rt.host(settings, store=SQLiteStore.open(":memory:"))
    rows = []
    try:
        for handle in host.plugins.connectors():
            try:
                message = host.plugins.check_connection(handle.name)
                ok = True
            except Exception as exc:  # every failure is a row of the report, not a crash
                message, ok = f"{type(exc).__name__}: {exc}", False
            rows.append(
                {
                    "connector": handle.name,
                    "plugin": handle.type.name,
                    "role": handle.role.value,
                    "ok": ok,
                    "message": message,
                }
            )
    finally:
        host.close()
    if json_out:
        rt.print_json({"ok": all(r["ok"] for r in rows), "connectors": rows})
    else:
        grid = table("connections", "connector", "plugin", "role", "result", "message")
        for r in rows:
            result = Text("OK", style="green") if r["ok"] else Text("FAILED", style="red")
            grid.add_row(
                str(r["connector"]), str(r["plugin"]), str(r["role"]), result, str(r["message"])
            )
        if not rows:
            rt.out.print("no connector is configured (see `serialsync init`)")
        else:
            rt.out.print(grid)
    raise typer.Exit(0 if all(r["ok"] for r in rows) else 1)


def plugins_command(ctx: typer.Context, json_out: JsonOption = False) -> None:
    """List installed plugins (version, connector types, hooks) and broken ones with their error.

    Needs no configuration file. A plugin's hooks are its own plus those its connectors
    implement (read from the connector classes, without building a connector).
    """
    rt = runtime(ctx)
    manager = rt.plugin_manager()
    plugins: list[dict[str, Any]] = []
    for loaded in manager.loaded:
        types = sorted(
            (t for t in manager.connector_types.values() if t.plugin == loaded.name),
            key=lambda t: t.name,
        )
        hooks = set(manager.plugin_hooks(loaded.name))
        for ctype in types:
            hooks.update(connector_hooks(ctype))
        plugins.append(
            {
                "name": loaded.name,
                "module": loaded.module,
                "version": loaded.version,
                "connector_types": [{"name": t.name, "role": t.role.value} for t in types],
                "hooks": sorted(hooks),
            }
        )
    broken = [{"name": b.name, "target": b.target, "error": b.error} for b in manager.broken]
    if json_out:
        rt.print_json({"plugins": plugins, "broken": broken})
        return
    grid = table("installed plugins", "plugin", "version", "connector types", "hooks")
    for p in plugins:
        grid.add_row(
            str(p["name"]),
            str(p["version"] or "-"),
            ", ".join(f"{t['name']} ({t['role']})" for t in p["connector_types"]) or "-",
            ", ".join(p["hooks"]) or "-",
        )
    rt.out.print(grid)
    if broken:
        bad = table("broken plugins", "plugin", "target", "error")
        for b in broken:
            bad.add_row(b["name"], b["target"], b["error"])
        rt.out.print(bad)


def connector_hooks(ctype: ConnectorType) -> list[str]:
    """The hooks a connector type's connectors implement, when its factory is a class."""
    factory = ctype.factory
    if not isinstance(factory, type):
        return []
    marker = f"{PROJECT_NAME}_impl"  # where pluggy's hookimpl marker keeps its options
    return sorted(
        name
        for name in dir(factory)
        if hasattr(hookspecs, name) and hasattr(getattr(factory, name, None), marker)
    )

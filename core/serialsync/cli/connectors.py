"""``serialsync check`` and ``serialsync plugins``: what is installed, and whether it answers."""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Annotated, Any

import typer
from rich.text import Text

from serialsync import hookspecs
from serialsync.cli.render import table
from serialsync.cli.runtime import ConfigOption, JsonOption, fail, runtime
from serialsync.connector import ConnectorType
from serialsync.diagnosis import explain
from serialsync.hookspecs import PROJECT_NAME
from serialsync.host import Host
from serialsync.manager import ConnectorHandle
from serialsync.store import SQLiteStore

VerboseOption = Annotated[
    bool,
    typer.Option(
        "--verbose", "-v", help="Show each failure's error class and whole (redacted) message."
    ),
]


def check_command(
    ctx: typer.Context,
    config: ConfigOption = None,
    json_out: JsonOption = False,
    verbose: VerboseOption = False,
) -> None:
    """Validate the configuration and make one read-only call per connector, side by side.

    A host that cannot be reached is reported at once (not retried). Each failure is one line:
    the connector, what failed, and the settings to check with their SERIALSYNC_ variables.

    Exit code: 0 when every connector answered, 1 when one failed, 2 on bad configuration or
    when no connector is configured.
    """
    rt = runtime(ctx)
    settings = rt.settings(config)
    # An in-memory store: checking touches no state, and works while `run` holds the lock.
    host = rt.host(settings, store=SQLiteStore.open(":memory:"), fail_fast=True)
    try:
        handles = host.plugins.connectors()
        if not handles:
            if json_out:
                rt.print_json({"ok": False, "connectors": []})
            raise fail(
                "no connector is configured: add a [connectors.<name>] section "
                "(see `serialsync init`)"
            )
        spinner = (
            rt.err.status(f"checking {len(handles)} connector(s)…")
            if rt.err.is_terminal and not json_out
            else contextlib.nullcontext()
        )
        with spinner, ThreadPoolExecutor(max_workers=len(handles)) as pool:
            rows = list(pool.map(partial(_check_one, host, verbose), handles))
    finally:
        host.close()
    ok = all(r["ok"] for r in rows)
    if json_out:
        rt.print_json({"ok": ok, "connectors": rows})
        raise typer.Exit(0 if ok else 1)
    answered = [r for r in rows if r["ok"]]
    if answered:
        grid = table("connections", "connector", "plugin", "role", "result", "message")
        for r in answered:
            grid.add_row(
                str(r["connector"]),
                str(r["plugin"]),
                str(r["role"]),
                Text("OK", style="green"),
                str(r["message"]),
            )
        rt.out.print(grid)
    for r in rows:
        if not r["ok"]:
            rt.out.print(Text.assemble(("FAILED ", "red"), str(r["message"])), soft_wrap=True)
    hint = rt.sandbox_hint(config) if any(_unreachable(r) for r in rows) else None
    if hint is not None:
        rt.out.print(hint, soft_wrap=True)
    raise typer.Exit(0 if ok else 1)


def _unreachable(row: dict[str, Any]) -> bool:
    return not row["ok"] and "cannot reach" in str(row["message"])


def _check_one(host: Host, verbose: bool, handle: ConnectorHandle) -> dict[str, Any]:
    """One connector's check, as a row of the report (a failure is a row, not a crash)."""
    try:
        message = host.plugins.check_connection(handle.name)
        ok = True
    except Exception as exc:
        message = explain(exc, connector=handle.name, settings=handle.settings, verbose=verbose)
        ok = False
    return {
        "connector": handle.name,
        "plugin": handle.type.name,
        "role": handle.role.value,
        "ok": ok,
        "message": message,
    }


def plugins_command(
    ctx: typer.Context, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """List installed plugins (version, connector types, hooks) and broken ones with their error.

    Needs no configuration file; with one, plugins its [plugins] allow / deny leave out are
    listed as excluded. A plugin's hooks are its own plus those its connectors implement (read
    from the connector classes, without building a connector).
    """
    rt = runtime(ctx)
    manager = rt.plugin_manager(rt.optional_settings(config))
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
    excluded = [{"name": n, "why": why} for n, why in sorted(manager.excluded.items())]
    if json_out:
        rt.print_json({"plugins": plugins, "broken": broken, "excluded": excluded})
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
    for e in excluded:
        rt.out.print(f"{e['name']} is installed but {e['why']}")


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

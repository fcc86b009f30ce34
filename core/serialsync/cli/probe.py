"""``serialsync probe`` and ``serialsync aim probe``: does the live platform publish what the
plugin relies on? Read-only: each connector reads its platform's metadata (``probe_contract``)
and nothing is written anywhere, the state store included (an in-memory one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from serialsync.cli.render import table
from serialsync.cli.runtime import ConfigOption, JsonOption, runtime
from serialsync.store import SQLiteStore

aim_app = typer.Typer(help="Tri-Tech AIM: checks of the live store.", no_args_is_help=True)

ConnectorOption = Annotated[str | None, typer.Option("--connector", help="Only this connector.")]


def _probe(
    ctx: typer.Context,
    *,
    plugin: str | None,
    connector: str | None,
    config: Path | None,
    json_out: bool,
) -> None:
    rt = runtime(ctx)
    settings = rt.settings(config)
    host = rt.host(settings, store=SQLiteStore.open(":memory:"))
    rows: list[dict[str, Any]] = []
    try:
        for handle in host.plugins.connectors():
            if plugin is not None and handle.type.name != plugin:
                continue
            if connector is not None and handle.name != connector:
                continue
            row: dict[str, Any] = {"connector": handle.name, "plugin": handle.type.name}
            try:
                report = host.plugins.probe_contract(handle.name)
            except Exception as exc:  # each failure is a row of the report, not a crash
                row.update(ok=False, error=f"{type(exc).__name__}: {exc}", missing=[])
            else:
                if report is None:
                    continue  # this connector's plugin offers no probe
                row.update(
                    ok=not report.missing,
                    summary=report.summary,
                    checked=report.checked,
                    missing=[gap.model_dump() for gap in report.missing],
                )
            rows.append(row)
    finally:
        host.close()
    if json_out:
        rt.print_json({"ok": all(r["ok"] for r in rows), "connectors": rows})
    elif not rows:
        rt.out.print("no connector to probe" + (f" (plugin {plugin})" if plugin else ""))
    else:
        for r in rows:
            rt.out.print(f"{r['connector']} ({r['plugin']}): {r.get('summary') or r['error']}")
            if r["missing"]:
                grid = table("not published by this store", "kind", "name", "in", "source")
                for gap in r["missing"]:
                    grid.add_row(gap["kind"], gap["name"], gap["owner"] or "-", gap["source"])
                rt.out.print(grid)
    raise typer.Exit(0 if rows and all(r["ok"] for r in rows) else 1)


def probe_command(
    ctx: typer.Context,
    connector: ConnectorOption = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Compare what each connector's plugin relies on with what its live platform publishes.

    Read-only. Exit code: 0 when every probed connector has everything, 1 when something is
    missing or could not be read (or nothing could be probed), 2 on bad configuration.
    """
    _probe(ctx, plugin=None, connector=connector, config=config, json_out=json_out)


@aim_app.command("probe")
def aim_probe_command(
    ctx: typer.Context,
    connector: ConnectorOption = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Read the AIM store's ServiceStack metadata (/metadata, /types/metadata) and list the
    operations and fields serialsync relies on that the store does not have (see docs/aim.md).

    Read-only: run it before the first `serialsync run`. Exit code 1 when something is missing.
    """
    _probe(ctx, plugin="aim_pos", connector=connector, config=config, json_out=json_out)

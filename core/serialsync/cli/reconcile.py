"""``serialsync reconcile``: what each channel holds, compared with the store, drift repaired."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from serialsync.cli.runtime import ConfigOption, JsonOption, runtime
from serialsync.engine.reconcile import ReconcileReport, reconcile


def reconcile_command(
    ctx: typer.Context,
    config: ConfigOption = None,
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", help="Only this channel connector (repeatable)."),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Change nothing: show the drift, exit 1 when there is."),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Read every variant on each channel whose SKU is an integration id and compare with the
    store: missing ones listed again, sold units sellable there withdrawn (first), in-stock
    units at 0 listed again, duplicates' extras withdrawn, orphans adopted when the POS knows
    the unit (else reported).

    Exit code: with --dry-run, 1 when drift is found (for monitoring), else 0; without it, 0
    when every repair went through, 1 otherwise; 2 on bad configuration or an unknown channel.
    """
    rt = runtime(ctx)
    settings = rt.settings(config)
    host = rt.host(settings)
    try:
        known = {h.name for h in host.plugins.connectors()}
        for name in channel or []:
            if name not in known:
                rt.err.print(f"serialsync: no connector {name!r} in the configuration")
                raise typer.Exit(2)
        report = reconcile(host.engine, channels=channel or None, dry_run=dry_run)
    finally:
        host.close()
    if json_out:
        rt.print_json(report.as_dict())
    else:
        _print(rt.out, report)
    if dry_run:
        raise typer.Exit(1 if report.drift_found else 0)
    raise typer.Exit(0 if report.ok else 1)


def _print(out: Console, report: ReconcileReport) -> None:
    for channel in report.channels:
        if channel.skipped or channel.error:
            out.print(f"{channel.channel}: {channel.skipped or 'not read: ' + str(channel.error)}")
            continue
        if not channel.drifts:
            out.print(f"{channel.channel}: {channel.read} listings read, no drift")
            continue
        done = "found" if report.dry_run else ("repaired" if channel.repaired else "not repaired")
        table = Table(title=f"{channel.channel}: {len(channel.drifts)} drift {done}")
        for column in ("kind", "integration id", "detail", "action"):
            table.add_column(column)
        for drift in channel.drifts:
            if not drift.repairable:
                action = "reported"
            elif report.dry_run:
                action = "would repair"
            else:
                action = "repaired" if channel.repaired else "tried"
            table.add_row(drift.kind.value, drift.integration_id, drift.detail, action)
        out.print(table)
        for error in channel.repair_errors:
            out.print(f"  error {error}")

"""``serialsync status``: where each connector stands, read from the store without its lock."""

from __future__ import annotations

from typing import Any

import typer

from serialsync.cli.render import table, when
from serialsync.cli.runtime import ConfigOption, JsonOption, runtime
from serialsync.operations.discrepancies import discrepancies
from serialsync.store import ListingState, OutboxState, RunRecord
from serialsync.store.sql import SQLStore

_RUNS_READ = 200  # the newest passes searched for each connector's last one
#: A pass's failure counts, each with how an operator names it and where to look.
_FAILURE_COUNTS = {
    "failed": ("unit(s) failed to publish", "serialsync status --json"),
    "sales_failed": ("sale(s) failed to report", "serialsync sales list"),
    "conflicts": ("conflict(s)", "serialsync quarantine list --kind conflict"),
    "quarantined": ("record(s) quarantined", "serialsync quarantine list"),
}


def status_command(
    ctx: typer.Context, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """Per connector: last pass, cursors, units live / withdrawn / failed, sales, quarantine;
    and every discrepancy (a unit sold online that the POS shows available again).

    Reads the store read-only, so it works while `serialsync run` is running.
    """
    rt = runtime(ctx)
    settings = rt.settings(config)
    store = rt.read_store(settings)
    try:
        runs = store.runs(limit=_RUNS_READ)
        names = list(settings.connectors)
        for extra in sorted(_names_in_store(store) - set(names)):
            names.append(extra)  # no longer configured, but the store still knows it
        connectors = [
            _connector_status(store, name, runs, settings.connectors.get(name)) for name in names
        ]
        data = {
            "store": store.location,
            "units": store.counts("units", "status"),
            "last_pass": _run_dict(runs[0]) if runs else None,
            "connectors": connectors,
            "discrepancies": [
                {"key": q.key, "pos": q.connector, "explanation": q.reason, "since": q.first_seen}
                for q in discrepancies(store)
            ],
            "holds": [
                {
                    "serial": h.serial,
                    "status": h.status.value,
                    "by": h.held_by,
                    "reason": h.reason,
                    "since": h.at,
                    "pos_says": h.pos_status.value if h.pos_status else None,
                }
                for h in store.holds()
            ],
        }
    finally:
        store.close()
    if json_out:
        rt.print_json(data)
        return
    _print_status(rt.out, data)


def _names_in_store(store: SQLStore) -> set[str]:
    # Every connector that ran leaves a cursor.
    return {connector for connector, _, _, _ in store.cursors()}


def _connector_status(
    store: SQLStore, name: str, runs: list[RunRecord], section: Any
) -> dict[str, Any]:
    listings = store.counts("listings", "state", "connector = ?", (name,))
    sales = store.counts("outbox", "state", "channel = ?", (name,))
    quarantine = store.counts("quarantine", "kind", "connector = ?", (name,))
    last = next((r for r in runs if name in r.summary.get("connectors", {})), None)
    return {
        "name": name,
        "plugin": section.plugin if section is not None else None,
        "enabled": section.enabled if section is not None else False,
        "last_pass": _run_dict(last, name) if last else None,
        "cursors": {
            stream: {"value": value, "updated_at": updated}
            for connector, stream, value, updated in store.cursors()
            if connector == name
        },
        "units": {state.value: listings.get(state.value, 0) for state in ListingState},
        "sales": {state.value: sales.get(state.value, 0) for state in OutboxState},
        "quarantined": sum(quarantine.values()),
    }


def _run_dict(run: RunRecord, connector: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": run.id,
        "kind": run.kind,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "ok": run.ok,
        "interrupted": bool(run.summary.get("interrupted")),
    }
    if connector is not None:
        # This connector's part of the pass: ok unless *it* failed, conflicted or quarantined.
        counts = run.summary.get("connectors", {}).get(connector, {})
        data["errors"] = list(counts.get("errors", []))
        # What the pass asked of this connector's platform (absent from passes before it was
        # counted).
        data["http"] = counts.get("http")
        # Why it "had failures", named: a conflict leaves no error text, only its count.
        data["causes"] = [
            f"{counts[key]} {what} (see `{where}`)"
            for key, (what, where) in _FAILURE_COUNTS.items()
            if counts.get(key)
        ] + data["errors"]
        if run.ok is not None:
            data["ok"] = not data["causes"]
    return data


def _pass_text(run: dict[str, Any] | None) -> str:
    if run is None:
        return "never"
    if run["finished_at"] is None:
        outcome = "running"
    elif run["interrupted"]:
        outcome = "stopped"
    else:
        outcome = "ok" if run["ok"] else "had failures"
        if run.get("causes") and not run["ok"]:
            outcome += ": " + "; ".join(run["causes"])
    http = run.get("http")
    asked = ""
    if isinstance(http, dict) and http.get("requests"):
        asked = f" ({http['requests']} requests, {http.get('throttled', 0)} throttled)"
    return f"{run['kind']} {when(run['started_at'])}{asked}: {outcome}"


def _print_status(out: Any, data: dict[str, Any]) -> None:
    units = ", ".join(f"{n} {s}" for s, n in sorted(data["units"].items())) or "none yet"
    out.print(f"state store {data['store']}; units: {units}")
    out.print(f"last pass: {_pass_text(data['last_pass'])}")
    passes = table("passes", "connector", "plugin", "last pass", "cursors")
    counts = table(
        "units and sales",
        "connector",
        "live",
        "withdrawn",
        "failed",
        "waiting",
        "pending",
        "reported",
        "sales failed",
        "conflicts",
        "quarantined",
    )
    for c in data["connectors"]:
        cursors = "\n".join(f"{k} {v['value']}" for k, v in c["cursors"].items()) or "-"
        passes.add_row(
            c["name"], c["plugin"] or "(not configured)", _pass_text(c["last_pass"]), cursors
        )
        counts.add_row(
            c["name"],
            *(str(c["units"][state]) for state in ("live", "withdrawn", "failed")),
            *(str(c["sales"][state]) for state in ("waiting", "pending", "reported", "failed")),
            str(c["sales"]["conflict"]),
            str(c["quarantined"]),
        )
    out.print(passes)
    out.print(counts)
    if data["holds"]:
        holds = table("operator holds (they outrank the POS)", "serial", "held", "by", "POS says")
        for h in data["holds"]:
            holds.add_row(
                h["serial"], f"{h['status']}: {h['reason']}", h["by"], h["pos_says"] or "agrees"
            )
        out.print(holds)
    if data["discrepancies"]:
        grid = table("discrepancies: sold online, available in the POS", "unit", "what to do")
        for d in data["discrepancies"]:
            grid.add_row(d["key"], d["explanation"])
        out.print(grid)

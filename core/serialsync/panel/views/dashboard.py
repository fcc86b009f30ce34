"""The dashboard: each connector's last passes, what needs a person, units by status, and the
charts (SVG drawn on the server)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from serialsync.lifecycle import UnitStatus
from serialsync.operations.discrepancies import DISCREPANCY
from serialsync.panel import charts
from serialsync.panel.web import login_required, panel_of, render
from serialsync.store import OutboxState, RunRecord


@dataclass(frozen=True)
class LastPass:
    """One connector's latest pass of one kind."""

    connector: str
    kind: str
    started_at: datetime
    seconds: float | None
    ok: bool | None
    counts: dict[str, Any]
    errors: list[str]
    #: What the pass asked of the connector's platform (requests, throttled, retries, errors,
    #: seconds, waited); empty for a pass recorded before they were counted.
    http: dict[str, Any]


def last_passes(runs: list[RunRecord]) -> list[LastPass]:
    """The latest pass of each kind for each connector, from ``runs`` (newest first)."""
    seen: dict[tuple[str, str], LastPass] = {}
    for run in runs:
        seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
        for name, counts in (run.summary.get("connectors") or {}).items():
            key = (name, run.kind)
            if key not in seen:
                errors = [str(e) for e in counts.get("errors", [])]
                shown = {k: v for k, v in counts.items() if isinstance(v, int) and v}
                http = counts.get("http") if isinstance(counts.get("http"), dict) else {}
                seen[key] = LastPass(
                    name, run.kind, run.started_at, seconds, run.ok, shown, errors, http
                )
    return sorted(seen.values(), key=lambda p: (p.connector, p.kind))


@login_required
def dashboard(request: Request) -> Response:
    """What stands now, and what needs a person."""
    store = panel_of(request).store
    outbox = store.counts("outbox", "state")
    quarantine = store.counts("quarantine", "kind")
    units = store.counts("units", "status")
    return render(
        request,
        "dashboard.html",
        passes=last_passes(store.runs(limit=100)),
        outbox={s.value: outbox.get(s.value, 0) for s in OutboxState},
        conflicts=outbox.get(OutboxState.CONFLICT.value, 0),
        quarantine=quarantine,
        discrepancies=quarantine.get(DISCREPANCY, 0),
        units={s.value: units.get(s.value, 0) for s in UnitStatus},
        window=charts.window_stats(store.sale_windows(limit=charts.RECENT)),
        recent=charts.RECENT,
    )


@login_required
def chart(request: Request) -> Response:
    """One chart as an SVG image."""
    store = panel_of(request).store
    name = request.path_params["name"]
    if name == "pass-durations":
        svg = charts.pass_durations(store.runs(limit=charts.RECENT))
    elif name == "requests":
        svg = charts.requests_per_pass(store.runs(limit=charts.RECENT))
    elif name == "oversell":
        svg = charts.oversell_chart(store.sale_windows(limit=charts.RECENT))
    else:
        return Response("no such chart", status_code=404)
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )

"""The dashboard's charts, drawn server-side as SVG by pygal (no script, nothing loaded from
elsewhere: pygal's tooltips script is left out), so they read without JavaScript.

* pass durations: how long each recent pass took, by kind (inventory, orders, reconcile);
* the oversell window: for each recent web sale, from the moment serialsync recorded the sale
  to the moment the unit's last other listing was withdrawn, as the store recorded both. It is
  the part of the window serialsync controls (the platforms' own delays come before it).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pygal
from pygal.etree import etree
from pygal.style import Style

from serialsync.lifecycle import UnitStatus
from serialsync.store import ListingState, OutboxState, RunRecord, Store

# pygal appends an old-style finder to sys.meta_path (for its map plugins, unused here) that
# has no find_spec: any later import that walks the meta path with importlib's spec API (pytest's
# importlib mode, for one) fails on it. The charts need none of it, so it is taken out again.
sys.meta_path[:] = [f for f in sys.meta_path if type(f).__name__ != "PluginImportFixer"]

_STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#222",
    foreground_strong="#111",
    foreground_subtle="#888",
    colors=("#2a6f97", "#e07a1f", "#6a994e", "#bc4749"),
    font_family="sans-serif",
)
_SIZE = {"width": 720, "height": 300}
#: How many recent passes and sales a chart reads.
RECENT = 200


def _svg(chart: Any) -> bytes:
    """The chart as SVG bytes, without the inline script pygal always writes (its tooltips'
    settings): nothing is run where the chart is shown, and the panel's CSP allows none."""
    root = chart.render_tree()
    for parent in list(root.iter()):
        for child in list(parent):
            if str(child.tag).rpartition("}")[2] == "script":
                parent.remove(child)
    svg: bytes = etree.tostring(root)
    return svg


def _config() -> pygal.Config:
    config = pygal.Config()
    config.js = []  # pygal links its tooltip script from a CDN by default: never here
    config.style = _STYLE
    config.disable_xml_declaration = True
    config.show_legend = True
    config.legend_at_bottom = True
    config.x_label_rotation = 20
    # A label per point crowds the axis: a few dated ticks read better.
    config.x_labels_major_count = 6
    config.show_minor_x_labels = False
    config.truncate_legend = -1
    for key, value in _SIZE.items():
        setattr(config, key, value)
    return config


def pass_durations(runs: list[RunRecord]) -> bytes:
    """An SVG line chart of each finished pass's duration in seconds, one line per kind."""
    chart = pygal.DateTimeLine(
        _config(),
        title="Pass durations (seconds)",
        x_value_formatter=lambda at: at.strftime("%m-%d %H:%M"),
        dots_size=2,
    )
    by_kind: dict[str, list[tuple[datetime, float]]] = {}
    for run in sorted(runs, key=lambda r: r.started_at):
        if run.finished_at is not None:
            seconds = (run.finished_at - run.started_at).total_seconds()
            by_kind.setdefault(run.kind, []).append((run.started_at, round(seconds, 3)))
    for kind, points in sorted(by_kind.items()):
        chart.add(kind, points)
    if not by_kind:
        chart.add("no passes yet", [])
    return _svg(chart)


def requests_per_pass(runs: list[RunRecord]) -> bytes:
    """An SVG line chart of the requests each connector's platform was sent in each pass, and
    of the answers that said to slow down (429 or the platform's throttle signal), all
    connectors together."""
    chart = pygal.DateTimeLine(
        _config(),
        title="Requests per pass, by connector; throttled answers",
        x_value_formatter=lambda at: at.strftime("%m-%d %H:%M"),
        dots_size=2,
    )
    by_connector: dict[str, list[tuple[datetime, int]]] = {}
    throttled: list[tuple[datetime, int]] = []
    for run in sorted(runs, key=lambda r: r.started_at):
        counted = False
        total = 0
        for name, counts in (run.summary.get("connectors") or {}).items():
            http = counts.get("http")
            if isinstance(http, dict):
                counted = True
                by_connector.setdefault(name, []).append((run.started_at, http["requests"]))
                total += int(http.get("throttled", 0))
        if counted:
            throttled.append((run.started_at, total))
    for name, points in sorted(by_connector.items()):
        chart.add(name, points)
    if throttled:
        chart.add("throttled (all)", throttled, stroke_style={"dasharray": "4, 3"})
    else:
        chart.add("no passes counted yet", [])
    return _svg(chart)


@dataclass(frozen=True)
class Window:
    """One web sale's oversell window: when serialsync recorded it, and for how many seconds
    the unit stayed listed on another channel after that (``None``: still listed)."""

    serial: str
    channel: str
    sold_at: datetime
    seconds: float | None


def oversell_windows(store: Store, limit: int = RECENT) -> list[Window]:
    """The oversell window of the latest ``limit`` web sales (see the module)."""
    windows: list[Window] = []
    states = (OutboxState.PENDING, OutboxState.REPORTED, OutboxState.FAILED)
    records = store.outbox(states=states, limit=100_000)[-limit:]
    for record in records:
        ref = f"{record.channel}:order/{record.order_id}"
        for line in record.sale.lines:
            if line.serial is None:
                continue
            sold = [
                m.at
                for m in store.history(line.serial)
                if m.source_ref == ref and m.to_status == UnitStatus.SOLD
            ]
            if not sold:
                continue
            others = [
                li for li in store.listings_of_unit(line.serial) if li.connector != record.channel
            ]
            if any(li.state != ListingState.WITHDRAWN for li in others):
                windows.append(Window(line.serial, record.channel, sold[0], None))
                continue
            ends = [li.updated_at for li in others if li.updated_at is not None]
            seconds = max(0.0, (max(ends) - sold[0]).total_seconds()) if ends else 0.0
            windows.append(Window(line.serial, record.channel, sold[0], round(seconds, 3)))
    return windows


def oversell_chart(windows: list[Window]) -> bytes:
    """An SVG scatter of each sale's oversell window in seconds, one series per channel that
    sold; sales still listed elsewhere are counted in the title."""
    open_ones = sum(1 for w in windows if w.seconds is None)
    title = "Oversell window: sale recorded to withdrawn everywhere (seconds)"
    if open_ones:
        title += f"; {open_ones} still listed elsewhere"
    chart = pygal.DateTimeLine(
        _config(),
        title=title,
        stroke=False,
        x_value_formatter=lambda at: at.strftime("%m-%d %H:%M"),
        dots_size=3,
    )
    by_channel: dict[str, list[tuple[datetime, float]]] = {}
    for w in sorted(windows, key=lambda w: w.sold_at):
        if w.seconds is not None:
            by_channel.setdefault(w.channel, []).append((w.sold_at, w.seconds))
    for channel, points in sorted(by_channel.items()):
        chart.add(f"sold on {channel}", points)
    if not by_channel:
        chart.add("no web sales yet", [])
    return _svg(chart)

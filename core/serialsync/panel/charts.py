"""The dashboard's charts, drawn server-side as SVG by pygal (no script, nothing loaded from
elsewhere: pygal's tooltips script is left out), so they read without JavaScript.

* pass durations: how long each recent pass took, by kind (inventory, orders, reconcile);
* requests per pass: what each connector's platform was sent, and the throttled answers;
* the oversell window: for each unit a recent order claimed, from the order's creation on its
  channel to the moment the unit was unsellable on every other channel, as the store recorded
  them (``sale_windows``, see :mod:`serialsync.engine.windows`); ``/metrics`` observes the
  same windows.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pygal
from pygal.etree import etree
from pygal.style import Style

from serialsync.store import RunRecord, SaleWindow

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
class WindowStats:
    """The oversell windows of recent sales: how many closed and their p50, p99 and max in
    seconds (``None`` with none closed), and how many units are still for sale elsewhere."""

    closed: int
    still_open: int
    p50: float | None
    p99: float | None
    max: float | None


def _percentile(ordered: list[float], share: float) -> float:
    # Nearest rank: a value that was observed, never one between two.
    rank = max(1, math.ceil(share * len(ordered)))
    return ordered[rank - 1]


def window_stats(windows: list[SaleWindow]) -> WindowStats:
    """p50, p99 and max of the closed windows among ``windows``."""
    seconds = sorted(w.seconds for w in windows if w.seconds is not None)
    still_open = sum(1 for w in windows if w.seconds is None)
    if not seconds:
        return WindowStats(0, still_open, None, None, None)
    return WindowStats(
        len(seconds),
        still_open,
        _percentile(seconds, 0.50),
        _percentile(seconds, 0.99),
        seconds[-1],
    )


def oversell_chart(windows: list[SaleWindow]) -> bytes:
    """An SVG scatter of each sold unit's oversell window in seconds by the order's creation
    time, one series per channel that sold; units still for sale elsewhere are counted in the
    title."""
    stats = window_stats(windows)
    title = "Oversell window: order created to unsellable everywhere else (seconds)"
    if stats.still_open:
        title += f"; {stats.still_open} still for sale elsewhere"
    chart = pygal.DateTimeLine(
        _config(),
        title=title,
        stroke=False,
        x_value_formatter=lambda at: at.strftime("%m-%d %H:%M"),
        dots_size=3,
    )
    by_channel: dict[str, list[tuple[datetime, float]]] = {}
    for w in sorted(windows, key=lambda w: w.placed_at):
        if w.seconds is not None:
            by_channel.setdefault(w.channel, []).append((w.placed_at, round(w.seconds, 3)))
    for channel, points in sorted(by_channel.items()):
        chart.add(f"sold on {channel}", points)
    if not by_channel:
        chart.add("no web sales yet", [])
    return _svg(chart)

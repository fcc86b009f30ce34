"""Tables and small formatting helpers shared by the commands."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from rich.table import Table

from serialsync.engine.summary import PassSummary
from serialsync.operations.history import receipt

__all__ = [
    "SUMMARY_COLUMNS",
    "receipt",
    "receipt_text",
    "summary_errors",
    "summary_table",
    "table",
    "when",
]

#: The columns of a pass summary: (heading, ConnectorCounts attribute).
SUMMARY_COLUMNS = (
    ("created", "created"),
    ("updated", "updated"),
    ("withdrawn", "withdrawn"),
    ("unchanged", "unchanged"),
    ("failed", "failed"),
    ("orders", "orders"),
    ("reported", "sales_reported"),
    ("conflicts", "conflicts"),
    ("quarantined", "quarantined"),
)


def when(value: datetime | None) -> str:
    """A timestamp for a table: UTC, to the second; ``-`` when there is none."""
    if value is None:
        return "-"
    return value.strftime("%Y-%m-%d %H:%M:%S")


def receipt_text(parsed: Any) -> str | None:
    """A receipt (as :func:`receipt` returns it) for a table: the POS's order id."""
    if isinstance(parsed, dict) and "pos_order_id" in parsed:
        again = " (already recorded)" if parsed.get("already_recorded") else ""
        return f"POS order {parsed['pos_order_id']}{again}"
    return None if parsed is None else str(parsed)


#: Headings of columns that hold identifiers: never broken across lines (a folded integration id
#: cannot be copied or searched); the other columns fold to make room, or the terminal scrolls.
IDENTIFIER_HEADINGS = frozenset(
    {
        "connector",
        "plugin",
        "key",
        "unit",
        "id",
        "serial",
        "sku",
        "channel",
        "order",
        "reference",
        "batch",
        "group",
    }
)


def table(title: str | None, *headings: str) -> Table:
    """A plain table with the given column headings (identifier columns kept whole)."""
    grid = Table(title=title, title_justify="left", show_lines=False)
    for heading in headings:
        if heading in IDENTIFIER_HEADINGS:
            grid.add_column(heading, no_wrap=True, overflow="ignore")
        else:
            grid.add_column(heading, overflow="fold")
    return grid


def summary_table(summary: PassSummary) -> Table:
    """One row per connector with the counts an operator reads after a pass."""
    status = "ok" if summary.ok else "had failures"
    title = f"{summary.kind} pass, {when(summary.started_at)} UTC: {status}"
    grid = table(title, "connector", *(heading for heading, _ in SUMMARY_COLUMNS))
    for column in grid.columns[1:]:
        column.justify = "right"
    for name, counts in sorted(summary.connectors.items()):
        grid.add_row(name, *(str(getattr(counts, attr)) for _, attr in SUMMARY_COLUMNS))
    return grid


def summary_errors(summary: PassSummary) -> Iterable[str]:
    """``connector: error`` for every error a pass recorded."""
    for name, counts in sorted(summary.connectors.items()):
        for error in counts.errors:
            yield f"{name}: {error}"

"""On a terminal, log lines go above the progress bars, never into them (issue 21 #4)."""

from __future__ import annotations

import io

import structlog
from rich.console import Console
from serialsync.cli.run import ProgressBars
from serialsync.cli.runtime import _StderrProxy
from serialsync.logging import configure_logging

CLEAR_LINE = "\r\x1b[2K"


def test_a_log_line_while_bars_show_is_printed_on_its_own_above_them():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    bars = ProgressBars(console)
    # As the CLI does on a terminal: each write looks sys.stderr up, which the live display
    # redirects above the bars.
    configure_logging(level="info", format="console", stream=_StderrProxy())  # type: ignore[arg-type]
    try:
        with bars.showing():
            bars("publish", "shop_a", 1, 40)
            structlog.get_logger("serialsync.engine").info("pass.started", connector="shop_a")
            bars("publish", "shop_a", 2, 40)
    finally:
        structlog.reset_defaults()
    raw = out.getvalue()
    at = raw.index("pass.started")
    start = raw.rindex(CLEAR_LINE, 0, at) + len(CLEAR_LINE)  # the bar's line was cleared first
    line = raw[start : raw.index("\n", at)]
    assert "━" not in line and "publishing" not in line, repr(line)  # the log line alone
    assert "shop_a: publishing" in raw[raw.index("\n", at) :]  # the bars drawn again below

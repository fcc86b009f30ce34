"""Runs: the latest passes with their counts and errors, and what people did."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from serialsync.panel.web import login_required, panel_of, render

LIMIT = 100


@login_required
def runs(request: Request) -> Response:
    """The latest passes, newest first, and the operator log."""
    store = panel_of(request).store
    return render(
        request,
        "runs.html",
        runs=store.runs(limit=LIMIT),
        actions=store.operator_actions(limit=LIMIT),
    )

"""Conflicts: each conflicting order beside the orders (or the POS) holding its units."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from serialsync.operations.conflicts import competing
from serialsync.panel.web import login_required, panel_of, render


@login_required
def conflicts(request: Request) -> Response:
    """Every open conflict, side by side with what it competes with."""
    store = panel_of(request).store
    reasons = {q.key: q.reason for q in store.quarantined(kind="conflict")}
    views = competing(store)
    return render(
        request,
        "conflicts.html",
        conflicts=[
            (v, reasons.get(f"{v.order.channel}:{v.order.order_id}", v.order.last_error or ""))
            for v in views
        ],
    )

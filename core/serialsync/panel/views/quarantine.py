"""Quarantine: every record that could not be processed, with its reason and payload."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from serialsync.engine.order_payloads import shown_payload
from serialsync.operations.discrepancies import DISCREPANCY
from serialsync.panel.web import login_required, panel_of, render

#: A payload is shown up to this many characters (the rest is said to be cut).
PAYLOAD_SHOWN = 4000


@login_required
def quarantine(request: Request) -> Response:
    """The quarantine, of one kind (``?kind=``) or all."""
    store = panel_of(request).store
    kind = request.query_params.get("kind") or None
    # Records stored before orders were kept without their shopper are masked here too.
    records = [
        replace(q, payload=shown_payload(q.kind, q.payload)) for q in store.quarantined(kind=kind)
    ]
    counts = store.counts("quarantine", "kind")
    return render(
        request,
        "quarantine.html",
        records=records,
        kind=kind or "",
        kinds=sorted(counts.items()),
        discrepancy=DISCREPANCY,
        shown=PAYLOAD_SHOWN,
    )

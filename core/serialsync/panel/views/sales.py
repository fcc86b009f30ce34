"""Sales: the outbox, each channel order with its state, its units and the POS's receipt."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from serialsync.cli.render import receipt_text
from serialsync.operations.history import receipt
from serialsync.panel.web import login_required, panel_of, render
from serialsync.store import OutboxState

#: The most rows the page lists (newest last, as the outbox is read).
LIMIT = 500
RETRYABLE = (OutboxState.FAILED.value, OutboxState.PENDING.value)


@login_required
def sales(request: Request) -> Response:
    """The outbox, of one state (``?state=``) or all."""
    store = panel_of(request).store
    wanted = request.query_params.get("state") or ""
    states = (OutboxState(wanted),) if wanted in set(OutboxState) else ()
    records = store.outbox(states=states, limit=LIMIT)
    rows = [
        {
            "record": r,
            "units": [f"{line.sku}|||{line.serial}" for line in r.sale.lines if line.serial],
            "receipt": receipt_text(receipt(r.receipt)),
        }
        for r in reversed(records)
    ]
    counts = store.counts("outbox", "state")
    return render(
        request,
        "sales.html",
        rows=rows,
        state=wanted if states else "",
        tabs=[(s.value, counts.get(s.value, 0)) for s in OutboxState],
        retryable=RETRYABLE,
    )

"""A serial's page: every attribute and photo, its lifecycle history, its listing on each
channel, its orders and sale, its reference, and the actions the lifecycle allows from where
it stands (read through the same read model as ``serials show``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from serialsync.lifecycle import ALLOWED_MOVES
from serialsync.operations.discrepancies import DISCREPANCY
from serialsync.operations.history import unit_story
from serialsync.operations.marking import ACTIONS, LABELS
from serialsync.panel.web import login_required, panel_of, render


@login_required
def unit_page(request: Request) -> Response:
    """One unit, by ``?serial=``."""
    store = panel_of(request).store
    serial = request.query_params.get("serial", "")
    record = store.get_unit(serial)
    if record is None:
        return render(request, "missing.html", 404, what=f"no unit with serial {serial!r}")
    story = unit_story(store, record)
    key = f"{record.unit.sku}|||{record.unit.serial}"
    marks = [
        (word, LABELS[to]) for word, to in ACTIONS.items() if to in ALLOWED_MOVES[record.status]
    ]
    return render(
        request,
        "unit.html",
        story=story,
        unit=record.unit,
        marks=marks,
        discrepancy=any(q.key == key for q in store.quarantined(kind=DISCREPANCY)),
        actions=store.operator_actions(target=key, limit=50),
    )

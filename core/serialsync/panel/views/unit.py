"""A serial's page: every attribute and photo, its lifecycle history, its listing on each
channel, its orders and sale, its reference, and the actions the lifecycle allows from where
it stands (read through the same read model as ``serials show``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from serialsync.errors import SerialsyncError
from serialsync.host import Host
from serialsync.lifecycle import ALLOWED_MOVES
from serialsync.operations.discrepancies import DISCREPANCY
from serialsync.operations.history import unit_story
from serialsync.operations.marking import ACTIONS, LABELS
from serialsync.panel.web import login_required, panel_of, render


def admin_links(host: Host, serial: str) -> dict[str, str]:
    """Each channel's admin page for the unit's listing, where its plugin can tell
    (the optional ``admin_url`` hook); a channel not configured here is left out."""
    links = {}
    for listing in host.store.listings_of_unit(serial):
        if listing.remote is None:
            continue
        try:
            url = host.plugins.admin_url(listing.connector, listing.remote)
        except SerialsyncError:
            continue  # the connector is not configured in this process
        if url:
            links[listing.connector] = url
    return links


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
        admin=admin_links(panel_of(request).current_host, record.unit.serial),
        story=story,
        unit=record.unit,
        marks=marks,
        discrepancy=any(q.key == key for q in store.quarantined(kind=DISCREPANCY)),
        actions=store.operator_actions(target=key, limit=50),
    )

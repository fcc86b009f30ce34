"""The serials table: Integration ID, product, status, location, price, listings per channel;
tabs by status with counts; search from 3 characters; keyset paging, 50 a page."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from serialsync.integration_id import IntegrationId
from serialsync.lifecycle import UnitStatus
from serialsync.model import Product
from serialsync.panel.web import login_required, panel_of, render
from serialsync.store import Store, UnitRecord

PAGE_SIZE = 50
#: The fewest characters a search needs (as ``serials find``).
MIN_SEARCH = 3


@dataclass(frozen=True)
class Row:
    """One unit as the table shows it."""

    integration_id: str
    serial: str
    sku: str
    product: str
    status: str
    deleted: bool
    location: str
    price: str
    listings: dict[str, str]


def _row(store: Store, record: UnitRecord, products: dict[str, Product | None]) -> Row:
    unit = record.unit
    if unit.sku not in products:
        products[unit.sku] = store.get_product(unit.sku)
    product = products[unit.sku]
    # The unit's own price where it has one (used units are priced one by one).
    price = unit.price if unit.price is not None else (product.price if product else None)
    return Row(
        integration_id=str(IntegrationId(unit.sku, unit.serial)),
        serial=unit.serial,
        sku=unit.sku,
        product=product.title if product else "",
        status=record.status.value,
        deleted=record.deleted,
        location=unit.location or "",
        price="" if price is None else str(price),
        listings={li.connector: li.state.value for li in store.listings_of_unit(unit.serial)},
    )


def _key(text: str | None) -> tuple[str, str] | None:
    """A page key ``sku|||serial`` from the query, or ``None``."""
    if not text or "|||" not in text:
        return None
    sku, _, serial = text.partition("|||")
    return sku, serial


@login_required
def serials(request: Request) -> Response:
    """One page of units (see the module)."""
    store = panel_of(request).store
    query = request.query_params
    status_text = query.get("status") or ""
    status = UnitStatus(status_text) if status_text in set(UnitStatus) else None
    search = (query.get("q") or "").strip()
    short = 0 < len(search) < MIN_SEARCH
    contains = search if len(search) >= MIN_SEARCH else None
    after, before = _key(query.get("after")), _key(query.get("before"))
    # One more than a page tells whether there is a page beyond.
    records = store.units_page(
        status=status, contains=contains, after=after, before=before, limit=PAGE_SIZE + 1
    )
    more = len(records) > PAGE_SIZE
    if before is not None:
        records = records[-PAGE_SIZE:] if more else records
        has_prev, has_next = more, True
    else:
        records = records[:PAGE_SIZE]
        has_prev, has_next = after is not None, more
    products: dict[str, Product | None] = {}
    rows = [_row(store, r, products) for r in records]
    if contains:
        like = f"%{contains.lower()}%"
        counts = store.counts(
            "units", "status", "lower(serial) LIKE ? OR lower(sku) LIKE ?", (like, like)
        )
    else:
        counts = store.counts("units", "status")
    tabs = [("", "All", sum(counts.values()))] + [
        (s.value, s.value.replace("_", " ").title(), counts.get(s.value, 0)) for s in UnitStatus
    ]
    return render(
        request,
        "serials.html",
        rows=rows,
        tabs=tabs,
        status=status_text if status else "",
        q=search,
        short=short,
        min_search=MIN_SEARCH,
        channels=sorted({c for r in rows for c in r.listings}),
        first=f"{rows[0].sku}|||{rows[0].serial}" if rows and has_prev else None,
        last=f"{rows[-1].sku}|||{rows[-1].serial}" if rows and has_next else None,
    )

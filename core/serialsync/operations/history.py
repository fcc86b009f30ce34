"""One unit's whole story, read from the store: what ``serials show`` prints and the panel's
serial page shows (one read model, two faces)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from serialsync.operations.marking import actions_from
from serialsync.operations.units import details_json, view_unit, warranty
from serialsync.store import OutboxRecord, Store, UnitRecord

# A unit's orders are looked for among this many outbox rows (newest included).
_OUTBOX_SCAN = 1_000_000


def receipt(text: str | None) -> Any:
    """The POS's receipt of a sale, parsed when it is JSON (as the engine stores it)."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def unit_story(store: Store, record: UnitRecord) -> dict[str, Any]:
    """Everything about one unit, JSON-ready: the POS's data, the product, the operator's hold
    and the actions the lifecycle allows, the details recorded beside the POS, its reference,
    every lifecycle move, its listing on each channel, the order holding it, and every order
    that names it (``serials show`` prints it, the panel's serial page shows it)."""
    unit = record.unit
    product = store.get_product(unit.sku)
    view = view_unit(store, record)
    claim = store.get_claim(unit.serial)
    hold = store.get_hold(unit.serial)
    reference = store.ref_of_unit(unit.serial)
    orders = [o for o in store.outbox(limit=_OUTBOX_SCAN) if touches(o, unit.serial)]
    return {
        "integration_id": unit.integration_id,
        "sku": unit.sku,
        "serial": unit.serial,
        "status": record.status.value,
        "deleted": record.deleted,
        "product": (
            {
                "title": product.title,
                "price": str(product.price),
                "pos": store.product_pos(unit.sku),
            }
            if product
            else None
        ),
        "hold": (
            {
                "status": hold.status.value,
                "by": hold.held_by,
                "reason": hold.reason,
                "since": hold.at,
                "pos_says": hold.pos_status.value if hold.pos_status else None,
            }
            if hold
            else None
        ),
        "actions": actions_from(record.status),
        "reference": reference.ref if reference else None,
        "details": details_json(view),
        "details_source": view.sources,
        "warranty": warranty(view, datetime.now(UTC).date()),
        "pos": unit.model_dump(mode="json", exclude={"sku", "serial", "status"}),
        "moves": [
            {
                "at": m.at,
                "from": m.from_status.value,
                "to": m.to_status.value,
                "reason": m.reason,
                "source": m.source.value,
                "source_ref": m.source_ref,
                "basis": m.basis.value,
            }
            for m in store.history(unit.serial)
        ],
        "listings": [
            {
                "channel": listing.connector,
                "state": listing.state.value,
                "remote": listing.remote.model_dump(mode="json") if listing.remote else None,
                "last_error": listing.last_error,
                "attempts": listing.attempts,
                "updated_at": listing.updated_at,
            }
            for listing in store.listings_of_unit(unit.serial)
        ],
        "claim": (
            {"channel": claim.channel, "order_id": claim.order_id, "claimed_at": claim.claimed_at}
            if claim
            else None
        ),
        "orders": [
            {
                "channel": o.channel,
                "order_id": o.order_id,
                "order_number": o.order_number,
                "state": o.state.value,
                "financial_status": o.financial_status,
                "receipt": receipt(o.receipt),
                "note": o.note,
                "last_error": o.last_error,
                "reported_at": o.reported_at,
            }
            for o in orders
        ],
    }


def touches(record: OutboxRecord, serial: str) -> bool:
    """True when the order ``record`` has a line naming unit ``serial``."""
    return any(line.serial == serial for line in record.sale.lines)

"""What the quarantine keeps of an order: what a person needs to settle it, not the shopper.

An order set aside (kinds ``order``, ``order_line``, ``conflict``) is stored as the order's
JSON, which the panel shows. It keeps the ids, the number, the status, the lines (their SKUs,
serials, quantities and prices), the totals and the dates; the shopper's name and email are
masked: a person settling a quarantined order finds the shopper on the channel, by the order's
number, when it matters.

``quarantine retry`` reads the order again from its channel (``fetch_order``). A plugin
without that hook is retried from the stored order, whose customer is then unknown (``None``):
the POS gets the sale without the shopper's name and email rather than ``***`` as them.
"""

from __future__ import annotations

import json

from serialsync.model import Order
from serialsync.redaction import MASK

#: The fields of an :class:`Order` that are the shopper's.
CUSTOMER_FIELDS = ("customer_name", "customer_email")

#: Quarantine kinds whose payload is an :class:`Order`'s JSON.
ORDER_KINDS = frozenset({"order", "order_line", "conflict"})


def order_payload(order: Order) -> str:
    """``order``'s JSON for the quarantine, with the shopper's name and email masked."""
    masked = {name: MASK for name in CUSTOMER_FIELDS if getattr(order, name) is not None}
    return order.model_copy(update=masked).model_dump_json()


def order_from_payload(payload: str) -> Order:
    """The order a quarantine payload keeps, its masked customer fields unknown (``None``).

    :raises pydantic.ValidationError: the payload is not an order's JSON.
    """
    order = Order.model_validate_json(payload)
    unknown = {name: None for name in CUSTOMER_FIELDS if getattr(order, name) == MASK}
    return order.model_copy(update=unknown) if unknown else order


def shown_payload(kind: str, payload: str | None) -> str | None:
    """A quarantine payload as a person is shown it: an order's shopper masked, also in a
    record stored before orders were kept without it. Any other payload is unchanged."""
    if payload is None or kind not in ORDER_KINDS:
        return payload
    try:
        stored = json.loads(payload)
    except ValueError:
        return payload
    if not isinstance(stored, dict):
        return payload
    found = [name for name in CUSTOMER_FIELDS if stored.get(name) not in (None, MASK)]
    if not found:
        return payload
    return json.dumps({**stored, **dict.fromkeys(found, MASK)}, ensure_ascii=False)

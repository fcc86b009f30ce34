"""``fetch_orders`` paging for BigCommerce: by ``date_modified``, without repeats.

Orders v2 pages by number, but an order modified while we page moves to the end of the list
and shifts every later order one place forward, so paging by number alone can skip one. Here
each page starts at the last order's ``date_modified`` (one-second precision) instead, and the
token remembers the ids already returned at that second so they are not returned again. When a
whole page shares one second, the page number moves on instead, so paging always ends.

The token is JSON: ``{"since": <ISO time or null>, "page": <n>, "seen": [<order ids>]}``.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from serialsync import Order, OrdersPage, UnreadableRecord

from serialsync_bigcommerce.client import BigCommerceClient
from serialsync_bigcommerce.mapping import (
    UnmappableOrderError,
    order_from_json,
    parse_rfc2822,
    unreadable_order,
)


@dataclass(frozen=True)
class OrdersCursor:
    """Where the next page starts: a time, a page number at that time, ids already given."""

    since: datetime | None
    page: int = 1
    seen: frozenset[str] = frozenset()

    def encode(self) -> str:
        """The opaque ``next_page`` token."""
        return json.dumps(
            {
                "since": self.since.isoformat() if self.since else None,
                "page": self.page,
                "seen": sorted(self.seen),
            }
        )

    @classmethod
    def decode(cls, token: str | None, since: datetime | None, log: Any) -> OrdersCursor:
        """The cursor of ``token``; from ``since`` when there is none (or it is not ours)."""
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=UTC)
        if token is None:
            return cls(since)
        try:
            data = json.loads(token)
            start = datetime.fromisoformat(data["since"]) if data["since"] else None
            page = int(data["page"])
            seen = frozenset(str(i) for i in data.get("seen", ()))
            if page < 1:
                raise ValueError("page must be at least 1")
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            # A token we did not write: start over from the cursor (re-reading is harmless).
            log.warning("bigcommerce.bad_page_token", error=str(exc))
            return cls(since)
        return cls(start, page, seen)


class OrderLines:
    """The lines of orders read lately, by order id and ``date_modified``: bounded, thread-safe.

    The host re-reads the orders near its cursor on every pass (overlap, then de-duplication),
    and an order record that does not carry its lines (:func:`inline_lines`) costs one more
    ``GET /v2/orders/{id}/products``, spent from the store's window beside a publish. An order
    whose ``date_modified`` is unchanged is the order already read (BigCommerce moves it on any
    change of the order), so its lines are taken from here.
    """

    def __init__(self, size: int = 2000) -> None:
        self._size = size
        self._lines: OrderedDict[tuple[str, str], list[dict[str, Any]]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, client: BigCommerceClient, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The order's lines: remembered for this ``date_modified``, else read and remembered."""
        modified = record.get("date_modified")
        if not modified:
            return client.order_lines(record["id"])  # no version to know it by: read it
        key = (str(record["id"]), str(modified))
        with self._lock:
            if key in self._lines:
                self._lines.move_to_end(key)
                return [dict(line) for line in self._lines[key]]
        lines = client.order_lines(record["id"])
        with self._lock:
            self._lines[key] = [dict(line) for line in lines]
            if len(self._lines) > self._size:
                self._lines.popitem(last=False)
        return lines


def fetch_orders_page(
    client: BigCommerceClient,
    channel: str,
    cursor: OrdersCursor,
    limit: int,
    lines: OrderLines | None = None,
) -> OrdersPage:
    """One page of orders at or after ``cursor``, oldest first, with the next token."""
    records = client.orders(cursor.since, cursor.page, limit)
    fresh = [r for r in records if str(r.get("id")) not in cursor.seen]
    orders: list[Order] = []
    unreadable: list[UnreadableRecord] = []
    for record in fresh:
        found = read_order(client, channel, record, lines)
        if isinstance(found, Order):
            orders.append(found)
        else:
            unreadable.append(found)
    orders.sort(key=lambda order: order.updated_at)
    page = OrdersPage(orders=tuple(orders), unreadable=tuple(unreadable))
    if len(records) < limit:
        return page
    return page.model_copy(update={"next_page": _next(cursor, records).encode()})


def read_order(
    client: BigCommerceClient,
    channel: str,
    record: dict[str, Any],
    known: OrderLines | None = None,
) -> Order | UnreadableRecord:
    """One ``/v2/orders`` record with its lines, or the record for quarantine.

    Never raises for what the record holds: one order that cannot be mapped must not stop
    the stream (it would hold every later order of the store). The platform failing to
    answer still raises, so the cursor does not move.
    """
    if record.get("id") in (None, ""):
        return unreadable_order(record, [], "the order has no id")
    lines = inline_lines(record)
    if lines is None:
        lines = known.get(client, record) if known is not None else client.order_lines(record["id"])
    try:
        return order_from_json(channel, record, lines)
    except UnmappableOrderError as exc:
        return unreadable_order(record, lines, str(exc))
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return unreadable_order(record, lines, f"{where}: {error['msg']}")


#: The consignments that hold an order's product lines (``email`` holds gift certificates).
_LINE_CONSIGNMENTS = ("shipping", "pickups", "downloads")


def inline_lines(record: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The order's lines as its record carries them in its consignments (object structure,
    ``include=consignments.line_items``), or ``None`` when they must be read on their own.

    ``None`` unless every consignment's ``line_items`` is a list of line objects and their
    quantities add up to the order's ``items_total``: a record without the include (a single
    order read, an older API), with links in place of lines, or with a line this code does not
    look for (gift certificates, a consignment kind added later) is read with
    ``GET /v2/orders/{id}/products``, never taken short of a line. A line in two consignments
    is taken once (by its id).
    """
    consignments = record.get("consignments")
    if not isinstance(consignments, dict):
        return None
    found: dict[Any, dict[str, Any]] = {}
    for kind in _LINE_CONSIGNMENTS:
        groups = consignments.get(kind, [])
        if not isinstance(groups, list):
            return None
        for group in groups:
            items = group.get("line_items") if isinstance(group, dict) else None
            if not isinstance(items, list):
                return None
            for item in items:
                if not isinstance(item, dict) or "id" not in item or "quantity" not in item:
                    return None
                found.setdefault(item["id"], dict(item))
    try:
        total = int(record["items_total"])
        counted = sum(int(line["quantity"]) for line in found.values())
    except (KeyError, TypeError, ValueError):
        return None
    return list(found.values()) if counted == total else None


def _next(cursor: OrdersCursor, records: list[dict[str, Any]]) -> OrdersCursor:
    stamps = []
    for record in records:
        try:
            stamps.append((parse_rfc2822(str(record["date_modified"])), str(record.get("id"))))
        except (KeyError, ValueError):
            continue  # an unreadable order's date cannot place the next page; the others can
    last = max((stamp for stamp, _ in stamps), default=None)
    if last is not None and (cursor.since is None or last > cursor.since):
        return OrdersCursor(last, 1, frozenset(i for stamp, i in stamps if stamp == last))
    # The whole page shares the cursor's second (or has no readable date): step by page
    # number within it.
    at_since = frozenset(i for stamp, i in stamps if stamp == cursor.since)
    return OrdersCursor(cursor.since, cursor.page + 1, cursor.seen | at_since)

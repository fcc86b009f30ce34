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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from serialsync import Order, OrdersPage, PermanentRemoteError

from serialsync_bigcommerce.client import BigCommerceClient
from serialsync_bigcommerce.mapping import order_from_json, parse_rfc2822


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


def fetch_orders_page(
    client: BigCommerceClient,
    channel: str,
    cursor: OrdersCursor,
    limit: int,
) -> OrdersPage:
    """One page of orders at or after ``cursor``, oldest first, with the next token."""
    records = client.orders(cursor.since, cursor.page, limit)
    fresh = [r for r in records if str(r.get("id")) not in cursor.seen]
    orders: list[Order] = []
    for record in fresh:
        lines = client.order_lines(record["id"])
        try:
            orders.append(order_from_json(channel, record, lines))
        except (KeyError, ValueError, ValidationError) as exc:
            # Skipping it would move the cursor past an order; stop instead, loudly.
            raise PermanentRemoteError(
                f"BigCommerce order {record.get('id')!r} cannot be read: {exc}",
                connector=channel,
            ) from None
    orders.sort(key=lambda order: order.updated_at)
    if len(records) < limit:
        return OrdersPage(orders=tuple(orders), next_page=None)
    return OrdersPage(orders=tuple(orders), next_page=_next(cursor, records).encode())


def _next(cursor: OrdersCursor, records: list[dict[str, Any]]) -> OrdersCursor:
    stamps = [(parse_rfc2822(str(r["date_modified"])), str(r["id"])) for r in records]
    last = max(stamp for stamp, _ in stamps)
    at_last = frozenset(order_id for stamp, order_id in stamps if stamp == last)
    if cursor.since is None or last > cursor.since:
        return OrdersCursor(last, 1, at_last)
    # The whole page shares the cursor's second: step by page number within it.
    return OrdersCursor(cursor.since, cursor.page + 1, cursor.seen | at_last)

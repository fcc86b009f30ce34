"""The BigCommerce connector: the hook implementations for one store."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from serialsync import (
    Connector,
    ConnectorContext,
    ListingChange,
    Order,
    OrdersPage,
    PermanentRemoteError,
    Product,
    PublishOutcome,
    hookimpl,
)

from serialsync_bigcommerce.client import BigCommerceClient
from serialsync_bigcommerce.mapping import order_from_json
from serialsync_bigcommerce.publish import Publisher
from serialsync_bigcommerce.settings import BigCommerceSettings


class BigCommerceConnector(Connector[BigCommerceSettings]):
    """One BigCommerce store as a sales channel: ``publish_variants``, ``fetch_orders``."""

    def __init__(self, settings: BigCommerceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        self.client = BigCommerceClient(settings, context)
        # POS SKU -> product id seen on this store; a cache only (a stale id is looked up).
        self._products: dict[str, int] = {}

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()

    @hookimpl
    def check_connection(self) -> str:
        """``GET /v2/store``: the store's name and plan."""
        store = self.client.store()
        return f"store {store.get('name') or '?'}, plan {store.get('plan_name') or '?'}"

    @hookimpl
    def publish_variants(
        self, product: Product, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        """Make the store's variants of ``product`` match ``changes`` (see :mod:`.publish`)."""
        publisher = Publisher(
            self.client,
            product,
            withdraw_mode=self.settings.withdraw_mode,
            log=self.log,
            known_products=self._products,
        )
        return publisher.run(changes)

    @hookimpl
    def fetch_orders(self, since: datetime | None, page: str | None) -> OrdersPage:
        """One page of orders modified at or after ``since``, oldest first.

        Paging is by time, not by page number alone: the next page starts at the last order's
        ``date_modified`` (orders modified while we page move to the end of the list and
        would shift page numbers under us). The orders sharing that second are read again,
        which the host de-duplicates; when a whole page shares one second, the page number
        moves on instead, so paging always ends. The token is
        ``{"since": <ISO time or null>, "page": <n>}``.
        """
        start, number = _decode(page, since, self.log)
        limit = self.settings.orders_page_size
        records = self.client.orders(start, number, limit)
        orders: list[Order] = []
        for record in records:
            lines = self.client.order_lines(record["id"])
            try:
                orders.append(order_from_json(self.name, record, lines))
            except (KeyError, ValueError, ValidationError) as exc:
                # Skipping it would move the cursor past an order; stop instead, loudly.
                raise PermanentRemoteError(
                    f"BigCommerce order {record.get('id')!r} cannot be read: {exc}",
                    connector=self.name,
                ) from None
        orders.sort(key=lambda order: order.updated_at)
        next_page = None
        if len(records) >= limit and orders:
            last = orders[-1].updated_at
            if start is None or last > start:
                next_page = _encode(last, 1)
            else:
                next_page = _encode(start, number + 1)
        self.log.info(
            "bigcommerce.orders_page", orders=len(orders), page=number, more=next_page is not None
        )
        return OrdersPage(orders=tuple(orders), next_page=next_page)


def _encode(since: datetime | None, page: int) -> str:
    return json.dumps({"since": since.isoformat() if since else None, "page": page})


def _decode(token: str | None, since: datetime | None, log: Any) -> tuple[datetime | None, int]:
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    if token is None:
        return since, 1
    try:
        data = json.loads(token)
        start = datetime.fromisoformat(data["since"]) if data["since"] else None
        page = int(data["page"])
        if page < 1:
            raise ValueError("page must be at least 1")
    except (ValueError, KeyError, TypeError) as exc:
        # A token we did not write: start over from the cursor (re-reading is harmless).
        log.warning("bigcommerce.bad_page_token", error=str(exc))
        return since, 1
    return start, page

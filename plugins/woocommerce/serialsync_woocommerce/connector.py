"""The WooCommerce connector: the hook implementations of one configured store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from serialsync import (
    Connector,
    ConnectorContext,
    ListingChange,
    Order,
    OrdersPage,
    Product,
    PublishOutcome,
    PublishResult,
    UnreadableRecord,
    hookimpl,
)

from serialsync_woocommerce.client import WooClient
from serialsync_woocommerce.mapping import read_order
from serialsync_woocommerce.publish import Publisher, withdraw_across_products
from serialsync_woocommerce.settings import WooCommerceSettings


def modified_after_param(since: datetime) -> str:
    """``since`` as WooCommerce's ``modified_after`` (UTC, whole seconds).

    WooCommerce compares with second precision and (we assume) excludes the bound itself, so
    the bound is moved one second earlier: an order modified exactly at ``since`` is included.
    """
    if since.tzinfo is None:
        raise ValueError("fetch_orders needs a timezone-aware 'since'")
    bound = since.astimezone(UTC).replace(microsecond=0) - timedelta(seconds=1)
    return bound.strftime("%Y-%m-%dT%H:%M:%S")


class WooCommerceConnector(Connector[WooCommerceSettings]):
    """One WooCommerce store as a serialsync channel."""

    def __init__(self, settings: WooCommerceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        self.client = WooClient(settings, context)
        # Parent product SKUs by id, to rebuild the SKU of a line whose variation is deleted.
        self._parent_skus: dict[int, str | None] = {}

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()

    @hookimpl
    def publish_variants(
        self, product: Product, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        """Make the store's variations of ``product`` match ``changes`` (see :mod:`.publish`)."""
        log = self.log.bind(operation="publish_variants", product=product.sku)
        publisher = Publisher(
            client=self.client,
            product=product,
            changes=changes,
            batch_size=self.settings.batch_size,
            withdraw_mode=self.settings.withdraw_mode,
            log=log,
        )
        outcomes = publisher.run()
        counts = {r.value: 0 for r in PublishResult}
        for outcome in outcomes:
            counts[outcome.result.value] += 1
        log.info("woocommerce.published", units=len(changes), **counts)
        return outcomes

    @hookimpl
    def withdraw_units(self, changes: Sequence[ListingChange]) -> list[PublishOutcome]:
        """Stock 0 for sold units of many products (see :func:`.withdraw_across_products`)."""
        if self.settings.withdraw_mode != "stock_zero":
            return []  # deleting also prunes each product's options: publish_variants does it
        outcomes = withdraw_across_products(
            self.client,
            changes,
            batch_size=self.settings.batch_size,
            concurrency=self.settings.withdraw_concurrency,
        )
        self.log.info(
            "woocommerce.withdrawn",
            operation="withdraw_units",
            units=len(changes),
            answered=len(outcomes),
        )
        return outcomes

    @hookimpl
    def fetch_orders(self, since: datetime | None, page: str | None) -> OrdersPage:
        """One page of orders modified at or after ``since``, oldest first, 100 per page."""
        number = _page_number(page)
        rows, total_pages = self.client.list_orders(
            modified_after=modified_after_param(since) if since is not None else None,
            page=number,
        )
        orders: list[Order] = []
        unreadable: list[UnreadableRecord] = []
        for raw in rows:
            # One order this plugin cannot read is handed back for the quarantine; stopping
            # here would hold every later order of the store, paid ones included.
            read = self._read(raw)
            if isinstance(read, Order):
                orders.append(read)
            else:
                unreadable.append(read)
                self.log.warning(
                    "woocommerce.order_unreadable", order_id=read.key, reason=read.reason
                )
        orders.sort(key=lambda o: (o.updated_at, o.order_id))
        self.log.debug(
            "woocommerce.orders_page",
            page=number,
            pages=total_pages,
            n=len(orders),
            unreadable=len(unreadable),
        )
        return OrdersPage(
            orders=tuple(orders),
            unreadable=tuple(unreadable),
            next_page=str(number + 1) if number < total_pages and rows else None,
        )

    @hookimpl
    def fetch_order(self, order_id: str) -> Order | UnreadableRecord | None:
        """One order again by its id (``GET /orders/{id}``), mapped exactly as
        :meth:`fetch_orders` maps it; ``None`` when the store has no such order."""
        raw = self.client.get_order(order_id)
        return None if raw is None else self._read(raw)

    def _read(self, raw: Any) -> Order | UnreadableRecord:
        return read_order(
            raw,
            channel=self.name,
            attribute=self.settings.serial_attribute,
            parent_sku=self._parent_sku,
            statuses=self.settings.order_statuses,
        )

    @hookimpl
    def check_connection(self) -> str:
        """One authenticated read: the product count."""
        count = self.client.count_products()
        host = self.settings.site_url.host
        return f"WooCommerce at {host}: {count if count is not None else 'some'} products"

    def _parent_sku(self, product_id: int) -> str | None:
        if product_id not in self._parent_skus:
            found = self.client.get_product(str(product_id))
            sku = found.get("sku") if found else None
            self._parent_skus[product_id] = sku if isinstance(sku, str) and sku else None
        return self._parent_skus[product_id]


def _page_number(page: str | None) -> int:
    if page is None:
        return 1
    if not page.isdigit() or int(page) < 1:
        raise ValueError(f"{page!r} is not a WooCommerce orders page token")
    return int(page)

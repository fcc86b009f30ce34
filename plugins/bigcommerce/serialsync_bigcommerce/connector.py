"""The BigCommerce connector: the hook implementations for one store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from serialsync import (
    Connector,
    ConnectorContext,
    ListingChange,
    Order,
    OrdersPage,
    Product,
    PublishOutcome,
    RemoteIds,
    UnreadableRecord,
    hookimpl,
)

from serialsync_bigcommerce.client import OPTION_VALUE_LIMIT, BigCommerceClient
from serialsync_bigcommerce.orders import OrdersCursor, fetch_orders_page, read_order
from serialsync_bigcommerce.publish import Publisher
from serialsync_bigcommerce.settings import BigCommerceSettings


class BigCommerceConnector(Connector[BigCommerceSettings]):
    """One BigCommerce store as a sales channel: ``publish_variants``, ``fetch_orders``,
    ``fetch_order``."""

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
    def product_capacity(self) -> int:
        """250 units: one "Serial" option holds at most 250 values (below 600 variants)."""
        return OPTION_VALUE_LIMIT

    @hookimpl
    def retire_product(self, product: Product, remote: RemoteIds) -> bool:
        """``DELETE /v3/catalog/products/{id}`` for an emptied sibling (gone already: done)."""
        if not remote.product_id or not remote.product_id.isdigit():
            return False
        product_id = int(remote.product_id)
        self.client.delete_product(product_id)
        self._products.pop(product.listing_sku, None)
        self.log.info("bigcommerce.product_retired", product_id=product_id, part=product.part)
        return True

    @hookimpl
    def fetch_order(self, order_id: str) -> Order | UnreadableRecord | None:
        """One order by id (``GET /v2/orders/{id}`` and its lines), mapped as in a page."""
        record = self.client.order(order_id)
        return None if record is None else read_order(self.client, self.name, record)

    @hookimpl
    def withdraw_units(self, changes: Sequence[ListingChange]) -> list[PublishOutcome]:
        """Stock 0 for sold units of many products, 50 variants a batch request."""
        publisher = Publisher(
            self.client, None, withdraw_mode=self.settings.withdraw_mode, log=self.log
        )
        outcomes = publisher.withdraw(changes)
        self.log.info("bigcommerce.withdrawn", units=len(changes), answered=len(outcomes))
        return outcomes

    @hookimpl
    def fetch_orders(self, since: datetime | None, page: str | None) -> OrdersPage:
        """One page of orders modified at or after ``since``, oldest first (see :mod:`.orders`)."""
        cursor = OrdersCursor.decode(page, since, self.log)
        result = fetch_orders_page(self.client, self.name, cursor, self.settings.orders_page_size)
        self.log.info(
            "bigcommerce.orders_page",
            orders=len(result.orders),
            page=cursor.page,
            more=result.next_page is not None,
        )
        return result

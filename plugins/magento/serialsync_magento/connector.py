"""The Magento connector: the hooks, over the REST client (see ``publish`` for the costs)."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from serialsync import (
    AdaptiveLimit,
    Connector,
    ConnectorContext,
    ListingChange,
    ListingsPage,
    Order,
    OrdersPage,
    PermanentRemoteError,
    Product,
    PublishOutcome,
    RemoteIds,
    StillForSale,
    UnreadableRecord,
    every_unit_for_sale,
    hookimpl,
)

from serialsync_magento import mapping
from serialsync_magento.auth import OAuth1Auth
from serialsync_magento.bulk import BulkRunner
from serialsync_magento.client import MagentoClient
from serialsync_magento.listings import read_listings
from serialsync_magento.publish import Publisher
from serialsync_magento.settings import MagentoSettings


class MagentoConnector(Connector[MagentoSettings]):
    """One Magento store as a channel (``publish_variants``, ``fetch_orders``)."""

    def __init__(self, settings: MagentoSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        headers: dict[str, str] = {"Accept": "application/json"}
        auth = None
        if settings.access_token is not None:
            headers["Authorization"] = f"Bearer {settings.access_token.get_secret_value()}"
        elif settings.oauth is not None:
            auth = OAuth1Auth(settings.oauth)
        #: Requests in flight, shrinking while the store is busy (see ``concurrency``).
        self.limit = AdaptiveLimit(settings.concurrency, clock=context.clock)
        http = context.http_client(
            settings,
            base_url=settings.rest_root,
            headers=headers,
            auth=auth,
            rate_limiter=self.limit,
        )
        images = context.http_client(settings) if settings.upload_images else None
        self.client = MagentoClient(http, images=images, limit=self.limit)
        self.pool: ThreadPoolExecutor | None = None
        if settings.concurrency > 1:
            self.pool = ThreadPoolExecutor(
                max_workers=settings.concurrency, thread_name_prefix=f"{self.name}-send"
            )
        self.bulk = BulkRunner(
            self.client,
            mode=settings.bulk,
            sleep=context.sleep,
            clock=context.clock,
            poll_interval=settings.bulk_poll_interval,
            timeout=settings.bulk_timeout,
            detect_timeout=settings.bulk_detect_timeout,
            redetect_after=settings.bulk_redetect_after,
            margin=settings.bulk_margin,
            connector=self.name,
            log=self.log,
        )
        self.publisher = Publisher(
            self.client, settings, bulk=self.bulk, log=self.log, name=self.name, pool=self.pool
        )

    def close(self) -> None:
        """Close the HTTP connection pools and the sending threads."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        self.client.close()

    # -- check ------------------------------------------------------------------------------

    @hookimpl
    def check_connection(self) -> str:
        """Read the store views (one GET) and describe the first."""
        configs = self.client.store_configs()
        if not configs:
            return "Magento store with no store views"
        first = configs[0]
        return (
            f"Magento store {first.get('base_url') or self.settings.base_url}, "
            f"currency {first.get('base_currency_code', '?')}, {len(configs)} store view(s)"
        )

    # -- publish ----------------------------------------------------------------------------

    @hookimpl(specname="publish_variants")
    def publish_variants_hook(
        self,
        product: Product,
        changes: Sequence[ListingChange],
        still_for_sale: StillForSale,
        first_publish: bool,
    ) -> list[PublishOutcome]:
        """The hook: :meth:`publish_variants`, asking the host before units go on sale.

        Its own method because pluggy passes only arguments without a default, and
        ``publish_variants`` keeps ``still_for_sale`` and ``first_publish`` optional for
        direct callers."""
        return self.publish_variants(product, changes, still_for_sale, first_publish)

    def publish_variants(
        self,
        product: Product,
        changes: Sequence[ListingChange],
        still_for_sale: StillForSale = every_unit_for_sale,
        first_publish: bool = False,
    ) -> list[PublishOutcome]:
        """Make the children of ``product``'s configurable parent match ``changes``; a unit
        ``still_for_sale`` no longer names when its stock is saved stays at 0 (WITHDRAWN).
        ``first_publish`` (the host never recorded the product here) may spare the read of
        the parent's children, when the store confirms it cannot have any."""
        return self.publisher.publish(product, changes, still_for_sale, first_publish)

    @hookimpl
    def withdraw_units(self, changes: Sequence[ListingChange]) -> list[PublishOutcome]:
        """Stock 0 for sold units of many products in few source-items saves."""
        outcomes = self.publisher.withdraw(changes)
        self.log.info(
            "magento.withdrawn",
            operation="withdraw_units",
            units=len(changes),
            answered=len(outcomes),
        )
        return outcomes

    @hookimpl
    def set_product_visibility(self, product: Product, remote: RemoteIds, visible: bool) -> bool:
        """One ``PUT /V1/products/{parent sku}`` of the configurable parent's ``visibility``:
        1 (not visible individually: no catalog, search or product page) hides a sold-out
        product, 4 (catalog and search, as it was created) shows it again; its children keep
        theirs. A parent gone is reported so."""
        if not remote.product_id:
            return False
        wanted = mapping.VISIBILITY_BOTH if visible else mapping.VISIBILITY_NOT_VISIBLE
        try:
            self.client.update_product(
                remote.product_id, {"sku": remote.product_id, "visibility": wanted}
            )
        except PermanentRemoteError:
            # A PUT of an unknown SKU is a create, refused for its missing name: only a read
            # tells a parent deleted by hand from a refusal of the visibility itself.
            if self.client.configurable_children(remote.product_id) is None:
                return False
            raise
        self.log.info(
            "magento.visibility",
            parent=remote.product_id,
            part=product.part,
            visibility=wanted,
        )
        return True

    # -- reconcile --------------------------------------------------------------------------

    @hookimpl
    def list_listings(self, page: str | None) -> ListingsPage:
        """One page of the store's simple products whose SKU is an integration id, with their
        stock at the connector's source (see :mod:`serialsync_magento.listings`)."""
        return read_listings(self.client, self.settings.source_code, page)

    # -- orders -----------------------------------------------------------------------------

    @hookimpl
    def fetch_orders(self, since: datetime | None, page: str | None) -> OrdersPage:
        """One page of orders updated at or after ``since``, oldest first.

        Magento answers a page past the end with the last page again, so the pager stops by
        ``total_count`` and never by an empty page.
        """
        number = _page_number(page)
        size = self.settings.orders_page_size
        result = self.client.search_orders(
            mapping.format_time(since) if since is not None else None, page=number, page_size=size
        )
        items = list(result.get("items") or [])
        total = int(result.get("total_count") or 0)
        orders: list[Order] = []
        unreadable: list[UnreadableRecord] = []
        for raw in items:
            # One order this plugin cannot read is handed back for the quarantine; stopping
            # here would hold every later order of the store, paid ones included.
            read = mapping.read_order(raw, self.name)
            if isinstance(read, Order):
                orders.append(read)
            else:
                unreadable.append(read)
                self.log.warning("magento.order_unreadable", order_id=read.key, reason=read.reason)
        more = bool(items) and number * size < total
        self.log.info(
            "magento.orders_page",
            page=number,
            orders=len(orders),
            unreadable=len(unreadable),
            total=total,
        )
        return OrdersPage(
            orders=tuple(orders),
            unreadable=tuple(unreadable),
            next_page=str(number + 1) if more else None,
        )

    @hookimpl
    def fetch_order(self, order_id: str) -> Order | UnreadableRecord | None:
        """One order again by its ``entity_id`` (``GET /V1/orders/{id}``), mapped exactly as
        :meth:`fetch_orders` maps it; ``None`` when the store has no such order."""
        raw = self.client.get_order(order_id)
        return None if raw is None else mapping.read_order(raw, self.name)


def _page_number(page: str | None) -> int:
    if page is None:
        return 1
    if not page.isdigit() or int(page) < 1:
        raise ValueError(f"not a Magento orders page token: {page!r}")
    return int(page)

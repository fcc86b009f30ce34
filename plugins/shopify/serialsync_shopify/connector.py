"""The Shopify connector: the hook implementations for one store."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from serialsync import (
    ConfigurationError,
    Connector,
    ConnectorContext,
    ListingChange,
    ListingsPage,
    Order,
    OrdersPage,
    PermanentRemoteError,
    Product,
    PublishOutcome,
    PublishResult,
    RemoteIds,
    StillForSale,
    UnreadableRecord,
    WebhookDelivery,
    WebhookSubscription,
    every_unit_for_sale,
    hookimpl,
)

from serialsync_shopify import listings, mapping, webhooks
from serialsync_shopify.bulk_listings import BulkListingReader
from serialsync_shopify.client import MAX_QUERY_COST, MaxCostExceededError, ShopifyClient
from serialsync_shopify.publish import Publisher, ShopContext
from serialsync_shopify.ratelimit import ORDERS_PAGE_COST
from serialsync_shopify.settings import ShopifySettings

#: Line items read with each order; an order with more is completed by further queries.
LINES_PER_ORDER = 10


class ShopifyConnector(Connector[ShopifySettings]):
    """One Shopify store as a sales channel: ``publish_variants``, ``fetch_orders`` (and one
    order again by id, ``fetch_order``)."""

    def __init__(self, settings: ShopifySettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        self.client = ShopifyClient(settings, context)
        # Bulk results are fetched from signed URLs off the shop: never with its token.
        self.downloads = context.http_client(settings)
        self.bulk_listings = BulkListingReader(
            self.client,
            self.downloads,
            sleep=context.sleep,
            clock=context.clock,
            poll_interval=settings.bulk_poll_interval,
            timeout=settings.bulk_timeout,
        )
        self._shop: ShopContext | None = None
        # Shrunk for good when Shopify says a page costs too much.
        self.orders_page_size = settings.orders_page_size
        self.publisher = Publisher(
            self.client,
            batch_size=settings.batch_size,
            product_status=settings.product_status,
            context=self.shop_context,
            log=self.log,
        )

    def close(self) -> None:
        """Close the HTTP connection pools."""
        self.client.close()
        self.downloads.close()

    # -- shop -------------------------------------------------------------------------------

    def shop_context(self) -> ShopContext:
        """The shop's variant limit and the stocking location (read once, then cached)."""
        if self._shop is None:
            location = self.settings.location_id
            if location and location.isdigit():
                location = f"gid://shopify/Location/{location}"
            data = self.client.shop_context(location)
            shop = data.get("shop") or {}
            where = data.get("location")
            if not where:
                raise PermanentRemoteError(
                    f"Shopify has no location {location!r} for {self.settings.shop}; check "
                    "location_id in the connector's settings",
                    connector=self.name,
                )
            if where.get("isActive") is False:
                raise PermanentRemoteError(
                    f"the Shopify location {where.get('name')!r} is deactivated: units cannot "
                    "be stocked there; set location_id to an active location",
                    connector=self.name,
                )
            self._shop = ShopContext(
                location_id=str(where["id"]),
                max_variants=int(
                    (shop.get("resourceLimits") or {}).get("maxProductVariants") or 2048
                ),
                name=str(shop.get("name") or ""),
                domain=str(shop.get("myshopifyDomain") or self.settings.shop),
                plan=str((shop.get("plan") or {}).get("publicDisplayName") or "unknown"),
            )
        return self._shop

    # -- hooks ------------------------------------------------------------------------------

    @hookimpl
    def check_connection(self) -> str:
        """Read the shop and its location: proves the token and the location setting."""
        self._shop = None
        shop = self.shop_context()
        return (
            f"shop {shop.name} ({shop.domain}), plan {shop.plan}, "
            f"up to {shop.max_variants} variants per product"
        )

    @hookimpl(specname="publish_variants")
    def publish_variants_hook(
        self, product: Product, changes: Sequence[ListingChange], still_for_sale: StillForSale
    ) -> list[PublishOutcome]:
        """The hook, with the host's ``still_for_sale``: pluggy hands a hook only the
        arguments it names without a default, and :meth:`publish_variants` keeps it optional
        for direct callers."""
        return self.publish_variants(product, changes, still_for_sale)

    def publish_variants(
        self,
        product: Product,
        changes: Sequence[ListingChange],
        still_for_sale: StillForSale = every_unit_for_sale,
    ) -> list[PublishOutcome]:
        """Create, update and withdraw this product's variants; one outcome per change. A unit
        ``still_for_sale`` no longer names when the request that would list it is sent goes at
        stock 0 (``WITHDRAWN``)."""
        log = self.log.bind(operation="publish_variants", sku=product.sku)
        log.info("shopify.publish", changes=len(changes))
        outcomes = self.publisher.publish(product, changes, still_for_sale)
        log.info(
            "shopify.published",
            results={
                r: sum(1 for o in outcomes if o.result == r) for r in {o.result for o in outcomes}
            },
        )
        return outcomes

    @hookimpl
    def product_capacity(self) -> int:
        """The shop's ``resourceLimits.maxProductVariants`` (2,048 by default), read once."""
        return self.shop_context().max_variants

    @hookimpl
    def retire_product(self, product: Product, remote: RemoteIds) -> bool:
        """``productDelete`` of an emptied sibling (a product already gone counts as done)."""
        if not remote.product_id:
            return False
        payload = self.client.product_delete(remote.product_id)
        errors = payload.get("userErrors") or []
        if errors and not any("not exist" in str(e.get("message")) for e in errors):
            messages = "; ".join(str(e.get("message")) for e in errors)
            raise PermanentRemoteError(
                f"Shopify refused to delete product {remote.product_id}: {messages}",
                connector=self.name,
            )
        self.log.info("shopify.product_retired", product_id=remote.product_id, part=product.part)
        return True

    @hookimpl
    def set_product_visibility(self, product: Product, remote: RemoteIds, visible: bool) -> bool:
        """One ``productUpdate`` of the status: ``DRAFT`` takes a sold-out product off every
        sales channel (Shopify: "unavailable to customers on sales channels and apps") without
        unpublishing it, and the connector's ``product_status`` brings it back."""
        if not remote.product_id:
            return False
        status = self.settings.product_status if visible else "DRAFT"
        payload = self.client.product_update({"id": remote.product_id, "status": status})
        errors = payload.get("userErrors") or []
        if any("not exist" in str(e.get("message")) for e in errors):
            return False  # deleted by hand: nothing left to show or hide
        if errors:
            messages = "; ".join(str(e.get("message")) for e in errors)
            raise PermanentRemoteError(
                f"Shopify refused status {status} for product {remote.product_id}: {messages}",
                connector=self.name,
            )
        self.log.info(
            "shopify.product_status",
            product_id=remote.product_id,
            part=product.part,
            status=status,
        )
        return True

    @hookimpl
    def withdraw_units(self, changes: Sequence[ListingChange]) -> list[PublishOutcome]:
        """Stock 0 for sold units of many products in few ``inventorySetQuantities`` calls."""
        outcomes = self.publisher.withdraw(changes)
        self.log.info(
            "shopify.withdrawn",
            operation="withdraw_units",
            units=len(changes),
            answered=len(outcomes),
            failed=sum(1 for o in outcomes if o.result == PublishResult.FAILED),
        )
        return outcomes

    @hookimpl
    def admin_url(self, remote: RemoteIds) -> str | None:
        """The variant's page in the shop's admin (``/admin/products/<id>/variants/<id>``), or
        the product's when only the product is known."""
        product = _numeric(remote.product_id)
        if product is None:
            return None
        url = f"https://{self.settings.shop}/admin/products/{product}"
        variant = _numeric(remote.variant_id)
        return f"{url}/variants/{variant}" if variant else url

    @hookimpl
    def list_listings(self, page: str | None) -> ListingsPage:
        """One page of the shop's variants whose SKU is an integration id: paged queries for a
        small shop (:mod:`serialsync_shopify.listings`), one bulk query operation, read as one
        page, from ``listings_bulk_from`` variants (:mod:`serialsync_shopify.bulk_listings`)."""
        if page is None:
            threshold = self.settings.listings_bulk_from
            if self.client.variants_count(threshold) >= threshold:
                self.log.info("shopify.listings_bulk", operation="list_listings")
                return self.bulk_listings.read()
            return listings.read_page(self.client, None)
        if page.startswith(listings.PAGE_PREFIX):
            return listings.read_page(self.client, page[len(listings.PAGE_PREFIX) :])
        raise ValueError(f"not a Shopify listings page token: {page!r}")

    @hookimpl
    def fetch_orders(self, since: datetime | None, page: str | None) -> OrdersPage:
        """One page of orders updated at or after ``since``, oldest update first."""
        query = mapping.updated_since_query(since)
        after: str | None = None
        if page:
            after, query = _read_token(page)
        # Cut the page to a quarter of the bucket before sending it. Shopify allows one query
        # up to the whole bucket (1,000 points), but a page that large can only be sent once
        # the bucket is nearly full again: behind a publish that keeps the bucket low, reading
        # orders would wait up to 20 s at the standard 50 points a second, and a sold unit
        # would stay for sale on the other channels all that time. Small pages go at once.
        while self.orders_page_size > 1:
            asked = self.client.expected_cost("OrdersPage", self._orders_variables())
            if asked <= ORDERS_PAGE_COST:
                break
            self.orders_page_size = _shrunk(self.orders_page_size, asked, ORDERS_PAGE_COST)
        while True:
            try:
                data = self.client.orders_page(self.orders_page_size, after, query, LINES_PER_ORDER)
                break
            except MaxCostExceededError as exc:
                if self.orders_page_size == 1:
                    raise
                self.orders_page_size = _shrunk(self.orders_page_size, exc.cost)
                self.log.info(
                    "shopify.page_shrunk", operation="fetch_orders", size=self.orders_page_size
                )
        connection = data.get("orders") or {}
        read = [self._order(node) for node in connection.get("nodes") or []]
        info = connection.get("pageInfo") or {}
        next_page = None
        if info.get("hasNextPage") and info.get("endCursor"):
            next_page = json.dumps({"after": info["endCursor"], "query": query})
        return OrdersPage(
            orders=tuple(o for o in read if isinstance(o, Order)),
            unreadable=tuple(o for o in read if isinstance(o, UnreadableRecord)),
            next_page=next_page,
        )

    @hookimpl
    def fetch_order(self, order_id: str) -> Order | UnreadableRecord | None:
        """One order by its id (``gid://shopify/Order/…``), mapped as ``fetch_orders`` maps it."""
        data = self.client.order_by_id(order_id, LINES_PER_ORDER)
        node = data.get("order")
        return self._order(node) if node else None

    # -- webhooks -----------------------------------------------------------------------------

    @hookimpl
    def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
        """Check ``X-Shopify-Hmac-Sha256`` with the app's client secret; name the order."""
        return webhooks.verify(headers, body, self.settings.client_secret)

    @hookimpl
    def register_webhooks(self, url: str) -> list[WebhookSubscription]:
        """Subscribe ``url`` to the order topics Shopify lacks for it; return all of them."""
        if self.settings.client_secret is None:
            raise ConfigurationError(
                f"connectors.{self.name}.client_secret: Shopify signs webhooks with the app's "
                "client secret; set it (SERIALSYNC_CONNECTORS__"
                f"{self.name.upper()}__CLIENT_SECRET) before registering webhooks"
            )
        present = self._subscriptions(url)
        have = {s.topic for s in present}
        for topic in ORDER_TOPIC_NAMES:
            if topic in have:
                continue
            payload = self.client.webhook_subscription_create(topic, url)
            _refuse_user_errors(payload, f"webhookSubscriptionCreate {topic}", self.name)
            created = payload.get("webhookSubscription") or {}
            present.append(_subscription(created))
            self.log.info("shopify.webhook_created", operation="register_webhooks", topic=topic)
        return present

    @hookimpl
    def list_webhooks(self, url: str | None) -> list[WebhookSubscription]:
        """The app's subscriptions to the order topics (for ``url`` when given, with each order
        topic it lacks listed ``missing``: Shopify removes a subscription whose deliveries kept
        failing)."""
        found = self._subscriptions(url)
        if url is None:
            return found
        have = {s.topic for s in found}
        return found + [
            WebhookSubscription(remote_id="", topic=topic, url=url, state="missing")
            for topic in ORDER_TOPIC_NAMES
            if topic not in have
        ]

    def _subscriptions(self, url: str | None) -> list[WebhookSubscription]:
        found: list[WebhookSubscription] = []
        after: str | None = None
        while True:
            page = self.client.webhook_subscriptions(100, after, url, list(ORDER_TOPIC_NAMES))
            found.extend(_subscription(node) for node in page.get("nodes") or [])
            info = page.get("pageInfo") or {}
            if not info.get("hasNextPage") or not info.get("endCursor"):
                return found
            after = str(info["endCursor"])

    @hookimpl
    def remove_webhooks(self, url: str) -> list[WebhookSubscription]:
        """Delete the subscriptions calling ``url``; return those removed."""
        removed = []
        for subscription in self._subscriptions(url):
            payload = self.client.webhook_subscription_delete(subscription.remote_id)
            _refuse_user_errors(payload, "webhookSubscriptionDelete", self.name)
            removed.append(subscription)
        return removed

    def _orders_variables(self) -> dict[str, Any]:
        return {"first": self.orders_page_size, "lines": LINES_PER_ORDER, "withEmail": False}

    def _order(self, node: dict[str, Any]) -> Order | UnreadableRecord:
        items = node.get("lineItems") or {}
        lines: list[dict[str, Any]] = list(items.get("nodes") or [])
        info = items.get("pageInfo") or {}
        while info.get("hasNextPage") and node.get("id"):
            more = self.client.order_line_items(
                str(node["id"]), LINES_PER_ORDER * 5, info.get("endCursor")
            )
            items = (more.get("order") or {}).get("lineItems") or {}
            lines.extend(items.get("nodes") or [])
            info = items.get("pageInfo") or {}
        found = mapping.read_order(node, lines, channel=self.name)
        if isinstance(found, UnreadableRecord):
            self.log.warning("shopify.order_unreadable", order_id=found.key, reason=found.reason)
        return found


ORDER_TOPIC_NAMES = tuple(webhooks.ORDER_TOPICS)


def _subscription(node: dict[str, Any]) -> WebhookSubscription:
    return WebhookSubscription(
        remote_id=str(node.get("id") or ""),
        topic=str(node.get("topic") or ""),
        url=str(node.get("uri") or ""),
    )


def _refuse_user_errors(payload: dict[str, Any], what: str, connector: str) -> None:
    errors = payload.get("userErrors") or []
    if errors:
        text = "; ".join(str(e.get("message")) for e in errors)
        raise PermanentRemoteError(f"Shopify refused {what}: {text}", connector=connector)


def _read_token(page: str) -> tuple[str, str | None]:
    """The cursor and filter a ``next_page`` token of this connector carries."""
    try:
        token = json.loads(page)
        return str(token["after"]), token["query"]
    except (ValueError, KeyError, TypeError):
        raise ValueError(f"{page!r} is not a page token of the Shopify connector") from None


def _shrunk(size: int, cost: float | None, limit: float = MAX_QUERY_COST) -> int:
    """A page size that should cost at most ``limit`` (the single-query limit unless told),
    given what ``size`` cost."""
    if cost and cost > limit:
        # Leave a tenth of headroom: the cost is not exactly proportional to the page.
        return max(1, min(size - 1, int(size * limit * 0.9 / cost)))
    return max(1, size // 2)


def _numeric(gid: str | None) -> str | None:
    """The number at the end of a global id (``gid://shopify/Product/1001`` → ``1001``)."""
    tail = (gid or "").rpartition("/")[2]
    return tail if tail.isdigit() else None

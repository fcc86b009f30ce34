"""The WooCommerce connector: the hook implementations of one configured store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr
from serialsync import (
    ConfigurationError,
    Connector,
    ConnectorContext,
    ListingChange,
    ListingsPage,
    Order,
    OrdersPage,
    Product,
    PublishOutcome,
    PublishResult,
    RemoteError,
    RemoteIds,
    StillForSale,
    UnreadableRecord,
    WebhookDelivery,
    WebhookSubscription,
    every_unit_for_sale,
    hookimpl,
)

from serialsync_woocommerce import webhooks
from serialsync_woocommerce.client import INVALID_PRODUCT_ID, Json, WooClient
from serialsync_woocommerce.listings import read_listings
from serialsync_woocommerce.mapping import read_order
from serialsync_woocommerce.publish import Publisher, withdraw_across_products
from serialsync_woocommerce.settings import WooCommerceSettings


def _subscription(hook: Json) -> WebhookSubscription:
    return WebhookSubscription(
        remote_id=str(hook.get("id") or ""),
        topic=str(hook.get("topic") or ""),
        url=str(hook.get("delivery_url") or ""),
        # WooCommerce disables a webhook after repeated failed deliveries (status "disabled");
        # "paused" is a merchant's pause: neither is delivered to.
        state="active" if hook.get("status") == "active" else "disabled",
    )


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

    @hookimpl(specname="publish_variants")
    def publish_variants_hook(
        self, product: Product, changes: Sequence[ListingChange], still_for_sale: StillForSale
    ) -> list[PublishOutcome]:
        """The hook, with the host's ``still_for_sale``; a method apart because pluggy hands
        a hook only the arguments it names without a default, while direct callers (tests, an
        embedding application) may leave ``still_for_sale`` out of :meth:`publish_variants`."""
        return self.publish_variants(product, changes, still_for_sale)

    def publish_variants(
        self,
        product: Product,
        changes: Sequence[ListingChange],
        still_for_sale: StillForSale = every_unit_for_sale,
    ) -> list[PublishOutcome]:
        """Make the store's variations of ``product`` match ``changes`` (see :mod:`.publish`);
        a unit ``still_for_sale`` no longer names when its batch is sent goes at stock 0."""
        log = self.log.bind(operation="publish_variants", product=product.sku)
        publisher = Publisher(
            client=self.client,
            product=product,
            changes=changes,
            batch_size=self.settings.batch_size,
            withdraw_mode=self.settings.withdraw_mode,
            log=log,
            still_for_sale=still_for_sale,
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
        if self.settings.withdraw_mode != "zero_stock":
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
    def set_product_visibility(self, product: Product, remote: RemoteIds, visible: bool) -> bool:
        """One product ``PUT`` of ``catalog_visibility``: ``hidden`` keeps a sold-out product
        out of the shop pages and search, ``visible`` (WooCommerce's default) brings it back;
        a product gone (404) is reported so."""
        if not remote.product_id:
            return False
        wanted = "visible" if visible else "hidden"
        try:
            self.client.update_product(remote.product_id, {"catalog_visibility": wanted})
        except RemoteError as exc:
            if exc.status == 404 or exc.code == INVALID_PRODUCT_ID:
                return False
            raise
        self.log.info(
            "woocommerce.catalog_visibility",
            product_id=remote.product_id,
            part=product.part,
            catalog_visibility=wanted,
        )
        return True

    @hookimpl
    def admin_url(self, remote: RemoteIds) -> str | None:
        """The variable product's edit page in WordPress (its variations are edited there)."""
        product = remote.product_id or ""
        if not product.isdigit():
            return None
        site = str(self.settings.site_url).rstrip("/")
        return f"{site}/wp-admin/post.php?post={product}&action=edit"

    @hookimpl
    def list_listings(self, page: str | None) -> ListingsPage:
        """One page of products' serialized variations (see :mod:`.listings`)."""
        return read_listings(self.client, page)

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

    # -- webhooks -----------------------------------------------------------------------------

    @hookimpl
    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, secret: SecretStr
    ) -> WebhookDelivery:
        """Answer the ping; check ``X-WC-Webhook-Signature`` with our secret; name the order."""
        return webhooks.verify(headers, body, secret)

    @hookimpl
    def register_webhooks(self, url: str, secret: SecretStr) -> list[WebhookSubscription]:
        """An active webhook per order topic calling ``url``; only what is missing is made.

        A webhook WooCommerce disabled (after repeated failed deliveries) is made anew: switched
        back on it would keep its failure count, which the REST API cannot reset, and the next
        failed delivery would disable it again. A paused one (a merchant's pause) is switched
        back on with the secret given.
        """
        if not secret.get_secret_value():
            raise ConfigurationError(
                "webhooks.secret: WooCommerce webhooks are signed with a secret serialsync "
                "chooses; set one (SERIALSYNC_WEBHOOKS__SECRET) before registering"
            )
        self.client.http.add_secret(secret)  # it travels in bodies: never in an error excerpt
        mine = self._webhooks_for(url)
        kept = []
        for topic in webhooks.ORDER_TOPICS:
            found = next((w for w in mine if w.get("topic") == topic), None)
            if found is not None and found.get("status") == "disabled":
                self.client.delete_webhook(int(found["id"]))
                self.log.info(
                    "woocommerce.webhook_disabled_remade",
                    operation="register_webhooks",
                    why="WooCommerce disabled it after failed deliveries; switched on it would "
                    "keep its failure count",
                )
                found = None
            if found is None:
                found = self.client.create_webhook(
                    {
                        "name": f"serialsync {topic} ({self.name})",
                        "topic": topic,
                        "delivery_url": url,
                        "secret": secret.get_secret_value(),
                        "status": "active",
                    }
                )
                self.log.info("woocommerce.webhook_created", operation="register_webhooks")
            elif found.get("status") != "active":
                found = self.client.update_webhook(
                    int(found["id"]), {"status": "active", "secret": secret.get_secret_value()}
                )
            kept.append(_subscription(found))
        return kept

    @hookimpl
    def list_webhooks(self, url: str | None) -> list[WebhookSubscription]:
        """The store's order webhooks (those calling ``url`` when given)."""
        return [_subscription(w) for w in self._webhooks_for(url)]

    @hookimpl
    def remove_webhooks(self, url: str) -> list[WebhookSubscription]:
        """Delete the order webhooks calling ``url``; return those removed."""
        removed = []
        for hook in self._webhooks_for(url):
            self.client.delete_webhook(int(hook["id"]))
            removed.append(_subscription(hook))
        return removed

    def _webhooks_for(self, url: str | None) -> list[Json]:
        return [
            w
            for w in self.client.list_webhooks()
            if w.get("topic") in webhooks.ORDER_TOPICS
            and (url is None or w.get("delivery_url") == url)
        ]

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

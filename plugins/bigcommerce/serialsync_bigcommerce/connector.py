"""The BigCommerce connector: the hook implementations for one store."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
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
    RemoteIds,
    StillForSale,
    UnreadableRecord,
    WebhookDelivery,
    WebhookSubscription,
    every_unit_for_sale,
    hookimpl,
)

from serialsync_bigcommerce import webhooks
from serialsync_bigcommerce.client import OPTION_VALUE_LIMIT, BigCommerceClient
from serialsync_bigcommerce.listings import read_listings
from serialsync_bigcommerce.orders import OrderLines, OrdersCursor, fetch_orders_page, read_order
from serialsync_bigcommerce.publish import Publisher
from serialsync_bigcommerce.settings import BigCommerceSettings


class BigCommerceConnector(Connector[BigCommerceSettings]):
    """One BigCommerce store as a sales channel: ``publish_variants``, ``fetch_orders``,
    ``fetch_order``."""

    def __init__(self, settings: BigCommerceSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        self.client = BigCommerceClient(settings, context)
        #: The lines of orders read lately: a re-read order unchanged costs no request.
        self.lines = OrderLines()
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

    @hookimpl(specname="publish_variants")
    def publish_variants_hook(
        self, product: Product, changes: Sequence[ListingChange], still_for_sale: StillForSale
    ) -> list[PublishOutcome]:
        """The hook, with the host's ``still_for_sale`` (pluggy hands a hook only what it
        names without a default; :meth:`publish_variants` keeps it optional)."""
        return self.publish_variants(product, changes, still_for_sale)

    def publish_variants(
        self,
        product: Product,
        changes: Sequence[ListingChange],
        still_for_sale: StillForSale = every_unit_for_sale,
    ) -> list[PublishOutcome]:
        """Make the store's variants of ``product`` match ``changes`` (see :mod:`.publish`);
        a unit ``still_for_sale`` no longer names when its request is sent goes at stock 0."""
        publisher = Publisher(
            self.client,
            product,
            withdraw_mode=self.settings.withdraw_mode,
            log=self.log,
            known_products=self._products,
            still_for_sale=still_for_sale,
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
    def set_product_visibility(self, product: Product, remote: RemoteIds, visible: bool) -> bool:
        """``PUT /v3/catalog/products/{id} {is_visible}``: a hidden product is off the
        storefront (its variants and orders untouched); a product gone (404) is reported so."""
        if not remote.product_id or not remote.product_id.isdigit():
            return False
        product_id = int(remote.product_id)
        response = self.client.update_product(product_id, {"is_visible": visible})
        if response.status_code == 404:
            return False
        self.client.http.raise_for_status(response)
        self.log.info(
            "bigcommerce.product_visibility",
            product_id=product_id,
            part=product.part,
            visible=visible,
        )
        return True

    @hookimpl
    def fetch_order(self, order_id: str) -> Order | UnreadableRecord | None:
        """One order by id (``GET /v2/orders/{id}`` and its lines), mapped as in a page."""
        record = self.client.order(order_id)
        return None if record is None else read_order(self.client, self.name, record, self.lines)

    # -- webhooks -------------------------------------------------------------------------

    @hookimpl
    def verify_webhook(
        self, headers: Mapping[str, str], body: bytes, secret: SecretStr
    ) -> WebhookDelivery:
        """Check the secret header set at creation (BigCommerce signs nothing); name the order."""
        return webhooks.verify(headers, body, secret)

    @hookimpl
    def register_webhooks(self, url: str, secret: SecretStr) -> list[WebhookSubscription]:
        """One active ``store/order/*`` webhook calling ``url`` with the secret header.

        Made only when missing; one that BigCommerce deactivated (after failed deliveries) is
        switched back on with the secret given.
        """
        if not secret.get_secret_value():
            raise ConfigurationError(
                "webhooks.secret: BigCommerce deliveries carry a secret header serialsync "
                "chooses; set one (SERIALSYNC_WEBHOOKS__SECRET) before registering"
            )
        self.client.http.add_secret(secret)  # it travels in bodies: never in an error excerpt
        headers = {webhooks.SECRET_HEADER: secret.get_secret_value()}
        found = self._hooks_for(url)
        if not found:
            created = self.client.create_hook(
                {
                    "scope": webhooks.ORDER_SCOPE,
                    "destination": url,
                    "is_active": True,
                    "headers": headers,
                }
            )
            self.log.info("bigcommerce.webhook_created", operation="register_webhooks")
            return [_subscription(created)]
        kept = []
        for hook in found:
            if not hook.get("is_active") or hook.get("headers") != headers:
                hook = self.client.update_hook(
                    int(hook["id"]), {"is_active": True, "headers": headers}
                )
            kept.append(_subscription(hook))
        return kept

    @hookimpl
    def list_webhooks(self, url: str | None) -> list[WebhookSubscription]:
        """The app's order webhooks on the store (those calling ``url`` when given)."""
        return [_subscription(h) for h in self._hooks_for(url)]

    @hookimpl
    def remove_webhooks(self, url: str) -> list[WebhookSubscription]:
        """Delete the order webhooks calling ``url``; return those removed."""
        removed = []
        for hook in self._hooks_for(url):
            self.client.delete_hook(int(hook["id"]))
            removed.append(_subscription(hook))
        return removed

    def _hooks_for(self, url: str | None) -> list[dict[str, Any]]:
        return [
            h
            for h in self.client.hooks()
            if h.get("scope") == webhooks.ORDER_SCOPE
            and (url is None or h.get("destination") == url)
        ]

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
    def admin_url(self, remote: RemoteIds) -> str | None:
        """The product's edit page in the store's control panel (variants are edited there)."""
        product = remote.product_id or ""
        if not product.isdigit():
            return None
        host = f"store-{self.settings.store_hash}.mybigcommerce.com"
        return f"https://{host}/manage/products/edit/{product}"

    @hookimpl
    def list_listings(self, page: str | None) -> ListingsPage:
        """One page of the store's serialized variants (see :mod:`.listings`)."""
        return read_listings(self.client, page)

    @hookimpl
    def fetch_orders(self, since: datetime | None, page: str | None) -> OrdersPage:
        """One page of orders modified at or after ``since``, oldest first (see :mod:`.orders`)."""
        cursor = OrdersCursor.decode(page, since, self.log)
        result = fetch_orders_page(
            self.client, self.name, cursor, self.settings.orders_page_size, self.lines
        )
        self.log.info(
            "bigcommerce.orders_page",
            orders=len(result.orders),
            page=cursor.page,
            more=result.next_page is not None,
        )
        return result


def _subscription(hook: dict[str, Any]) -> WebhookSubscription:
    return WebhookSubscription(
        remote_id=str(hook.get("id") or ""),
        topic=str(hook.get("scope") or ""),
        url=str(hook.get("destination") or ""),
        # BigCommerce deactivates a hook after the final retry of a failed delivery.
        state="active" if hook.get("is_active") else "disabled",
    )

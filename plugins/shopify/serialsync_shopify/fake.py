"""A fake Shopify store: the Admin GraphQL operations the plugin uses, with Shopify's rules.

:class:`FakeShopify` keeps products, variants, inventory levels and orders in memory and answers
``POST /admin/api/{version}/graphql.json``. It parses every document with graphql-core (and,
when given the published schema, validates it first), and enforces what the real store does:

* the calculated-cost leaky bucket (``extensions.cost`` on every answer; ``THROTTLED`` when the
  requested cost exceeds what is available, as HTTP 200 or, if configured, 429) and the
  1000-point single-query limit (``MAX_COST_EXCEEDED``);
* at most 250 items in an input array, at most ``max_variants`` variants per product;
* one variant per option-value combination (``VARIANT_ALREADY_EXISTS``), the last variant that
  cannot be deleted (``CANNOT_DELETE_LAST_VARIANT``), bulk creates applied all or nothing;
* ``productSet`` on an existing product deletes the variants it is not given;
* ``inventorySetQuantities`` requires ``@idempotent(key:)`` and ``changeFromQuantity`` on every
  quantity (2026-04 and later), replays a repeated key, and checks a non-null compare value;
* ``userErrors`` shaped as Shopify shapes them (``field`` path, ``message``, ``code``); given
  the schema, every code it answers must be a value of the mutation's user-error code enum
  there (or null), else the fake raises :class:`~serialsync_shopify.fake_graphql.FakeContractError`.

Where the exact wording or code of an error is not documented, the choice is marked *assumed*.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from graphql import GraphQLError, GraphQLSchema, parse, validate
from graphql.execution.values import get_variable_values
from serialsync import FinancialStatus
from serialsync.testing import FakeChannel, FakeListing, Faults, OrderDamage, WebhookSender

from serialsync_shopify.fake_bulk import BulkBook
from serialsync_shopify.fake_catalog import (
    PRIMARY_LOCATION,
    Catalog,
    FakeProduct,
    FakeVariant,
)
from serialsync_shopify.fake_graphql import (
    Document,
    GraphQLFaultError,
    check_user_error_codes,
    connection,
)
from serialsync_shopify.fake_orders import FakeOrder, OrderBook
from serialsync_shopify.fake_webhooks import WebhookBook, retry_delays

__all__ = ["DEFAULT_CLIENT_SECRET", "DEFAULT_TOKEN", "PRIMARY_LOCATION", "FakeShopify"]

DEFAULT_TOKEN = "shpat_fake_0123456789abcdef"  # noqa: S105 - the fake's own token
DEFAULT_CLIENT_SECRET = "shpss_fake_0123456789abcdef"  # noqa: S105 - the fake app's secret
MAX_QUERY_COST = 1000
_PATH = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
_BULK_RESULT = re.compile(r"^/bulk-results/(\d+)\.jsonl$")


class FakeShopify(FakeChannel):
    """An in-memory Shopify store answering the plugin's GraphQL operations.

    All arguments are optional. ``clock`` drives the cost bucket's refill (tests pass the same
    fake clock the connector sleeps on); ``now`` stamps orders; ``schema`` (a graphql-core
    schema built from the published SDL) makes the fake refuse any document that does not
    validate; ``throttle_status`` is the HTTP status of a ``THROTTLED`` answer (200 or 429).
    """

    host = "fake-shop.myshopify.com"

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] | None = None,
        access_token: str = DEFAULT_TOKEN,
        max_variants: int = 2048,
        bucket_size: float = 1000.0,
        restore_rate: float = 100.0,
        throttle_status: int = 200,
        schema: GraphQLSchema | None = None,
        shop_name: str = "Fake Shop",
        client_secret: str = DEFAULT_CLIENT_SECRET,
        webhook_sender: WebhookSender | None = None,
    ) -> None:
        super().__init__(faults=faults, sleep=sleep)
        self.access_token = access_token
        self.bucket_size = bucket_size
        self.restore_rate = restore_rate
        self.throttle_status = throttle_status
        self.schema = schema
        self.shop_name = shop_name
        self._clock = clock
        self._available = bucket_size
        self._refilled_at = clock()
        self._ids = 1000
        self.catalog = Catalog(max_variants=max_variants, gid=self._gid)
        self.orderbook = OrderBook(
            self.catalog, now=now or (lambda: datetime.now(UTC)), gid=self._gid
        )
        #: Root fields of every executed operation, in order (``"productVariantsBulkCreate"``).
        self.calls: list[str] = []
        #: Every document received, as ``(operation name, query text)``.
        self.documents: list[tuple[str | None, str]] = []
        self.client_secret = client_secret
        #: Subscriptions, and signed deliveries of order events (``webhooks.sender.log``).
        self.webhooks = WebhookBook(
            gid=self._gid,
            client_secret=client_secret,
            shop_domain=self.host,
            api_version="2026-07",
            sender=webhook_sender
            or WebhookSender(seed=faults.seed if faults else None, delays=retry_delays()),
            lock=self.lock,
        )
        #: Orders the API cannot show yet (Shopify may deliver an event before the order reads),
        #: and whether new orders start so (a test clears both to make them readable).
        self.hidden_orders: set[str] = set()
        self.hide_new_orders = False
        #: Bulk query operations (``bulk.lag``: reads before one completes).
        self.bulk = BulkBook(
            resolve_root=lambda name, args: self._queries()[name](args),
            gid=self._gid,
            now=now or (lambda: datetime.now(UTC)),
            secret=client_secret,
        )
        # Where the fake is served and which API version was asked, from the request at hand
        # (a bulk result's URL points back at the fake; bulk limits depend on the version).
        self._base_url = f"https://{self.host}"
        self._api_version = "2026-07"

    # -- the store, for tests and the sandbox -------------------------------------------------

    @property
    def max_variants(self) -> int:
        """The per-product variant limit (``shop.resourceLimits.maxProductVariants``)."""
        return self.catalog.max_variants

    @max_variants.setter
    def max_variants(self, value: int) -> None:
        self.catalog.max_variants = value

    @property
    def products(self) -> dict[str, FakeProduct]:
        """Products by id."""
        return self.catalog.products

    @property
    def variants(self) -> dict[str, FakeVariant]:
        """Variants by id."""
        return self.catalog.variants

    @property
    def levels(self) -> dict[tuple[str, str], int]:
        """Available quantity by ``(inventory item id, location id)``."""
        return self.catalog.levels

    @property
    def locations(self) -> dict[str, str]:
        """Location names by id; the first is the primary location."""
        return self.catalog.locations

    @property
    def orders(self) -> dict[str, FakeOrder]:
        """Orders by id."""
        return self.orderbook.orders

    def product_by_handle(self, handle: str) -> FakeProduct | None:
        """The product with this handle, if any."""
        return self.catalog.product_by_handle(handle)

    def variants_with_sku(self, sku: str) -> list[FakeVariant]:
        """Every variant carrying ``sku`` (Shopify does not keep SKUs unique)."""
        return self.catalog.variants_with_sku(sku)

    def stock_of(self, variant_id: str) -> int:
        """A variant's available quantity over all locations."""
        return self.catalog.stock_of(variant_id)

    # -- FakeChannel --------------------------------------------------------------------------

    def listings(self) -> list[FakeListing]:
        """Every variant, with its stock at all locations, and whether it can be bought.

        The shop's plain products (created by :meth:`create_order`) are left out. Read under
        the fake's lock: a watcher (the oversell benchmark) reads while requests change it.
        """
        with self.lock:
            return self._listings()

    def listings_of(self, skus: Collection[str]) -> list[FakeListing]:
        """:meth:`listings` of these SKUs only (see :meth:`FakeChannel.listings_of`)."""
        with self.lock:
            return self._listings(set(skus))

    def _listings(self, only: set[str] | None = None) -> list[FakeListing]:
        out = []
        for variant in list(self.variants.values()):
            if only is not None and variant.sku not in only:
                continue
            product = self.products[variant.product_id]
            if product.plain:
                continue  # the shop's own product, sold beside ours: never a listing of ours
            stock = self.stock_of(variant.id)
            out.append(
                FakeListing(
                    sku=variant.sku,
                    stock=stock,
                    product=product.handle,
                    sellable=product.status == "ACTIVE" and stock > 0,
                )
            )
        return out

    def storefront(self) -> dict[str, bool]:
        """Each product holding a variant, by handle: shown only while ``ACTIVE`` (a draft or
        archived product is unavailable on every sales channel)."""
        return {
            product.handle: product.status == "ACTIVE"
            for product in self.products.values()
            if not product.plain and product.variant_ids
        }

    def create_order(
        self,
        lines: Sequence[tuple[str | None, int]],
        *,
        status: FinancialStatus = FinancialStatus.PAID,
    ) -> str:
        """A shopper buys ``(sku, quantity)`` lines; stock is taken as Shopify does.

        ``None`` is a custom line item (no variant, no SKU); a SKU that is not an integration
        id is a plain product of the shop, created on first sale. Raises ``ValueError`` when
        an integration id is not sold or not in stock (policy DENY).
        """
        with self.lock:
            order_id = self.orderbook.create(lines, status=status)
            if self.hide_new_orders:
                self.hidden_orders.add(order_id)
            self._order_events(order_id, "ORDERS_CREATE")
            return order_id

    def set_order_status(self, order_id: str, status: FinancialStatus) -> None:
        """Move an order on as staff would: pay, cancel (restocks), refund (restocks)."""
        with self.lock:
            self.orderbook.set_status(order_id, status)
            self._order_events(order_id, "ORDERS_UPDATED")

    def damage_order(self, order_id: str, damage: OrderDamage) -> None:
        """Spoil an order as a broken app or import leaves one (see ``OrderBook.damage``)."""
        with self.lock:
            self.orderbook.damage(order_id, damage)

    def cancel_order(self, order_id: str) -> None:
        """Cancel an order, restocking its lines and refunding what was paid."""
        with self.lock:
            self.orderbook.cancel(order_id)
            self._order_events(order_id, "ORDERS_UPDATED")

    def refund_order(self, order_id: str, quantities: dict[str, int] | None = None) -> None:
        """Refund (and restock) whole lines, or ``{line id: quantity}`` of them."""
        with self.lock:
            self.orderbook.refund(order_id, quantities)
            self._order_events(order_id, "ORDERS_UPDATED")

    def _order_events(self, order_id: str, topic: str) -> None:
        # Shopify sends the specific topics beside the general one: a paid order also raises
        # orders/paid, a cancelled one orders/cancelled.
        order = self.orderbook.orders[order_id]
        topics = [topic]
        if order.cancelled_at is not None:
            topics.append("ORDERS_CANCELLED")
        elif order.financial == "PAID":
            topics.append("ORDERS_PAID")
        for each in topics:
            self.webhooks.order_event(each, order)

    def connector_settings(self, base_url: str) -> dict[str, Any]:
        """Settings for the Shopify connector pointing at this fake served at ``base_url``."""
        return {
            "shop": self.host,
            "access_token": self.access_token,
            "client_secret": self.client_secret,
            "base_url": base_url,
        }

    # -- helpers for tests ----------------------------------------------------------------

    def bucket_available(self) -> float:
        """Points in the cost bucket now."""
        with self.lock:
            self._refill()
            return self._available

    def drain_bucket(self, to: float = 0.0) -> None:
        """Empty the cost bucket down to ``to`` points (to provoke throttling)."""
        with self.lock:
            self._refill()
            self._available = to

    # -- HTTP -----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one HTTP request as the Admin API would (and a bulk result's download)."""
        result = _BULK_RESULT.match(request.url.path)
        if result is not None and request.method == "GET":
            with self.lock:
                status, body = self.bulk.download(
                    result.group(1), request.url.params.get("signature", "")
                )
            kind = "application/jsonl" if status == 200 else "application/xml"
            return httpx.Response(status, content=body, headers={"content-type": kind})
        path = _PATH.match(request.url.path)
        if not path:
            return _json(404, {"errors": "Not Found"})
        if request.method != "POST":
            return _json(405, {"errors": "Method Not Allowed"})
        if request.headers.get("x-shopify-access-token") != self.access_token:
            return _json(
                401,
                {
                    "errors": "[API] Invalid API key or access token "
                    "(unrecognized login or wrong password)"
                },
            )
        try:
            body = json.loads(request.content)
            text = body["query"]
            variables = body.get("variables") or {}
            if not isinstance(text, str) or not isinstance(variables, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return _json(400, {"errors": {"query": "Required parameter missing or invalid"}})
        with self.lock:
            self._base_url = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
            self._api_version = path.group(1)
            self.documents.append((body.get("operationName"), text))
            return self._graphql(text, body.get("operationName"), variables)

    def _graphql(
        self, text: str, operation_name: str | None, variables: dict[str, Any]
    ) -> httpx.Response:
        try:
            ast = parse(text)
        except GraphQLError as exc:
            return _json(
                200, {"errors": [{"message": exc.message, "extensions": {"code": "PARSE_ERROR"}}]}
            )
        if self.schema is not None:
            problems = validate(self.schema, ast)
            if problems:
                return _json(
                    200,
                    {
                        "errors": [
                            {"message": p.message, "extensions": {"code": "VALIDATION_FAILED"}}
                            for p in problems
                        ]
                    },
                )
        try:
            document = Document(ast, operation_name, variables)
            requested = document.cost()
        except GraphQLFaultError as fault:
            return _json(fault.status, {"errors": [fault.as_error()]})
        if self.schema is not None:
            # Variables are checked against their input types, as Shopify does before running.
            coerced = get_variable_values(
                self.schema, document.operation.variable_definitions or (), variables
            )
            if isinstance(coerced, list):
                return _json(
                    200,
                    {
                        "errors": [
                            {"message": e.message, "extensions": {"code": "INVALID_VARIABLE"}}
                            for e in coerced
                        ]
                    },
                )
        self._refill()
        if requested > MAX_QUERY_COST:
            # Assumed wording; the code and extensions are Shopify's.
            too_costly = GraphQLFaultError(
                f"Query cost is {requested}, which exceeds the single query max cost limit "
                f"({MAX_QUERY_COST}).",
                "MAX_COST_EXCEEDED",
                cost=requested,
                maxCost=MAX_QUERY_COST,
            )
            return _json(
                200, {"errors": [too_costly.as_error()], "extensions": self._cost(requested, None)}
            )
        if requested > self._available:
            throttled = GraphQLFaultError(
                "Throttled",
                "THROTTLED",
                documentation="https://shopify.dev/api/usage/rate-limits",
            )
            return _json(
                self.throttle_status,
                {"errors": [throttled.as_error()], "extensions": self._cost(requested, None)},
            )
        data: dict[str, Any] = {}
        errors: list[dict[str, Any]] = []
        for root in document.root_fields():
            key = root.alias.value if root.alias else root.name.value
            try:
                value = self._resolve_root(document, root)
                if self.schema is not None and document.is_mutation:
                    check_user_error_codes(self.schema, root.name.value, value)
                data[key] = document.project(value, root.selection_set)
                self.calls.append(root.name.value)
            except GraphQLFaultError as fault:
                data[key] = None
                errors.append({**fault.as_error(), "path": [key]})
        actual = document.cost(data)
        self._available = max(0.0, self._available - actual)
        body: dict[str, Any] = {"data": data, "extensions": self._cost(requested, actual)}
        if errors:
            body["errors"] = errors
        return _json(200, body)

    def _refill(self) -> None:
        now = self._clock()
        elapsed = max(0.0, now - self._refilled_at)
        self._available = min(self.bucket_size, self._available + elapsed * self.restore_rate)
        self._refilled_at = now

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": {
                    "maximumAvailable": self.bucket_size,
                    "currentlyAvailable": round(self._available, 1),
                    "restoreRate": self.restore_rate,
                },
            }
        }

    # -- root fields ------------------------------------------------------------------------

    def _resolve_root(self, document: Document, root: Any) -> Any:
        name = root.name.value
        args = document.arguments(root)
        if document.is_mutation:
            if name == "inventorySetQuantities":
                key = document.directive(root, "idempotent")
                return self.catalog.set_quantities(args, (key or {}).get("key"))
            mutations: dict[str, Callable[[dict[str, Any]], Any]] = {
                "productSet": self.catalog.product_set,
                "productVariantsBulkCreate": self.catalog.bulk_create,
                "productVariantsBulkUpdate": self.catalog.bulk_update,
                "productVariantsBulkDelete": self.catalog.bulk_delete,
                "productUpdate": self.catalog.product_update,
                "productDelete": self.catalog.product_delete,
                "metafieldDefinitionCreate": self.catalog.metafields.create_definition,
                "metafieldsDelete": self.catalog.delete_metafields,
                "productVariantDetachMedia": self.catalog.detach_media,
                "fileDelete": self.catalog.file_delete,
                "webhookSubscriptionCreate": self.webhooks.create,
                "webhookSubscriptionDelete": self.webhooks.delete,
                "bulkOperationRunQuery": lambda a: self.bulk.run_query(
                    a, api_version=self._api_version, schema=self.schema
                ),
            }
            resolver = mutations.get(name)
            if resolver is None:
                raise GraphQLFaultError(
                    f"The fake does not implement mutation {name}", "NOT_IMPLEMENTED"
                )
            return resolver(args)
        query = self._queries().get(name)
        if query is None:
            raise GraphQLFaultError(
                f"The fake does not implement query field {name}", "NOT_IMPLEMENTED"
            )
        return query(args)

    def _queries(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """The root query fields the fake answers, by name."""
        return {
            "shop": lambda a: self._shop_view(),
            "location": self.catalog.location,
            "productByIdentifier": self.catalog.product_by_identifier,
            "product": lambda a: self.catalog.product_view(a.get("id")),
            "productVariant": lambda a: self.catalog.variant_view(a.get("id")),
            "productVariants": self.catalog.variants_search,
            "nodes": lambda a: [self._node(i) for i in self.catalog.node_ids(a)],
            "node": lambda a: self._node(a.get("id")),
            "orders": self._readable_orders,
            "order": lambda a: self._readable_order(a.get("id")),
            "webhookSubscriptions": self.webhooks.search,
            "metafieldDefinitions": self.catalog.metafields.search,
            "products": lambda a: connection(
                list(self.catalog.products.values()),
                a,
                key=lambda p: (int(p.id.rsplit("/", 1)[-1]),),
                view=lambda p: self.catalog.product_view(p.id),
            ),
            "productVariantsCount": self._variants_count,
            "bulkOperation": lambda a: self.bulk.read(a.get("id"), self._base_url),
            "currentBulkOperation": lambda a: self.bulk.current(self._base_url),
        }

    def _readable_orders(self, args: dict[str, Any]) -> dict[str, Any]:
        if not self.hidden_orders:
            return self.orderbook.search(args)
        hidden = {i: self.orderbook.orders.pop(i) for i in self.hidden_orders if i in self.orders}
        try:
            return self.orderbook.search(args)
        finally:
            self.orderbook.orders.update(hidden)

    def _readable_order(self, order_id: str | None) -> dict[str, Any] | None:
        if order_id in self.hidden_orders:
            return None
        return self.orderbook.order_view(order_id)

    # -- views (what the projector walks) -----------------------------------------------

    def _shop_view(self) -> dict[str, Any]:
        return {
            "__typename": "Shop",
            "name": self.shop_name,
            "myshopifyDomain": self.host,
            "currencyCode": "USD",
            "plan": {
                "publicDisplayName": "Basic",
                "partnerDevelopment": False,
                "shopifyPlus": False,
            },
            "resourceLimits": {
                "maxProductVariants": self.max_variants,
                "maxProductOptions": 3,
                "locationLimit": 10,
                "redirectLimitReached": False,
            },
        }

    def _variants_count(self, args: dict[str, Any]) -> dict[str, Any]:
        """``productVariantsCount(limit:)``: counted up to ``limit`` (10,000 by default, null
        for no limit); ``AT_LEAST`` when the count stopped there."""
        total = len(self.catalog.variants)
        limit = args.get("limit", 10_000)
        if limit is not None and total > int(limit):
            return {"__typename": "Count", "count": int(limit), "precision": "AT_LEAST"}
        return {"__typename": "Count", "count": total, "precision": "EXACT"}

    def _node(self, node_id: str | None) -> dict[str, Any] | None:
        if node_id in self.bulk.ops:
            return self.bulk.read(node_id, self._base_url)
        found = self.catalog.node(node_id)
        return found if found is not None else self.orderbook.order_view(node_id)

    def _gid(self, kind: str) -> str:
        self._ids += 1
        return f"gid://shopify/{kind}/{self._ids}"


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )

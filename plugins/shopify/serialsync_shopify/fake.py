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
* ``userErrors`` shaped as Shopify shapes them (``field`` path, ``message``, ``code``).

Where the exact wording or code of an error is not documented, the choice is marked *assumed*.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from graphql import GraphQLError, GraphQLSchema, parse, validate
from graphql.execution.values import get_variable_values
from serialsync import FinancialStatus
from serialsync.testing import FakeChannel, FakeListing, Faults

from serialsync_shopify.fake_graphql import Document, GraphQLFaultError

DEFAULT_TOKEN = "shpat_fake_0123456789abcdef"  # noqa: S105 - the fake's own token
PRIMARY_LOCATION = "gid://shopify/Location/1"
MAX_INPUT_ARRAY = 250
MAX_QUERY_COST = 1000
_PATH = re.compile(r"^/admin/api/(\d{4}-\d{2}|unstable)/graphql\.json$")
_REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_created",
        "movement_updated",
        "movement_received",
        "movement_canceled",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)


@dataclass
class _Variant:
    id: str
    product_id: str
    sku: str
    price: Decimal
    option_value: str
    inventory_item_id: str
    policy: str = "DENY"
    tracked: bool = True
    image: str | None = None


@dataclass
class _Product:
    id: str
    handle: str
    title: str
    status: str
    option_name: str
    description: str = ""
    vendor: str = ""
    metafields: dict[tuple[str, str], str] = field(default_factory=dict)
    variant_ids: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)


@dataclass
class _Line:
    id: str
    sku: str | None
    title: str
    quantity: int
    price: Decimal
    current_quantity: int


@dataclass
class _Order:
    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    financial: str
    lines: list[_Line]
    cancelled_at: datetime | None = None
    email: str | None = "shopper@example.com"
    currency: str = "USD"


class _UserErrorsError(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _user_error(path: Sequence[str | int], message: str, code: str | None) -> dict[str, Any]:
    return {"field": [str(p) for p in path] if path else None, "message": message, "code": code}


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
    ) -> None:
        super().__init__(faults=faults, sleep=sleep)
        self.access_token = access_token
        self.max_variants = max_variants
        self.bucket_size = bucket_size
        self.restore_rate = restore_rate
        self.throttle_status = throttle_status
        self.schema = schema
        self.shop_name = shop_name
        self._clock = clock
        self._now = now or (lambda: datetime.now(UTC))
        self._available = bucket_size
        self._refilled_at = clock()
        self._ids = 1000
        self._last_stamp: datetime | None = None
        self.products: dict[str, _Product] = {}
        self.variants: dict[str, _Variant] = {}
        self.levels: dict[tuple[str, str], int] = {}
        self.locations: dict[str, str] = {PRIMARY_LOCATION: "Main warehouse"}
        self.orders: dict[str, _Order] = {}
        self._idempotency: dict[str, tuple[str, dict[str, Any]]] = {}
        #: Root fields of every executed operation, in order (``"productVariantsBulkCreate"``).
        self.calls: list[str] = []
        #: Every document received, as ``(operation name, query text)``.
        self.documents: list[tuple[str | None, str]] = []
        self._number = 1000

    # -- FakeChannel --------------------------------------------------------------------------

    def listings(self) -> list[FakeListing]:
        """Every variant, with its stock at all locations, and whether it can be bought."""
        out = []
        for variant in self.variants.values():
            product = self.products[variant.product_id]
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

    def create_order(
        self, lines: Sequence[tuple[str, int]], *, status: FinancialStatus = FinancialStatus.PAID
    ) -> str:
        """A shopper buys ``(variant SKU, quantity)`` lines; stock is taken as Shopify does.

        Raises ``ValueError`` when a SKU is not sold or not in stock (policy DENY).
        """
        with self.lock:
            order_lines = []
            for sku, quantity in lines:
                variant = next((v for v in self.variants.values() if v.sku == sku), None)
                if variant is None:
                    raise ValueError(f"no variant with SKU {sku!r} is for sale")
                key = self._stocked_level(variant)
                if variant.tracked and variant.policy == "DENY" and self.levels[key] < quantity:
                    raise ValueError(f"{sku!r} is out of stock")
                self.levels[key] -= quantity
                product = self.products[variant.product_id]
                order_lines.append(
                    _Line(
                        id=self._gid("LineItem"),
                        sku=variant.sku,
                        title=f"{product.title} - {variant.option_value}",
                        quantity=quantity,
                        price=variant.price,
                        current_quantity=quantity,
                    )
                )
            stamp = self._stamp()
            self._number += 1
            order = _Order(
                id=self._gid("Order"),
                name=f"#{self._number}",
                created_at=stamp,
                updated_at=stamp,
                financial="PAID",
                lines=order_lines,
            )
            self.orders[order.id] = order
            if status is not FinancialStatus.PAID:
                self.set_order_status(order.id, status)
            return order.id

    def set_order_status(self, order_id: str, status: FinancialStatus) -> None:
        """Move an order on as staff would: pay, cancel (restocks), refund (restocks)."""
        with self.lock:
            if status is FinancialStatus.CANCELLED:
                self.cancel_order(order_id)
            elif status is FinancialStatus.REFUNDED:
                self.refund_order(order_id)
            elif status is FinancialStatus.PARTIALLY_REFUNDED:
                order = self.orders[order_id]
                self.refund_order(order_id, {order.lines[0].id: 1})
            else:
                order = self.orders[order_id]
                order.financial = "PAID" if status is FinancialStatus.PAID else "PENDING"
                order.updated_at = self._stamp()

    def cancel_order(self, order_id: str) -> None:
        """Cancel an order, restocking its lines and refunding what was paid."""
        with self.lock:
            order = self.orders[order_id]
            self._restock(order, {line.id: line.current_quantity for line in order.lines})
            order.cancelled_at = self._stamp()
            order.financial = "REFUNDED" if order.financial == "PAID" else "VOIDED"
            order.updated_at = order.cancelled_at

    def refund_order(self, order_id: str, quantities: dict[str, int] | None = None) -> None:
        """Refund (and restock) whole lines, or ``{line id: quantity}`` of them."""
        with self.lock:
            order = self.orders[order_id]
            wanted = quantities or {line.id: line.current_quantity for line in order.lines}
            self._restock(order, wanted)
            left = sum(line.current_quantity for line in order.lines)
            order.financial = "REFUNDED" if left == 0 else "PARTIALLY_REFUNDED"
            order.updated_at = self._stamp()

    def connector_settings(self, base_url: str) -> dict[str, Any]:
        """Settings for the Shopify connector pointing at this fake served at ``base_url``."""
        return {"shop": self.host, "access_token": self.access_token, "base_url": base_url}

    # -- helpers for tests ----------------------------------------------------------------

    def product_by_handle(self, handle: str) -> _Product | None:
        """The product with this handle, if any."""
        return next((p for p in self.products.values() if p.handle == handle), None)

    def variants_with_sku(self, sku: str) -> list[_Variant]:
        """Every variant carrying ``sku`` (Shopify does not keep SKUs unique)."""
        return [v for v in self.variants.values() if v.sku == sku]

    def stock_of(self, variant_id: str) -> int:
        """A variant's available quantity over all locations."""
        item = self.variants[variant_id].inventory_item_id
        return sum(self.levels.get((item, location), 0) for location in self.locations)

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
        """Answer one HTTP request as the Admin API would."""
        if not _PATH.match(request.url.path):
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
                return self._set_quantities(args, (key or {}).get("key"))
            mutations: dict[str, Callable[[dict[str, Any]], Any]] = {
                "productSet": self._product_set,
                "productVariantsBulkCreate": self._bulk_create,
                "productVariantsBulkUpdate": self._bulk_update,
                "productVariantsBulkDelete": self._bulk_delete,
            }
            resolver = mutations.get(name)
            if resolver is None:
                raise GraphQLFaultError(
                    f"The fake does not implement mutation {name}", "NOT_IMPLEMENTED"
                )
            return resolver(args)
        queries: dict[str, Callable[[dict[str, Any]], Any]] = {
            "shop": lambda a: self._shop_view(),
            "location": self._location,
            "productByIdentifier": self._product_by_identifier,
            "product": lambda a: self._product_view(a.get("id")),
            "productVariant": lambda a: self._variant_view(a.get("id")),
            "nodes": self._nodes,
            "node": lambda a: self._node(a.get("id")),
            "orders": self._orders,
            "order": lambda a: self._order_view(a.get("id")),
        }
        query = queries.get(name)
        if query is None:
            raise GraphQLFaultError(
                f"The fake does not implement query field {name}", "NOT_IMPLEMENTED"
            )
        return query(args)

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

    def _location(self, args: dict[str, Any]) -> dict[str, Any] | None:
        location_id = args.get("id") or PRIMARY_LOCATION
        if location_id not in self.locations:
            return None
        return {
            "__typename": "Location",
            "id": location_id,
            "name": self.locations[location_id],
            "isActive": True,
            "isPrimary": location_id == PRIMARY_LOCATION,
        }

    def _product_by_identifier(self, args: dict[str, Any]) -> dict[str, Any] | None:
        identifier = args.get("identifier") or {}
        if identifier.get("id"):
            return self._product_view(identifier["id"])
        if identifier.get("handle"):
            product = self.product_by_handle(str(identifier["handle"]))
            return self._product_view(product.id) if product else None
        custom = identifier.get("customId")
        if custom:
            for product in self.products.values():
                key = (custom.get("namespace") or "custom", custom["key"])
                if product.metafields.get(key) == custom["value"]:
                    return self._product_view(product.id)
        return None

    def _nodes(self, args: dict[str, Any]) -> list[Any]:
        ids = list(args.get("ids") or [])
        _check_size(ids, ["ids"])
        return [self._node(i) for i in ids]

    def _node(self, node_id: str | None) -> dict[str, Any] | None:
        if node_id in self.variants:
            return self._variant_view(node_id)
        if node_id in self.products:
            return self._product_view(node_id)
        if node_id in self.orders:
            return self._order_view(node_id)
        return None

    def _product_view(self, product_id: str | None) -> dict[str, Any] | None:
        product = self.products.get(product_id or "")
        if product is None:
            return None
        pid = product.id

        def metafield(a: dict[str, Any]) -> dict[str, Any] | None:
            value = product.metafields.get((a.get("namespace") or "custom", a.get("key", "")))
            return None if value is None else {"__typename": "Metafield", "value": value}

        def options(_a: dict[str, Any]) -> list[dict[str, Any]]:
            values = [self.variants[v].option_value for v in product.variant_ids]
            return [
                {
                    "__typename": "ProductOption",
                    "id": f"{pid}/Option/1",
                    "name": product.option_name,
                    "position": 1,
                    "values": values,
                    "optionValues": [
                        {"__typename": "ProductOptionValue", "name": v, "hasVariants": True}
                        for v in values
                    ],
                }
            ]

        def variants(a: dict[str, Any]) -> dict[str, Any]:
            items = [self.variants[v] for v in product.variant_ids]
            return _connection(
                items, a, key=lambda v: (_num(v.id),), view=lambda v: self._variant_view(v.id)
            )

        return {
            "__typename": "Product",
            "id": pid,
            "handle": product.handle,
            "title": product.title,
            "status": product.status,
            "vendor": product.vendor,
            "descriptionHtml": product.description,
            "metafield": metafield,
            "variantsCount": {"count": len(product.variant_ids), "precision": "EXACT"},
            "options": options,
            "variants": variants,
            "totalInventory": lambda _a: sum(self.stock_of(v) for v in product.variant_ids),
        }

    def _variant_view(self, variant_id: str | None) -> dict[str, Any] | None:
        variant = self.variants.get(variant_id or "")
        if variant is None:
            return None

        def level(a: dict[str, Any]) -> dict[str, Any] | None:
            quantity = self.levels.get((variant.inventory_item_id, a.get("locationId", "")))
            if quantity is None:
                return None
            return {
                "__typename": "InventoryLevel",
                "quantities": lambda q: [
                    {"name": n, "quantity": quantity} for n in q.get("names", [])
                ],
            }

        return {
            "__typename": "ProductVariant",
            "id": variant.id,
            "sku": variant.sku,
            "title": variant.option_value,
            "price": format(variant.price, "f"),
            "inventoryPolicy": variant.policy,
            "inventoryQuantity": self.stock_of(variant.id),
            "selectedOptions": [
                {
                    "name": self.products[variant.product_id].option_name,
                    "value": variant.option_value,
                }
            ],
            "inventoryItem": {
                "__typename": "InventoryItem",
                "id": variant.inventory_item_id,
                "sku": variant.sku,
                "tracked": variant.tracked,
                "inventoryLevel": level,
            },
            "product": lambda _a: self._product_view(variant.product_id),
        }

    def _orders(self, args: dict[str, Any]) -> dict[str, Any]:
        matches = [o for o in self.orders.values() if _order_matches(o, args.get("query"))]
        sort = args.get("sortKey") or "PROCESSED_AT"
        if sort == "UPDATED_AT":

            def key(o: _Order) -> tuple[Any, ...]:
                return (o.updated_at.isoformat(), _num(o.id))
        else:

            def key(o: _Order) -> tuple[Any, ...]:
                return (o.created_at.isoformat(), _num(o.id))

        return _connection(matches, args, key=key, view=lambda o: self._order_view(o.id))

    def _order_view(self, order_id: str | None) -> dict[str, Any] | None:
        order = self.orders.get(order_id or "")
        if order is None:
            return None
        total = sum((line.price * line.current_quantity for line in order.lines), Decimal("0"))

        def money(amount: Decimal) -> dict[str, Any]:
            value = {"amount": format(amount, "f"), "currencyCode": order.currency}
            return {"shopMoney": value, "presentmentMoney": value}

        def line_items(a: dict[str, Any]) -> dict[str, Any]:
            return _connection(
                order.lines,
                a,
                key=lambda line: (_num(line.id),),
                view=lambda line: {
                    "__typename": "LineItem",
                    "id": line.id,
                    "sku": line.sku,
                    "name": line.title,
                    "title": line.title,
                    "quantity": line.quantity,
                    "currentQuantity": line.current_quantity,
                    "originalUnitPriceSet": money(line.price),
                },
            )

        return {
            "__typename": "Order",
            "id": order.id,
            "name": order.name,
            "createdAt": _iso(order.created_at),
            "updatedAt": _iso(order.updated_at),
            "cancelledAt": _iso(order.cancelled_at) if order.cancelled_at else None,
            "displayFinancialStatus": order.financial,
            "currencyCode": order.currency,
            "email": order.email,
            "totalPriceSet": money(total),
            "lineItems": line_items,
        }

    # -- mutations ------------------------------------------------------------------------

    def _product_set(self, args: dict[str, Any]) -> dict[str, Any]:
        data = args.get("input") or {}
        identifier = args.get("identifier") or {}
        try:
            product = self._product_set_apply(data, identifier)
        except _UserErrorsError as exc:
            return {"product": None, "productSetOperation": None, "userErrors": exc.errors}
        return {
            "product": self._product_view(product.id),
            "productSetOperation": None,
            "userErrors": [],
        }

    def _product_set_apply(self, data: dict[str, Any], identifier: dict[str, Any]) -> _Product:
        existing: _Product | None = None
        if identifier.get("id"):
            existing = self.products.get(identifier["id"])
            if existing is None:
                raise _UserErrorsError(
                    [
                        _user_error(
                            ["identifier", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST"
                        )
                    ]
                )
        elif identifier.get("handle"):
            existing = self.product_by_handle(identifier["handle"])
        variants_in = list(data.get("variants") or [])
        if len(variants_in) > self.max_variants:
            raise _UserErrorsError(
                [
                    _user_error(
                        ["input", "variants"],
                        f"Exceeded the maximum of {self.max_variants} variants per product",
                        "VARIANTS_OVER_LIMIT",
                    )
                ]
            )
        options = list(data.get("productOptions") or [])
        if variants_in and not options and existing is None:
            raise _UserErrorsError(
                [
                    _user_error(
                        ["input", "productOptions"],
                        "Product options input is required when updating variants",
                        "PRODUCT_OPTIONS_INPUT_MISSING",
                    )
                ]
            )
        option_name = (
            str(options[0].get("name"))
            if options
            else (existing.option_name if existing else "Title")
        )
        declared = (
            {str(v.get("name")) for v in (options[0].get("values") or [])} if options else None
        )
        handle = data.get("handle") or _slug(str(data.get("title") or "product"))
        if existing is None and self.product_by_handle(handle) is not None:
            # Assumed: an explicit handle already in use is refused rather than renamed.
            raise _UserErrorsError(
                [
                    _user_error(
                        ["input", "handle"],
                        f"Handle '{handle}' is already in use",
                        "HANDLE_NOT_UNIQUE",
                    )
                ]
            )
        errors: list[dict[str, Any]] = []
        seen: set[str] = set()
        prepared: list[tuple[dict[str, Any], str, Decimal]] = []
        for index, variant in enumerate(variants_in):
            path = ["input", "variants", str(index)]
            value = _option_value(variant, option_name)
            if value is None:
                errors.append(
                    _user_error(
                        [*path, "optionValues"],
                        "Option values are missing",
                        "OPTION_VALUES_MISSING",
                    )
                )
                continue
            if declared is not None and value not in declared:
                errors.append(
                    _user_error(
                        [*path, "optionValues"],
                        f"Option value '{value}' does not exist",
                        "OPTION_VALUE_DOES_NOT_EXIST",
                    )
                )
                continue
            if value in seen:
                errors.append(
                    _user_error(
                        [*path, "optionValues"],
                        f"Duplicated option value '{value}'",
                        "DUPLICATED_OPTION_VALUE",
                    )
                )
                continue
            seen.add(value)
            price = _price(variant.get("price"))
            if price is None or price < 0:
                errors.append(
                    _user_error(
                        [*path, "price"],
                        "Price must be greater than or equal to 0",
                        "INVALID_VARIANT",
                    )
                )
                continue
            sku_error = _sku_error(variant)
            if sku_error:
                errors.append(_user_error([*path, "sku"], sku_error, "INVALID_VARIANT"))
                continue
            for quantity in variant.get("inventoryQuantities") or []:
                if quantity.get("locationId") not in self.locations:
                    errors.append(
                        _user_error(
                            [*path, "inventoryQuantities"],
                            "Location does not exist",
                            "INVALID_INPUT",
                        )
                    )
            prepared.append((variant, value, price))
        if errors:
            raise _UserErrorsError(errors)
        if existing is None:
            product = _Product(
                id=self._gid("Product"),
                handle=handle,
                title=str(data.get("title") or ""),
                status=str(data.get("status") or "ACTIVE"),
                option_name=option_name,
                description=str(data.get("descriptionHtml") or ""),
                vendor=str(data.get("vendor") or ""),
            )
            self.products[product.id] = product
        else:
            product = existing
            product.option_name = option_name
            for key in ("title", "status"):
                if data.get(key):
                    setattr(product, key, str(data[key]))
        for metafield in data.get("metafields") or []:
            product.metafields[(metafield.get("namespace") or "custom", metafield["key"])] = str(
                metafield["value"]
            )
        for file in data.get("files") or []:
            product.media.append(str(file.get("originalSource")))
        # The trap: every variant not in the input is deleted.
        kept: list[str] = []
        by_value = {self.variants[v].option_value: v for v in product.variant_ids}
        for variant, value, price in prepared:
            if value in by_value:
                current = self.variants[by_value[value]]
                current.price = price
                current.sku = str(
                    (variant.get("inventoryItem") or {}).get("sku")
                    or variant.get("sku")
                    or current.sku
                )
                kept.append(current.id)
            else:
                created = self._new_variant(
                    product, variant, value, price, set_quantities="productSet"
                )
                kept.append(created.id)
        for gone in set(product.variant_ids) - set(kept):
            self._drop_variant(gone)
        product.variant_ids = kept
        return product

    def _bulk_create(self, args: dict[str, Any]) -> dict[str, Any]:
        variants_in = list(args.get("variants") or [])
        _check_size(variants_in, ["variants"])
        product = self.products.get(str(args.get("productId")))
        if product is None:
            return {
                "product": None,
                "productVariants": None,
                "userErrors": [
                    _user_error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
                ],
            }
        existing = {self.variants[v].option_value for v in product.variant_ids}
        if len(product.variant_ids) + len(variants_in) > self.max_variants:
            # Assumed code and wording; the limit itself is Shopify's.
            return {
                "product": self._product_view(product.id),
                "productVariants": None,
                "userErrors": [
                    _user_error(
                        ["variants"],
                        f"You can only have a maximum of {self.max_variants} variants per product",
                        "INVALID_INPUT",
                    )
                ],
            }
        errors: list[dict[str, Any]] = []
        prepared: list[tuple[dict[str, Any], str, Decimal]] = []
        for index, variant in enumerate(variants_in):
            path = ["variants", str(index)]
            value = _option_value(variant, product.option_name)
            if value is None:
                errors.append(
                    _user_error(
                        [*path, "optionValues"],
                        "You need to add option values for " + product.option_name,
                        "NEED_TO_ADD_OPTION_VALUES",
                    )
                )
                continue
            if value in existing:
                errors.append(
                    _user_error(
                        [*path], f"The variant '{value}' already exists.", "VARIANT_ALREADY_EXISTS"
                    )
                )
                continue
            existing.add(value)
            price = _price(variant.get("price"))
            if price is None or price < 0:
                errors.append(
                    _user_error(
                        [*path, "price"],
                        "Price must be greater than or equal to 0",
                        "GREATER_THAN_OR_EQUAL_TO",
                    )
                )
                continue
            sku_error = _sku_error(variant)
            if sku_error:
                errors.append(_user_error([*path, "inventoryItem", "sku"], sku_error, "INVALID"))
                continue
            bad_location = [
                q
                for q in variant.get("inventoryQuantities") or []
                if q.get("locationId") not in self.locations
            ]
            if bad_location:
                errors.append(
                    _user_error(
                        [*path, "inventoryQuantities"],
                        "Location not found",
                        "TRACKED_VARIANT_LOCATION_NOT_FOUND",
                    )
                )
                continue
            prepared.append((variant, value, price))
        if errors:
            # All or nothing: one refused variant and none is created.
            return {
                "product": self._product_view(product.id),
                "productVariants": None,
                "userErrors": errors,
            }
        for media in args.get("media") or []:
            product.media.append(str(media.get("originalSource")))
        created = [
            self._new_variant(product, variant, value, price, set_quantities="bulk")
            for variant, value, price in prepared
        ]
        product.variant_ids.extend(v.id for v in created)
        return {
            "product": self._product_view(product.id),
            "productVariants": [self._variant_view(v.id) for v in created],
            "userErrors": [],
        }

    def _bulk_update(self, args: dict[str, Any]) -> dict[str, Any]:
        variants_in = list(args.get("variants") or [])
        _check_size(variants_in, ["variants"])
        product = self.products.get(str(args.get("productId")))
        if product is None:
            return {
                "product": None,
                "productVariants": None,
                "userErrors": [
                    _user_error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
                ],
            }
        errors: list[dict[str, Any]] = []
        valid: list[tuple[_Variant, dict[str, Any]]] = []
        for index, variant in enumerate(variants_in):
            path = ["variants", str(index)]
            if not variant.get("id"):
                errors.append(
                    _user_error(
                        [*path, "id"], "Product variant ID is missing", "PRODUCT_VARIANT_ID_MISSING"
                    )
                )
                continue
            current = self.variants.get(str(variant["id"]))
            if current is None or current.product_id != product.id:
                errors.append(
                    _user_error(
                        [*path, "id"],
                        "Product variant does not exist",
                        "PRODUCT_VARIANT_DOES_NOT_EXIST",
                    )
                )
                continue
            if variant.get("inventoryQuantities"):
                errors.append(
                    _user_error(
                        [*path, "inventoryQuantities"],
                        "Inventory quantities can only be provided during create",
                        "NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE",
                    )
                )
                continue
            if "price" in variant:
                price = _price(variant.get("price"))
                if price is None or price < 0:
                    errors.append(
                        _user_error(
                            [*path, "price"],
                            "Price must be greater than or equal to 0",
                            "GREATER_THAN_OR_EQUAL_TO",
                        )
                    )
                    continue
            valid.append((current, variant))
        if errors and not args.get("allowPartialUpdates"):
            return {
                "product": self._product_view(product.id),
                "productVariants": None,
                "userErrors": errors,
            }
        for current, variant in valid:
            if "price" in variant:
                current.price = _price(variant["price"]) or Decimal("0")
            if variant.get("inventoryPolicy"):
                current.policy = str(variant["inventoryPolicy"])
        return {
            "product": self._product_view(product.id),
            "productVariants": [self._variant_view(c.id) for c, _ in valid],
            "userErrors": errors,
        }

    def _bulk_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        ids = [str(i) for i in args.get("variantsIds") or []]
        _check_size(ids, ["variantsIds"])
        product = self.products.get(str(args.get("productId")))
        if product is None:
            return {
                "product": None,
                "userErrors": [
                    _user_error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
                ],
            }
        if any(i not in product.variant_ids for i in ids):
            return {
                "product": None,
                "userErrors": [
                    _user_error(
                        ["variantsIds"],
                        "At least one variant does not belong to the product",
                        "AT_LEAST_ONE_VARIANT_DOES_NOT_BELONG_TO_THE_PRODUCT",
                    )
                ],
            }
        if set(product.variant_ids) <= set(ids):
            return {
                "product": None,
                "userErrors": [
                    _user_error(
                        ["variantsIds"],
                        "Cannot delete the last variant of a product",
                        "CANNOT_DELETE_LAST_VARIANT",
                    )
                ],
            }
        for variant_id in ids:
            self._drop_variant(variant_id)
        gone = set(ids)
        product.variant_ids = [v for v in product.variant_ids if v not in gone]
        return {"product": self._product_view(product.id), "userErrors": []}

    def _set_quantities(self, args: dict[str, Any], key: Any) -> dict[str, Any]:
        if not key:
            # Assumed wording and code: required from 2026-04.
            raise GraphQLFaultError(
                "The @idempotent directive with a key is required for inventorySetQuantities",
                "BAD_REQUEST",
            )
        data = args.get("input") or {}
        quantities = list(data.get("quantities") or [])
        _check_size(quantities, ["input", "quantities"])
        for index, quantity in enumerate(quantities):
            if "changeFromQuantity" not in quantity:
                # Assumed code; the rule (omitting it is an error) is Shopify's.
                raise GraphQLFaultError(
                    f"input.quantities.{index}.changeFromQuantity must be given "
                    "(pass null to skip the compare check)",
                    "BAD_REQUEST",
                )
        fingerprint = json.dumps(data, sort_keys=True, default=str)
        previous = self._idempotency.get(str(key))
        if previous is not None:
            if previous[0] != fingerprint:
                return {
                    "inventoryAdjustmentGroup": None,
                    "userErrors": [
                        _user_error(
                            ["input"],
                            "The same idempotency key was used with different parameters",
                            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                        )
                    ],
                }
            return previous[1]  # a replay: nothing is applied twice
        result = self._apply_quantities(data, quantities)
        self._idempotency[str(key)] = (fingerprint, result)
        return result

    def _apply_quantities(
        self, data: dict[str, Any], quantities: list[dict[str, Any]]
    ) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        if data.get("name") not in ("available", "on_hand"):
            errors.append(
                _user_error(
                    ["input", "name"],
                    "The quantity name must be available or on_hand",
                    "INVALID_NAME",
                )
            )
        if data.get("reason") not in _REASONS:
            errors.append(
                _user_error(
                    ["input", "reason"], "The specified reason is invalid", "INVALID_REASON"
                )
            )
        items = {v.inventory_item_id for v in self.variants.values()}
        pairs: set[tuple[str, str]] = set()
        for index, quantity in enumerate(quantities):
            path = ["input", "quantities", str(index)]
            item, location = str(quantity.get("inventoryItemId")), str(quantity.get("locationId"))
            if item not in items:
                errors.append(
                    _user_error(
                        [*path, "inventoryItemId"],
                        "The specified inventory item could not be found.",
                        "INVALID_INVENTORY_ITEM",
                    )
                )
                continue
            if location not in self.locations:
                errors.append(
                    _user_error(
                        [*path, "locationId"],
                        "The specified location could not be found.",
                        "INVALID_LOCATION",
                    )
                )
                continue
            if (item, location) in pairs:
                errors.append(
                    _user_error(
                        path,
                        "The combination of inventoryItemId and locationId must be unique.",
                        "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                    )
                )
                continue
            pairs.add((item, location))
            if int(quantity.get("quantity", 0)) < 0:
                errors.append(
                    _user_error(
                        [*path, "quantity"],
                        "The quantity can't be negative.",
                        "INVALID_QUANTITY_NEGATIVE",
                    )
                )
                continue
            current = self.levels.get((item, location), 0)
            expected = quantity.get("changeFromQuantity")
            if expected is not None and int(expected) != current:
                errors.append(
                    _user_error(
                        [*path, "changeFromQuantity"],
                        "The specified compare quantity does not match the current quantity.",
                        "CHANGE_FROM_QUANTITY_STALE",
                    )
                )
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        for quantity in quantities:
            self.levels[(str(quantity["inventoryItemId"]), str(quantity["locationId"]))] = int(
                quantity["quantity"]
            )
        return {
            "inventoryAdjustmentGroup": {
                "__typename": "InventoryAdjustmentGroup",
                "id": self._gid("InventoryAdjustmentGroup"),
            },
            "userErrors": [],
        }

    # -- internals ------------------------------------------------------------------------

    def _new_variant(
        self,
        product: _Product,
        variant: dict[str, Any],
        value: str,
        price: Decimal,
        *,
        set_quantities: str,
    ) -> _Variant:
        item_input = variant.get("inventoryItem") or {}
        created = _Variant(
            id=self._gid("ProductVariant"),
            product_id=product.id,
            sku=str(item_input.get("sku") or variant.get("sku") or ""),
            price=price,
            option_value=value,
            inventory_item_id=self._gid("InventoryItem"),
            policy=str(variant.get("inventoryPolicy") or "DENY"),
            tracked=bool(item_input.get("tracked", True)),
            image=(variant.get("mediaSrc") or [None])[0]
            or (variant.get("file") or {}).get("originalSource"),
        )
        self.variants[created.id] = created
        stocked = False
        for quantity in variant.get("inventoryQuantities") or []:
            amount = (
                quantity.get("availableQuantity")
                if set_quantities == "bulk"
                else quantity.get("quantity")
            )
            self.levels[(created.inventory_item_id, str(quantity["locationId"]))] = int(amount or 0)
            stocked = True
        if not stocked:
            self.levels[(created.inventory_item_id, PRIMARY_LOCATION)] = 0
        return created

    def _drop_variant(self, variant_id: str) -> None:
        variant = self.variants.pop(variant_id)
        for location in self.locations:
            self.levels.pop((variant.inventory_item_id, location), None)

    def _stocked_level(self, variant: _Variant) -> tuple[str, str]:
        levels = [
            (variant.inventory_item_id, location)
            for location in self.locations
            if (variant.inventory_item_id, location) in self.levels
        ]
        stocked = [k for k in levels if self.levels[k] > 0]
        return (stocked or levels or [(variant.inventory_item_id, PRIMARY_LOCATION)])[0]

    def _restock(self, order: _Order, quantities: dict[str, int]) -> None:
        for line in order.lines:
            take = min(line.current_quantity, quantities.get(line.id, 0))
            if take <= 0:
                continue
            line.current_quantity -= take
            variant = next((v for v in self.variants.values() if v.sku == line.sku), None)
            if variant is not None:
                key = self._stocked_level(variant)
                self.levels[key] = self.levels.get(key, 0) + take

    def _gid(self, kind: str) -> str:
        self._ids += 1
        return f"gid://shopify/{kind}/{self._ids}"

    def _stamp(self) -> datetime:
        # Strictly increasing, so updates made in one instant still sort in order.
        stamp = self._now().astimezone(UTC).replace(microsecond=0)
        if self._last_stamp is not None and stamp <= self._last_stamp:
            stamp = self._last_stamp + timedelta(seconds=1)
        self._last_stamp = stamp
        return stamp


# -- module helpers -------------------------------------------------------------------------


def _json(status: int, body: Any) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


def _check_size(items: Sequence[Any], path: list[str]) -> None:
    if len(items) > MAX_INPUT_ARRAY:
        raise GraphQLFaultError(
            f"The input array size of {len(items)} is greater than the maximum allowed of "
            f"{MAX_INPUT_ARRAY}.",
            "MAX_INPUT_SIZE_EXCEEDED",
            path=path,
        )


def _num(gid: str) -> int:
    return int(gid.rsplit("/", 1)[-1])


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "product"


def _price(value: Any) -> Decimal | None:
    if value is None:
        return Decimal("0")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _sku_error(variant: dict[str, Any]) -> str | None:
    sku = (variant.get("inventoryItem") or {}).get("sku") or variant.get("sku") or ""
    if len(str(sku)) > 255:
        return "SKU is too long (maximum is 255 characters)"
    return None


def _option_value(variant: dict[str, Any], option_name: str) -> str | None:
    for value in variant.get("optionValues") or []:
        if value.get("optionName") in (option_name, None) and value.get("name"):
            return str(value["name"])
    return None


def _encode_cursor(key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode()


def _decode_cursor(cursor: str) -> tuple[Any, ...]:
    try:
        return tuple(json.loads(base64.urlsafe_b64decode(cursor.encode())))
    except (ValueError, TypeError):
        raise GraphQLFaultError(f"Invalid cursor: {cursor!r}", "BAD_REQUEST") from None


def _connection(
    items: Sequence[Any],
    args: dict[str, Any],
    *,
    key: Callable[[Any], tuple[Any, ...]],
    view: Callable[[Any], Any],
) -> dict[str, Any]:
    """A Relay connection over ``items``; cursors encode the sort key, as Shopify's do."""
    first = args.get("first")
    if first is None and args.get("last") is None:
        raise GraphQLFaultError("You must provide one of first or last", "BAD_REQUEST")
    if first is not None and not 0 <= int(first) <= 250:
        raise GraphQLFaultError("first must be between 0 and 250", "BAD_REQUEST")
    ordered = sorted(items, key=key, reverse=bool(args.get("reverse")))
    if args.get("after"):
        after = _decode_cursor(str(args["after"]))
        if args.get("reverse"):
            ordered = [i for i in ordered if list(key(i)) < list(after)]
        else:
            ordered = [i for i in ordered if list(key(i)) > list(after)]
    size = int(first if first is not None else args["last"])
    page = ordered[:size] if first is not None else ordered[-size:]
    nodes = [view(i) for i in page]
    cursors = [_encode_cursor(key(i)) for i in page]
    return {
        "__typename": "Connection",
        "nodes": nodes,
        "edges": [{"node": n, "cursor": c} for n, c in zip(nodes, cursors, strict=True)],
        "pageInfo": {
            "hasNextPage": len(ordered) > len(page) if first is not None else False,
            "hasPreviousPage": bool(args.get("after")),
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


_TERM = re.compile(r"(updated_at|created_at):(>=|<=|>|<)?'?([0-9T:\-+.Z]+)'?")


def _order_matches(order: _Order, query: str | None) -> bool:
    """Shopify's search syntax, as far as the plugin uses it: ``updated_at``/``created_at``."""
    if not query:
        return True
    for name, operator, value in _TERM.findall(query):
        try:
            bound = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            continue
        if bound.tzinfo is None:
            bound = bound.replace(tzinfo=UTC)
        stamp = order.updated_at if name == "updated_at" else order.created_at
        ok = {
            ">=": stamp >= bound,
            "<=": stamp <= bound,
            ">": stamp > bound,
            "<": stamp < bound,
            "": stamp == bound,
        }[operator]
        if not ok:
            return False
    return True

"""A fake WooCommerce store: the ``wp-json/wc/v3`` endpoints the plugin uses, in memory.

It keeps WooCommerce's rules and quirks, so the plugin cannot pass against it by doing what
the real store would refuse:

* credentials as WooCommerce checks them (:mod:`.fake_auth`): Basic or query-string keys only
  over HTTPS, OAuth 1.0a signatures (verified, with timestamp window and nonce replay) over
  HTTP; bad credentials are 401 ``woocommerce_rest_authentication_error``;
* SKUs unique across products *and* variations: 400 ``product_invalid_sku`` with
  ``data.resource_id``;
* a variation's attribute whose option is not on the parent's variation attribute is dropped
  *silently* when the variation is saved;
* ``variations/batch`` takes at most 100 items across create, update and delete (413
  ``woocommerce_rest_request_entity_too_large``), answers 200 and reports each failed item as
  ``{id, error: {code, message, data}}``;
* lists are paged (``per_page`` ≤ 100) with ``X-WP-Total`` and ``X-WP-TotalPages``;
* an order line's ``sku`` is read from the current product: null once its variation is
  deleted (its ``meta_data`` keeps the serial attribute as sold) and for a line naming no
  product (``product_id`` 0), ``""`` for a product without SKU;
* orders hold what real ones hold: variations, plain simple products, custom lines without a
  product, and ``fee_lines`` (tips, surcharges); :meth:`FakeWooCommerce.damage_order` spoils
  one as broken extensions and imports do.

Routing uses the URL path only, so the same object serves respx, ``transport()`` and the ASGI
app. Added latency and faults come from :class:`~serialsync.testing.Faults`.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from serialsync import FinancialStatus
from serialsync.testing import FakeChannel, FakeListing, Faults, OrderDamage, WebhookSender

from serialsync_woocommerce.fake_auth import AuthRefusedError, WooAuthChecker
from serialsync_woocommerce.fake_webhooks import WebhookError, WooWebhooks

Json = dict[str, Any]

API_PREFIX = "/wp-json/wc/v3/"
#: Confirmed: WC_REST_Controller::check_batch_limit counts create + update + delete against the
#: ``woocommerce_rest_batch_items_limit`` filter, default 100, and answers 413
#: ``woocommerce_rest_request_entity_too_large`` beyond (woocommerce/woocommerce,
#: plugins/woocommerce/includes/rest-api/Controllers/Version3/class-wc-rest-controller.php).
MAX_BATCH = 100
MAX_PER_PAGE = 100
#: What a plain shop product made on the fly by ``create_order`` costs, and a custom line.
PLAIN_PRODUCT_PRICE = Decimal("25.00")
CUSTOM_LINE_PRICE = Decimal("50.00")

_STATUS_TO_WOO = {
    FinancialStatus.PENDING: "pending",
    FinancialStatus.PAID: "processing",
    FinancialStatus.CANCELLED: "cancelled",
    FinancialStatus.REFUNDED: "refunded",
    FinancialStatus.PARTIALLY_REFUNDED: "completed",
}
_HOLDS_STOCK = {"pending", "on-hold", "processing", "completed", "refunded"}


class _WooError(Exception):
    def __init__(self, status: int, code: str, message: str, **data: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.data = data

    def body(self) -> Json:
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.data},
        }


#: Where WooCommerce shows a product: shop pages and search, one of them, or neither
#: ("hidden": only its own page, by direct link).
_CATALOG_VISIBILITY = ("visible", "catalog", "search", "hidden")


def _catalog_visibility(value: Any) -> str:
    if value not in _CATALOG_VISIBILITY:
        raise _WooError(
            400,
            "rest_invalid_param",
            "Invalid parameter(s): catalog_visibility",
            params={
                "catalog_visibility": "catalog_visibility is not one of visible, catalog, "
                "search, and hidden."
            },
        )
    return str(value)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower()).strip("-")


class FakeWooCommerce(FakeChannel):
    """An in-memory WooCommerce store (products, variations, orders) behind ``wc/v3``.

    :param consumer_key: the key the store accepts.
    :param consumer_secret: its secret.
    :param latency: seconds added to every request (also settable through ``faults``).
    :param now: the store's clock (seconds since the epoch): order dates and the OAuth
        timestamp window.
    :param basic_over_http: accept Basic and query-string keys over plain HTTP, as a host
        behind a TLS-terminating proxy does (WooCommerce alone does not).
    """

    host = "shop.example.com"

    def __init__(
        self,
        *,
        consumer_key: str = "ck_fake0000000000000000000000000000000000",
        consumer_secret: str = "cs_fake0000000000000000000000000000000000",  # noqa: S107 a fake's
        latency: float = 0.0,
        faults: Faults | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.time,
        basic_over_http: bool = False,
    ) -> None:
        if latency and faults is None:
            faults = Faults(latency=latency)
        super().__init__(faults=faults, sleep=sleep)
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.now = now
        self.auth = WooAuthChecker(
            consumer_key, consumer_secret, now=now, basic_over_http=basic_over_http
        )
        self.products: dict[int, Json] = {}
        self.variations: dict[int, Json] = {}
        #: Product brands (WooCommerce 9.6+ core, or the Brands extension), by term id; a store
        #: without them (``brands_enabled = False``) answers ``rest_no_route``.
        self.brands: dict[int, Json] = {}
        self.brands_enabled = True
        self.orders: dict[int, Json] = {}
        #: Batch calls received: ``(creates, updates, deletes)`` item counts of each.
        self.batches: list[tuple[int, int, int]] = []
        #: Variation SKUs whose create or update the store refuses: sku -> (status, code, message).
        self.refusals: dict[str, tuple[int, str, str]] = {}
        self._next_id = 10
        #: Webhooks, and signed deliveries of order events (``webhooks.sender.log``).
        self.webhooks = WooWebhooks(
            new_id=self._new_id,
            stamp=self._stamp,
            source=f"https://{self.host}/",
            # WooCommerce sends each delivery once (Action Scheduler), never retrying it.
            sender=WebhookSender(seed=faults.seed if faults else None, max_attempts=1),
        )
        #: Orders the API cannot show yet (the event left before the order reads), and whether
        #: new orders start so.
        self.hidden_orders: set[int] = set()
        self.hide_new_orders = False

    # -- extra helpers for tests and the sandbox ------------------------------------------------

    def set_latency(self, seconds: float) -> None:
        """Add ``seconds`` to every request from now on."""
        self.set_faults(self.faults.model_copy(update={"latency": seconds}))

    def refuse_variation(self, sku: str, code: str, message: str, status: int = 400) -> None:
        """Make the store refuse a variation with this SKU (as a validation plugin would)."""
        with self.lock:
            self.refusals[sku] = (status, code, message)

    def add_product(self, sku: str, *, kind: str = "variable", options: Sequence[str] = ()) -> int:
        """Create a product directly (as staff would); its id."""
        with self.lock:
            attributes = (
                [{"name": "Serial", "visible": True, "variation": True, "options": list(options)}]
                if options
                else []
            )
            return self._create_product(
                {"name": sku, "sku": sku, "type": kind, "attributes": attributes}
            )

    def add_variation(self, product_id: int, sku: str, serial: str, stock: int = 1) -> int:
        """Create a variation directly (as staff would); its id."""
        with self.lock:
            return self._create_variation(
                self.products[product_id],
                {
                    "sku": sku,
                    "manage_stock": True,
                    "stock_quantity": stock,
                    "attributes": [{"name": "Serial", "option": serial}],
                },
            )

    def delete_variation(self, variation_id: int) -> None:
        """Delete a variation (as staff would): past order lines lose their ``sku``."""
        with self.lock:
            variation = self.variations.pop(variation_id)
            self.products[variation["parent_id"]]["variations"].remove(variation_id)

    def product_by_sku(self, sku: str) -> Json | None:
        """The product with this SKU, as stored."""
        return next((p for p in self.products.values() if p["sku"] == sku), None)

    def variation_by_sku(self, sku: str) -> Json | None:
        """The variation with this SKU, as stored."""
        return next((v for v in self.variations.values() if v["sku"] == sku), None)

    def set_order_woo_status(self, order_id: str, status: str) -> None:
        """Set an order's raw WooCommerce status (``on-hold``, ``failed``, ...)."""
        with self.lock:
            order = self.orders[int(order_id)]
            if status in ("cancelled", "failed") and order["status"] in _HOLDS_STOCK:
                self._restock(order)
            order["status"] = status
            order["date_modified_gmt"] = self._stamp()
            self.webhooks.order_event("order.updated", self._order_view(order))

    # -- FakeChannel --------------------------------------------------------------------------

    def listings(self) -> list[FakeListing]:
        """Every variation now, with its stock and its parent's SKU."""
        return self._listings(None)

    def listings_of(self, skus: Collection[str]) -> list[FakeListing]:
        """:meth:`listings` of these SKUs only (see :meth:`FakeChannel.listings_of`)."""
        return self._listings(set(skus))

    def _listings(self, only: set[str] | None) -> list[FakeListing]:
        with self.lock:
            out = []
            for variation in self.variations.values():
                if only is not None and variation["sku"] not in only:
                    continue
                parent = self.products[variation["parent_id"]]
                stock = int(variation["stock_quantity"] or 0) if variation["manage_stock"] else 1
                out.append(
                    FakeListing(
                        sku=variation["sku"],
                        stock=stock,
                        product=parent["sku"],
                        sellable=stock > 0 and bool(variation["attributes"]),
                    )
                )
            return out

    def storefront(self) -> dict[str, bool]:
        """Each product holding a variation, by SKU: shown unless its catalog visibility is
        ``hidden`` (then only its own page shows it, to whoever has the link)."""
        with self.lock:
            held = {v["parent_id"] for v in self.variations.values()}
            return {
                p["sku"]: p.get("catalog_visibility", "visible") != "hidden"
                for p in self.products.values()
                if p["id"] in held
            }

    def create_order(
        self,
        lines: Sequence[tuple[str | None, int]],
        *,
        status: FinancialStatus = FinancialStatus.PAID,
        woo_status: str | None = None,
        fees: Sequence[tuple[str, str]] = (),
    ) -> str:
        """Place an order as a shopper (or staff) would; its id.

        Each line is ``(sku, quantity)``: the SKU of a variation (refused when unknown, for an
        integration id, or out of stock), of a plain shop product (made on the fly when there
        is none: a simple product without managed stock; ``""`` makes one without a SKU), or
        ``None`` for a custom line with no product at all (``product_id`` 0). ``fees`` are
        ``(name, amount)`` fee lines: a tip, a surcharge, shipping protection.
        """
        with self.lock:
            items = []
            total = Decimal("0")
            wanted_status = woo_status or _STATUS_TO_WOO[status]
            for sku, quantity in lines:
                item = self._order_item(sku, quantity)
                total += Decimal(item["total"])
                items.append(item)
            fee_lines = []
            for name, amount in fees:
                fee_lines.append(
                    {
                        "id": self._new_id(),
                        "name": name,
                        "tax_class": "",
                        "tax_status": "taxable",
                        "amount": str(Decimal(amount)),
                        "total": str(Decimal(amount)),
                        "total_tax": "0.00",
                        "taxes": [],
                        "meta_data": [],
                    }
                )
                total += Decimal(amount)
            stamp = self._stamp()
            order_id = self._new_id()
            order = {
                "id": order_id,
                "number": str(order_id),
                "order_key": f"wc_order_{order_id:08x}",
                "status": wanted_status,
                "currency": "USD",
                "total": str(total),
                "date_created_gmt": stamp,
                "date_modified_gmt": stamp,
                "billing": {
                    "first_name": "Ada",
                    "last_name": "Shopper",
                    "email": "ada@example.com",
                },
                "line_items": items,
                "fee_lines": fee_lines,
                "shipping_lines": [],
                "refunds": [],
            }
            if status is FinancialStatus.PARTIALLY_REFUNDED and woo_status is None:
                order["refunds"] = [{"id": self._new_id(), "total": "-1.00", "reason": ""}]
            self.orders[order_id] = order
            if wanted_status in _HOLDS_STOCK:
                for item in items:
                    variation = self.variations.get(item["variation_id"])
                    if variation is not None and variation["manage_stock"]:
                        variation["stock_quantity"] -= item["quantity"]
            if self.hide_new_orders:
                self.hidden_orders.add(order_id)
            self.webhooks.order_event("order.created", self._order_view(order))
            return str(order_id)

    def damage_order(self, order_id: str, damage: OrderDamage) -> None:
        """Spoil a stored order as a buggy extension or a broken import leaves real ones.

        ``negative-quantity``: its first line's quantity is -1; ``missing-field``: its first
        line has no ``quantity``; ``unknown-status``: a custom status (``shipped``) no setting
        maps. The order counts as modified now, so the next read sees it.
        """
        with self.lock:
            order = self.orders[int(order_id)]
            if damage == "negative-quantity":
                order["line_items"][0]["quantity"] = -1
            elif damage == "missing-field":
                del order["line_items"][0]["quantity"]
            elif damage == "unknown-status":
                order["status"] = "shipped"
            else:
                raise ValueError(f"unknown damage {damage!r}")
            order["date_modified_gmt"] = self._stamp()
            self.webhooks.order_event("order.updated", self._order_view(order))

    def _order_item(self, sku: str | None, quantity: int) -> Json:
        """One ``line_items`` entry for ``sku`` (see :meth:`create_order`)."""
        meta: list[Json] = []
        variation_id = 0
        if sku is None:
            # A line added by hand (or by an import) that names no product.
            product_id, name, price = 0, "Custom item", CUSTOM_LINE_PRICE
        elif (variation := self.variation_by_sku(sku) if sku else None) is not None:
            stock = variation["stock_quantity"] if variation["manage_stock"] else None
            if stock is not None and stock < quantity:
                raise ValueError(f"{sku!r} is out of stock ({stock} left)")
            parent = self.products[variation["parent_id"]]
            product_id, variation_id, name = parent["id"], variation["id"], parent["name"]
            price = Decimal(variation["regular_price"] or "0")
            meta = [
                {
                    "id": self._new_id(),
                    "key": _slug(a["name"]),
                    "value": a["option"],
                    "display_key": a["name"],
                    "display_value": a["option"],
                }
                for a in variation["attributes"]
            ]
        elif "|||" in sku:
            raise ValueError(f"no variation with SKU {sku!r} to buy")
        else:
            product = self._plain_product(sku)
            product_id, name = product["id"], product["name"]
            price = Decimal(product.get("regular_price") or "0")
        return {
            "id": self._new_id(),
            "name": name,
            "product_id": product_id,
            "variation_id": variation_id,
            "quantity": quantity,
            "tax_class": "",
            # WooCommerce answers the unit price as a number (total / quantity).
            "price": float(price),
            "subtotal": str(price * quantity),
            "total": str(price * quantity),
            "meta_data": meta,
        }

    def _plain_product(self, sku: str) -> Json:
        """The simple product with this SKU, made now (as staff would) when there is none."""
        product = self.product_by_sku(sku) if sku else None
        if product is not None:
            if product["type"] == "variable":
                raise ValueError(f"{sku!r} is a variable product: buy one of its variations")
            return product
        product = self.products[
            self._create_product({"name": sku or "Product without SKU", "sku": sku})
        ]
        product["regular_price"] = str(PLAIN_PRODUCT_PRICE)
        return product

    def set_order_status(self, order_id: str, status: FinancialStatus) -> None:
        """Move an order on as staff would (cancelling restocks it)."""
        with self.lock:
            self.set_order_woo_status(order_id, _STATUS_TO_WOO[status])
            if status is FinancialStatus.PARTIALLY_REFUNDED:
                self.orders[int(order_id)]["refunds"].append(
                    {"id": self._new_id(), "total": "-1.00", "reason": ""}
                )

    def connector_settings(self, base_url: str) -> dict[str, Any]:
        """Settings for the plugin: OAuth over plain HTTP (as WooCommerce requires), else Basic."""
        return {
            "site_url": base_url,
            "consumer_key": self.consumer_key,
            "consumer_secret": self.consumer_secret,
            "auth_mode": "oauth1" if base_url.startswith("http://") else "basic",
        }

    # -- serving ------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as WooCommerce would."""
        path = request.url.path
        at = path.find(API_PREFIX)
        if at < 0:
            return _error(
                _WooError(
                    404, "rest_no_route", "No route was found matching the URL and request method."
                )
            )
        route = path[at + len(API_PREFIX) :].strip("/")
        try:
            self.auth.check(request)
            return self._route(request, route.split("/"))
        except AuthRefusedError as exc:
            return _error(_WooError(exc.status, exc.code, exc.message))
        except _WooError as exc:
            return _error(exc)

    def _route(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        method = request.method
        params = dict(request.url.params.multi_items())
        match parts:
            case ["products"] if method == "GET":
                found = [p for p in self.products.values() if _sku_filter(p, params)]
                return self._page(params, [self._product_view(p) for p in found])
            case ["products"] if method == "POST":
                return _json(
                    201, self._product_view(self.products[self._create_product(_body(request))])
                )
            case ["products", "brands"] if self.brands_enabled and method == "GET":
                wanted = params.get("search", "").casefold()
                found = [b for b in self.brands.values() if wanted in b["name"].casefold()]
                return self._page(params, [dict(b) for b in found])
            case ["products", "brands"] if self.brands_enabled and method == "POST":
                return _json(201, dict(self._create_brand(_body(request))))
            case ["products", "brands"]:
                raise _WooError(
                    404, "rest_no_route", "No route was found matching the URL and request method."
                )
            case ["products", pid] if method == "GET":
                return _json(200, self._any_view(_int(pid)))
            case ["products", pid] if method in ("PUT", "PATCH", "POST"):
                product = self._product(_int(pid))
                self._update_product(product, _body(request))
                return _json(200, self._product_view(product))
            case ["products", pid, "variations"] if method == "GET":
                product = self._product(_int(pid))
                found = [self.variations[v] for v in product["variations"]]
                found = [v for v in found if _sku_filter(v, params)]
                return self._page(params, [self._variation_view(v) for v in found])
            case ["products", pid, "variations", "batch"] if method in ("POST", "PUT", "PATCH"):
                return _json(200, self._batch(self._product(_int(pid)), _body(request)))
            case ["orders"] if method == "GET":
                return self._page(params, [self._order_view(o) for o in self._orders(params)])
            case ["orders", oid] if method == "GET":
                order = self.orders.get(_int(oid))
                if order is None or order["id"] in self.hidden_orders:
                    raise _WooError(404, "woocommerce_rest_shop_order_invalid_id", "Invalid ID.")
                return _json(200, self._order_view(order))
        return self._webhook_route(request, parts, params)

    def _webhook_route(
        self, request: httpx.Request, parts: list[str], params: dict[str, str]
    ) -> httpx.Response:
        method = request.method
        try:
            match parts:
                case ["webhooks"] if method == "GET":
                    return self._page(params, self.webhooks.listing())
                case ["webhooks"] if method == "POST":
                    return _json(201, self.webhooks.create(_body(request)))
                case ["webhooks", wid] if method == "GET":
                    return _json(200, self.webhooks.view(self.webhooks.get(_int(wid))))
                case ["webhooks", wid] if method in ("PUT", "PATCH", "POST"):
                    return _json(200, self.webhooks.update(_int(wid), _body(request)))
                case ["webhooks", wid] if method == "DELETE":
                    force = params.get("force", "false").lower() in ("true", "1")
                    return _json(200, self.webhooks.delete(_int(wid), force))
        except WebhookError as exc:
            raise _WooError(exc.status, exc.code, exc.message) from None
        raise _WooError(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )

    # -- products -----------------------------------------------------------------------------

    def _new_id(self) -> int:
        # WordPress posts share one id sequence: products, variations and orders alike.
        self._next_id += 1
        return self._next_id

    def _stamp(self) -> str:
        return datetime.fromtimestamp(self.now(), UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def _sku_holder(self, sku: str, *, besides: int | None = None) -> int | None:
        if not sku:
            return None
        for record in (*self.products.values(), *self.variations.values()):
            if record["sku"] == sku and record["id"] != besides:
                return int(record["id"])
        return None

    def _check_sku(self, sku: Any, *, besides: int | None = None) -> str:
        if sku is None:
            return ""
        if not isinstance(sku, str):
            raise _WooError(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): sku",
                params={"sku": "sku is not of type string."},
            )
        holder = self._sku_holder(sku, besides=besides)
        if holder is not None:
            raise _WooError(
                400,
                "product_invalid_sku",
                "Invalid or duplicated SKU.",
                resource_id=holder,
                unique_sku=f"{sku}-1",
            )
        return sku

    def _product(self, product_id: int) -> Json:
        product = self.products.get(product_id)
        if product is None:
            raise _WooError(404, "woocommerce_rest_product_invalid_id", "Invalid ID.")
        return product

    def _create_product(self, body: Json) -> int:
        kind = body.get("type", "simple")
        if kind not in ("simple", "variable", "grouped", "external"):
            raise _WooError(400, "rest_invalid_param", "Invalid parameter(s): type")
        product = {
            "id": 0,
            "name": str(body.get("name", "")),
            "type": kind,
            "status": body.get("status", "publish"),
            "catalog_visibility": _catalog_visibility(body.get("catalog_visibility", "visible")),
            "brands": self._product_brands(body.get("brands"), []),
            "sku": self._check_sku(body.get("sku")),
            "description": str(body.get("description", "")),
            "attributes": _attributes(body.get("attributes") or []),
            "images": [
                {"id": self._new_id(), "src": i.get("src")} for i in body.get("images") or []
            ],
            "variations": [],
            "date_modified_gmt": self._stamp(),
        }
        product["id"] = self._new_id()
        self.products[product["id"]] = product
        return int(product["id"])

    def _create_brand(self, body: Json) -> Json:
        name = str(body.get("name") or "").strip()
        if not name:
            raise _WooError(400, "rest_missing_callback_param", "Missing parameter(s): name")
        for brand in self.brands.values():
            if brand["name"].casefold() == name.casefold():
                # WordPress refuses a second term of the same name, naming the one it holds.
                raise _WooError(
                    400,
                    "term_exists",
                    "A term with the name provided already exists with this parent.",
                    resource_id=brand["id"],
                )
        term_id = self._new_id()
        self.brands[term_id] = {"id": term_id, "name": name, "slug": _slug(name)}
        return self.brands[term_id]

    def _product_brands(self, wanted: Any, current: list[Json]) -> list[Json]:
        """``brands`` as a product write applies them, and as the product answers them.

        As WooCommerce core's ``WC_Brands::rest_api_add_brands_to_product`` (9.4+): term ids,
        or ``{"id": …}`` objects, each passed through ``absint``; a non-empty list replaces the
        product's brands through ``wp_set_object_terms``, which skips a term id it does not
        hold without a word; an empty list changes nothing.
        """
        if not self.brands_enabled:
            return current  # an unknown field: WordPress ignores it
        items = wanted if isinstance(wanted, list) else []
        if not items:
            return current
        out = []
        for item in items:
            term_id = _absint(item.get("id") if isinstance(item, dict) else item)
            if term_id in self.brands:
                out.append(dict(self.brands[term_id]))
        return out

    def _update_product(self, product: Json, body: Json) -> None:
        if "sku" in body:
            product["sku"] = self._check_sku(body["sku"], besides=product["id"])
        if "catalog_visibility" in body:
            product["catalog_visibility"] = _catalog_visibility(body["catalog_visibility"])
        for key in ("name", "description", "status"):
            if key in body:
                product[key] = str(body[key])
        if "brands" in body:
            product["brands"] = self._product_brands(body["brands"], product["brands"])
        if "images" in body:
            # The gallery becomes the list given: each src fetched anew (a new id), an id
            # kept; images left out are detached from the product.
            product["images"] = [
                {"id": self._new_id(), "src": i.get("src")} if "id" not in i else dict(i)
                for i in body["images"] or []
                if isinstance(i, dict)
            ]
        if "attributes" in body:
            # A PUT replaces the whole list; variations keep what they stored.
            product["attributes"] = _attributes(body["attributes"] or [])
        product["date_modified_gmt"] = self._stamp()

    def _any_view(self, product_id: int) -> Json:
        if product_id in self.variations:
            view = self._variation_view(self.variations[product_id])
            view["type"] = "variation"
            return view
        return self._product_view(self._product(product_id))

    def _product_view(self, product: Json) -> Json:
        return json.loads(json.dumps(product))  # type: ignore[no-any-return]

    # -- variations ---------------------------------------------------------------------------

    def _variation_attributes(self, parent: Json, wanted: Any) -> list[Json]:
        """The attributes a variation keeps: those whose option the parent offers (silently)."""
        kept = []
        for item in wanted if isinstance(wanted, list) else []:
            if not isinstance(item, dict):
                continue
            name, option = str(item.get("name", "")), str(item.get("option", ""))
            for attribute in parent["attributes"]:
                if (
                    attribute["variation"]
                    and attribute["name"].lower() == name.lower()
                    and option in attribute["options"]
                ):
                    kept.append({"id": 0, "name": attribute["name"], "option": option})
        return kept

    def _apply_variation(self, parent: Json, variation: Json, body: Json) -> None:
        refusal = self.refusals.get(str(body.get("sku", variation.get("sku", ""))))
        if refusal is not None:
            raise _WooError(refusal[0], refusal[1], refusal[2])
        if "backorders" in body and body["backorders"] not in ("no", "notify", "yes"):
            raise _WooError(400, "rest_invalid_param", "Invalid parameter(s): backorders")
        if "stock_quantity" in body and not isinstance(body["stock_quantity"], int):
            raise _WooError(400, "rest_invalid_param", "Invalid parameter(s): stock_quantity")
        if "regular_price" in body:
            try:
                Decimal(str(body["regular_price"] or "0"))
            except InvalidOperation:
                raise _WooError(
                    400, "rest_invalid_param", "Invalid parameter(s): regular_price"
                ) from None
        if "sku" in body:
            variation["sku"] = self._check_sku(body["sku"], besides=variation.get("id"))
        for key in ("regular_price", "manage_stock", "stock_quantity", "backorders", "status"):
            if key in body:
                variation[key] = body[key]
        if "description" in body:
            if not isinstance(body["description"], str):
                raise _WooError(400, "rest_invalid_param", "Invalid parameter(s): description")
            variation["description"] = body["description"]
        if "meta_data" in body:
            self._apply_meta(variation, body["meta_data"])
        if "attributes" in body:
            variation["attributes"] = self._variation_attributes(parent, body["attributes"])
        if "image" in body and isinstance(body["image"], dict):
            image = body["image"]
            if not image.get("src") and str(image.get("id", "")) == "0":
                # {"id": 0} with no src takes the image off the variation; the file stays in
                # the media library (woocommerce/woocommerce#27299, merged August 2020).
                variation["image"] = None
            else:
                variation["image"] = {"id": self._new_id(), "src": image.get("src")}
        variation["date_modified_gmt"] = self._stamp()

    def _apply_meta(self, record: Json, entries: Any) -> None:
        """``meta_data`` as the REST API applies it: each entry updates the meta of its key (or
        of its id), a new key is added; nothing is ever removed this way."""
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("key"), str) and e["key"] for e in entries
        ):
            raise _WooError(400, "rest_invalid_param", "Invalid parameter(s): meta_data")
        meta: list[Json] = record.setdefault("meta_data", [])
        for entry in entries:
            held = next((m for m in meta if m["key"] == entry["key"]), None)
            if held is None:
                meta.append(
                    {"id": self._new_id(), "key": entry["key"], "value": entry.get("value")}
                )
            else:
                held["value"] = entry.get("value")

    def _create_variation(self, parent: Json, body: Json) -> int:
        variation: Json = {
            "id": None,
            "parent_id": parent["id"],
            "sku": "",
            "regular_price": "",
            "manage_stock": False,
            "stock_quantity": None,
            "backorders": "no",
            "status": "publish",
            "attributes": [],
            "image": None,
            "description": "",
            "meta_data": [],
        }
        self._apply_variation(parent, variation, body)
        variation["id"] = self._new_id()
        self.variations[variation["id"]] = variation
        parent["variations"].append(variation["id"])
        return int(variation["id"])

    def _variation_view(self, variation: Json) -> Json:
        view = json.loads(json.dumps(variation))
        managed, stock = variation["manage_stock"], variation["stock_quantity"]
        view["stock_status"] = "instock" if not managed or (stock or 0) > 0 else "outofstock"
        view["price"] = variation["regular_price"]
        return view  # type: ignore[no-any-return]

    def _owned_variation(self, parent: Json, variation_id: Any) -> Json:
        variation = self.variations.get(variation_id) if isinstance(variation_id, int) else None
        if variation is None or variation["parent_id"] != parent["id"]:
            raise _WooError(400, "woocommerce_rest_product_variation_invalid_id", "Invalid ID.")
        return variation

    def _batch(self, parent: Json, body: Json) -> Json:
        create = body.get("create") or []
        update = body.get("update") or []
        delete = body.get("delete") or []
        if len(create) + len(update) + len(delete) > MAX_BATCH:
            raise _WooError(
                413,
                "woocommerce_rest_request_entity_too_large",
                f"Unable to accept more than {MAX_BATCH} items for this request.",
            )
        self.batches.append((len(create), len(update), len(delete)))
        answer: Json = {}
        if create:
            answer["create"] = [
                self._batch_item(lambda b: self._create_variation(parent, b), item)
                for item in create
            ]
        if update:
            answer["update"] = [self._batch_update(parent, item) for item in update]
        if delete:
            answer["delete"] = [self._batch_delete(parent, item) for item in delete]
        return answer

    def _batch_item(self, create: Callable[[Json], int], item: Any) -> Json:
        try:
            if not isinstance(item, dict):
                raise _WooError(400, "rest_invalid_param", "Invalid item.")
            return self._variation_view(self.variations[create(item)])
        except _WooError as exc:
            return {"id": 0, "error": exc.body()}

    def _batch_update(self, parent: Json, item: Any) -> Json:
        item_id = item.get("id") if isinstance(item, dict) else None
        try:
            variation = self._owned_variation(parent, item_id)
            self._apply_variation(parent, variation, item)
            return self._variation_view(variation)
        except _WooError as exc:
            return {"id": item_id or 0, "error": exc.body()}

    def _batch_delete(self, parent: Json, item_id: Any) -> Json:
        try:
            variation = self._owned_variation(parent, item_id)
        except _WooError as exc:
            return {"id": item_id, "error": exc.body()}
        view = self._variation_view(variation)
        self.delete_variation(int(item_id))
        return view

    # -- orders -------------------------------------------------------------------------------

    def _orders(self, params: dict[str, str]) -> list[Json]:
        rows = [o for o in self.orders.values() if o["id"] not in self.hidden_orders]
        after = params.get("modified_after")
        if after:
            bound = _parse_date(after, "modified_after")
            # Second precision, bound excluded: what WordPress's date query does.
            rows = [o for o in rows if o["date_modified_gmt"] > bound]
        if params.get("orderby", "date") == "modified":
            rows.sort(key=lambda o: (o["date_modified_gmt"], o["id"]))
        else:
            rows.sort(key=lambda o: (o["date_created_gmt"], o["id"]))
        if params.get("order", "desc") == "desc":
            rows.reverse()
        return rows

    def _order_view(self, order: Json) -> Json:
        view: Json = json.loads(json.dumps(order))
        for item in view["line_items"]:
            item["sku"] = self._line_sku(item)
        return view

    def _line_sku(self, item: Json) -> str | None:
        """A line's SKU as WooCommerce shows it: read from the product as it is *now*.

        Null when the line has no product (``product_id`` 0) or its product or variation is
        gone; ``""`` for a product without SKU; a variation without SKU shows its parent's.
        """
        if item.get("variation_id"):
            variation = self.variations.get(item["variation_id"])
            if variation is None:
                return None
            parent = self.products.get(variation["parent_id"])
            return str(variation["sku"] or (parent["sku"] if parent is not None else ""))
        product = self.products.get(item.get("product_id") or 0)
        return str(product["sku"]) if product is not None else None

    def _restock(self, order: Json) -> None:
        for item in order["line_items"]:
            variation = self.variations.get(item["variation_id"])
            if variation is not None and variation["manage_stock"]:
                variation["stock_quantity"] += item["quantity"]

    # -- paging -------------------------------------------------------------------------------

    def _page(self, params: dict[str, str], rows: list[Json]) -> httpx.Response:
        per_page = _int(params.get("per_page", "10"), name="per_page")
        page = _int(params.get("page", "1"), name="page")
        if not 1 <= per_page <= MAX_PER_PAGE:
            raise _WooError(
                400,
                "rest_invalid_param",
                "Invalid parameter(s): per_page",
                params={"per_page": f"per_page must be between 1 ({MAX_PER_PAGE} max)"},
            )
        total_pages = max(1, math.ceil(len(rows) / per_page)) if rows else 0
        if page > max(total_pages, 1):
            raise _WooError(
                400,
                "rest_post_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )
        chunk = rows[(page - 1) * per_page : page * per_page]
        return _json(
            200, chunk, {"X-WP-Total": str(len(rows)), "X-WP-TotalPages": str(total_pages)}
        )


def _attributes(raw: list[Any]) -> list[Json]:
    out = []
    for position, item in enumerate(raw):
        if not isinstance(item, dict) or not item.get("name"):
            continue
        options: list[str] = []
        for option in item.get("options") or []:
            # Custom attribute options are stored '|'-delimited: a '|' splits an option.
            options.extend(part.strip() for part in str(option).split("|") if part.strip())
        out.append(
            {
                "id": 0,
                "name": str(item["name"]),
                "position": item.get("position", position),
                "visible": bool(item.get("visible", False)),
                "variation": bool(item.get("variation", False)),
                "options": options,
            }
        )
    return out


def _sku_filter(record: Json, params: dict[str, str]) -> bool:
    # ``sku`` takes a comma-separated list of exact SKUs.
    return "sku" not in params or record["sku"] in params["sku"].split(",")


def _body(request: httpx.Request) -> Json:
    try:
        body = json.loads(request.content or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _WooError(400, "rest_invalid_json", "Invalid JSON body passed.") from None
    if not isinstance(body, dict):
        raise _WooError(400, "rest_invalid_json", "Invalid JSON body passed.")
    return body


def _int(text: str, *, name: str = "id") -> int:
    if not text.isdigit():
        raise _WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}")
    return int(text)


def _parse_date(text: str, name: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _WooError(400, "rest_invalid_param", f"Invalid parameter(s): {name}") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json; charset=UTF-8", **(headers or {})},
    )


def _error(exc: _WooError) -> httpx.Response:
    return _json(exc.status, exc.body())


def _absint(value: Any) -> int:
    """PHP's ``absint``: the absolute integer value, 0 for what does not read as a number."""
    try:
        return abs(int(str(value).strip()))
    except ValueError:
        return 0

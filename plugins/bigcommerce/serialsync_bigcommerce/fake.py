"""An in-memory BigCommerce store: the endpoints the plugin speaks, with the platform's limits.

Served as a respx side effect, an ``httpx.MockTransport`` (:meth:`transport`) or an ASGI app
(:meth:`asgi_app`); it routes on the URL *path* (``/stores/{hash}/v3/…``), never the host.

What it enforces, as BigCommerce does:

* ``X-Auth-Token`` (401 otherwise); orders v2 answers JSON only when asked (406 otherwise);
* a request window (30 s, 150 requests by default) shared by every caller, reported on every
  response in ``X-Rate-Limit-*`` headers, and 429 once spent;
* SKUs unique store-wide and **case-insensitive** (409 on a duplicate), at most 255 characters;
  product names unique (409);
* at most **250 values per option** (the option values reference; a 251st is refused with 422
  in the usual error shape, whether it comes in a product create, an option create or an option
  update; *unsure*: the exact title, which the reference does not give); a deleted variant's
  value stays until it is deleted (``DELETE …/options/{id}/values/{id}``);
* at most **600 variants per product**; at most **50 items per** ``PUT /v3/catalog/variants``
  (413), whose answer is 200, 207 (partial) or 422 with ``batch_errors``;
* a variant's one image as ``image_url``, accepted in the product create's variants, in the
  batch's creates and updates, and by ``POST …/variants/{id}/image``; a URL it cannot fetch
  (here: anything but ``http(s)://``) is refused with 422 (400 on the image endpoint), the
  whole product on a create, the one item in a batch; an empty ``image_url`` in an update
  removes nothing (no API removes a variant image: bigcommerce/api-specs#1035);
* ``GET /v2/orders`` sorted by ``date_modified``, at most 250 a page, **204 with no body** when
  a page is empty; dates in RFC 2822; each order's ``items_total`` (its items' quantity);
  ``include=consignments.line_items`` with ``consignment_structure=object`` (on the list and on
  one order, as the Orders v2 reference documents) puts each order's lines in its
  consignments: physical lines in one ``shipping`` consignment, digital ones in ``downloads``,
  ``pickups`` empty, ``email.gift_certificates`` empty; ``include=consignments`` alone gives
  link objects in place of the lines. Without the object structure (the legacy array, which
  the reference calls unsupported in future) the fake leaves ``consignments`` the link
  resource it is by default.

Time comes from ``clock`` (seconds since the epoch), so tests move the window and order dates
without waiting.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from serialsync import FinancialStatus
from serialsync.testing import FakeChannel, FakeListing, Faults, OrderDamage, WebhookSender

from serialsync_bigcommerce.fake_metafields import VariantMetafields
from serialsync_bigcommerce.fake_webhooks import BigCommerceHooks, HookError, retry_delays

MAX_BATCH = 50
MAX_VARIANTS = 600
MAX_OPTION_VALUES = 250
MAX_SKU = 255
_NAME_LIMIT = 250  # characters in a product name (v3 products: minLength 1, maxLength 250)
MAX_ORDERS_PAGE = 250
_ERROR_TYPE = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"

#: The status id the fake gives an order for each financial status.
STATUS_IDS: dict[FinancialStatus, int] = {
    FinancialStatus.PENDING: 7,  # Awaiting Payment
    FinancialStatus.PAID: 11,  # Awaiting Fulfillment
    FinancialStatus.CANCELLED: 5,
    FinancialStatus.REFUNDED: 4,
    FinancialStatus.PARTIALLY_REFUNDED: 14,
}
STATUS_NAMES = {
    0: "Incomplete",
    1: "Pending",
    2: "Shipped",
    3: "Partially Shipped",
    4: "Refunded",
    5: "Cancelled",
    6: "Declined",
    7: "Awaiting Payment",
    8: "Awaiting Pickup",
    9: "Awaiting Shipment",
    10: "Completed",
    11: "Awaiting Fulfillment",
    12: "Manual Verification Required",
    13: "Disputed",
    14: "Partially Refunded",
}


class _Error(Exception):
    """An error answer: ``{status, title, type, errors}``."""

    def __init__(self, status: int, title: str, errors: dict[str, Any] | None = None) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.errors = errors or {}

    def body(self) -> dict[str, Any]:
        """The error as BigCommerce shapes it."""
        return {
            "status": self.status,
            "title": self.title,
            "type": _ERROR_TYPE,
            "errors": self.errors,
        }


def _check_value_count(option: str, count: int) -> None:
    """422 when an option would hold more values than BigCommerce allows."""
    if count > MAX_OPTION_VALUES:
        raise _Error(
            422,
            f"An option can have at most {MAX_OPTION_VALUES} option values",
            {"option_values": f"option {option!r} would have {count} values"},
        )


def _rfc2822(stamp: float) -> str:
    return email.utils.format_datetime(datetime.fromtimestamp(int(stamp), UTC))


def _parse_date(text: str) -> float:
    """A ``min_date_modified`` value: RFC 2822 or ISO 8601, as BigCommerce accepts both."""
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            raise _Error(400, f"The date {text!r} is not RFC 2822 or ISO 8601") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


class FakeBigCommerce(FakeChannel):
    """A BigCommerce store in memory. Every argument is optional.

    :param quota: requests per window (150 Standard/Plus, 450 Pro).
    :param window_ms: the window's length in milliseconds.
    :param clock: seconds since the epoch; drives the window and order dates.
    """

    host = "api.bigcommerce.com"

    def __init__(
        self,
        *,
        store_hash: str = "fakestore1",
        access_token: str = "fake-bigcommerce-token-0001",  # noqa: S107 - the fake's own token
        quota: int = 150,
        window_ms: int = 30_000,
        clock: Callable[[], float] = time.time,
        faults: Faults | None = None,
        sleep: Callable[[float], None] = time.sleep,
        store_name: str = "Fake Guitars",
        plan_name: str = "Standard",
    ) -> None:
        super().__init__(faults=faults, sleep=sleep)
        self.store_hash = store_hash
        self.access_token = access_token
        self.quota = quota
        self.window_ms = window_ms
        self.clock = clock
        self.store_name = store_name
        self.plan_name = plan_name
        self.products: dict[int, dict[str, Any]] = {}
        self.options: dict[int, dict[str, Any]] = {}
        #: Brands by id: made by a product write naming a ``brand_name`` not known yet.
        self.brands: dict[int, dict[str, Any]] = {}
        self.variants: dict[int, dict[str, Any]] = {}
        #: Variant metafields (the batch endpoints and each variant's list).
        self.metafields = VariantMetafields(
            new_id=self._next_id, variant_exists=lambda v: v in self.variants
        )
        self.orders: dict[int, dict[str, Any]] = {}
        self.order_lines: dict[int, list[dict[str, Any]]] = {}
        #: Requests refused with 429 by the window (not injected faults).
        self.throttled = 0
        self._ids = 100
        self._window_start: float | None = None
        self._used = 0
        #: Webhooks, and deliveries of order events (``webhooks.sender.log``).
        self.webhooks = BigCommerceHooks(
            new_id=self._next_id,
            clock=clock,
            store_hash=store_hash,
            sender=WebhookSender(seed=faults.seed if faults else None, delays=retry_delays()),
            lock=self.lock,
        )
        #: Orders the API cannot show yet (the event left before the order reads), and whether
        #: new orders start so.
        self.hidden_orders: set[int] = set()
        self.hide_new_orders = False
        #: False: answer as a store (or a proxy in front of it) that ignores ``include`` on
        #: orders, so a reader must fetch each order's lines on its own.
        self.includes_consignments = True

    # -- FakeChannel -----------------------------------------------------------------------

    def listings(self) -> list[FakeListing]:
        """Every variant with a serial option, with its stock and its product's SKU."""
        return self._listings(None)

    def listings_of(self, skus: Collection[str]) -> list[FakeListing]:
        """:meth:`listings` of these SKUs only (see :meth:`FakeChannel.listings_of`)."""
        return self._listings(set(skus))

    def _listings(self, only: set[str] | None) -> list[FakeListing]:
        with self.lock:
            return [
                FakeListing(
                    sku=v["sku"],
                    stock=v["inventory_level"],
                    product=self.products[v["product_id"]]["sku"],
                    sellable=self._sellable(v),
                )
                for v in self.variants.values()
                if only is None or v["sku"] in only
            ]

    def _sellable(self, variant: dict[str, Any]) -> bool:
        # Stock counts only when the product tracks it per variant; otherwise the storefront
        # sells the variant whatever its inventory_level says.
        if variant.get("purchasing_disabled"):
            return False
        if not self.products[variant["product_id"]].get("is_visible", True):
            return False  # a hidden product is not on the storefront to be bought
        tracking = self.products[variant["product_id"]]["inventory_tracking"]
        return bool(tracking != "variant" or variant["inventory_level"] > 0)

    def storefront(self) -> dict[str, bool]:
        """Each product holding a variant, by SKU: shown while ``is_visible``."""
        with self.lock:
            held = {v["product_id"] for v in self.variants.values()}
            return {
                p["sku"]: bool(p.get("is_visible", True))
                for p in self.products.values()
                if p["id"] in held
            }

    def create_order(
        self,
        lines: Sequence[tuple[str | None, int]],
        *,
        status: FinancialStatus = FinancialStatus.PAID,
    ) -> str:
        """A shopper buys ``(sku, quantity)`` lines; stock goes down. Returns the id.

        An integration id must name a variant for sale (``ValueError`` otherwise; nothing is
        taken then). Any other SKU is a plain product of the store, created on first sale.
        ``None`` is a custom product added to the order by hand: BigCommerce shows it with
        ``product_id`` 0, ``variant_id`` 0 and an empty ``sku``.
        """
        with self.lock:
            chosen: list[tuple[dict[str, Any] | None, str | None, int]] = []
            for sku, quantity in lines:
                variant = self._variant_by_sku(sku) if sku is not None else None
                if sku is not None and variant is None and "|||" in sku:
                    raise ValueError(f"no variant has the SKU {sku!r}")
                if variant is not None:
                    tracked = (
                        self.products[variant["product_id"]]["inventory_tracking"] == "variant"
                    )
                    if not self._sellable(variant) or (
                        tracked and variant["inventory_level"] < quantity
                    ):
                        raise ValueError(f"{sku!r} is out of stock")
                chosen.append((variant, sku, quantity))
            order_id = self._next_id()
            now = self.clock()
            order_lines = []
            total = 0.0
            for variant, sku, quantity in chosen:
                line = self._order_line(order_id, variant, sku, quantity)
                total += float(line["base_price"]) * quantity
                order_lines.append(line)
            self.orders[order_id] = {
                "id": order_id,
                "status_id": STATUS_IDS[status],
                "created": now,
                "modified": now,
                "currency_code": "USD",
                "total_inc_tax": f"{total:.4f}",
                # No tax or shipping charged unless a test sets them; paid by card.
                "total_tax": "0.0000",
                "shipping_cost_ex_tax": "0.0000",
                "shipping_cost_inc_tax": "0.0000",
                "payment_method": "Credit Card",
                # The quantity of the order's items, as BigCommerce counts it when it is placed.
                "items_total": sum(quantity for _, _, quantity in chosen),
                "billing_address": {
                    "first_name": "Ada",
                    "last_name": "Shopper",
                    "email": "ada@example.com",
                },
            }
            self.order_lines[order_id] = order_lines
            if self.hide_new_orders:
                self.hidden_orders.add(order_id)
            self.webhooks.order_event("store/order/created", order_id)
            return str(order_id)

    def _order_line(
        self, order_id: int, variant: dict[str, Any] | None, sku: str | None, quantity: int
    ) -> dict[str, Any]:
        """One ``/v2/orders/{id}/products`` row; takes stock from a tracked variant."""
        if variant is None and sku is None:
            product_id, variant_id, name, price, line_sku = 0, 0, "Setup service", 25.0, ""
        elif variant is None:
            assert sku is not None
            plain = self._plain_product(sku)
            product_id, variant_id, name = plain["id"], plain["base_variant_id"], plain["name"]
            price, line_sku = float(plain["price"]), plain["sku"]
        else:
            product = self.products[variant["product_id"]]
            if product["inventory_tracking"] == "variant":
                variant["inventory_level"] -= quantity
            product_id, variant_id, name = product["id"], variant["id"], product["name"]
            price, line_sku = float(variant["price"] or product["price"]), variant["sku"]
        return {
            "id": self._next_id(),
            "order_id": order_id,
            "product_id": product_id,
            "variant_id": variant_id,
            "type": "physical",
            "name": name,
            "sku": line_sku,
            "quantity": quantity,
            "quantity_refunded": 0,
            "base_price": f"{price:.4f}",
            "price_inc_tax": f"{price:.4f}",
        }

    def _plain_product(self, sku: str) -> dict[str, Any]:
        """The store's own product with SKU ``sku`` (not one of ours), created on first sale.

        It has no options, so its only variant is the base variant BigCommerce gives every
        product; inventory is not tracked, so any quantity can be sold.
        """
        folded = sku.casefold()
        for product in self.products.values():
            if product["sku"] and product["sku"].casefold() == folded:
                return product
        product = {
            "id": self._next_id(),
            "name": f"Shop product {sku}",
            "type": "physical",
            "sku": sku,
            "price": 19.99,
            "weight": 1,
            "description": "",
            "inventory_tracking": "none",
            "is_visible": True,
            "images": [],
            "option_ids": [],
            "base_variant_id": self._next_id(),
        }
        self.products[product["id"]] = product
        return product

    def damage_order(self, order_id: str, damage: OrderDamage) -> None:
        """Spoil a stored order as a broken app or import leaves one (see ``FakeChannel``).

        ``negative-quantity``: its first line's quantity is -1; ``missing-field``: its first
        line has no ``quantity``; ``unknown-status``: a status id BigCommerce does not define
        (99). The order counts as modified now.
        """
        with self.lock:
            order = self.orders[int(order_id)]
            first = self.order_lines[int(order_id)][0]
            if damage == "negative-quantity":
                first["quantity"] = -1
            elif damage == "missing-field":
                del first["quantity"]
            elif damage == "unknown-status":
                order["status_id"] = 99
            else:
                raise ValueError(f"unknown damage {damage!r}")
            order["modified"] = self.clock()
            self.webhooks.order_event("store/order/updated", int(order_id))

    def set_order_status(self, order_id: str, status: FinancialStatus) -> None:
        """Move an order to the status id the shop's staff would pick for ``status``."""
        self.set_order_status_id(order_id, STATUS_IDS[status])

    def set_order_status_id(self, order_id: str, status_id: int) -> None:
        """Set a raw BigCommerce status id (6 Declined, 13 Disputed…); refunds fill lines."""
        with self.lock:
            order = self.orders[int(order_id)]
            order["status_id"] = status_id
            order["modified"] = self.clock()
            if status_id == 4:
                for line in self.order_lines[int(order_id)]:
                    line["quantity_refunded"] = line["quantity"]
            self.webhooks.order_event("store/order/statusUpdated", int(order_id))
            self.webhooks.order_event("store/order/updated", int(order_id))

    def connector_settings(self, base_url: str) -> dict[str, Any]:
        """Settings of a ``bigcommerce`` connector pointing at this fake at ``base_url``."""
        return {
            "store_hash": self.store_hash,
            "access_token": self.access_token,
            "base_url": base_url,
            "plan_quota": self.quota,
        }

    # -- serving ---------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request as BigCommerce would."""
        with self.lock:
            if request.headers.get("x-auth-token") != self.access_token:
                return self._answer(_Error(401, "Authentication required").body(), 401, {})
            prefix = f"/stores/{self.store_hash}/"
            path = request.url.path
            if not path.startswith(prefix):
                return self._answer(_Error(404, "Store not found").body(), 404, {})
            limits = self._spend()
            if limits is None:
                self.throttled += 1
                body = _Error(429, "Too many requests").body()
                return self._answer(body, 429, self._limit_headers())
            try:
                status, body = self._route(request, path[len(prefix) - 1 :])
            except _Error as exc:
                status, body = exc.status, exc.body()
            return self._answer(body, status, limits)

    def _answer(self, body: Any, status: int, headers: dict[str, str]) -> httpx.Response:
        if status == 204 or body is None:
            return httpx.Response(status, headers=headers)
        return httpx.Response(
            status,
            content=json.dumps(body).encode(),
            headers={"content-type": "application/json", **headers},
        )

    def _spend(self) -> dict[str, str] | None:
        """Count one request in the window; ``None`` when the window is spent (429)."""
        now = self.clock()
        if self._window_start is None or now - self._window_start >= self.window_ms / 1000:
            self._window_start, self._used = now, 0
        if self._used >= self.quota:
            return None
        self._used += 1
        return self._limit_headers()

    def _limit_headers(self) -> dict[str, str]:
        assert self._window_start is not None
        reset = max(0, int((self._window_start + self.window_ms / 1000 - self.clock()) * 1000))
        return {
            "X-Rate-Limit-Requests-Left": str(max(self.quota - self._used, 0)),
            "X-Rate-Limit-Requests-Quota": str(self.quota),
            "X-Rate-Limit-Time-Reset-Ms": str(reset),
            "X-Rate-Limit-Time-Window-Ms": str(self.window_ms),
        }

    def _route(self, request: httpx.Request, path: str) -> tuple[int, Any]:
        method = request.method
        query = {k: v[-1] for k, v in parse_qs(request.url.query.decode()).items()}
        if path.startswith("/v2/") and "json" not in request.headers.get("accept", ""):
            # Orders v2 answers XML by default; this fake only speaks JSON.
            raise _Error(406, "Ask for application/json: v2 answers XML otherwise")
        routes: list[tuple[str, str, Callable[..., tuple[int, Any]]]] = [
            ("GET", r"/v2/store", self._store),
            ("GET", r"/v2/orders", self._list_orders),
            ("GET", r"/v2/orders/(\d+)", self._get_order),
            ("GET", r"/v2/orders/(\d+)/products", self._list_order_lines),
            ("GET", r"/v3/catalog/products", self._list_products),
            ("POST", r"/v3/catalog/products", self._create_product),
            ("GET", r"/v3/catalog/products/(\d+)", self._get_product),
            ("PUT", r"/v3/catalog/products/(\d+)", self._update_product),
            ("POST", r"/v3/catalog/products/(\d+)/options", self._create_option),
            ("PUT", r"/v3/catalog/products/(\d+)/options/(\d+)", self._update_option),
            ("DELETE", r"/v3/catalog/products/(\d+)", self._delete_product),
            ("GET", r"/v3/catalog/products/(\d+)/images", self._list_images),
            ("POST", r"/v3/catalog/products/(\d+)/images", self._create_image),
            ("DELETE", r"/v3/catalog/products/(\d+)/images/(\d+)", self._delete_image),
            (
                "DELETE",
                r"/v3/catalog/products/(\d+)/options/(\d+)/values/(\d+)",
                self._delete_option_value,
            ),
            ("DELETE", r"/v3/catalog/products/(\d+)/variants/(\d+)", self._delete_variant),
            ("POST", r"/v3/catalog/products/(\d+)/variants/(\d+)/image", self._variant_image),
            ("GET", r"/v3/catalog/variants", self._list_variants),
            ("PUT", r"/v3/catalog/variants", self._batch_variants),
            ("POST", r"/v3/catalog/variants/metafields", self._metafields_batch),
            ("PUT", r"/v3/catalog/variants/metafields", self._metafields_batch),
            ("DELETE", r"/v3/catalog/variants/metafields", self._metafields_batch),
            (
                "GET",
                r"/v3/catalog/products/(\d+)/variants/(\d+)/metafields",
                self._variant_metafields,
            ),
            ("GET", r"/v3/hooks", self._hooks),
            ("POST", r"/v3/hooks", self._hooks),
            ("GET", r"/v3/hooks/(\d+)", self._hook),
            ("PUT", r"/v3/hooks/(\d+)", self._hook),
            ("DELETE", r"/v3/hooks/(\d+)", self._hook),
        ]
        allowed = False
        for verb, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match is None:
                continue
            if verb == method:
                args = [int(g) for g in match.groups()]
                return handler(request, query, *args)
            allowed = True
        if allowed:
            raise _Error(405, f"{method} is not allowed on {path}")
        raise _Error(404, f"No route for {path}")

    # -- helpers ---------------------------------------------------------------------------

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def _variant_by_sku(self, sku: str) -> dict[str, Any] | None:
        for variant in self.variants.values():
            if variant["sku"].casefold() == sku.casefold():
                return variant
        return None

    def _sku_taken(self, sku: str, *, variant_id: int | None = None) -> bool:
        folded = sku.casefold()
        if any(p["sku"].casefold() == folded for p in self.products.values() if p["sku"]):
            return True
        return any(
            v["sku"].casefold() == folded and v["id"] != variant_id for v in self.variants.values()
        )

    @staticmethod
    def _body(request: httpx.Request) -> Any:
        try:
            return json.loads(request.content or b"null")
        except ValueError:
            raise _Error(400, "The request body is not valid JSON") from None

    def _product_json(self, product: dict[str, Any], include: str) -> dict[str, Any]:
        data = {k: v for k, v in product.items() if k != "option_ids"}
        wanted = set(include.split(",")) if include else set()
        if "variants" in wanted:
            data["variants"] = [
                self._variant_json(v)
                for v in self.variants.values()
                if v["product_id"] == product["id"]
            ]
        if "options" in wanted:
            data["options"] = [self.options[o] for o in product["option_ids"]]
        return data

    def _variant_json(self, variant: dict[str, Any]) -> dict[str, Any]:
        return dict(variant)

    def _brand_id(self, name: Any) -> int:
        """The id of the brand named ``name``, made when none matches; 0 for no name.

        BigCommerce matches ``brand_name`` loosely ("Common Good" is "Common good") and
        answers only the ``brand_id``; case-insensitive here."""
        if not isinstance(name, str) or not name.strip():
            return 0
        for brand in self.brands.values():
            if brand["name"].casefold() == name.strip().casefold():
                return int(brand["id"])
        brand_id = self._next_id()
        self.brands[brand_id] = {"id": brand_id, "name": name.strip()}
        return brand_id

    def brand_of(self, product_id: int) -> str | None:
        """The name of a product's brand, if it has one."""
        brand = self.brands.get(int(self.products[product_id].get("brand_id") or 0))
        return None if brand is None else str(brand["name"])

    def _product(self, product_id: int) -> dict[str, Any]:
        product = self.products.get(product_id)
        if product is None:
            raise _Error(404, f"Product {product_id} not found")
        return product

    def _check_sku(self, sku: Any) -> str:
        if not isinstance(sku, str) or not sku:
            raise _Error(422, "The sku is required", {"sku": "required"})
        if len(sku) > MAX_SKU:
            raise _Error(422, f"The sku is longer than {MAX_SKU} characters", {"sku": sku})
        return sku

    @staticmethod
    def _check_image(item: dict[str, Any], ref: Any) -> None:
        """``image_url``, when sent, must be a URL the platform can download, or ``""`` (no
        image: the reference's own variant examples carry ``image_url: ''``)."""
        if "image_url" not in item:
            return
        url = item["image_url"]
        if not isinstance(url, str) or (url and not url.startswith(("http://", "https://"))):
            raise _Error(
                422, "The variant image_url could not be downloaded", {"image_url": url, "ref": ref}
            )

    @staticmethod
    def _check_price(item: dict[str, Any], ref: Any) -> None:
        price = item.get("price")
        if price is not None and (not isinstance(price, int | float) or price < 0):
            raise _Error(422, "The price must be a number >= 0", {"price": price, "ref": ref})

    def _option_value(self, product: dict[str, Any], name: str, label: str) -> dict[str, Any]:
        """The option value ``label`` of option ``name``, created (with the option) if new."""
        option = next(
            (
                self.options[o]
                for o in product["option_ids"]
                if self.options[o]["display_name"].casefold() == name.casefold()
            ),
            None,
        )
        if option is None:
            option = {
                "id": self._next_id(),
                "product_id": product["id"],
                "display_name": name,
                "type": "dropdown",
                "option_values": [],
            }
            self.options[option["id"]] = option
            product["option_ids"].append(option["id"])
        for value in option["option_values"]:
            if value["label"].casefold() == label.casefold():
                return {
                    "id": value["id"],
                    "option_id": option["id"],
                    "label": value["label"],
                    "option_display_name": option["display_name"],
                }
        value = {"id": self._next_id(), "label": label, "sort_order": len(option["option_values"])}
        option["option_values"].append(value)
        return {
            "id": value["id"],
            "option_id": option["id"],
            "label": label,
            "option_display_name": option["display_name"],
        }

    def _new_variant(
        self, product: dict[str, Any], item: dict[str, Any], values: list[dict[str, Any]]
    ) -> dict[str, Any]:
        variant = {
            "id": self._next_id(),
            "product_id": product["id"],
            "sku": item["sku"],
            "price": item.get("price"),
            "inventory_level": int(item.get("inventory_level") or 0),
            "purchasing_disabled": bool(item.get("purchasing_disabled", False)),
            "image_url": str(item.get("image_url") or ""),
            "option_values": values,
        }
        self.variants[variant["id"]] = variant
        return variant

    # -- store and catalog -------------------------------------------------------------------

    def _store(self, request: httpx.Request, query: dict[str, str]) -> tuple[int, Any]:
        return 200, {
            "id": self.store_hash,
            "domain": f"{self.store_hash}.example.com",
            "name": self.store_name,
            "plan_name": self.plan_name,
        }

    def _list_products(self, request: httpx.Request, query: dict[str, str]) -> tuple[int, Any]:
        products = list(self.products.values())
        if "sku" in query:
            products = [p for p in products if p["sku"].casefold() == query["sku"].casefold()]
        include = query.get("include", "")
        data = [self._product_json(p, include) for p in products]
        return 200, {"data": data, "meta": {"pagination": {"total": len(data), "count": len(data)}}}

    def _get_product(
        self, request: httpx.Request, query: dict[str, str], product_id: int
    ) -> tuple[int, Any]:
        product = self._product(product_id)
        return 200, {"data": self._product_json(product, query.get("include", "")), "meta": {}}

    def _update_product(
        self, request: httpx.Request, query: dict[str, str], product_id: int
    ) -> tuple[int, Any]:
        product = self._product(product_id)
        body = self._body(request)
        if not isinstance(body, dict):
            raise _Error(422, "The product must be an object")
        tracking = body.get("inventory_tracking", product["inventory_tracking"])
        if tracking not in ("none", "product", "variant"):
            raise _Error(422, "inventory_tracking must be none, product or variant")
        if "is_visible" in body and not isinstance(body["is_visible"], bool):
            raise _Error(422, "is_visible must be a boolean", {"is_visible": "type"})
        if "name" in body and not 1 <= len(str(body["name"])) <= _NAME_LIMIT:
            raise _Error(422, f"name must be 1 to {_NAME_LIMIT} characters", {"name": "length"})
        if "name" in body and any(
            p["name"].casefold() == str(body["name"]).casefold() and p["id"] != product_id
            for p in self.products.values()
        ):
            raise _Error(409, "The product name is a duplicate", {"name": body["name"]})
        for key in ("name", "price", "description", "inventory_tracking", "is_visible"):
            if key in body:
                product[key] = body[key]
        if body.get("brand_name"):
            product["brand_id"] = self._brand_id(body["brand_name"])
        return 200, {"data": self._product_json(product, ""), "meta": {}}

    def _create_product(self, request: httpx.Request, query: dict[str, str]) -> tuple[int, Any]:
        body = self._body(request)
        if not isinstance(body, dict):
            raise _Error(422, "The product must be an object")
        missing = [k for k in ("name", "type", "weight", "price") if k not in body]
        if missing:
            raise _Error(422, "Required fields are missing", {k: "required" for k in missing})
        name = str(body["name"])
        if any(p["name"].casefold() == name.casefold() for p in self.products.values()):
            raise _Error(409, "The product name is a duplicate", {"name": name})
        sku = str(body.get("sku") or "")
        if sku and self._sku_taken(sku):
            raise _Error(409, f"The product sku {sku!r} is a duplicate", {"sku": sku})
        variants = body.get("variants") or []
        if len(variants) > MAX_VARIANTS:
            raise _Error(
                422,
                f"A product can have at most {MAX_VARIANTS} variants",
                {"variants": len(variants)},
            )
        seen: set[str] = set()
        conflicts: dict[str, str] = {}
        for i, item in enumerate(variants):
            vsku = self._check_sku(item.get("sku"))
            self._check_price(item, vsku)
            try:
                self._check_image(item, vsku)
            except _Error as exc:
                raise _Error(exc.status, exc.title, {f"variants.{i}.image_url": vsku}) from None
            if vsku.casefold() in seen or self._sku_taken(vsku):
                conflicts[f"variants.{i}.sku"] = f"Sku {vsku} is not unique"
            seen.add(vsku.casefold())
            for value in item.get("option_values") or []:
                if not value.get("option_display_name") or not value.get("label"):
                    raise _Error(422, "option_values need option_display_name and label")
        if conflicts:
            raise _Error(409, "Sku is not unique", conflicts)
        labels: dict[str, set[str]] = {}
        for item in variants:
            for value in item.get("option_values") or []:
                option_name = str(value["option_display_name"]).casefold()
                labels.setdefault(option_name, set()).add(str(value["label"]).casefold())
        for option_name, named in labels.items():
            _check_value_count(option_name, len(named))
        product = {
            "id": self._next_id(),
            "name": name,
            "type": body["type"],
            "sku": sku,
            "price": body["price"],
            "weight": body["weight"],
            "description": body.get("description", ""),
            "inventory_tracking": body.get("inventory_tracking", "none"),
            "is_visible": body.get("is_visible", True),
            "images": [self._image(i) for i in body.get("images") or [] if isinstance(i, dict)],
            "brand_id": self._brand_id(body.get("brand_name")) or body.get("brand_id", 0),
            "option_ids": [],
        }
        self.products[product["id"]] = product
        for item in variants:
            values = [
                self._option_value(product, v["option_display_name"], v["label"])
                for v in item.get("option_values") or []
            ]
            self._new_variant(product, item, values)
        return 200, {"data": self._product_json(product, "variants,options"), "meta": {}}

    def _create_option(
        self, request: httpx.Request, query: dict[str, str], product_id: int
    ) -> tuple[int, Any]:
        product = self._product(product_id)
        body = self._body(request) or {}
        labels = [str(v.get("label", "")) for v in body.get("option_values") or []]
        if not body.get("display_name") or not labels:
            raise _Error(422, "display_name and at least one option value are required")
        if len({label.casefold() for label in labels}) != len(labels):
            raise _Error(422, "Option value labels must be unique")
        _check_value_count(str(body["display_name"]), len(labels))
        for label in labels:
            self._option_value(product, str(body["display_name"]), label)
        option = next(
            self.options[o]
            for o in product["option_ids"]
            if self.options[o]["display_name"].casefold() == str(body["display_name"]).casefold()
        )
        return 200, {"data": option, "meta": {}}

    def _update_option(
        self, request: httpx.Request, query: dict[str, str], product_id: int, option_id: int
    ) -> tuple[int, Any]:
        product = self._product(product_id)
        option = self.options.get(option_id)
        if option is None or option_id not in product["option_ids"]:
            raise _Error(404, f"Option {option_id} not found")
        body = self._body(request) or {}
        if "option_values" in body:
            listed = body["option_values"] or []
            labels = [str(v.get("label", "")).casefold() for v in listed]
            if len(set(labels)) != len(labels) or "" in labels:
                raise _Error(422, "Option value labels must be unique and not empty")
            _check_value_count(option["display_name"], len(labels))
            by_id = {v["id"]: v for v in option["option_values"]}
            kept: list[dict[str, Any]] = []
            for i, value in enumerate(listed):
                if "id" in value and value["id"] is not None:
                    old = by_id.get(int(value["id"]))
                    if old is None:
                        raise _Error(422, f"Option value {value['id']} not found")
                    old["label"] = str(value.get("label") or old["label"])
                    kept.append(old)
                else:
                    kept.append(
                        {"id": self._next_id(), "label": str(value["label"]), "sort_order": i}
                    )
            # Replace semantics: a value left out is removed, and so are its variants.
            dropped = set(by_id) - {v["id"] for v in kept}
            for vid in [
                v["id"]
                for v in self.variants.values()
                if any(ov["id"] in dropped for ov in v["option_values"])
            ]:
                del self.variants[vid]
            option["option_values"] = kept
        if body.get("display_name"):
            option["display_name"] = str(body["display_name"])
        return 200, {"data": option, "meta": {}}

    def _image(self, body: dict[str, Any]) -> dict[str, Any]:
        """A product image as BigCommerce keeps it: its own id; the URL it was fetched from
        is not answered back (only BigCommerce's own copies are)."""
        url = body.get("image_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _Error(422, "image_url must be a fully qualified URL", {"image_url": "url"})
        if len(url) > 255:
            raise _Error(422, "image_url is longer than 255 characters", {"image_url": "length"})
        image_id = self._next_id()
        return {
            "id": image_id,
            "is_thumbnail": bool(body.get("is_thumbnail", False)),
            "sort_order": int(body.get("sort_order", 0) or 0),
            "source": url,  # the fake's record of what was fetched; never in an answer
            "url_standard": f"https://cdn.fake-bigcommerce.example/images/{image_id}.jpg",
        }

    @staticmethod
    def _image_json(product_id: int, image: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in image.items() if k != "source"}
        return {**shown, "product_id": product_id}

    def image_sources(self, product_id: int) -> list[str]:
        """The URLs a product's images were fetched from, thumbnail first (for tests)."""
        images = sorted(self.products[product_id]["images"], key=lambda i: not i["is_thumbnail"])
        return [str(i["source"]) for i in images]

    def _list_images(
        self, request: httpx.Request, query: dict[str, str], product_id: int
    ) -> tuple[int, Any]:
        product = self._product(product_id)
        data = [self._image_json(product_id, i) for i in product["images"]]
        return 200, {"data": data, "meta": {"pagination": {"total": len(data)}}}

    def _create_image(
        self, request: httpx.Request, query: dict[str, str], product_id: int
    ) -> tuple[int, Any]:
        product = self._product(product_id)
        body = self._body(request)
        if not isinstance(body, dict):
            raise _Error(422, "The image must be an object")
        image = self._image(body)
        if image["is_thumbnail"]:
            for other in product["images"]:
                other["is_thumbnail"] = False
        product["images"].append(image)
        return 200, {"data": self._image_json(product_id, image), "meta": {}}

    def _delete_image(
        self, request: httpx.Request, query: dict[str, str], product_id: int, image_id: int
    ) -> tuple[int, Any]:
        product = self._product(product_id)
        kept = [i for i in product["images"] if i["id"] != image_id]
        if len(kept) == len(product["images"]):
            raise _Error(404, f"Image {image_id} not found")
        product["images"] = kept
        return 204, None

    def _delete_product(
        self, request: httpx.Request, query: dict[str, str], product_id: int
    ) -> tuple[int, Any]:
        product = self._product(product_id)
        for vid in [v["id"] for v in self.variants.values() if v["product_id"] == product_id]:
            del self.variants[vid]
        for option_id in product["option_ids"]:
            self.options.pop(option_id, None)
        del self.products[product_id]
        return 204, None

    def _delete_option_value(
        self,
        request: httpx.Request,
        query: dict[str, str],
        product_id: int,
        option_id: int,
        value_id: int,
    ) -> tuple[int, Any]:
        product = self._product(product_id)
        option = self.options.get(option_id)
        if option is None or option_id not in product["option_ids"]:
            raise _Error(404, f"Option {option_id} not found")
        if not any(v["id"] == value_id for v in option["option_values"]):
            raise _Error(404, f"Option value {value_id} not found")
        option["option_values"] = [v for v in option["option_values"] if v["id"] != value_id]
        # A value's variants go with it.
        for vid in [
            v["id"]
            for v in self.variants.values()
            if any(ov["id"] == value_id for ov in v["option_values"])
        ]:
            del self.variants[vid]
        return 204, None

    def _delete_variant(
        self, request: httpx.Request, query: dict[str, str], product_id: int, variant_id: int
    ) -> tuple[int, Any]:
        variant = self.variants.get(variant_id)
        if variant is None or variant["product_id"] != product_id:
            raise _Error(404, f"Variant {variant_id} not found")
        del self.variants[variant_id]
        return 204, None

    def _variant_image(
        self, request: httpx.Request, query: dict[str, str], product_id: int, variant_id: int
    ) -> tuple[int, Any]:
        variant = self.variants.get(variant_id)
        if variant is None or variant["product_id"] != product_id:
            raise _Error(404, f"Variant {variant_id} not found")
        url = str((self._body(request) or {}).get("image_url") or "")
        if not url.startswith(("http://", "https://")):
            raise _Error(400, "The image could not be downloaded", {"image_url": url})
        variant["image_url"] = url
        return 200, {"data": {"image_url": url}, "meta": {}}

    def _metafields_batch(self, request: httpx.Request, query: dict[str, str]) -> tuple[int, Any]:
        body = self._body(request)
        batch = {
            "POST": self.metafields.create,
            "PUT": self.metafields.update,
            "DELETE": self.metafields.delete,
        }[request.method]
        return batch(body)

    def _variant_metafields(
        self, request: httpx.Request, query: dict[str, str], product_id: int, variant_id: int
    ) -> tuple[int, Any]:
        variant = self.variants.get(variant_id)
        if variant is None or variant["product_id"] != product_id:
            raise _Error(404, f"Variant {variant_id} not found")
        found = self.metafields.of_variant(variant_id)
        if "namespace" in query:
            found = [m for m in found if m["namespace"] == query["namespace"]]
        return 200, {"data": found, "meta": {"pagination": {"total": len(found)}}}

    def _list_variants(self, request: httpx.Request, query: dict[str, str]) -> tuple[int, Any]:
        variants = list(self.variants.values())
        if "sku" in query:
            variants = [v for v in variants if v["sku"].casefold() == query["sku"].casefold()]
        # Paged as the API pages: ``limit`` at most 250 (default 50), ``page`` from 1.
        limit = max(1, min(250, int(query.get("limit") or 50)))
        page = max(1, int(query.get("page") or 1))
        total = len(variants)
        data = [self._variant_json(v) for v in variants[(page - 1) * limit : page * limit]]
        pages = max(1, -(-total // limit))
        return 200, {
            "data": data,
            "meta": {
                "pagination": {
                    "total": total,
                    "count": len(data),
                    "per_page": limit,
                    "current_page": page,
                    "total_pages": pages,
                }
            },
        }

    def _batch_variants(self, request: httpx.Request, query: dict[str, str]) -> tuple[int, Any]:
        items = self._body(request)
        if not isinstance(items, list):
            raise _Error(422, "The body must be an array of variants")
        if len(items) > MAX_BATCH:
            raise _Error(
                413,
                "The request payload is too large. The maximum items allowed in the array is "
                f"{MAX_BATCH}",
            )
        written: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        for item in items:
            try:
                written.append(self._batch_item(item))
            except _Error as exc:
                errors.append(exc.body())
        if not errors:
            return 200, {"data": written, "meta": {}}
        if not written:
            return 422, {"batch_errors": errors}
        return 207, {"data": written, "batch_errors": errors, "meta": {}}

    def _batch_item(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            raise _Error(422, "Each variant must be an object")
        if item.get("id") is not None:
            variant = self.variants.get(int(item["id"]))
            if variant is None:
                raise _Error(404, f"Variant {item['id']} not found", {"id": item["id"]})
            if "sku" in item:
                sku = self._check_sku(item["sku"])
                if self._sku_taken(sku, variant_id=variant["id"]):
                    raise _Error(409, f"Sku {sku} is not unique", {"sku": sku, "id": variant["id"]})
            self._check_price(item, variant["id"])
            self._check_image(item, variant["id"])
            level = item.get("inventory_level", variant["inventory_level"])
            if not isinstance(level, int) or level < 0:
                raise _Error(
                    422, "inventory_level must be a whole number >= 0", {"id": variant["id"]}
                )
            for key in ("sku", "price", "inventory_level", "purchasing_disabled", "image_url"):
                if key == "image_url" and not item.get(key):
                    # BigCommerce has no way to delete a variant image through the API (tested
                    # and confirmed in bigcommerce/api-specs#1035): an empty one removes nothing.
                    continue
                if key in item:
                    variant[key] = item[key]
            return self._variant_json(variant)
        product = self.products.get(int(item.get("product_id") or 0))
        if product is None:
            raise _Error(422, "product_id must name an existing product", {"sku": item.get("sku")})
        sku = self._check_sku(item.get("sku"))
        self._check_price(item, sku)
        self._check_image(item, sku)
        if self._sku_taken(sku):
            raise _Error(409, f"Sku {sku} is not unique", {"sku": sku})
        if (
            sum(1 for v in self.variants.values() if v["product_id"] == product["id"])
            >= MAX_VARIANTS
        ):
            raise _Error(422, f"A product can have at most {MAX_VARIANTS} variants", {"sku": sku})
        values = []
        for ref in item.get("option_values") or []:
            option = self.options.get(int(ref.get("option_id") or 0))
            if option is None or option["id"] not in product["option_ids"]:
                raise _Error(422, "option_values must name the product's options", {"sku": sku})
            value = next((v for v in option["option_values"] if v["id"] == ref.get("id")), None)
            if value is None:
                raise _Error(422, "option_values must name existing option values", {"sku": sku})
            values.append(
                {
                    "id": value["id"],
                    "option_id": option["id"],
                    "label": value["label"],
                    "option_display_name": option["display_name"],
                }
            )
        if not values:
            raise _Error(422, "A new variant needs option_values", {"sku": sku})
        combo = sorted(v["id"] for v in values)
        for other in self.variants.values():
            if (
                other["product_id"] == product["id"]
                and sorted(v["id"] for v in other["option_values"]) == combo
            ):
                raise _Error(422, "A variant with these option values exists", {"sku": sku})
        return self._variant_json(self._new_variant(product, item, values))

    # -- orders ----------------------------------------------------------------------------

    def _order_json(self, order: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        data = {k: v for k, v in order.items() if k not in ("created", "modified")}
        data["status"] = STATUS_NAMES.get(order["status_id"], "Unknown")
        data["date_created"] = _rfc2822(order["created"])
        data["date_modified"] = _rfc2822(order["modified"])
        lines = self.order_lines.get(order["id"], [])
        data["products"] = self._link(f"/orders/{order['id']}/products")
        data["consignments"] = self._consignments(order["id"], lines, query)
        return data

    def _link(self, resource: str) -> dict[str, str]:
        return {
            "url": f"https://{self.host}/stores/{self.store_hash}/v2{resource}",
            "resource": resource,
        }

    def _consignments(
        self, order_id: int, lines: list[dict[str, Any]], query: dict[str, str]
    ) -> dict[str, Any]:
        """An order's ``consignments``: the link resource, or the object structure asked for
        with ``include`` (lines in full with ``consignments.line_items``, else links)."""
        include = set(query.get("include", "").split(",")) if self.includes_consignments else set()
        asked = include & {"consignments", "consignments.line_items"}
        if not asked or query.get("consignment_structure") != "object":
            return self._link(f"/orders/{order_id}/consignments")

        def items(kind: str) -> list[dict[str, Any]]:
            chosen = [line for line in lines if (line["type"] == "digital") == (kind == "digital")]
            if "consignments.line_items" in include:
                return [dict(line) for line in chosen]
            return [self._link(f"/orders/{order_id}/products/{line['id']}") for line in chosen]

        physical, digital = items("physical"), items("digital")
        shipped = sum(int(line.get("quantity", 0)) for line in lines if line["type"] != "digital")
        shipping = []
        if physical:
            shipping.append(
                {
                    "id": order_id,
                    "first_name": "Ada",
                    "last_name": "Shopper",
                    "email": "ada@example.com",
                    "line_items": physical,
                    "items_total": shipped,
                    "items_shipped": 0,
                }
            )
        downloads = []
        if digital:
            downloads.append({"recipient_email": "ada@example.com", "line_items": digital})
        return {
            "pickups": [],
            "shipping": shipping,
            "downloads": downloads,
            "email": {"gift_certificates": []},
        }

    def _list_orders(self, request: httpx.Request, query: dict[str, str]) -> tuple[int, Any]:
        try:
            page = int(query.get("page", "1"))
            limit = int(query.get("limit", "50"))
        except ValueError:
            raise _Error(400, "page and limit must be numbers") from None
        if page < 1 or not 1 <= limit <= MAX_ORDERS_PAGE:
            raise _Error(400, f"limit must be 1 to {MAX_ORDERS_PAGE}, page at least 1")
        orders = [o for o in self.orders.values() if o["id"] not in self.hidden_orders]
        if "min_date_modified" in query:
            floor = _parse_date(query["min_date_modified"])
            # v2 dates have whole seconds; compare at that precision.
            orders = [o for o in orders if int(o["modified"]) >= int(floor)]
        if query.get("sort") == "date_modified:asc":
            orders.sort(key=lambda o: (int(o["modified"]), o["id"]))
        else:
            orders.sort(key=lambda o: o["id"])
        chosen = orders[(page - 1) * limit : page * limit]
        if not chosen:
            return 204, None  # BigCommerce's empty page: no body at all
        return 200, [self._order_json(o, query) for o in chosen]

    def _hooks(self, request: httpx.Request, query: dict[str, str]) -> tuple[int, Any]:
        try:
            if request.method == "POST":
                return 200, {"data": self.webhooks.create(self._body(request)), "meta": {}}
        except HookError as exc:
            raise _Error(exc.status, exc.title) from None
        hooks = self.webhooks.listing()
        meta = {"pagination": {"total": len(hooks), "total_pages": 1, "current_page": 1}}
        return 200, {"data": hooks, "meta": meta}

    def _hook(self, request: httpx.Request, query: dict[str, str], hook_id: int) -> tuple[int, Any]:
        try:
            if request.method == "PUT":
                return 200, {"data": self.webhooks.update(hook_id, self._body(request)), "meta": {}}
            if request.method == "DELETE":
                return 200, {"data": self.webhooks.delete(hook_id), "meta": {}}
            return 200, {"data": dict(self.webhooks.get(hook_id)), "meta": {}}
        except HookError as exc:
            raise _Error(exc.status, exc.title) from None

    def _get_order(
        self, request: httpx.Request, query: dict[str, str], order_id: int
    ) -> tuple[int, Any]:
        order = self.orders.get(order_id)
        if order is None or order_id in self.hidden_orders:
            raise _Error(404, f"Order {order_id} not found")
        return 200, self._order_json(order, query)

    def _list_order_lines(
        self, request: httpx.Request, query: dict[str, str], order_id: int
    ) -> tuple[int, Any]:
        if order_id not in self.orders:
            raise _Error(404, f"Order {order_id} not found")
        page = int(query.get("page", "1"))
        limit = min(int(query.get("limit", "50")), MAX_ORDERS_PAGE)
        lines = self.order_lines[order_id][(page - 1) * limit : page * limit]
        if not lines:
            return 204, None
        return 200, [dict(line) for line in lines]

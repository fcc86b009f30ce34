"""A fake Magento 2.4 admin REST API: catalog, serial options, configurable links, MSI, orders.

It holds what the plugin touches in memory and refuses what Magento refuses, with Magento's
``{message, parameters}`` error shape: SKUs over 64 characters, duplicate url keys (derived
from the name when none is given), duplicate option labels (compared without case), children
of one parent sharing an attribute value, a child linked twice. ``POST /V1/products`` upserts
by SKU. Path segments are decoded as PHP's ``urldecode`` does, so a raw ``+`` in a SKU becomes
a space, as on a real store. A page of ``GET /V1/orders`` past the end repeats the last page.
A configurable line of an order is a parent row plus a child row (``parent_item_id``); an
order also holds rows of plain products and custom lines naming no product, and
:meth:`FakeMagento.damage_order` spoils one as broken extensions and imports do.
Asynchronous bulks (``/async/bulk/V1/…``) are accepted with one operation per item and run by
the store's ``async.operations.all`` consumers (:attr:`FakeMagento.consumers` processes, each
working one operation at a time, each operation taking as long as the synchronous request;
none: every operation stays open), each exactly as its synchronous endpoint would run it.
Every request is kept in :attr:`received` (method, raw path, query, JSON body) for contract
checks.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
import uuid as _uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import httpx
from serialsync import FinancialStatus
from serialsync.testing import FakeChannel, FakeListing, Faults, OrderDamage

DEFAULT_TOKEN = "fake-magento-integration-token"  # noqa: S105 - a fake's fixed test token
SKU_MAX = 64
PRODUCT_ENTITY_TYPE = "4"
_ROUTE = re.compile(r"^/rest/[A-Za-z0-9_]+/V1/(?P<rest>[^?]*)$")
_BULK_ROUTE = re.compile(r"^/rest/[A-Za-z0-9_]+/async/bulk/V1/(?P<rest>[^?]*)$")
# Operation statuses (AsynchronousOperations OperationInterface::STATUS_TYPE_*), confirmed with
# the shape of /status and /detailed-status against Adobe's operation-status-endpoints page and
# the 2.4.9 schema (test_magento_bulk checks the answer against it). Not answered by the fake: 2
# (Magento's only for a database lock wait, deadlock or lost connection) and 5 (rejected).
_BULK_COMPLETE, _BULK_FAILED, _BULK_OPEN = 1, 3, 4
#: The topic and handler of each route the fake runs asynchronously: (method, route with
#: by-segments) -> (topic, the service method named in "Service execution success ...").
_BULK_TOPICS: dict[tuple[str, str], tuple[str, str]] = {
    ("POST", "products"): (
        "async.magento.catalog.api.productrepositoryinterface.save.post",
        "Magento\\Catalog\\Model\\ProductRepository\\Interceptor::save",
    ),
    ("PUT", "products/bySku"): (
        "async.magento.catalog.api.productrepositoryinterface.save.put",
        "Magento\\Catalog\\Model\\ProductRepository\\Interceptor::save",
    ),
    ("POST", "products/attributes/byAttributeCode/options"): (
        "async.magento.catalog.api.productattributeoptionmanagementinterface.add.post",
        "Magento\\Catalog\\Model\\Product\\Attribute\\OptionManagement::add",
    ),
    ("POST", "inventory/source-items"): (
        "async.magento.inventoryapi.api.sourceitemssaveinterface.execute.post",
        "Magento\\Inventory\\Model\\SourceItem\\Command\\SourceItemsSave::execute",
    ),
}
#: What Magento's ContentValidator takes (jpg, jpeg, gif, png; webp only with an extension),
#: told by the image's own bytes (its getimagesizefromstring), as ``(first bytes, MIME type)``.
_IMAGE_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)

#: What a plain product made on the fly by ``create_order`` costs, and a custom line.
PLAIN_PRODUCT_PRICE = Decimal("25.00")
CUSTOM_LINE_PRICE = Decimal("50.00")

_NO_ENTITY = "The entity that was requested doesn't exist. Verify the entity and try again."
_NO_PRODUCT = "The product that was requested doesn't exist. Verify the product and try again."


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the fake received it: for contract checks in tests."""

    method: str
    path: str  # the raw (still percent-encoded) path
    query: tuple[tuple[str, str], ...]
    body: Any


class MagentoError(Exception):
    """Raised inside the fake; becomes Magento's ``{message, parameters}`` answer."""

    def __init__(self, status: int, message: str, *parameters: Any, **named: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        # Positional ``%1`` placeholders answer a list; named ones (``%bulkUuid``) an object,
        # as Magento renders a Phrase built with named arguments.
        self.parameters: list[Any] | dict[str, Any] = dict(named) if named else list(parameters)


def _response(status: int, body: Any) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


class FakeMagento(FakeChannel):
    """An in-memory Magento store answering the REST V1 calls of the Magento plugin.

    :param token: the integration token accepted as ``Bearer``.
    :param oauth_consumer_key: when set, OAuth 1.0a headers with this consumer key are accepted
        too (the signature itself is not checked).
    :param serial_attribute: create the serial attribute up front (``None``: it is missing, as
        on a fresh store, and the plugin must create it).
    :param input_list_limit: refuse arrays longer than this (Magento's optional Web API input
        limit; off by default, as on Magento).
    :param consumers: ``async.operations.all`` consumer processes running (0: none, as on a
        store whose cron or supervisor does not start them: bulk operations stay open).
    :param clock: seconds, monotonic: when the consumers' operations are done.
    """

    host = "magento.test"

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        oauth_consumer_key: str | None = None,
        serial_attribute: str | None = None,
        input_list_limit: int | None = None,
        faults: Faults | None = None,
        sleep: Callable[[float], None] | None = None,
        consumers: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if sleep is None:
            super().__init__(faults=faults)
        else:
            super().__init__(faults=faults, sleep=sleep)
        self.token = token
        self.oauth_consumer_key = oauth_consumer_key
        self.input_list_limit = input_list_limit
        self.received: list[ReceivedRequest] = []
        # Magento stamps records with the time of the change: the fake's clock starts now (and
        # ticks a second per change), so a first read that looks back from now finds them.
        self._now = datetime.now(UTC).replace(microsecond=0)
        self._next_id = 100
        self.attributes: dict[str, dict[str, Any]] = {}
        self.attribute_sets: dict[int, dict[str, Any]] = {
            4: {"groups": [7, 8], "attributes": {"name", "price", "url_key", "description"}}
        }
        self.products: dict[str, dict[str, Any]] = {}
        self.url_keys: dict[str, str] = {}
        self.super_attributes: dict[str, list[int]] = {}
        self.links: dict[str, list[int]] = {}
        self.sources = {"default"}
        self.source_items: dict[tuple[str, str], dict[str, Any]] = {}
        #: MSI reservations of the default stock, summed by SKU: an order placed reserves its
        #: quantity (negative), its cancellation or credit memo gives it back. The salable
        #: quantity a shopper sees is the source quantity plus these; the source quantity itself
        #: moves only at shipment (which the fake does not model).
        self.reservations: dict[str, int] = {}
        self._compensated: set[int] = set()
        self.orders: dict[int, dict[str, Any]] = {}
        #: SKUs of the plain products ``create_order`` made: shop products, not listings.
        self.plain_skus: set[str] = set()
        #: Asynchronous bulks by uuid, and their operations waiting for a consumer (in order).
        self.bulks: dict[str, dict[str, Any]] = {}
        self._queue: list[dict[str, Any]] = []
        #: Monotonic seconds: when the consumers' operations are done (tests may set it).
        self.clock = clock
        #: Seconds from publishing an operation until a consumer may take it (a MySQL queue's
        #: idle consumer reads it every 5 s; RabbitMQ delivers at once: 0, the default).
        self.pickup_delay = 0.0
        #: Seconds one operation takes a consumer; None: the latency of a synchronous request.
        self.operation_time: float | None = None
        self._consumers = 0
        self._free: list[float] = []
        self.consumers = consumers
        if serial_attribute is not None:
            self.add_attribute(serial_attribute)

    # -- helpers for tests and the sandbox ------------------------------------------------------

    def _tick(self) -> str:
        self._now += timedelta(seconds=1)
        return self._now.strftime("%Y-%m-%d %H:%M:%S")

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    @property
    def consumers(self) -> int:
        """The ``async.operations.all`` consumer processes running (0: none)."""
        return self._consumers

    @consumers.setter
    def consumers(self, count: int) -> None:
        # Started (or stopped) now: a consumer takes nothing queued before this moment.
        with self.lock:
            self._catch_up()
            self._consumers = max(0, count)
            self._free = [self.clock()] * self._consumers

    def _catch_up(self) -> None:
        """Run every queued operation a consumer has finished by now, in queue order.

        Each consumer works one operation at a time (Magento's consumer reads one message,
        runs it, then reads the next); an operation waits for the first free consumer.
        """
        if not self._consumers:
            return
        now = self.clock()
        cost = self.faults.latency if self.operation_time is None else self.operation_time
        while self._queue:
            op = self._queue[0]
            slot = min(range(len(self._free)), key=self._free.__getitem__)
            start = max(self._free[slot], op["queued"] + self.pickup_delay)
            if start + cost > now:
                return
            self._free[slot] = start + cost
            self._queue.pop(0)
            self._run_operation(op)

    def add_attribute(
        self,
        code: str,
        *,
        frontend_input: str = "select",
        scope: str = "global",
        attribute_set_id: int = 4,
    ) -> dict[str, Any]:
        """Create a product attribute, as a merchant would in the admin."""
        attribute = {
            "attribute_id": self._new_id(),
            "attribute_code": code,
            "frontend_input": frontend_input,
            "scope": scope,
            "is_user_defined": True,
            "entity_type_id": PRODUCT_ENTITY_TYPE,
            "is_required": False,
            "default_frontend_label": code,
            "frontend_labels": [],
            "options": [],
        }
        self.attributes[code] = attribute
        self.attribute_sets[attribute_set_id]["attributes"].add(code)
        return attribute

    def product(self, sku: str) -> dict[str, Any] | None:
        """The stored product with this SKU."""
        return self.products.get(sku)

    def children_of(self, parent_sku: str) -> list[dict[str, Any]]:
        """The children linked to a configurable parent."""
        by_id = {p["id"]: p for p in self.products.values()}
        return [by_id[i] for i in self.links.get(parent_sku, []) if i in by_id]

    def _parents_by_child_id(self) -> dict[int, str]:
        """Every linked child's id to its parent's SKU (the first parent, as :meth:`parent_of`).

        Built once per read of the whole catalogue: :meth:`parent_of` scans every link, and a
        scan per child made :meth:`listings` quadratic (seconds at 10,000 units, under the lock
        the request threads need, so a watcher polling it starved the fake's own answers).
        """
        parents: dict[int, str] = {}
        for parent, ids in self.links.items():
            for child_id in ids:
                parents.setdefault(child_id, parent)
        return parents

    def parent_of(self, child_sku: str) -> str | None:
        """The SKU of the configurable parent a child is linked to."""
        child = self.products.get(child_sku)
        if child is None:
            return None
        for parent, ids in self.links.items():
            if child["id"] in ids:
                return parent
        return None

    def option_label(self, code: str, option_id: int) -> str | None:
        """The label of one option of an attribute."""
        for option in self.attributes.get(code, {}).get("options", []):
            if option["value"] == str(option_id):
                return str(option["label"])
        return None

    def retype_sku(self, sku: str, new_sku: str) -> None:
        """Change a product's SKU as staff do in the admin (the REST API cannot: the SKU in
        a PUT body is ignored). The product keeps its id, links and attribute values; its
        source items follow the SKU (assumed: MSI moves them with the product)."""
        with self.lock:
            product = self.products.pop(sku)
            if new_sku in self.products:
                self.products[sku] = product
                raise ValueError(f"the SKU {new_sku!r} is taken")
            product["sku"] = new_sku
            product["updated_at"] = self._tick()
            self.products[new_sku] = product
            for (item_sku, source), item in list(self.source_items.items()):
                if item_sku == sku:
                    del self.source_items[(item_sku, source)]
                    self.source_items[(new_sku, source)] = item
            self.url_keys = {k: (new_sku if v == sku else v) for k, v in self.url_keys.items()}

    def set_source_quantity(self, sku: str, quantity: int) -> None:
        """Set ``sku``'s quantity on the default source, in stock, as staff would in the admin
        (tests use it to let a shopper order more of a unit than serialsync listed)."""
        with self.lock:
            self.source_items[(sku, "default")] = {"quantity": quantity, "status": 1}

    # -- FakeChannel ----------------------------------------------------------------------------

    def salable_quantity(self, sku: str) -> int:
        """What a shopper can buy of ``sku``: its in-stock source quantity less reservations."""
        with self.lock:
            item = self.source_items.get((sku, "default"), {"quantity": 0, "status": 0})
            on_hand = int(item["quantity"]) if item["status"] == 1 else 0
            return on_hand + self.reservations.get(sku, 0) if on_hand > 0 else 0

    def listings(self) -> list[FakeListing]:
        """Every simple product, with its salable quantity (see :attr:`reservations`)."""
        return self._listings(None)

    def listings_of(self, skus: Collection[str]) -> list[FakeListing]:
        """:meth:`listings` of these SKUs only (see :meth:`FakeChannel.listings_of`)."""
        return self._listings(set(skus))

    def _listings(self, only: set[str] | None) -> list[FakeListing]:
        with self.lock:
            self._catch_up()
            parents = self._parents_by_child_id()
            result = []
            for sku, product in self.products.items():
                if only is not None and sku not in only:
                    continue
                if product.get("type_id") == "configurable" or sku in self.plain_skus:
                    continue
                stock = self.salable_quantity(sku)
                parent = parents.get(product["id"])
                # A parent not visible individually has no page: its children cannot be bought.
                shown = parent is None or self.products[parent].get("visibility", 4) != 1
                result.append(
                    FakeListing(
                        sku=sku,
                        stock=stock,
                        product=parent or sku,
                        sellable=stock > 0 and product.get("status", 1) == 1 and shown,
                    )
                )
            return result

    def storefront(self) -> dict[str, bool]:
        """Each configurable parent holding a child, by SKU: shown unless its visibility is 1
        (not visible individually)."""
        with self.lock:
            self._catch_up()
            by_child = self._parents_by_child_id()
            parents = {by_child.get(product["id"]) for product in self.products.values()}
            return {
                sku: self.products[sku].get("visibility", 4) != 1
                for sku in parents
                if sku is not None and sku in self.products
            }

    def create_order(
        self,
        lines: Sequence[tuple[str | None, int]],
        *,
        status: FinancialStatus = FinancialStatus.PAID,
    ) -> str:
        """Place an order as a shopper would; its id. Each line reserves its quantity
        (:attr:`reservations`). A product of the catalogue not salable in that quantity is
        refused with ``ValueError`` and Magento's cart message, nothing reserved: "Product that
        you are trying to add is not available." (out of stock, or disabled) or "The requested
        qty is not available" (fewer salable than ordered), as ``Quote::addProduct`` and the
        stock check refuse it.

        Each line is ``(sku, quantity)``: a configurable child comes out as a parent row plus
        a child row; an integration id that is no product is refused; any other SKU is a plain
        product (a simple one, made on the fly when there is none) on one row; ``None`` is a
        custom line naming no product.
        """
        with self.lock:
            entity_id = self._new_id()
            stamp = self._tick()
            items: list[dict[str, Any]] = []
            total = Decimal("0")
            for sku, quantity in lines:
                self._check_salable(sku, quantity)
            for sku, quantity in lines:
                rows = self._order_rows(entity_id, stamp, sku, quantity)
                total += Decimal(str(rows[0]["price"])) * quantity
                items += rows
            order = {
                "entity_id": entity_id,
                "increment_id": f"{entity_id:09d}",
                "protect_code": f"{entity_id:06x}a1b2c3",
                "created_at": stamp,
                "updated_at": stamp,
                "customer_email": "shopper@example.com",
                "customer_firstname": "Sam",
                "customer_lastname": "Shopper",
                "order_currency_code": "USD",
                "base_grand_total": float(total),
                "grand_total": float(total),
                # No tax or shipping charged unless a test sets them; paid by check / money order.
                "tax_amount": 0.0,
                "shipping_amount": 0.0,
                # The 2.4.9 schema requires account_status and cc_last4 as strings (values
                # assumed: empty for a check / money order).
                "payment": {
                    "account_status": "",
                    "additional_information": ["Check / Money order"],
                    "cc_last4": "",
                    "method": "checkmo",
                    "amount_ordered": float(total),
                },
                "total_refunded": 0.0,
                "items": items,
            }
            self.orders[entity_id] = order
            self._reserve(order, -1)
            self._apply_status(order, status)
            return str(entity_id)

    def _check_salable(self, sku: str | None, quantity: int) -> None:
        """Refuse a line as Magento's cart refuses a product it cannot sell (see
        :meth:`create_order`); a custom line and a plain product yet to be made pass."""
        product = self.products.get(sku) if sku is not None else None
        if sku is None or product is None or product.get("type_id") == "configurable":
            return  # _order_rows names what is wrong with an unknown or configurable SKU
        salable = self.salable_quantity(sku)
        if salable <= 0 or product.get("status", 1) != 1:
            raise ValueError(f"{sku!r}: Product that you are trying to add is not available.")
        if salable < quantity:
            raise ValueError(f"{sku!r}: The requested qty is not available")

    def _reserve(self, order: dict[str, Any], sign: int) -> None:
        """Reserve (-1) or give back (+1) the quantities of an order's product rows."""
        for item in order["items"]:
            if item.get("parent_item_id") is None and item.get("product_type") == "configurable":
                continue  # the child row names the unit
            sku = item.get("sku")
            if sku and "qty_ordered" in item:
                quantity = int(item["qty_ordered"])
                self.reservations[sku] = self.reservations.get(sku, 0) + sign * quantity

    def damage_order(self, order_id: str, damage: OrderDamage) -> None:
        """Spoil a stored order as a buggy extension or a broken import leaves real ones.

        ``negative-quantity``: its first item's ``qty_ordered`` is -1; ``missing-field``: its
        first item has no ``qty_ordered``; ``unknown-status``: a state Magento does not have.
        The order counts as updated now, so the next read sees it.
        """
        with self.lock:
            order = self.orders[int(order_id)]
            if damage == "negative-quantity":
                order["items"][0]["qty_ordered"] = -1.0
            elif damage == "missing-field":
                del order["items"][0]["qty_ordered"]
            elif damage == "unknown-status":
                order["state"] = order["status"] = "shipped"
            else:
                raise ValueError(f"unknown damage {damage!r}")
            order["updated_at"] = self._tick()

    def _order_rows(
        self, entity_id: int, stamp: str, sku: str | None, quantity: int
    ) -> list[dict[str, Any]]:
        """The item rows of one ordered line (see :meth:`create_order`)."""
        row: dict[str, Any] = {
            "item_id": self._new_id(),
            "order_id": entity_id,
            "qty_ordered": float(quantity),
            "qty_refunded": 0.0,
            "created_at": stamp,
            "updated_at": stamp,
        }
        if sku is None:
            # Magento's admin adds only catalog products, but extensions and order imports add
            # lines naming none. Assumed shape (unsure): a virtual row with no product_id (REST
            # answers leave null fields out) and an empty sku (the 2.4.9 schema requires one).
            return [
                {
                    **row,
                    "sku": "",
                    "name": "Custom item",
                    "price": float(CUSTOM_LINE_PRICE),
                    "product_type": "virtual",
                    "is_virtual": 1,
                }
            ]
        product = self.products.get(sku)
        if product is None:
            if "|||" in sku:
                raise ValueError(f"no product {sku!r} to order")
            product = self._plain_product(sku)
        if product.get("type_id") == "configurable":
            raise ValueError(f"{sku!r} is configurable: order one of its children")
        row.update(
            sku=sku,
            name=product.get("name", sku),
            price=float(Decimal(str(product.get("price", 0)))),
            product_id=product["id"],
            product_type=product.get("type_id", "simple"),
        )
        parent_sku = self.parent_of(sku)
        if parent_sku is None:
            return [row]
        parent = self.products[parent_sku]
        parent_row = dict(
            row,
            product_type="configurable",
            product_id=parent["id"],
            name=parent.get("name", parent_sku),
        )
        child_row = dict(
            row, item_id=self._new_id(), parent_item_id=parent_row["item_id"], price=0.0
        )
        return [parent_row, child_row]

    def _plain_product(self, sku: str) -> dict[str, Any]:
        """A simple product made now, as staff would, in stock: no variant serialsync sells."""
        product = {
            "id": self._new_id(),
            "sku": sku,
            "name": sku,
            "price": float(PLAIN_PRODUCT_PRICE),
            "type_id": "simple",
            "status": 1,
            "visibility": 4,
            "attribute_set_id": 4,
            "custom_attributes": [],
        }
        self.products[sku] = product
        self.plain_skus.add(sku)
        self.source_items[(sku, "default")] = {"quantity": 100, "status": 1}
        return product

    def set_order_status(self, order_id: str, status: FinancialStatus) -> None:
        """Move an order on, as the store's staff would (invoice, cancel, credit memo)."""
        with self.lock:
            order = self.orders[int(order_id)]
            self._apply_status(order, status)
            order["updated_at"] = self._tick()

    def _apply_status(self, order: dict[str, Any], status: FinancialStatus) -> None:
        state = {
            FinancialStatus.PENDING: ("new", "pending"),
            FinancialStatus.PAID: ("processing", "processing"),
            FinancialStatus.CANCELLED: ("canceled", "canceled"),
            FinancialStatus.REFUNDED: ("closed", "closed"),
            FinancialStatus.PARTIALLY_REFUNDED: ("processing", "processing"),
        }[status]
        released = status in (FinancialStatus.CANCELLED, FinancialStatus.REFUNDED)
        if released and order["entity_id"] not in self._compensated:
            self._compensated.add(order["entity_id"])  # MSI compensates once per order
            self._reserve(order, +1)
        order["state"], order["status"] = state
        if status is FinancialStatus.REFUNDED:
            order["total_refunded"] = order["grand_total"]
            for item in order["items"]:
                item["qty_refunded"] = item["qty_ordered"]
        elif status is FinancialStatus.PARTIALLY_REFUNDED:
            order["total_refunded"] = round(order["grand_total"] / 2, 2) or 0.01

    def connector_settings(self, base_url: str) -> dict[str, Any]:
        """Settings of a Magento connector pointing at this fake served at ``base_url``."""
        return {
            "base_url": base_url,
            "access_token": self.token,
            "store_code": "all",
            # The sandbox is offline: product image URLs lead nowhere.
            "upload_images": False,
        }

    # -- HTTP -----------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one REST request as Magento would."""
        raw = request.url.raw_path.decode("ascii")
        path, _, query_text = raw.partition("?")
        query = tuple(parse_qsl(query_text, keep_blank_values=True))
        body: Any = None
        if request.content:
            try:
                body = json.loads(request.content)
            except ValueError:
                self.received.append(ReceivedRequest(request.method, path, query, None))
                return _response(400, {"message": "Decoding error: the body is not JSON"})
        self.received.append(ReceivedRequest(request.method, path, query, body))
        self._catch_up()  # what the consumers finished meanwhile is in the store now
        if not self._authorized(request):
            return _response(
                401,
                {
                    "message": "The consumer isn't authorized to access %resources.",
                    "parameters": {"resources": "Magento_Catalog::products"},
                },
            )
        match = _ROUTE.match(path) or _BULK_ROUTE.match(path)
        bulk = match is not None and match.re is _BULK_ROUTE
        if match is None or (bulk and request.method not in ("POST", "PUT")):
            return _response(404, {"message": "Request does not match any route."})
        # PHP's urldecode: '+' becomes a space, %XX its byte.
        segments = [unquote_plus(s) for s in match["rest"].split("/")]
        try:
            if bulk:
                return _response(
                    202, self._schedule_bulk(request.method, match["rest"], segments, body)
                )
            return _response(200, self._route(request.method, segments, dict(query), body))
        except MagentoError as exc:
            answer: dict[str, Any] = {"message": exc.message, "parameters": exc.parameters}
            if isinstance(exc, _ValidationFailedError):
                answer["errors"] = exc.errors
            return _response(exc.status, answer)

    def _authorized(self, request: httpx.Request) -> bool:
        header = request.headers.get("authorization", "")
        if header == f"Bearer {self.token}":
            return True
        if header.startswith("OAuth ") and self.oauth_consumer_key is not None:
            return f'oauth_consumer_key="{self.oauth_consumer_key}"' in header
        return False

    def _route(self, method: str, seg: list[str], query: dict[str, str], body: Any) -> Any:
        n = len(seg)
        if method == "GET" and seg == ["store", "storeConfigs"]:
            return [
                {
                    "id": 1,
                    "code": "default",
                    "website_id": 1,
                    "base_currency_code": "USD",
                    "base_url": f"http://{self.host}/",
                }
            ]
        if seg[:2] == ["products", "attributes"]:
            return self._attributes(method, seg[2:], body)
        if seg[:2] == ["products", "attribute-sets"]:
            return self._attribute_sets(method, seg[2:], query, body)
        if seg == ["products"] and method == "POST":
            return self._save_product(_body(body, "product"), None)
        if seg == ["products"] and method == "GET":
            return self._search_products(query)
        if n >= 3 and seg[0] == "bulk" and method == "GET":
            return self._bulk_status(seg[1], seg[2:])
        if n == 2 and seg[0] == "products":
            if method == "PUT":
                return self._save_product(_body(body, "product"), seg[1])
            if method == "GET":
                return self._show(self._get_product(seg[1]))
            if method == "DELETE":
                return self._delete_product(seg[1])
        if n == 3 and seg[0] == "configurable-products":
            return self._configurable(method, seg[1], seg[2], body)
        if seg == ["inventory", "source-items"] and method == "POST":
            return self._save_source_items(body)
        if seg == ["inventory", "source-items"] and method == "GET":
            return self._search_source_items(query)
        if seg == ["orders"] and method == "GET":
            return self._search_orders(query)
        if n == 2 and seg[0] == "orders" and method == "GET":
            return self._order(seg[1])
        raise MagentoError(404, "Request does not match any route.")

    # -- attributes -----------------------------------------------------------------------------

    def _attribute(self, code: str) -> dict[str, Any]:
        attribute = self.attributes.get(code)
        if attribute is None:
            raise MagentoError(
                404,
                'The attribute with a "%1" attributeCode doesn\'t exist. Verify the attribute '
                "and try again.",
                code,
            )
        return attribute

    def _attributes(self, method: str, seg: list[str], body: Any) -> Any:
        if not seg and method == "POST":
            data = _body(body, "attribute")
            for field in ("attribute_code", "frontend_input", "entity_type_id", "frontend_labels"):
                if field not in data:
                    raise MagentoError(400, '"%1" is required. Enter and try again.', field)
            code = str(data["attribute_code"])
            # Magento's EAV code validator: a letter, then letters, digits or _; 1-60 long.
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", code.strip()):
                raise MagentoError(
                    400,
                    'Attribute code "%1" is invalid. Please use only letters (a-z or A-Z), '
                    "numbers (0-9) or underscore (_) in this field, and the first character "
                    "should be a letter.",
                    code,
                )
            if not 1 <= len(code.strip()) <= 60:
                raise MagentoError(
                    400,
                    "An attribute code must not be less than %1 and more than %2 characters.",
                    "1",
                    "60",
                )
            if code in self.attributes:
                raise MagentoError(400, "An attribute with this code already exists.")
            attribute = {
                "attribute_id": self._new_id(),
                "attribute_code": code,
                "frontend_input": data["frontend_input"],
                "scope": data.get("scope", "store"),  # Magento's default scope is store view
                "is_user_defined": True,
                "entity_type_id": PRODUCT_ENTITY_TYPE,
                "is_required": bool(data.get("is_required", False)),
                "default_frontend_label": data.get("default_frontend_label", code),
                "frontend_labels": data["frontend_labels"],
                "options": [],
            }
            self.attributes[code] = attribute
            return self._show_attribute(attribute)
        if len(seg) == 1 and method == "GET":
            return self._show_attribute(self._attribute(seg[0]))
        if len(seg) == 1 and method == "PUT":
            return self._save_attribute(self._attribute(seg[0]), _body(body, "attribute"))
        if len(seg) == 2 and seg[1] == "options":
            attribute = self._attribute(seg[0])
            if method == "GET":
                # Magento lists an empty option first for every select.
                return [{"label": " ", "value": ""}, *attribute["options"]]
            if method == "POST":
                return self._add_option(attribute, _body(body, "option"))
        raise MagentoError(404, "Request does not match any route.")

    def _save_attribute(self, attribute: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        """``PUT /V1/products/attributes/{code}`` as the product attribute repository saves.

        Without ``attribute_id`` the repository takes it for a new attribute, whose code is
        taken. Each given option with the value of one of the attribute's options renames it;
        any other is added, *without* the label check ``POST .../options`` makes (the
        repository does not make it): a label sent twice is two options, as on Magento.
        Options not given are kept.
        """
        if not data.get("attribute_id"):
            raise MagentoError(400, "An attribute with this code already exists.")
        options = data.get("options") or []
        for option in options:
            if not str(option.get("label") or "").strip():
                raise MagentoError(400, "The value of Admin scope can't be empty.")
        if options and attribute["frontend_input"] not in ("select", "multiselect"):
            raise MagentoError(
                400, 'The "%1" attribute doesn\'t work with options.', attribute["attribute_code"]
            )
        by_value = {o["value"]: o for o in attribute["options"]}
        for option in options:
            label = str(option["label"]).strip()
            existing = by_value.get(str(option.get("value") or ""))
            if existing is not None:
                existing["label"] = label
            else:
                attribute["options"].append({"label": label, "value": str(self._new_id())})
        if "default_frontend_label" in data:
            attribute["default_frontend_label"] = data["default_frontend_label"]
        return self._show_attribute(attribute)

    def _show_attribute(self, attribute: dict[str, Any]) -> dict[str, Any]:
        return {**attribute, "options": [{"label": " ", "value": ""}, *attribute["options"]]}

    def _add_option(self, attribute: dict[str, Any], option: dict[str, Any]) -> str:
        if attribute["frontend_input"] not in ("select", "multiselect"):
            raise MagentoError(
                400, 'The "%1" attribute doesn\'t work with options.', attribute["attribute_code"]
            )
        label = str(option.get("label") or "").strip()
        if not label:
            raise MagentoError(
                400, "The attribute option label is empty. Enter the value and try again."
            )
        if any(o["label"].upper() == label.upper() for o in attribute["options"]):
            raise MagentoError(
                400, 'Admin store attribute option label "%1" already exists.', option["label"]
            )
        option_id = self._new_id()
        attribute["options"].append({"label": label, "value": str(option_id)})
        return str(option_id)

    def _attribute_sets(self, method: str, seg: list[str], query: dict[str, str], body: Any) -> Any:
        if seg == ["groups", "list"] and method == "GET":
            wanted = _filter_value(query, "attribute_set_id")
            items = [
                {
                    "attribute_group_id": group,
                    "attribute_group_name": f"Group {group}",
                    "attribute_set_id": set_id,
                }
                for set_id, data in self.attribute_sets.items()
                if wanted is None or str(set_id) == wanted
                for group in data["groups"]
            ]
            return {"items": items, "search_criteria": {}, "total_count": len(items)}
        if len(seg) == 2 and seg[1] == "attributes" and method == "GET":
            if not seg[0].isdigit() or int(seg[0]) not in self.attribute_sets:
                raise MagentoError(404, "No such entity with %1 = %2", "attributeSetId", seg[0])
            codes = sorted(self.attribute_sets[int(seg[0])]["attributes"])
            return [
                self._show_attribute(self.attributes[c])
                if c in self.attributes
                else {"attribute_code": c, "frontend_input": "text"}
                for c in codes
            ]
        if seg == ["attributes"] and method == "POST":
            data = body if isinstance(body, dict) else {}
            set_id = int(data.get("attributeSetId", 0))
            if set_id not in self.attribute_sets:
                raise MagentoError(400, 'The AttributeSet with a "%1" ID doesn\'t exist.', set_id)
            if int(data.get("attributeGroupId", 0)) not in self.attribute_sets[set_id]["groups"]:
                raise MagentoError(
                    400, 'The group with the "%1" ID doesn\'t exist.', data.get("attributeGroupId")
                )
            attribute = self._attribute(str(data.get("attributeCode")))
            self.attribute_sets[set_id]["attributes"].add(attribute["attribute_code"])
            return self._new_id()
        raise MagentoError(404, "Request does not match any route.")

    # -- products -------------------------------------------------------------------------------

    def _get_product(self, sku: str) -> dict[str, Any]:
        product = self.products.get(sku)
        if product is None:
            raise MagentoError(404, _NO_PRODUCT)
        return product

    def _delete_product(self, sku: str) -> bool:
        """``DELETE /V1/products/{sku}``: the product, its links and source items; ``true``."""
        product = self._get_product(sku)
        del self.products[sku]
        self.links.pop(sku, None)
        for ids in self.links.values():
            if product["id"] in ids:
                ids.remove(product["id"])
        self.url_keys = {k: v for k, v in self.url_keys.items() if v != sku}
        for key in [k for k in self.source_items if k[0] == sku]:
            del self.source_items[key]
        return True

    def _show(self, product: dict[str, Any]) -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(json.dumps(product))
        if product.get("type_id") == "configurable":
            extension = shown.setdefault("extension_attributes", {})
            extension["configurable_product_links"] = list(self.links.get(product["sku"], []))
            extension["configurable_product_options"] = [
                {"attribute_id": str(a), "label": "", "position": 0, "values": []}
                for a in self.super_attributes.get(product["sku"], [])
            ]
        return shown

    def _save_product(self, data: dict[str, Any], path_sku: str | None) -> dict[str, Any]:
        sku = str(data.get("sku") or path_sku or "")
        if path_sku is not None:
            sku = path_sku  # PUT addresses the product by its path
        if not sku.strip():
            raise MagentoError(
                400, 'The "%1" attribute value is empty. Set the attribute and try again.', "sku"
            )
        if len(sku) > SKU_MAX:
            raise MagentoError(400, "SKU length should be %1 characters maximum.", SKU_MAX)
        existing = self.products.get(sku)
        product: dict[str, Any] = (
            json.loads(json.dumps(existing))
            if existing
            else {
                "sku": sku,
                "type_id": "simple",
                "status": 1,
                "visibility": 4,
                "attribute_set_id": 4,
                "custom_attributes": [],
                "media_gallery_entries": [],
                "extension_attributes": {},
            }
        )
        if existing is None and not data.get("name"):
            raise MagentoError(
                400, 'The "%1" attribute value is empty. Set the attribute and try again.', "name"
            )
        # Magento's visibility options: 1 not visible individually, 2 catalog, 3 search, 4
        # both. Assumed (unsure): another value is refused as an invalid select value.
        if "visibility" in data and data["visibility"] not in (1, 2, 3, 4):
            raise MagentoError(400, 'The value of attribute "%1" is invalid.', "visibility")
        for field in (
            "name",
            "price",
            "status",
            "visibility",
            "type_id",
            "attribute_set_id",
            "weight",
        ):
            if field in data:
                product[field] = data[field]
        custom = {c["attribute_code"]: c["value"] for c in product["custom_attributes"]}
        in_set = self.attribute_sets.get(int(product.get("attribute_set_id") or 4), {})
        for item in data.get("custom_attributes") or []:
            code = item["attribute_code"]
            # As Magento's EAV save: a value of an attribute the store lacks, or that the
            # product's attribute set does not hold, is dropped without a word.
            if code in in_set.get("attributes", ()) or code == "url_key":
                custom[code] = item["value"]
                if item["value"] == "":
                    # An empty value removes the product's value of the attribute (the EAV
                    # save deletes empty values); leaving the attribute out keeps it.
                    del custom[code]
        url_key = str(custom.get("url_key") or _slug(str(product.get("name", sku))))
        owner = self.url_keys.get(url_key)
        if owner is not None and owner != sku:
            raise MagentoError(400, "URL key for specified store already exists.")
        custom["url_key"] = url_key
        # Stricter than Magento, which stores an unknown option id and shows a blank value.
        for code, value in custom.items():
            attribute = self.attributes.get(code)
            option_id = int(value) if str(value).isdigit() else -1
            if (
                attribute is not None
                and attribute["frontend_input"] == "select"
                and value
                and self.option_label(code, option_id) is None
            ):
                raise MagentoError(400, 'The value of attribute "%1" is invalid.', code)
        product["custom_attributes"] = [
            {"attribute_code": k, "value": v} for k, v in sorted(custom.items())
        ]
        # An empty list removes every entry; null, like a field left out, keeps the gallery
        # (Adobe's REST tutorial "product images at store scope", AdobeDocs/commerce-webapi#548).
        if data.get("media_gallery_entries") is not None:
            product["media_gallery_entries"] = self._media(sku, data["media_gallery_entries"])
        extension = data.get("extension_attributes") or {}
        if "website_ids" in extension:
            product["extension_attributes"]["website_ids"] = extension["website_ids"]
        if product["type_id"] == "configurable":
            self._configure(sku, product, extension)
        elif extension.get("configurable_product_links"):
            raise MagentoError(400, "Only a configurable product can have children.")
        if existing is None:
            product["id"] = self._new_id()
            product["created_at"] = self._tick()
        product["updated_at"] = self._tick()
        if existing is not None:
            old_key = {c["attribute_code"]: c["value"] for c in existing["custom_attributes"]}
            if old_key.get("url_key") != url_key:
                self.url_keys.pop(str(old_key.get("url_key")), None)
        self.url_keys[url_key] = sku
        self.products[sku] = product
        return self._show(product)

    def _media(self, sku: str, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        stored = []
        for position, entry in enumerate(entries, start=1):
            for field in ("media_type", "label", "position", "disabled", "types"):
                if field not in entry:
                    raise MagentoError(400, '"%1" is required. Enter and try again.', field)
            content = entry.get("content")
            if content is None:
                stored.append(entry)
                continue
            # As Magento's ContentValidator: the data must decode to an image, and the type
            # declared must be the one found in it (getimagesize says image/jpeg for a JPEG, so
            # a declared image/jpg is refused too).
            try:
                data = base64.b64decode(content["base64_encoded_data"], validate=True)
            except (KeyError, binascii.Error):
                data = b""
            sniffed = next((t for magic, t in _IMAGE_SIGNATURES if data.startswith(magic)), None)
            if sniffed is None:
                raise MagentoError(400, "The image content must be valid base64 encoded data.")
            if content.get("type") != sniffed:
                raise MagentoError(400, "The image MIME type is not valid or not supported.")
            name = content.get("name", "image")
            stored.append(
                {
                    "id": self._new_id(),
                    "media_type": "image",
                    "label": entry["label"],
                    "position": position,
                    "disabled": entry["disabled"],
                    "types": entry["types"],
                    "file": f"/{name[:1]}/{name[1:2]}/{name}",
                }
            )
        return stored

    def _configure(self, sku: str, product: dict[str, Any], extension: dict[str, Any]) -> None:
        options = extension.get("configurable_product_options")
        if options is not None:
            attribute_ids = []
            for option in options:
                attribute = self._attribute_by_id(option.get("attribute_id"))
                if attribute["scope"] != "global" or attribute["frontend_input"] != "select":
                    raise MagentoError(
                        400,
                        'Attribute "%1" cannot be used to create a configurable product.',
                        attribute["attribute_code"],
                    )
                set_id = int(product.get("attribute_set_id", 4))
                if attribute["attribute_code"] not in self.attribute_sets[set_id]["attributes"]:
                    raise MagentoError(
                        400,
                        'The attribute "%1" is not in the attribute set.',
                        attribute["attribute_code"],
                    )
                attribute_ids.append(int(attribute["attribute_id"]))
            self.super_attributes[sku] = attribute_ids
        links = extension.get("configurable_product_links")
        if links is not None:
            self._check_children(sku, [int(i) for i in links])
            self.links[sku] = [int(i) for i in links]

    def _attribute_by_id(self, attribute_id: Any) -> dict[str, Any]:
        for attribute in self.attributes.values():
            if str(attribute["attribute_id"]) == str(attribute_id):
                return attribute
        raise MagentoError(
            404,
            'The attribute with a "%1" attributeCode doesn\'t exist. '
            "Verify the attribute and try again.",
            attribute_id,
        )

    def _check_children(self, parent_sku: str, child_ids: list[int]) -> None:
        """Every child has a value for each configurable attribute; no two share them."""
        by_id = {p["id"]: p for p in self.products.values()}
        codes = [
            self._attribute_by_id(a)["attribute_code"]
            for a in self.super_attributes.get(parent_sku, [])
        ]
        if child_ids and not codes:
            raise MagentoError(400, "The parent product doesn't have configurable product options.")
        seen: dict[tuple[str, ...], int] = {}
        for child_id in child_ids:
            child = by_id.get(child_id)
            if child is None:
                raise MagentoError(404, _NO_PRODUCT)
            custom = {c["attribute_code"]: c["value"] for c in child["custom_attributes"]}
            values = []
            for code in codes:
                if not custom.get(code):
                    raise MagentoError(
                        400,
                        'Product with id "%1" does not contain required attribute "%2".',
                        child_id,
                        code,
                    )
                values.append(str(custom[code]))
            key = tuple(values)
            if key in seen:
                raise MagentoError(
                    400,
                    'Products "%1" and "%2" have the same set of attribute values.',
                    seen[key],
                    child_id,
                )
            seen[key] = child_id

    def _configurable(self, method: str, sku: str, what: str, body: Any) -> Any:
        parent = self._get_product(sku)
        if what == "children" and method == "GET":
            return [self._show(c) for c in self.children_of(sku)]
        if parent.get("type_id") != "configurable":
            raise MagentoError(400, 'The product with SKU "%1" is not a configurable product.', sku)
        if what == "options" and method == "POST":
            option = _body(body, "option")
            attribute = self._attribute_by_id(option.get("attribute_id"))
            current = self.super_attributes.setdefault(sku, [])
            if int(attribute["attribute_id"]) in current:
                raise MagentoError(400, "Product already has this option")
            self._configure(
                sku,
                parent,
                {"configurable_product_options": [*({"attribute_id": a} for a in current), option]},
            )
            return self._new_id()
        if what == "child" and method == "POST":
            data = body if isinstance(body, dict) else {}
            child = self.products.get(str(data.get("childSku")))
            if child is None:
                raise MagentoError(404, _NO_PRODUCT)
            linked = self.links.setdefault(sku, [])
            if child["id"] in linked:
                raise MagentoError(400, "The product is already attached.")
            self._check_children(sku, [*linked, child["id"]])
            linked.append(child["id"])
            return True
        raise MagentoError(404, "Request does not match any route.")

    # -- asynchronous bulk ------------------------------------------------------------------------

    def _schedule_bulk(
        self, method: str, route: str, segments: list[str], body: Any
    ) -> dict[str, Any]:
        """Accept one operation per item, queued for the consumers (:meth:`_catch_up`).

        As Magento's ``MassSchedule``: each item is one message whose operation is stored
        open (4) at once; a route the store has no synchronous endpoint for is refused whole.
        """
        topic = _BULK_TOPICS.get((method, route))
        if topic is None:
            raise MagentoError(404, "Request does not match any route.")
        if not isinstance(body, list) or not body:
            raise MagentoError(400, "Request body is expected to be an array of items.")
        if self.input_list_limit is not None and len(body) > 5000:
            # The Web API input limit of asynchronous requests (5,000 when limits are on).
            raise MagentoError(400, 'Maximum items of type "%1" is %2', "array", 5000)
        uuid = str(_uuid.UUID(int=self._new_id()))
        queued = self.clock()
        operations = []
        for item in body:
            data = dict(item) if isinstance(item, dict) else {}
            path = []
            for segment in segments:
                # byAttributeCode -> the item's attributeCode, moved back into the path.
                if segment.startswith("by") and segment[2:3].isupper():
                    name = segment[2].lower() + segment[3:]
                    path.append(str(data.pop(name, "")))
                else:
                    path.append(segment)
            op = {
                "id": self._new_id(),
                "bulk_uuid": uuid,
                "topic_name": topic[0],
                "handler": topic[1],
                "method": method,
                "status": _BULK_OPEN,
                "result_message": None,
                "error_code": None,
                "result_serialized_data": None,
                "serialized_data": json.dumps(
                    {"entity_id": None, "entity_link": "", "meta_information": json.dumps(item)}
                ),
                "path": path,
                "body": data,
                "queued": queued,
            }
            operations.append(op)
            self._queue.append(op)
        self.bulks[uuid] = {"operations": operations, "start": self._tick(), "topic": topic[0]}
        items = [
            {
                "id": index,
                "data_hash": hashlib.sha256(json.dumps(item).encode()).hexdigest(),
                "status": "accepted",
            }
            for index, item in enumerate(body)
        ]
        return {"bulk_uuid": uuid, "request_items": items, "errors": False}

    def _run_operation(self, op: dict[str, Any]) -> None:
        """One operation as the consumer runs it: the synchronous endpoint's own work.

        As ``OperationProcessor``: a refusal (a LocalizedException) fails it for good (3), its
        rendered message the result and its code (0) the error code; success stores the
        serialized answer of the synchronous call.
        """
        try:
            result = self._route(op["method"], op["path"], {}, op["body"])
        except MagentoError as exc:
            op["status"] = _BULK_FAILED
            op["result_message"] = _fill(exc.message, exc.parameters)
            op["error_code"] = 0
        else:
            op["status"] = _BULK_COMPLETE
            op["result_message"] = f"Service execution success {op['handler']}"
            op["result_serialized_data"] = json.dumps(result)

    def _bulk_status(self, uuid: str, what: list[str]) -> Any:
        """``GET /V1/bulk/{uuid}/status``, ``…/detailed-status`` and
        ``…/operation-status/{status}`` (a count)."""
        bulk = self.bulks.get(uuid)
        if bulk is None:
            # BulkStatus: "Bulk uuid %bulkUuid not exist" (a NoSuchEntityException whose
            # Phrase names its argument, so the answer's parameters are an object).
            raise MagentoError(404, "Bulk uuid %bulkUuid not exist", bulkUuid=uuid)
        operations = bulk["operations"]
        if len(what) == 2 and what[0] == "operation-status" and what[1].isdigit():
            return sum(1 for op in operations if op["status"] == int(what[1]))
        if what == ["status"]:
            fields: tuple[str, ...] = ("id", "status", "result_message", "error_code")
        elif what == ["detailed-status"]:
            fields = (
                "id",
                "bulk_uuid",
                "topic_name",
                "serialized_data",
                "result_serialized_data",
                "status",
                "result_message",
                "error_code",
            )
        else:
            raise MagentoError(404, "Request does not match any route.")
        return {
            "operations_list": [{k: op[k] for k in fields} for op in operations],
            "user_type": 1,  # an integration
            "bulk_id": uuid,
            "description": f"Topic {bulk['topic']}",
            "start_time": bulk["start"],
            "user_id": 1,
            "operation_count": len(operations),
        }

    def _search_products(self, query: dict[str, str]) -> dict[str, Any]:
        products = [p for p in self.products.values() if _matches(_as_row(p), query)]
        sort_field = query.get("searchCriteria[sortOrders][0][field]")
        if sort_field:
            descending = query.get("searchCriteria[sortOrders][0][direction]", "ASC") == "DESC"
            products.sort(key=lambda p: _sort_key(_as_row(p).get(sort_field)), reverse=descending)
        size = int(query.get("searchCriteria[pageSize]") or 20)
        page = int(query.get("searchCriteria[currentPage]") or 1)
        page = min(page, max(1, -(-len(products) // size)))  # past the end: the last page again
        window = products[(page - 1) * size : page * size]
        return {
            "items": [self._show(p) for p in window],
            "search_criteria": {"current_page": page, "page_size": size},
            "total_count": len(products),
        }

    # -- MSI ------------------------------------------------------------------------------------

    def _search_source_items(self, query: dict[str, str]) -> dict[str, Any]:
        rows = [
            {"sku": sku, "source_code": source, **item}
            for (sku, source), item in self.source_items.items()
        ]
        found = [r for r in rows if _matches(r, query)]
        size = int(query.get("searchCriteria[pageSize]") or 20)
        page = int(query.get("searchCriteria[currentPage]") or 1)
        page = min(page, max(1, -(-len(found) // size)))
        window = found[(page - 1) * size : page * size]
        return {
            "items": json.loads(json.dumps(window)),
            "search_criteria": {"current_page": page, "page_size": size},
            "total_count": len(found),
        }

    def _save_source_items(self, body: Any) -> list[Any]:
        items = _body(body, "sourceItems")
        if not isinstance(items, list) or not items:
            raise MagentoError(400, "Input data is invalid")
        if self.input_list_limit is not None and len(items) > self.input_list_limit:
            raise MagentoError(
                400,
                'Maximum items of type "%1" is %2',
                "\\Magento\\InventoryApi\\Api\\Data\\SourceItemInterface",
                self.input_list_limit,
            )
        errors = []
        for item in items:
            if not str(item.get("sku") or "").strip():
                errors.append(
                    {"message": '"%field" can not be empty.', "parameters": {"field": "sku"}}
                )
            if item.get("source_code") not in self.sources:
                errors.append(
                    {
                        "message": 'Source with code "%1" does not exist.',
                        "parameters": [item.get("source_code")],
                    }
                )
            if item.get("status") not in (0, 1):
                errors.append(
                    {"message": '"%field" should be numeric.', "parameters": {"field": "status"}}
                )
            if not isinstance(item.get("quantity"), int | float) or item["quantity"] < 0:
                errors.append(
                    {"message": '"%field" should be numeric.', "parameters": {"field": "quantity"}}
                )
        if errors:
            raise _ValidationFailedError(errors)
        for item in items:
            self.source_items[(item["sku"], item["source_code"])] = {
                "quantity": item["quantity"],
                "status": item["status"],
            }
        return []

    # -- orders ---------------------------------------------------------------------------------

    def _order(self, order_id: str) -> dict[str, Any]:
        order = self.orders.get(int(order_id)) if order_id.isdigit() else None
        if order is None:
            raise MagentoError(404, _NO_ENTITY)
        return json.loads(json.dumps(order))  # type: ignore[no-any-return]

    def _search_orders(self, query: dict[str, str]) -> dict[str, Any]:
        orders = [o for o in self.orders.values() if _matches(o, query)]
        sort_field = query.get("searchCriteria[sortOrders][0][field]")
        if sort_field:
            descending = query.get("searchCriteria[sortOrders][0][direction]", "ASC") == "DESC"
            orders.sort(
                key=lambda o: (str(o.get(sort_field, "")), o["entity_id"]), reverse=descending
            )
        size = int(query.get("searchCriteria[pageSize]") or 20)
        page = int(query.get("searchCriteria[currentPage]") or 1)
        last_page = max(1, -(-len(orders) // size))
        page = min(page, last_page)  # Magento's quirk: past the end, the last page again
        window = orders[(page - 1) * size : page * size]
        return {
            "items": json.loads(json.dumps(window)),
            "search_criteria": {"current_page": page, "page_size": size},
            "total_count": len(orders),
        }


class _ValidationFailedError(MagentoError):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__(400, "Validation Failed")
        self.errors = errors


def _body(body: Any, key: str) -> Any:
    if not isinstance(body, dict) or key not in body:
        raise MagentoError(400, '"%1" is required. Enter and try again.', key)
    return body[key]


def _filters(query: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """The (group, field, value, condition) filters of a searchCriteria; both spellings."""
    found = []
    pattern = re.compile(
        r"searchCriteria\[(?:filterGroups|filter_groups)\]\[(\d+)\]\[filters\]\[(\d+)\]\[field\]"
    )
    for key, field in query.items():
        match = pattern.fullmatch(key)
        if match is None:
            continue
        prefix = key[: -len("[field]")]
        value = query.get(f"{prefix}[value]", "")
        condition = (
            query.get(f"{prefix}[conditionType]") or query.get(f"{prefix}[condition_type]") or "eq"
        )
        found.append((match[1], field, value, condition))
    return found


def _matches(record: dict[str, Any], query: dict[str, str]) -> bool:
    """Magento's rule: filters within a group are OR-ed, groups are AND-ed."""
    groups: dict[str, list[bool]] = {}
    for group, field, value, condition in _filters(query):
        groups.setdefault(group, []).append(_compare(str(record.get(field, "")), value, condition))
    return all(any(hits) for hits in groups.values())


def _as_row(product: dict[str, Any]) -> dict[str, Any]:
    """A product as its collection filters and sorts it: ``entity_id`` is its ``id``."""
    return {**product, "entity_id": product.get("id")}


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers sort as numbers, the rest as text."""
    return (0, value) if isinstance(value, int | float) else (1, str(value))


def _filter_value(query: dict[str, str], field: str) -> str | None:
    for _group, name, value, _condition in _filters(query):
        if name == field:
            return value
    return None


def _fill(message: str, parameters: list[Any] | dict[str, Any]) -> str:
    if isinstance(parameters, dict):
        for key in sorted(parameters, key=len, reverse=True):
            message = message.replace(f"%{key}", str(parameters[key]))
        return message
    for index in range(len(parameters), 0, -1):
        message = message.replace(f"%{index}", str(parameters[index - 1]))
    return message


def _compare(actual: str, value: str, condition: str) -> bool:
    if condition == "gteq":
        return actual >= value
    if condition == "lteq":
        return actual <= value
    if condition == "gt":
        return actual > value
    if condition == "lt":
        return actual < value
    if condition == "eq":
        return actual == value
    if condition == "like":
        # SQL LIKE: % any run, _ any one character; the rest literal.
        pattern = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in value)
        return re.fullmatch(pattern, actual, re.DOTALL | re.IGNORECASE) is not None
    raise MagentoError(400, 'Invalid condition type "%1".', condition)

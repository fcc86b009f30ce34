"""An in-memory AIM store that speaks the endpoints, headers and in-band errors the plugin uses.

Served as a respx side effect / ``httpx.MockTransport`` in unit tests and as an ASGI app on
loopback by the sandbox (:meth:`~serialsync.testing.FakePlatform.asgi_app`). Requests are routed
on the URL *path* (``…/api/<Operation>``), never the host, and ``GetEndPoint`` answers the
fake's own root (taken from the request URL) as ``NewEndpointDomain``, so it works on any port.

What it holds to, like AIM: every answer carries ``Status`` and failures arrive **in-band with
HTTP 200**; secured calls need ``ApiKey``, ``AppId``, ``OAuthToken`` and a login ``Token``;
tokens can expire (:meth:`FakeAim.expire_tokens`); operations can be unlicensed
(:meth:`FakeAim.set_licensed`); ``SearchInventory`` pages by ``StartOffset``/``RecordCount``
and filters by ``ChangedDate`` (store-local, seconds precision, "at or after");
``CustomerOrders`` refuses unknown SKUs (naming every one) and serials, all or nothing; a
repeated order is recorded twice.
Dates are written in the store's local time without offset, as AIM does.

Test and sandbox controls: :meth:`FakeAim.add_product`, :meth:`~FakeAim.remove_unit`,
:meth:`~FakeAim.mark_sold`, :meth:`~FakeAim.set_price`, :meth:`~FakeAim.set_status`,
:meth:`~FakeAim.set_item_price`,
:meth:`~FakeAim.override_serial_fields`, :meth:`~FakeAim.override_item_fields`,
:meth:`~FakeAim.clear_overrides`, :meth:`~FakeAim.damage_item`,
:meth:`~FakeAim.move_unit`, :meth:`~FakeAim.set_sell_online`, :meth:`~FakeAim.delete_item`,
:meth:`~FakeAim.expire_tokens`, :meth:`~FakeAim.fail_next`, :meth:`~FakeAim.set_licensed`,
:meth:`~FakeAim.recorded_orders`, :meth:`~FakeAim.report_calls`, :meth:`~FakeAim.add_plain_item`.
"""

from __future__ import annotations

import copy
import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from serialsync import Product, UnitStatus
from serialsync.testing import FakePOS, Faults, ItemDamage, RecordedOrder

#: The largest RecordCount the fake serves (an assumption; see settings.MAX_PAGE_SIZE).
MAX_RECORD_COUNT = 500

_STATUS_TEXT = {
    UnitStatus.IN_STOCK: "Available",
    UnitStatus.RESERVED: "On Hold",
    UnitStatus.SOLD: "Sold",
    UnitStatus.RETURNED: "Returned",
    UnitStatus.DEFECTIVE: "Defective",
}


class FailureKind(StrEnum):
    """The in-band errors :meth:`FakeAim.fail_next` can inject."""

    AUTH = "auth"
    NOT_LICENSED = "not_licensed"
    VALIDATION = "validation"
    TRANSIENT = "transient"


# ErrorCode / message per kind: assumed codes (AIM documents none), chosen to look like AIM's.
_FAILURES: dict[FailureKind, tuple[str, str]] = {
    FailureKind.AUTH: ("InvalidToken", "The login token is invalid or has expired."),
    FailureKind.NOT_LICENSED: (
        "NotLicensed",
        "Requires active-e 3rd Party E-Commerce or active-e Vortx E-Commerce.",
    ),
    FailureKind.VALIDATION: ("ValidationError", "The request is not valid."),
    FailureKind.TRANSIENT: ("ServiceBusy", "The server is busy, try again later."),
}


#: The fake's ServiceStack contract, as its ``/metadata`` and ``/types/metadata`` publish it:
#: each request DTO (an operation) with its response, and the nested types, with the fields
#: the fake reads or answers. Written from what the handlers below do, not from the plugin.
_OPERATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Security": (
        ("Username", "Password", "DeviceId", "AppId", "Acct", "DeviceName"),
        ("Token", "OAuthToken", "Domain", "IsAdmin", "UserDetails", "AccountDetails", "Status"),
    ),
    "SearchInventory": (
        (
            "IncludeSerials",
            "IncludeMedia",
            "IncludeAccessories",
            "IncludePackages",
            "IncludeDeleted",
            "ChangedDate",
            "MinimumAvailableQuantity",
            "StartOffset",
            "RecordCount",
        ),
        ("TotalRecords", "Records", "Status"),
    ),
    "InventoryDetail": (
        ("Pk", "IncludeSerialInfo", "SkipImages"),
        ("Sku", "Description", "SellSerialsOnline", "Serials", "Deleted", "Status"),
    ),
    "SerialDetail": (("Serial", "Sku"), ("Sku", "Location", "Details", "Status")),
    "ECommerceOrderStatus": (
        ("OrderNumber", "OrderType"),
        ("OrderStatus", "OrderStatusDescription", "LineItems", "ShippingInfo", "Status"),
    ),
    "CustomerOrders": (("Orders",), ("Status",)),
}
_TYPES: dict[str, tuple[str, ...]] = {
    "ThirdPartyOrder": (
        "OrderNumber",
        "WebNumber",
        "OrderDate",
        "TransactionState",
        "PaymentMethod",
        "OrderNotes",
        "Total",
        "SubTotal",
        "Tax",
        "Shipping",
        "CustomerName",
        "Email",
        "LineItems",
    ),
    "ThirdPartyOrderItem": (
        "Sku",
        "SerialNumber",
        "WebNumber",
        "ProductName",
        "Location",
        "Qty",
        "Price",
    ),
    "SerialDetails": ("Retail", "OurPrice", "SalePrice", "ActiveEPrice", "Status"),
}


@dataclass
class _Serial:
    pk: int
    serial: str
    location: str
    price: Decimal
    changed: datetime
    status: str = "Available"
    sale_price: Decimal | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    images: tuple[str, ...] = ()
    deleted: bool = False
    #: Fields served as given, over the row's own (messy data a real store holds).
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Item:
    pk: int
    sku: str
    description: str
    changed: datetime
    mfg: str = ""
    notes: str = ""
    price: Decimal = Decimal("0")
    sell_online: bool = True
    deleted: bool = False
    images: tuple[str, ...] = ()
    attributes: dict[str, str] = field(default_factory=dict)
    serials: dict[str, _Serial] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    #: False for a plain item sold by quantity (strings, straps): AIM sells it, never by serial.
    serialized: bool = True


@dataclass
class _Failure:
    kind: FailureKind
    after_apply: bool


class FakeAim(FakePOS):
    """An in-memory AIM store. Construct with no arguments for the defaults below."""

    host = "active-ewebservice.biz"
    API_KEY = "fake-aim-api-key-0001"
    APP_ID = "serialsync-fake"
    USERNAME = "1001"
    PASSWORD = "fake-aim-password-0001"  # noqa: S105 - the fake's own test credential

    def __init__(
        self,
        *,
        faults: Faults | None = None,
        sleep: Callable[[float], None] = time.sleep,
        timezone: str = "UTC",
        clock: Callable[[], datetime] | None = None,
        store_domain: str | None = None,
        acct: str | None = None,
        login_location: str = "MAIN",
    ) -> None:
        super().__init__(faults=faults, sleep=sleep)
        self.zone = ZoneInfo(timezone)
        self.timezone = timezone
        self._clock = clock or (lambda: datetime.now(UTC))
        #: Answer this as NewEndpointDomain instead of the request's own root (to prove the
        #: plugin moves to the store's host); ``None`` for loopback use.
        self.store_domain = store_domain
        #: When set, ``Security`` refuses a login whose ``Acct`` differs (a multi-account key).
        self.acct = acct
        #: The employee's ``UserDetails.Location`` that ``Security`` answers.
        self.login_location = login_location
        #: OAuthTokens that only ``Security`` accepts (handed out by ``GetEndPoint``): a
        #: secured call must carry the OAuthToken ``Security`` returned.
        self._discovery_tokens: set[str] = set()
        #: The last ``Security`` request's fields, so tests can see what the plugin sent.
        self.last_login: dict[str, Any] = {}
        #: Operations and ``(type, field)`` pairs this store's metadata leaves out (an older AIM).
        self._unpublished: set[str | tuple[str, str]] = set()
        self._items: dict[str, _Item] = {}
        self._next_pk = 1000
        self._oauth_tokens: set[str] = set()
        self._tokens: set[str] = set()
        self._failures: dict[str, list[_Failure]] = {}
        self._unlicensed: set[str] = set()
        self._orders: dict[str, list[dict[str, Any]]] = {}
        self._recorded: list[RecordedOrder] = []
        #: ``ECommerceOrderStatus`` lookups per order number. The plugin's ``report_sale``
        #: starts with one, so this counts report calls, repeats included (a repeat is answered
        #: from the lookup, so the orders AIM holds never show it).
        self._lookups: Counter[str] = Counter()
        self._last_change = datetime(2000, 1, 1, tzinfo=UTC)
        #: Successful logins (``Security`` calls that issued a token).
        self.logins = 0
        #: Every OAuthToken and Token handed out, so tests can prove none of them leaks.
        self.issued_tokens: list[str] = []

    # -- FakePOS ------------------------------------------------------------------------------

    def add_product(self, product: Product) -> None:
        """Stock ``product`` and its units, flagged "sell individual serials online"."""
        with self.lock:
            now = self._tick()
            item = self._items.get(product.sku)
            if item is None:
                item = _Item(pk=self._pk(), sku=product.sku, description=product.title, changed=now)
                self._items[product.sku] = item
            item.description = product.title
            item.mfg = product.brand or ""
            item.notes = product.description
            item.price = product.price
            item.images = product.images
            item.attributes = dict(product.attributes)
            item.sell_online = True
            item.deleted = False
            item.changed = now
            for unit in product.units:
                item.serials[unit.serial] = _Serial(
                    pk=self._pk(),
                    serial=unit.serial,
                    location=unit.location or "MAIN",
                    price=unit.price if unit.price is not None else product.price,
                    changed=now,
                    status=_STATUS_TEXT[unit.status],
                    attributes=dict(unit.attributes),
                    images=unit.images,
                )

    def add_plain_item(self, sku: str, description: str, price: Decimal | str) -> None:
        """Stock a plain item sold by quantity (no serials): orders may sell it, inventory
        searches for serialized items never list it."""
        with self.lock:
            self._items[sku] = _Item(
                pk=self._pk(),
                sku=sku,
                description=description,
                changed=self._tick(),
                price=Decimal(str(price)),
                sell_online=False,
                serialized=False,
            )

    def remove_unit(self, sku: str, serial: str) -> None:
        """Delete a serial in AIM: it comes back from inventory as deleted."""
        with self.lock:
            self._change(sku, serial, deleted=True)

    def recorded_orders(self) -> list[RecordedOrder]:
        """Every order AIM received through ``CustomerOrders``, in arrival order."""
        with self.lock:
            return list(self._recorded)

    def posted_order(self, order_number: str) -> dict[str, Any]:
        """The ``ThirdPartyOrder`` body AIM received under ``order_number`` (numbers as
        :class:`~decimal.Decimal`, exactly as they were on the wire)."""
        with self.lock:
            return copy.deepcopy(self._orders[order_number][0])

    def report_calls(self, order_number: str | None = None) -> int:
        """How many times the order ``order_number`` (every order when ``None``) was reported,
        that is looked up, repeats included.

        A transport retry of the lookup (a dropped answer, a body cut short) counts again.
        """
        with self.lock:
            if order_number is None:
                return self._lookups.total()
            return self._lookups[order_number]

    def connector_settings(self, base_url: str) -> dict[str, Any]:
        """Settings of an ``aim_pos`` connector for this fake served at ``base_url``."""
        return {
            "api_key": self.API_KEY,
            "app_id": self.APP_ID,
            "username": self.USERNAME,
            "password": self.PASSWORD,
            "discovery_url": base_url.rstrip("/"),
            "timezone": self.timezone,
        }

    # -- controls for tests and the sandbox ---------------------------------------------------

    def mark_sold(self, sku: str, serial: str) -> None:
        """The unit is sold at the counter (its status becomes ``Sold``)."""
        self.set_status(sku, serial, "Sold")

    def set_status(self, sku: str, serial: str, status: str) -> None:
        """Set a serial's AIM status text (``Available``, ``On Hold``, ``Sold``, …)."""
        with self.lock:
            self._change(sku, serial, status=status)

    def set_price(
        self,
        sku: str,
        serial: str,
        price: Decimal | str,
        *,
        sale_price: Decimal | str | None = None,
    ) -> None:
        """Change a serial's web (Active-e) price, and optionally its sale price."""
        with self.lock:
            self._change(
                sku,
                serial,
                price=Decimal(str(price)),
                sale_price=Decimal(str(sale_price)) if sale_price is not None else None,
            )

    def set_unit_content(
        self,
        sku: str,
        serial: str,
        *,
        attributes: dict[str, str] | None = None,
        images: tuple[str, ...] | None = None,
    ) -> None:
        """Change a serial's own attributes (those named are set, the others kept) and/or
        photos, as staff editing it would."""
        with self.lock:
            unit = self._item(sku).serials[serial]
            self._change(
                sku,
                serial,
                attributes={**unit.attributes, **attributes} if attributes is not None else None,
                images=tuple(images) if images is not None else None,
            )

    def first_unit(self) -> tuple[str, str, str]:
        """The first item's SKU, its first serial and its title (for a change to make)."""
        with self.lock:
            item = next(iter(self._items.values()))
            return item.sku, next(iter(item.serials)), item.description

    def set_item_title(self, sku: str, title: str) -> None:
        """Rename the item (its ``Description``, the product's title online)."""
        with self.lock:
            item = self._item(sku)
            item.description = title
            item.changed = self._tick()

    def set_item_content(
        self,
        sku: str,
        *,
        brand: str | None = None,
        images: tuple[str, ...] | None = None,
        notes: str | None = None,
    ) -> None:
        """Change the item's manufacturer (the product's brand), photos and/or notes (its
        description online), as staff editing it would; what is not named is kept."""
        with self.lock:
            item = self._item(sku)
            if brand is not None:
                item.mfg = brand
            if images is not None:
                item.images = tuple(images)
            if notes is not None:
                item.notes = notes
            item.changed = self._tick()

    def set_item_price(self, sku: str, price: Decimal | str) -> None:
        """Change the item's own price (served as ``CustomerPrice``)."""
        with self.lock:
            item = self._item(sku)
            item.price = Decimal(str(price))
            item.changed = self._tick()

    def override_serial_fields(self, sku: str, serial: str, **fields: Any) -> None:
        """Serve these raw fields in the serial's ``InventoryDetail`` row, as a store whose
        data was entered or imported badly would (``Serial=None``, a price of ``"abc"``)."""
        with self.lock:
            self._item(sku).serials[serial].raw.update(fields)
            self._change(sku, serial)

    def override_item_fields(self, sku: str, **fields: Any) -> None:
        """Serve these raw fields in the item's ``SearchInventory`` row (``Pk=None`` …)."""
        with self.lock:
            item = self._item(sku)
            item.raw.update(fields)
            item.changed = self._tick()

    def damage_item(self, sku: str, damage: ItemDamage) -> None:
        """Spoil an item: its first serial row without ``Serial``, or its row without ``Pk``."""
        if damage == "missing-serial":
            first = next(iter(self._item(sku).serials))
            self.override_serial_fields(sku, first, Serial=None)
        else:
            self.override_item_fields(sku, Pk=None)

    def clear_overrides(self, sku: str) -> None:
        """Staff put the item right: its rows are served as the fake holds them again."""
        with self.lock:
            item = self._item(sku)
            item.raw.clear()
            for unit in item.serials.values():
                unit.raw.clear()
            item.changed = self._tick()

    def move_unit(self, sku: str, serial: str, location: str) -> None:
        """Transfer a serial to another location."""
        with self.lock:
            self._change(sku, serial, location=location)

    def set_sell_online(self, sku: str, flag: bool) -> None:
        """Tick or clear the item's "Sell Individual Serial#s via Active-e" checkbox."""
        with self.lock:
            item = self._item(sku)
            item.sell_online = flag
            item.changed = self._tick()

    def delete_item(self, sku: str) -> None:
        """Delete the whole item in AIM."""
        with self.lock:
            item = self._item(sku)
            item.deleted = True
            item.changed = self._tick()

    def unpublish(
        self, operation: str | None = None, *, field: tuple[str, str] | None = None
    ) -> None:
        """Leave an operation, or a ``(type, field)``, out of ``/metadata`` and
        ``/types/metadata``, as an older AIM version would (for ``aim probe``)."""
        with self.lock:
            if operation is not None:
                self._unpublished.add(operation)
            if field is not None:
                self._unpublished.add(field)

    def _metadata_page(self) -> httpx.Response:
        links = "".join(
            f'<li><a href="json/metadata?op={name}">{name}</a></li>'
            for name in _OPERATIONS
            if name not in self._unpublished
        )
        html = f"<html><body><h3>Operations</h3><ul>{links}</ul></body></html>"
        return httpx.Response(200, text=html, headers={"content-type": "text/html"})

    def _types_metadata(self) -> httpx.Response:
        def kind(name: str, fields: tuple[str, ...]) -> dict[str, Any]:
            kept = [f for f in fields if (name, f) not in self._unpublished]
            return {"name": name, "properties": [{"name": f, "type": "String"} for f in kept]}

        operations = [
            {"request": kind(name, req), "response": kind(f"{name}Response", res)}
            for name, (req, res) in _OPERATIONS.items()
            if name not in self._unpublished
        ]
        types = [kind(name, fields) for name, fields in _TYPES.items()]
        return _json(200, {"config": {"baseUrl": ""}, "operations": operations, "types": types})

    def expire_tokens(self, *, oauth: bool = False) -> None:
        """Expire every login Token (and the OAuthTokens too when ``oauth``)."""
        with self.lock:
            self._tokens.clear()
            if oauth:
                self._oauth_tokens.clear()
                self._discovery_tokens.clear()

    def fail_next(
        self,
        operation: str,
        kind: FailureKind | str,
        *,
        times: int = 1,
        after_apply: bool = False,
    ) -> None:
        """Answer the next ``times`` calls of ``operation`` with an in-band error of ``kind``.

        ``after_apply`` makes a write take effect before the error is answered (the case that
        idempotency exists for).
        """
        with self.lock:
            queue = self._failures.setdefault(operation.lower(), [])
            queue.extend(_Failure(FailureKind(kind), after_apply) for _ in range(times))

    def set_licensed(self, operation: str, licensed: bool) -> None:
        """License or unlicense one operation for this store."""
        with self.lock:
            if licensed:
                self._unlicensed.discard(operation.lower())
            else:
                self._unlicensed.add(operation.lower())

    def unit_status(self, sku: str, serial: str) -> str:
        """A serial's AIM status text (``Deleted`` once removed)."""
        with self.lock:
            unit = self._item(sku).serials[serial]
            return "Deleted" if unit.deleted else unit.status

    # -- state helpers ------------------------------------------------------------------------

    def _pk(self) -> int:
        self._next_pk += 1
        return self._next_pk

    def _tick(self) -> datetime:
        # AIM keeps seconds; never let a change look older than the one before it.
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        self._last_change = max(now, self._last_change)
        return self._last_change

    def _item(self, sku: str) -> _Item:
        try:
            return self._items[sku]
        except KeyError:
            raise KeyError(f"fake AIM has no item {sku!r}") from None

    def _change(self, sku: str, serial: str, **changes: Any) -> None:
        item = self._item(sku)
        try:
            unit = item.serials[serial]
        except KeyError:
            raise KeyError(f"fake AIM has no serial {serial!r} of {sku!r}") from None
        for name, value in changes.items():
            if value is not None or name == "sale_price":
                setattr(unit, name, value)
        # A serial's change shows on its item too, so SearchInventory's ChangedDate finds it.
        unit.changed = item.changed = self._tick()

    def _local(self, when: datetime) -> str:
        return when.astimezone(self.zone).replace(tzinfo=None).isoformat(timespec="seconds")

    # -- HTTP ---------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Route ``…/api/<Operation>`` to its handler."""
        path = request.url.path
        if "/api/" not in path.lower():
            return _json(404, {"ResponseStatus": {"ErrorCode": "NotFound", "Message": path}})
        cut = path.lower().rindex("/api/")
        operation = path[cut + len("/api/") :].strip("/").lower()
        if request.method == "GET" and operation in ("metadata", "types/metadata"):
            # ServiceStack publishes its contract to anyone, without a login.
            with self.lock:
                return self._metadata_page() if operation == "metadata" else self._types_metadata()
        route = self._routes().get(operation)
        if route is None:
            return _json(
                404,
                {"ResponseStatus": {"ErrorCode": "NotFound", "Message": f"no route {path}"}},
            )
        methods, handler, secured = route
        if request.method not in methods:
            return _json(405, {"ResponseStatus": {"ErrorCode": "MethodNotAllowed"}})
        try:
            args = _arguments(request)
        except ValueError:
            return _failure(FailureKind.VALIDATION, "The request body is not valid JSON.")
        if request.headers.get("ApiKey") != self.API_KEY:
            return _failure(FailureKind.AUTH, "Invalid ApiKey.", code="InvalidApiKey")
        if not request.headers.get("AppId"):
            return _failure(FailureKind.VALIDATION, "AppId is required.")
        oauth = request.headers.get("OAuthToken")
        # GetEndPoint's OAuthToken opens Security only; later calls need the one Security
        # returned (the plugin once kept the first and ignored the second).
        accepted = self._oauth_tokens | (self._discovery_tokens if not secured else set())
        if operation != "getendpoint" and oauth not in accepted:
            return _failure(FailureKind.AUTH, "OAuthToken is invalid or expired.")
        if secured and request.headers.get("Token") not in self._tokens:
            return _failure(FailureKind.AUTH, code="InvalidToken", login="Expired")
        if operation in self._unlicensed:
            return _failure(FailureKind.NOT_LICENSED)
        queue = self._failures.get(operation)
        failure = queue.pop(0) if queue else None
        if failure is not None and not failure.after_apply:
            return _failure(failure.kind)
        response = handler(request, args)
        if failure is not None:
            return _failure(failure.kind)
        return response

    def _routes(
        self,
    ) -> dict[
        str,
        tuple[frozenset[str], Callable[[httpx.Request, dict[str, Any]], httpx.Response], bool],
    ]:
        get, post, both = frozenset({"GET"}), frozenset({"POST"}), frozenset({"GET", "POST"})
        return {
            "getendpoint": (get, self._get_endpoint, False),
            "security": (post, self._security, False),
            "searchinventory": (both, self._search_inventory, True),
            "inventorydetail": (both, self._inventory_detail, True),
            "ecommerceorderstatus": (get, self._order_status, True),
            "customerorders": (post, self._customer_orders, True),
        }

    def _get_endpoint(self, request: httpx.Request, args: dict[str, Any]) -> httpx.Response:
        token = secrets.token_hex(16)
        self._discovery_tokens.add(token)
        self.issued_tokens.append(token)
        if self.store_domain is not None:
            domain = self.store_domain
        else:
            # The fake's own root, as the client reached it (works on any loopback port).
            path = request.url.path
            prefix = path[: path.lower().rindex("/api/")]
            domain = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}{prefix}"
        return _ok({"NewEndpointDomain": domain, "OAuthToken": token})

    def _security(self, request: httpx.Request, args: dict[str, Any]) -> httpx.Response:
        username = args.get("Username") or args.get("UserName")
        if username != self.USERNAME or args.get("Password") != self.PASSWORD:
            return _failure(
                FailureKind.AUTH,
                "Invalid Username or Password.",
                code="LoginFailed",
                login="Failed",
            )
        if not args.get("AppId") or not args.get("DeviceId"):
            return _failure(FailureKind.VALIDATION, "AppId and DeviceId are required.")
        if self.acct is not None and args.get("Acct") != self.acct:
            return _failure(FailureKind.AUTH, "Acct is required for this key.", code="LoginFailed")
        self.last_login = {k: v for k, v in args.items() if k != "Password"}
        token, oauth = secrets.token_hex(16), secrets.token_hex(16)
        self._tokens.add(token)
        self._oauth_tokens.add(oauth)
        self.issued_tokens.extend((token, oauth))
        self.logins += 1
        path = request.url.path
        domain = f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"
        domain += path[: path.lower().rindex("/api/")]
        return _ok(
            {
                "Token": token,
                "OAuthToken": oauth,
                "Domain": domain,
                "IsAdmin": False,
                "UserDetails": {
                    "Firstname": "Web",
                    "Type": "Employee",
                    "Location": self.login_location,
                },
            }
        )

    def _search_inventory(self, request: httpx.Request, args: dict[str, Any]) -> httpx.Response:
        try:
            offset = int(args.get("StartOffset") or 0)
            count = int(args.get("RecordCount") or 50)
        except (TypeError, ValueError):
            return _failure(FailureKind.VALIDATION, "StartOffset and RecordCount are integers.")
        if offset < 0 or not 0 < count <= MAX_RECORD_COUNT:
            return _failure(
                FailureKind.VALIDATION, f"RecordCount must be between 1 and {MAX_RECORD_COUNT}."
            )
        since: datetime | None = None
        if args.get("ChangedDate"):
            try:
                since = datetime.fromisoformat(str(args["ChangedDate"]))
            except ValueError:
                return _failure(FailureKind.VALIDATION, "ChangedDate is not a date.")
            if since.tzinfo is None:
                since = since.replace(tzinfo=self.zone)
        items = [
            item
            for item in self._items.values()
            if _flag(args.get("IncludeSerials"))
            and item.serialized
            and (_flag(args.get("IncludeDeleted")) or not item.deleted)
            and (since is None or item.changed >= since)
        ]
        items.sort(key=lambda i: (i.changed, i.pk))
        page = items[offset : offset + count]
        return _ok(
            {
                "StartOffset": offset,
                "RecordCount": len(page),
                "RemainingRecords": max(0, len(items) - offset - len(page)),
                "TotalRecords": len(items),
                "Records": [
                    {"Detail": self._search_row(item), "CustomerPrice": float(item.price)}
                    for item in page
                ],
            }
        )

    def _search_row(self, item: _Item) -> dict[str, Any]:
        return {
            "Pk": item.pk,
            "Sku": item.sku,
            "Description": item.description,
            "InventoryType": "S",
            "Manufacturer": item.mfg,
            "ChangedDate": self._local(item.changed),
            "Deleted": item.deleted,
            **item.raw,
        }

    def _inventory_detail(self, request: httpx.Request, args: dict[str, Any]) -> httpx.Response:
        item = next((i for i in self._items.values() if i.pk == _int(args.get("Pk"))), None)
        if item is None:
            return _failure(
                FailureKind.VALIDATION, "Inventory item not found.", code="ItemNotFound"
            )
        body: dict[str, Any] = {
            "SadPk": item.pk,
            "InvType": "S",
            "Description": item.description,
            "Mfg": item.mfg,
            "Notes": item.notes,
            "SellSerialsOnline": item.sell_online,
            "Deleted": item.deleted,
            "Images": [{"Url": url} for url in item.images],
            "HasImages": bool(item.images),
            "Attributes": [{"Name": k, "Value": v} for k, v in item.attributes.items()],
        }
        if _flag(args.get("IncludeSerialInfo")):
            body["Serials"] = [self._serial_row(unit) for unit in item.serials.values()]
        return _ok(body)

    def _serial_row(self, unit: _Serial) -> dict[str, Any]:
        # As SerialDetail documents it: a serial's prices and status sit under Details{}, not
        # beside the serial (a raw override of one of those fields lands there too).
        details: dict[str, Any] = {
            "Retail": float(unit.price),
            "OurPrice": float(unit.price),
            "SalePrice": float(unit.sale_price) if unit.sale_price is not None else None,
            "ActiveEPrice": float(unit.price),
            "Status": unit.status,
        }
        row: dict[str, Any] = {
            "SasPk": unit.pk,
            "Serial": unit.serial,
            "Location": unit.location,
            "ChangedDate": self._local(unit.changed),
            "Deleted": unit.deleted,
            "Attributes": [{"Name": k, "Value": v} for k, v in unit.attributes.items()],
            "Images": [{"Url": url} for url in unit.images],
        }
        for key, value in unit.raw.items():
            (details if key in details else row)[key] = value
        return {**row, "Details": details}

    def _order_status(self, request: httpx.Request, args: dict[str, Any]) -> httpx.Response:
        number = str(args.get("OrderNumber") or "")
        if not number:
            return _failure(FailureKind.VALIDATION, "OrderNumber is required.")
        self._lookups[number] += 1
        if str(args.get("OrderType") or "3") != "3":
            return _failure(FailureKind.VALIDATION, "Order not found.", code="OrderNotFound")
        posted = self._orders.get(number)
        if not posted:
            return _failure(FailureKind.VALIDATION, "Order not found.", code="OrderNotFound")
        order = posted[0]
        return _ok(
            {
                "OrderStatus": "Open",
                "OrderStatusDescription": "Open web order",
                "LineItems": [
                    {"Sku": line["Sku"], "Quantity": line.get("Qty", 1), "ItemStatus": "Open"}
                    for line in order["LineItems"]
                ],
                "ShippingInfo": [],
            }
        )

    def _customer_orders(self, request: httpx.Request, args: dict[str, Any]) -> httpx.Response:
        orders = args.get("Orders")
        if not isinstance(orders, list) or not orders:
            return _failure(FailureKind.VALIDATION, "Orders is required.")
        for order in orders:
            problem = self._order_problem(order)
            if problem:
                return _failure(FailureKind.VALIDATION, problem)
        # All or nothing, like one database transaction.
        for order in orders:
            self._orders.setdefault(order["OrderNumber"], []).append(order)
            self._recorded.append(
                RecordedOrder(
                    order_number=order["OrderNumber"],
                    lines=tuple(
                        (li["Sku"], li.get("SerialNumber"), int(li.get("Qty", 1)))
                        for li in order["LineItems"]
                    ),
                )
            )
        return _ok({})

    def _order_problem(self, order: Any) -> str | None:
        if not isinstance(order, dict) or not str(order.get("OrderNumber") or "").strip():
            return "OrderNumber is required."
        lines = order.get("LineItems")
        if not isinstance(lines, list) or not lines:
            return f"Order {order['OrderNumber']}: LineItems is required."
        # Like a validator, it names every SKU it does not carry, not only the first.
        skus = [str(line.get("Sku") or "") for line in lines if isinstance(line, dict)]
        unknown = [sku for sku in skus if sku not in self._items or self._items[sku].deleted]
        if unknown:
            return " ".join(f"Sku {sku!r} not found." for sku in dict.fromkeys(unknown))
        for line in lines:
            if not isinstance(line, dict):
                return "A line item is not an object."
            sku, serial = str(line.get("Sku") or ""), line.get("SerialNumber")
            item = self._items.get(sku)
            if item is None or item.deleted:
                return f"Sku {sku!r} not found."
            qty = _int(line.get("Qty"))
            if qty is None or qty <= 0:
                return f"Sku {sku!r}: Qty must be a positive integer."
            if _money(line.get("Price")) is None:
                return f"Sku {sku!r}: Price is not a number."
            if serial is not None:
                unit = item.serials.get(str(serial))
                if unit is None or unit.deleted:
                    return f"Serial {serial!r} of Sku {sku!r} not found."
                if qty != 1:
                    return f"Serial {serial!r}: Qty must be 1."
        return None


# -- wire helpers -----------------------------------------------------------------------------


def _arguments(request: httpx.Request) -> dict[str, Any]:
    """Query parameters and JSON body merged, as ServiceStack binds them."""
    args: dict[str, Any] = dict(request.url.params.items())
    if request.content:
        body = json.loads(request.content, parse_float=Decimal)
        if not isinstance(body, dict):
            raise ValueError("body is not an object")
        args.update(body)
    return args


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.lower() in ("true", "1")
    return bool(value)


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _json(status: int, body: Mapping[str, Any]) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json; charset=utf-8"},
    )


def _ok(body: Mapping[str, Any]) -> httpx.Response:
    return _json(200, {**body, "Status": {"StatusCode": "Ok"}})


def _failure(
    kind: FailureKind, message: str | None = None, *, code: str | None = None, login: str = ""
) -> httpx.Response:
    default_code, default_message = _FAILURES[kind]
    text = message or default_message
    # In-band: AIM answers HTTP 200 and says what went wrong in Status.
    return _json(
        200,
        {
            "Status": {
                "StatusCode": "Failed",
                "ErrorCode": code or default_code,
                "ErrorMessage": text,
                "ErrorDisplayText": text,
                "Login": login,
            }
        },
    )

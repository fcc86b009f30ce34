"""The canonical model: the only shapes that cross the hook boundary.

No platform's JSON ever reaches the engine. A POS plugin maps its items into :class:`Product`
and :class:`SerializedUnit`; a channel plugin maps its orders into :class:`Order`; the engine
hands channels :class:`ListingChange` lists and the POS a :class:`Sale`. Every model is
immutable; build a changed copy with ``model_copy(update=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field, field_validator

from serialsync.errors import IntegrationIdError
from serialsync.integration_id import IntegrationId, compose, parse
from serialsync.lifecycle import UnitStatus

__all__ = [
    "FinancialStatus",
    "InventoryPage",
    "ListingAction",
    "ListingChange",
    "Order",
    "OrderLine",
    "OrdersPage",
    "Product",
    "PublishOutcome",
    "PublishResult",
    "RemoteIds",
    "Sale",
    "SaleLine",
    "SaleReceipt",
    "SerializedUnit",
    "UnitKey",
    "UnitStatus",
    "UnreadableRecord",
    "WebhookDelivery",
    "WebhookSubscription",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class UnitKey(_Frozen):
    """Names one unit: its POS SKU and its serial."""

    sku: str
    serial: str

    @property
    def integration_id(self) -> str:
        """``SKU|||SERIAL``, as every channel stores it."""
        return compose(self.sku, self.serial)


class SerializedUnit(_Frozen):
    """One physical unit: one serial of one SKU, as the POS knows it.

    ``price`` overrides the product's price for this unit (used units are priced one by one).
    ``attributes`` holds what sets this unit apart (finish, wood grain, weight); ``images`` are
    URLs of photos of *this* unit. ``changed_at`` is when the POS last changed it.
    """

    sku: str
    serial: str
    status: UnitStatus = UnitStatus.IN_STOCK
    lot: str | None = None
    warehouse: str | None = None
    location: str | None = None
    purchase_date: date | None = None
    warranty_expiry: date | None = None
    price: Decimal | None = None
    attributes: dict[str, str] = Field(default_factory=dict)
    images: tuple[str, ...] = ()
    changed_at: datetime | None = None

    @property
    def integration_id(self) -> str:
        """``SKU|||SERIAL``; raises :class:`~serialsync.errors.IntegrationIdError` if invalid."""
        return compose(self.sku, self.serial)

    @property
    def key(self) -> UnitKey:
        """The unit's :class:`UnitKey`."""
        return UnitKey(sku=self.sku, serial=self.serial)


class Product(_Frozen):
    """One POS SKU, sold online as one product whose variants are its units.

    ``option_name`` is the name of the option whose values are the serials (``"Serial"``).
    ``units`` lists the units the POS reported in this page; it need not be every unit of the
    product (inventory is fetched by what changed).

    ``part`` is which of the channel's products holds the units: 1 for the product itself,
    2, 3, … for its *siblings*, which continue it past the channel's per-product capacity
    (see the ``product_capacity`` hook). A sibling keeps the POS ``sku`` (its units' variant
    SKUs stay ``SKU|||SERIAL``), carries its own ``title`` (``"Fender Stratocaster (2)"``), and
    is told apart on the channel by :attr:`listing_sku`.
    """

    sku: str
    title: str
    description: str = ""
    brand: str | None = None
    price: Decimal
    option_name: str = "Serial"
    images: tuple[str, ...] = ()
    attributes: dict[str, str] = Field(default_factory=dict)
    units: tuple[SerializedUnit, ...] = ()
    part: int = Field(default=1, ge=1)

    @property
    def listing_sku(self) -> str:
        """The product-level key of this product on a channel (its product SKU, handle seed).

        The POS SKU for part 1; for a sibling, the SKU, the separator, the part number and the
        separator again (``"0113942719|||2|||"``). No unit's integration id can ever equal it:
        a serial never contains the separator.
        """
        if self.part == 1:
            return self.sku
        return f"{self.sku}|||{self.part}|||"


class UnreadableRecord(_Frozen):
    """A platform record (an order, a POS item) that a plugin could not map to the model.

    A plugin never stops a stream for one record it cannot read: it returns the record here,
    and the engine quarantines it durably with its ``reason`` and raw ``payload`` and goes on
    past it. ``key`` is the platform's id of the record (the order id, the POS item id);
    ``updated_at`` is its last change as the platform reports it, when that much could be read,
    so the cursor may move past it. ``payload`` is the record's raw JSON as received (the plugin
    leaves out credentials; the engine redacts personal data before storing it).
    """

    key: str
    reason: str
    payload: str = ""
    updated_at: datetime | None = None


class InventoryPage(_Frozen):
    """One page of ``fetch_inventory``.

    ``deleted`` names units the POS no longer has (deleted, or no longer offered online);
    the engine withdraws them. ``unreadable`` holds items the plugin could not map; the engine
    quarantines each and goes on. ``next_page`` is an opaque token for the next call, or ``None``
    on the last page. ``high_water`` is the latest change time this page covers; the engine
    keeps the highest as the cursor for the next pass.
    """

    products: tuple[Product, ...] = ()
    deleted: tuple[UnitKey, ...] = ()
    unreadable: tuple[UnreadableRecord, ...] = ()
    next_page: str | None = None
    high_water: datetime | None = None


class RemoteIds(_Frozen):
    """The ids a channel gave one listing, kept so the next publish can address it directly.

    ``extra`` holds anything else the plugin needs (an option value id, a Magento child SKU).
    """

    product_id: str | None = None
    variant_id: str | None = None
    inventory_item_id: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)


class ListingAction(StrEnum):
    """What the engine asks a channel to do with one unit."""

    UPSERT = "upsert"  # list it (create, or update what changed), stock 1
    WITHDRAW = "withdraw"  # make it unsellable: stock 0 or variant removed


class FieldGroup(StrEnum):
    """A group of what a channel shows, compared and sent as one (see ``ListingChange.changed``).

    ``PRODUCT``: the product's title, description, brand, images, attributes and option name
    (sent once per product, whichever unit carries it). ``UNIT``: the unit's own attributes,
    images and location. ``PRICE``: the unit's price (its own, else the product's).
    """

    PRODUCT = "product"
    UNIT = "unit"
    PRICE = "price"


class ListingChange(_Frozen):
    """One unit's change for one channel. ``remote`` is what the last publish recorded.

    ``changed`` names the field groups that differ from what this channel was last given: every
    group for a unit never listed (or listed before serialsync kept groups apart), fewer for a
    unit already live. A plugin may leave a group it is not named in as the channel has it; the
    stock of an upsert is always made 1.
    """

    unit: SerializedUnit
    action: ListingAction
    remote: RemoteIds | None = None
    changed: frozenset[FieldGroup] = frozenset(FieldGroup)

    def outcome(self, result: PublishResult, remote: RemoteIds | None = None) -> PublishOutcome:
        """The outcome of this change: ``result``, with the ids the channel gave (or knew)."""
        return PublishOutcome(
            sku=self.unit.sku, serial=self.unit.serial, result=result, remote=remote or self.remote
        )

    def failed(
        self, reason: str, *, code: str | None = None, retryable: bool = True
    ) -> PublishOutcome:
        """A ``FAILED`` outcome of this change, with the platform's reason and code."""
        return PublishOutcome(
            sku=self.unit.sku,
            serial=self.unit.serial,
            result=PublishResult.FAILED,
            remote=self.remote,
            reason=reason,
            code=code,
            retryable=retryable,
        )


class PublishResult(StrEnum):
    """What happened to one unit on one channel."""

    CREATED = "created"
    UPDATED = "updated"
    WITHDRAWN = "withdrawn"
    UNCHANGED = "unchanged"
    FAILED = "failed"


class PublishOutcome(_Frozen):
    """The per-unit answer of ``publish_variants``.

    ``reason`` (and the platform's ``code``) say why a unit ``FAILED``; ``retryable`` says
    whether a later pass should try again unchanged.
    """

    sku: str
    serial: str
    result: PublishResult
    remote: RemoteIds | None = None
    reason: str | None = None
    code: str | None = None
    retryable: bool = True

    @property
    def key(self) -> UnitKey:
        """The :class:`UnitKey` this outcome is about."""
        return UnitKey(sku=self.sku, serial=self.serial)


StillForSale: TypeAlias = Callable[[Collection[str]], frozenset[str]]
"""``still_for_sale(serials)``: of the units named (by serial), those the host still wants for
sale, as its store says at the moment of the call; ``publish_variants`` is handed one (see
:func:`serialsync.hookspecs.publish_variants`)."""


def every_unit_for_sale(serials: Collection[str]) -> frozenset[str]:
    """The ``still_for_sale`` of a ``publish_variants`` call made outside a publish (a test, an
    embedding application): every unit asked about is still for sale."""
    return frozenset(serials)


class FinancialStatus(StrEnum):
    """An order's state as far as the POS cares."""

    PENDING = "pending"  # placed, not paid: the unit is reserved
    PAID = "paid"  # paid (or authorised): the unit is sold
    CANCELLED = "cancelled"  # cancelled or declined before it was fulfilled
    REFUNDED = "refunded"  # paid, then refunded in full
    PARTIALLY_REFUNDED = "partially_refunded"


class OrderLine(_Frozen):
    """One line of a channel order. ``raw_sku`` is the SKU exactly as the channel sold it."""

    line_id: str
    raw_sku: str | None
    quantity: int
    price: Decimal
    title: str = ""
    quantity_refunded: int = 0

    @field_validator("quantity")
    @classmethod
    def _positive(cls, value: int) -> int:
        if value < 0:
            raise ValueError("quantity cannot be negative")
        return value

    def parsed(self) -> IntegrationId:
        """The line's SKU split into SKU and serial (raises on a malformed id)."""
        if self.raw_sku is None:
            raise IntegrationIdError(f"line {self.line_id} has no SKU", rule="sku-missing")
        return parse(self.raw_sku)


class Order(_Frozen):
    """One channel order, as the channel reports it now."""

    channel: str
    order_id: str
    order_number: str
    status: FinancialStatus
    lines: tuple[OrderLine, ...]
    currency: str = "USD"
    total: Decimal = Decimal("0")
    customer_name: str | None = None
    customer_email: str | None = None
    #: Optional order-level money and payment, where the channel reports them: the tax and the
    #: shipping charged (``None``: not read), and the payment gateway's name as the channel
    #: spells it (a POS plugin maps it to its own payment types).
    tax: Decimal | None = None
    shipping: Decimal | None = None
    gateway: str | None = None
    created_at: datetime
    updated_at: datetime


class RemoteListing(_Frozen):
    """One variant a channel holds whose SKU is an integration id, as ``list_listings`` reads it.

    ``integration_id`` is the variant's SKU exactly as the channel holds it (it may not parse:
    staff retype SKUs); ``remote`` the ids that address it (as ``publish_variants`` returns
    them); ``sellable`` whether a shopper can buy it now (stock above 0 and purchasable);
    ``stock`` the channel's count when it has one.
    """

    integration_id: str
    remote: RemoteIds
    sellable: bool
    stock: int | None = None


class ListingsPage(_Frozen):
    """One page of ``list_listings``; ``next_page`` is ``None`` on the last page."""

    listings: tuple[RemoteListing, ...] = ()
    next_page: str | None = None


class OrdersPage(_Frozen):
    """One page of ``fetch_orders``; ``next_page`` is ``None`` on the last page.

    ``unreadable`` holds the orders of this page that the plugin could not map (a negative
    quantity, a missing field, an unknown state): the engine quarantines each and reads on.
    """

    orders: tuple[Order, ...] = ()
    unreadable: tuple[UnreadableRecord, ...] = ()
    next_page: str | None = None


class SaleLine(_Frozen):
    """One line of a sale: a serialized unit (``serial`` set) or a plain SKU."""

    line_id: str
    sku: str
    serial: str | None
    quantity: int
    price: Decimal
    title: str = ""


class Sale(_Frozen):
    """What is reported to the POS: one channel order with its lines.

    ``idempotency_key`` is ``"<channel connector>:<order id>"``, stable across retries: a POS
    plugin uses it (or the order number) to make ``report_sale`` idempotent.
    """

    idempotency_key: str
    channel: str
    order_id: str
    order_number: str
    status: FinancialStatus
    lines: tuple[SaleLine, ...]
    currency: str = "USD"
    total: Decimal = Decimal("0")
    customer_name: str | None = None
    customer_email: str | None = None
    #: The order's tax, shipping and payment gateway, as :class:`Order` carries them.
    tax: Decimal | None = None
    shipping: Decimal | None = None
    gateway: str | None = None
    placed_at: datetime


class ContractGap(_Frozen):
    """One name a plugin relies on that the live platform does not publish.

    ``kind`` is ``"operation"`` or ``"field"``; ``owner`` the operation or type a field belongs
    to (empty for an operation); ``source`` where the plugin's reliance comes from (a document,
    or ``"assumed"``).
    """

    kind: str
    name: str
    owner: str = ""
    source: str = "assumed"


class ProbeReport(_Frozen):
    """What a read-only probe of a platform's published contract found (``probe_contract``).

    ``checked`` counts the operations and fields compared; ``missing`` lists those the platform
    does not have; ``summary`` is one line for people.
    """

    summary: str
    checked: int = 0
    missing: tuple[ContractGap, ...] = ()


class SaleReceipt(_Frozen):
    """The POS's answer to ``report_sale``.

    ``already_recorded`` is true when the POS had the order before this call (an idempotent
    repeat), so the engine can log it without treating it as new.
    """

    pos_order_id: str
    already_recorded: bool = False


class WebhookDelivery(_Frozen):
    """What a channel's webhook delivery is about, once its signature has been checked.

    A delivery is only a trigger: the host fetches the order it names through the API and never
    trusts the payload's content. ``order_id`` is the id ``fetch_orders`` uses for that order
    (``None`` for a delivery that concerns no order: a ping, a topic serialsync does not
    follow). ``delivery_id`` identifies the *event*: a delivery of the same event again (a
    platform's retry, or one per subscription) carries the same id, so the host de-duplicates
    on it.
    """

    topic: str
    delivery_id: str
    order_id: str | None = None
    ping: bool = False


class WebhookSubscription(_Frozen):
    """One webhook subscription as the channel keeps it: its id, topic and the address called.

    ``state`` is ``"active"`` for one the channel delivers to; ``"disabled"`` for one it keeps
    but stopped delivering to (after failed deliveries); ``"missing"`` for a topic
    ``register_webhooks`` subscribes that the channel holds no subscription for (a platform
    may remove one after failed deliveries): ``remote_id`` is empty then, and registering
    again makes it.
    """

    remote_id: str
    topic: str
    url: str
    state: Literal["active", "disabled", "missing"] = "active"

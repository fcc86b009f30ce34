"""The fake store's orders: placed by a shopper, cancelled or refunded by staff, searched.

Orders take stock from the catalogue as Shopify does (policy DENY refuses what is not in stock);
cancelling and refunding put it back. The ``orders`` query sorts and filters them with the part
of Shopify's search syntax the plugin uses (``updated_at`` / ``created_at`` comparisons).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from serialsync import FinancialStatus
from serialsync.testing import OrderDamage

from serialsync_shopify.fake_catalog import Catalog, FakeVariant, gid_number
from serialsync_shopify.fake_graphql import connection

#: What a custom line item (no product, no SKU) is called and costs in the fake.
CUSTOM_LINE_TITLE = "Setup service"
CUSTOM_LINE_PRICE = Decimal("25.00")


@dataclass
class FakeLine:
    """One order line: the SKU as sold, quantity, and what is left after refunds.

    ``variant_id`` is ``None`` for a custom line item (added by hand, no product behind it),
    whose ``sku`` is then ``None`` too, as Shopify shows such lines.
    """

    id: str
    sku: str | None
    title: str
    quantity: int
    price: Decimal
    current_quantity: int
    variant_id: str | None = None
    #: Fields the store has lost for this line (a damaged record, see ``damage``).
    lost: tuple[str, ...] = ()


@dataclass
class FakeOrder:
    """One order: its times, Shopify financial status, cancellation, and lines."""

    id: str
    name: str
    created_at: datetime
    updated_at: datetime
    financial: str
    lines: list[FakeLine]
    cancelled_at: datetime | None = None
    email: str | None = "shopper@example.com"
    currency: str = "USD"
    #: Charged on top of the lines (0 unless a test sets them), and the gateways paid through.
    tax: Decimal = Decimal("0")
    shipping: Decimal = Decimal("0")
    gateways: list[str] = field(default_factory=lambda: ["shopify_payments"])


class OrderBook:
    """The fake store's orders; ``now`` stamps them, ``gid`` mints their ids."""

    def __init__(
        self, catalog: Catalog, *, now: Callable[[], datetime], gid: Callable[[str], str]
    ) -> None:
        self.catalog = catalog
        self._now = now
        self._gid = gid
        self.orders: dict[str, FakeOrder] = {}
        self._number = 1000
        self._last_stamp: datetime | None = None

    def create(
        self,
        lines: Sequence[tuple[str | None, int]],
        *,
        status: FinancialStatus = FinancialStatus.PAID,
    ) -> str:
        """A shopper buys ``(sku, quantity)`` lines; stock is taken as Shopify does.

        An integration id (``SKU|||SERIAL``) must name a variant for sale; any other SKU is a
        plain product of the shop (created on first sale); ``None`` is a custom line item,
        which Shopify shows with no variant and no SKU. Raises ``ValueError`` when an
        integration id is not sold or not in stock (policy DENY); nothing is taken then.
        """
        chosen: list[tuple[FakeVariant | None, int]] = []
        for sku, quantity in lines:
            if sku is None:
                chosen.append((None, quantity))
                continue
            variant = next((v for v in self.catalog.variants.values() if v.sku == sku), None)
            if variant is None and "|||" in sku:
                raise ValueError(f"no variant with SKU {sku!r} is for sale")
            if variant is not None:
                key = self.catalog.stocked_level(variant)
                tracked = variant.tracked and variant.policy == "DENY"
                if tracked and self.catalog.levels[key] < quantity:
                    raise ValueError(f"{sku!r} is out of stock")
            chosen.append((variant or self.catalog.plain_variant(sku), quantity))
        order_lines = [self._line(variant, quantity) for variant, quantity in chosen]
        stamp = self._stamp()
        self._number += 1
        order = FakeOrder(
            id=self._gid("Order"),
            name=f"#{self._number}",
            created_at=stamp,
            updated_at=stamp,
            financial="PAID",
            lines=order_lines,
        )
        self.orders[order.id] = order
        if status is not FinancialStatus.PAID:
            self.set_status(order.id, status)
        return order.id

    def _line(self, variant: FakeVariant | None, quantity: int) -> FakeLine:
        """One line item, taking stock from a tracked variant."""
        if variant is None:
            return FakeLine(
                id=self._gid("LineItem"),
                sku=None,
                title=CUSTOM_LINE_TITLE,
                quantity=quantity,
                price=CUSTOM_LINE_PRICE,
                current_quantity=quantity,
            )
        if variant.tracked:
            self.catalog.levels[self.catalog.stocked_level(variant)] -= quantity
        product = self.catalog.products[variant.product_id]
        title = product.title if product.plain else f"{product.title} - {variant.option_value}"
        return FakeLine(
            id=self._gid("LineItem"),
            sku=variant.sku,
            title=title,
            quantity=quantity,
            price=variant.price,
            current_quantity=quantity,
            variant_id=variant.id,
        )

    def damage(self, order_id: str, damage: OrderDamage) -> None:
        """Spoil an order as a broken app or import leaves one (see ``FakeChannel``).

        ``negative-quantity``: the first line's quantity is -1; ``missing-field``: the first
        line comes without its quantity; ``unknown-status``: a financial status outside the
        2026-07 enum (``DISPUTED``). The order counts as updated now.
        """
        order = self.orders[order_id]
        first = order.lines[0]
        if damage == "negative-quantity":
            first.quantity = first.current_quantity = -1
        elif damage == "missing-field":
            first.lost = (*first.lost, "quantity")
        elif damage == "unknown-status":
            order.financial = "DISPUTED"
        else:
            raise ValueError(f"unknown damage {damage!r}")
        order.updated_at = self._stamp()

    def set_status(self, order_id: str, status: FinancialStatus) -> None:
        """Move an order on as staff would: pay, cancel (restocks), refund (restocks)."""
        if status is FinancialStatus.CANCELLED:
            self.cancel(order_id)
        elif status is FinancialStatus.REFUNDED:
            self.refund(order_id)
        elif status is FinancialStatus.PARTIALLY_REFUNDED:
            order = self.orders[order_id]
            self.refund(order_id, {order.lines[0].id: 1})
        else:
            order = self.orders[order_id]
            order.financial = "PAID" if status is FinancialStatus.PAID else "PENDING"
            order.updated_at = self._stamp()

    def cancel(self, order_id: str) -> None:
        """Cancel an order, restocking its lines and refunding what was paid."""
        order = self.orders[order_id]
        self._restock(order, {line.id: line.current_quantity for line in order.lines})
        order.cancelled_at = self._stamp()
        order.financial = "REFUNDED" if order.financial == "PAID" else "VOIDED"
        order.updated_at = order.cancelled_at

    def refund(self, order_id: str, quantities: dict[str, int] | None = None) -> None:
        """Refund (and restock) whole lines, or ``{line id: quantity}`` of them."""
        order = self.orders[order_id]
        wanted = quantities or {line.id: line.current_quantity for line in order.lines}
        self._restock(order, wanted)
        left = sum(line.current_quantity for line in order.lines)
        order.financial = "REFUNDED" if left == 0 else "PARTIALLY_REFUNDED"
        order.updated_at = self._stamp()

    def search(self, args: dict[str, Any]) -> dict[str, Any]:
        """The ``orders`` query: filtered, sorted (``UPDATED_AT`` or by creation), paged."""
        matches = [o for o in self.orders.values() if _order_matches(o, args.get("query"))]
        sort = args.get("sortKey") or "PROCESSED_AT"
        if sort == "UPDATED_AT":

            def key(o: FakeOrder) -> tuple[Any, ...]:
                return (o.updated_at.isoformat(), gid_number(o.id))
        else:

            def key(o: FakeOrder) -> tuple[Any, ...]:
                return (o.created_at.isoformat(), gid_number(o.id))

        return connection(matches, args, key=key, view=lambda o: self.order_view(o.id))

    def order_view(self, order_id: str | None) -> dict[str, Any] | None:
        """An order as the projector walks it (``None`` when there is none)."""
        order = self.orders.get(order_id or "")
        if order is None:
            return None
        lines_total = sum((line.price * line.current_quantity for line in order.lines), Decimal(0))
        total = lines_total + order.tax + order.shipping

        def money(amount: Decimal) -> dict[str, Any]:
            value = {"amount": format(amount, "f"), "currencyCode": order.currency}
            return {"shopMoney": value, "presentmentMoney": value}

        def line_view(line: FakeLine) -> dict[str, Any]:
            view = {
                "__typename": "LineItem",
                "id": line.id,
                "sku": line.sku,
                # A custom line item has no variant; a deleted variant leaves null too.
                "variant": self.catalog.variant_view(line.variant_id) if line.variant_id else None,
                "name": line.title,
                "title": line.title,
                "quantity": line.quantity,
                "currentQuantity": line.current_quantity,
                "originalUnitPriceSet": money(line.price),
            }
            return {key: value for key, value in view.items() if key not in line.lost}

        def line_items(a: dict[str, Any]) -> dict[str, Any]:
            return connection(
                order.lines, a, key=lambda line: (gid_number(line.id),), view=line_view
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
            "totalTaxSet": money(order.tax),
            "totalShippingPriceSet": money(order.shipping),
            "paymentGatewayNames": list(order.gateways),
            "lineItems": line_items,
        }

    # -- mutations ------------------------------------------------------------------------

    def _restock(self, order: FakeOrder, quantities: dict[str, int]) -> None:
        for line in order.lines:
            take = min(line.current_quantity, quantities.get(line.id, 0))
            if take <= 0:
                continue
            line.current_quantity -= take
            # A custom line has no variant; a deleted variant has nothing left to restock.
            variant = self.catalog.variants.get(line.variant_id or "")
            if variant is not None and variant.tracked:
                key = self.catalog.stocked_level(variant)
                self.catalog.levels[key] = self.catalog.levels.get(key, 0) + take

    def _stamp(self) -> datetime:
        # Whole seconds, as Shopify keeps them: several orders may share one ``updatedAt``
        # (ties sort by id), which is what makes ``updated_at`` windows tricky for clients.
        stamp = self._now().astimezone(UTC).replace(microsecond=0)
        if self._last_stamp is not None and stamp < self._last_stamp:
            stamp = self._last_stamp
        self._last_stamp = stamp
        return stamp


# -- module helpers -------------------------------------------------------------------------


# -- module helpers ------------------------------------------------------------


def _iso(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_TERM = re.compile(r"(updated_at|created_at):(>=|<=|>|<)?'?([0-9T:\-+.Z]+)'?")


def _order_matches(order: FakeOrder, query: str | None) -> bool:
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

"""Shopify JSON <-> the canonical model: handles, variant inputs, orders and their statuses."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Container, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from serialsync import (
    FinancialStatus,
    Order,
    OrderLine,
    Product,
    SerializedUnit,
    UnreadableRecord,
)

from serialsync_shopify.unit_fields import metafields_input

#: Where the plugin marks a product as the listing of one POS SKU.
METAFIELD_NAMESPACE = "serialsync"
METAFIELD_KEY = "pos_sku"
#: The product's record of its own photos: ``[{"src": url, "id": media gid or null}, …]``.
#: Kept on the product (not with the units) so that every publish call of a product, whichever
#: units it carries, reads the same record; ids are null until first learnt.
MEDIA_KEY = "product_media"
_NOT_HANDLE = re.compile(r"[^a-z0-9]+")


def handle_for(sku: str) -> str:
    """The product handle that finds a POS SKU's product again: stable, never from the title.

    A SKU that already is a valid handle (lowercase letters, digits, single dashes) is used as
    it is. Any other SKU is slugged and suffixed with a hash of the exact SKU, because slugging
    is lossy (``AB-1`` and ``ab 1`` would otherwise meet, and SKUs are case-sensitive).
    """
    slug = _NOT_HANDLE.sub("-", sku.lower()).strip("-")
    if slug == sku:
        return slug
    digest = hashlib.sha256(sku.encode()).hexdigest()[:10]
    return f"{slug[:200]}-{digest}" if slug else f"sku-{digest}"


def money(value: Decimal) -> str:
    """A price as Shopify's ``Money`` scalar (a decimal string)."""
    return format(value.quantize(Decimal("0.01")), "f")


def parse_money(value: Any) -> Decimal:
    """A ``Money``/``Decimal`` scalar from Shopify; ``0`` when absent or malformed."""
    try:
        return Decimal(str(value)) if value is not None else Decimal("0")
    except InvalidOperation:
        return Decimal("0")


def _optional_money(node: dict[str, Any], name: str) -> Decimal | None:
    """A ``MoneyBag``'s shop amount as an exact decimal; ``None`` when absent or unreadable."""
    amount = ((node.get(name) or {}).get("shopMoney") or {}).get("amount")
    try:
        number = Decimal(str(amount)) if amount is not None else None
    except InvalidOperation:
        return None
    return number if number is not None and number.is_finite() else None


def _gateway(names: Any) -> str | None:
    """The first payment gateway Shopify names (``paymentGatewayNames``), if any."""
    if isinstance(names, list):
        for name in names:
            if isinstance(name, str) and name.strip():
                return name
    return None


def unit_price(product: Product, unit: SerializedUnit) -> Decimal:
    """The price a unit is listed at: its own, else its product's."""
    return unit.price if unit.price is not None else product.price


def product_set_input(
    product: Product,
    units: Sequence[SerializedUnit],
    *,
    handle: str,
    status: str,
    location_id: str,
    unsellable: Container[str] = frozenset(),
) -> dict[str, Any]:
    """``ProductSetInput`` creating the product with one variant per unit, each stocked at 1
    (at 0, unsellable, the units whose serials are in ``unsellable``: sold meanwhile)."""
    files = [
        {"originalSource": url, "contentType": "IMAGE"} for url in _product_images(product, units)
    ]
    payload: dict[str, Any] = {
        "title": product.title,
        "handle": handle,
        "descriptionHtml": product.description,
        "status": status,
        "metafields": [
            {
                "namespace": METAFIELD_NAMESPACE,
                "key": METAFIELD_KEY,
                "type": "single_line_text_field",
                # A sibling (part 2, 3, …) is marked with its own key.
                "value": product.listing_sku,
            }
        ],
        "productOptions": [
            {"name": product.option_name, "values": [{"name": u.serial} for u in units]}
        ],
        "variants": [
            {
                "optionValues": [{"optionName": product.option_name, "name": u.serial}],
                "price": money(unit_price(product, u)),
                "inventoryPolicy": "DENY",
                "inventoryItem": {"sku": u.integration_id, "tracked": True},
                "inventoryQuantities": [
                    {
                        "locationId": location_id,
                        "name": "available",
                        "quantity": 0 if u.serial in unsellable else 1,
                    }
                ],
                **({"metafields": fields} if (fields := metafields_input(u)) else {}),
                **(
                    {"file": {"originalSource": u.images[0], "contentType": "IMAGE"}}
                    if u.images
                    else {}
                ),
            }
            for u in units
        ],
    }
    if product.brand:
        payload["vendor"] = product.brand
    if files:
        payload["files"] = files
    # Recorded even when empty: a product made without photos is told apart from one listed
    # before the record was kept (whose photos cannot be told from its units').
    payload["metafields"].append(media_record([(url, None) for url in product_images(product)]))
    return payload


def product_images(product: Product) -> list[str]:
    """The product's own photos, each once, in order."""
    return list(dict.fromkeys(product.images))


def media_record(entries: Sequence[tuple[str, str | None]]) -> dict[str, Any]:
    """The ``MetafieldInput`` recording the product's own photos and their media ids."""
    return {
        "namespace": METAFIELD_NAMESPACE,
        "key": MEDIA_KEY,
        "type": "json",
        "value": json.dumps([{"src": src, "id": media_id} for src, media_id in entries]),
    }


def read_media_record(node: dict[str, Any] | None) -> list[tuple[str, str | None]] | None:
    """The product's recorded photos (``None``: no record, a product listed before it was
    kept, or one that cannot be read)."""
    value = (node or {}).get("value")
    if not isinstance(value, str):
        return None
    try:
        raw = json.loads(value)
    except ValueError:
        return None
    if not isinstance(raw, list):
        return None
    entries: list[tuple[str, str | None]] = []
    for item in raw:
        if isinstance(item, dict) and isinstance(item.get("src"), str):
            media_id = item.get("id")
            entries.append((item["src"], media_id if isinstance(media_id, str) else None))
    return entries


def product_content(product: Product) -> dict[str, str]:
    """The product's own fields as ``ProductUpdateInput`` names them, as Shopify should hold
    them (the vendor only when the POS names a brand: Shopify keeps one otherwise)."""
    content = {"title": product.title, "descriptionHtml": product.description}
    if product.brand:
        content["vendor"] = product.brand
    return content


def _product_images(product: Product, units: Sequence[SerializedUnit]) -> list[str]:
    # The product's own photos first: the first media of the product are theirs.
    seen: dict[str, None] = dict.fromkeys(product.images)
    for unit in units:
        if unit.images:
            seen.setdefault(unit.images[0], None)
    return list(seen)


def bulk_create_input(
    product: Product, unit: SerializedUnit, *, location_id: str, quantity: int = 1
) -> dict[str, Any]:
    """``ProductVariantsBulkInput`` creating one unit's variant with stock 1 (``quantity`` 0:
    created unsellable, the unit sold meanwhile)."""
    variant: dict[str, Any] = {
        "optionValues": [{"optionName": product.option_name, "name": unit.serial}],
        "price": money(unit_price(product, unit)),
        "inventoryPolicy": "DENY",
        "inventoryItem": {"sku": unit.integration_id, "tracked": True},
        "inventoryQuantities": [{"availableQuantity": quantity, "locationId": location_id}],
    }
    if unit.images:
        variant["mediaSrc"] = [unit.images[0]]
    fields = metafields_input(unit)
    if fields:
        variant["metafields"] = fields
    return variant


def bulk_create_media(units: Sequence[SerializedUnit]) -> list[dict[str, Any]]:
    """The ``CreateMediaInput`` list the variants of one bulk create refer to."""
    urls = dict.fromkeys(u.images[0] for u in units if u.images)
    return [{"originalSource": url, "mediaContentType": "IMAGE"} for url in urls]


# -- orders ---------------------------------------------------------------------------------

_PAID = {"PAID", "AUTHORIZED", "PARTIALLY_PAID"}
#: Every value of ``OrderDisplayFinancialStatus`` in 2026-07; anything else is not guessed at.
_KNOWN_FINANCIAL = _PAID | {"PENDING", "REFUNDED", "PARTIALLY_REFUNDED", "VOIDED", "EXPIRED"}


class UnmappableOrderError(ValueError):
    """An order that cannot be mapped to the model; the message names the fault."""


def financial_status(node: dict[str, Any]) -> FinancialStatus:
    """The canonical status of an order: cancellation first, then the financial status.

    Raises :class:`UnmappableOrderError` for a financial status Shopify does not define (a
    newer API version's, or a broken record): reading it as paid or pending would be a guess.
    """
    if node.get("cancelledAt"):
        return FinancialStatus.CANCELLED
    shown = node.get("displayFinancialStatus")
    if shown is not None and shown not in _KNOWN_FINANCIAL:
        raise UnmappableOrderError(f"unknown financial status {shown!r}")
    if shown == "REFUNDED":
        return FinancialStatus.REFUNDED
    if shown == "PARTIALLY_REFUNDED":
        return FinancialStatus.PARTIALLY_REFUNDED
    if shown in _PAID:
        return FinancialStatus.PAID
    if shown in ("VOIDED", "EXPIRED"):
        # Authorisation voided or expired: nothing was collected, the unit is free again.
        return FinancialStatus.CANCELLED
    # PENDING, or null (the field is nullable): not paid yet, so the unit is only reserved.
    return FinancialStatus.PENDING


def parse_datetime(value: str) -> datetime:
    """Shopify's ``DateTime`` (ISO 8601, ``Z`` or offset) as an aware UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _required(node: dict[str, Any], field: str, what: str) -> Any:
    value = node.get(field)
    if value is None or value == "":
        raise UnmappableOrderError(f"{what} has no {field}")
    return value


def _stamp(node: dict[str, Any], field: str) -> datetime:
    value = _required(node, field, "the order")
    try:
        return parse_datetime(str(value))
    except ValueError:
        raise UnmappableOrderError(f"the order's {field} {value!r} is not a date") from None


def order_line(node: dict[str, Any]) -> OrderLine:
    """One line item. ``quantity_refunded`` is what refunds and edits removed from it.

    ``raw_sku`` is the SKU as sold: ``None`` for a custom line item (Shopify gives it no
    variant and a null SKU) and for a product sold without a SKU (``""``); any other SKU as it
    is, plain products' included. Raises :class:`UnmappableOrderError` for a line without an
    id or a whole, non-negative quantity.
    """
    line_id = str(_required(node, "id", "a line item"))
    quantity = node.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool):
        raise UnmappableOrderError(f"line {line_id} has no whole quantity ({quantity!r})")
    if quantity < 0:
        raise UnmappableOrderError(f"line {line_id} has a negative quantity ({quantity})")
    current = node.get("currentQuantity")
    removed = quantity - int(current) if isinstance(current, int) else 0
    price = ((node.get("originalUnitPriceSet") or {}).get("shopMoney") or {}).get("amount")
    sku = node.get("sku")
    return OrderLine(
        line_id=line_id,
        raw_sku=str(sku) if sku else None,
        quantity=quantity,
        price=parse_money(price),
        title=str(node.get("name") or ""),
        quantity_refunded=max(0, min(quantity, removed)),
    )


def order_from_node(
    node: dict[str, Any], lines: Sequence[dict[str, Any]], *, channel: str
) -> Order:
    """The canonical :class:`Order` of one ``Order`` node and all its line items.

    Raises :class:`UnmappableOrderError` naming the fault when the order cannot be mapped.
    """
    total = ((node.get("totalPriceSet") or {}).get("shopMoney") or {}).get("amount")
    order_id = str(_required(node, "id", "the order"))
    return Order(
        channel=channel,
        order_id=order_id,
        order_number=str(node.get("name") or order_id),
        status=financial_status(node),
        lines=tuple(order_line(line) for line in lines),
        currency=str(node.get("currencyCode") or "USD"),
        total=parse_money(total),
        customer_email=node.get("email"),
        # Optional for the POS: absent or unreadable, the order is still read without them.
        tax=_optional_money(node, "totalTaxSet"),
        shipping=_optional_money(node, "totalShippingPriceSet"),
        gateway=_gateway(node.get("paymentGatewayNames")),
        created_at=_stamp(node, "createdAt"),
        updated_at=_stamp(node, "updatedAt"),
    )


def read_order(
    node: dict[str, Any], lines: Sequence[dict[str, Any]], *, channel: str
) -> Order | UnreadableRecord:
    """The order, or, when it cannot be mapped, an :class:`UnreadableRecord` for quarantine.

    Never raises for the order's content: one broken order must not stop the page it is on.
    The record keeps the order as received (its line items gathered in) and its ``updatedAt``
    when that much is readable, so the cursor may move past it.
    """
    try:
        return order_from_node(node, lines, channel=channel)
    except (UnmappableOrderError, ValidationError, TypeError, ValueError) as exc:
        reason = str(exc) if isinstance(exc, UnmappableOrderError) else _first_error(exc)
    try:
        updated_at: datetime | None = parse_datetime(str(node["updatedAt"]))
    except (KeyError, TypeError, ValueError):
        updated_at = None
    raw = dict(node, lineItems={"nodes": list(lines)})
    return UnreadableRecord(
        key=str(node.get("id") or node.get("name") or "(no id)"),
        reason=reason,
        payload=json.dumps(raw, default=str),
        updated_at=updated_at,
    )


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        return f"{where}: {error['msg']}" if where else str(error["msg"])
    return f"{type(exc).__name__}: {exc}"


def updated_since_query(since: datetime | None) -> str | None:
    """The ``orders`` search filter for orders updated at or after ``since``."""
    if since is None:
        return None
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    stamp = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"updated_at:>='{stamp}'"

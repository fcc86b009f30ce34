"""WooCommerce JSON <-> the canonical model: products, variations, batch items, orders.

A POS product is one ``variable`` product whose SKU is the POS SKU; its serials are the options
of one custom attribute (``Product.option_name``, "Serial") with ``variation: true``; each unit
is one variation whose SKU is the integration id ``SKU|||SERIAL``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from serialsync import (
    FinancialStatus,
    IntegrationIdError,
    Order,
    OrderLine,
    Product,
    SerializedUnit,
    compose,
    parse,
)

Json = dict[str, Any]

#: WooCommerce order statuses, as the POS sees them.
ORDER_STATUSES: dict[str, FinancialStatus] = {
    "pending": FinancialStatus.PENDING,
    "on-hold": FinancialStatus.PENDING,
    "checkout-draft": FinancialStatus.PENDING,
    "processing": FinancialStatus.PAID,
    "completed": FinancialStatus.PAID,
    "cancelled": FinancialStatus.CANCELLED,
    "failed": FinancialStatus.CANCELLED,
    "trash": FinancialStatus.CANCELLED,
    "refunded": FinancialStatus.REFUNDED,
}


def money(value: Decimal) -> str:
    """A price as WooCommerce wants it: a plain decimal string (``"1299.00"``)."""
    return format(value, "f")


def unit_price(unit: SerializedUnit, product: Product) -> Decimal:
    """The unit's own price when the POS gives one, else the product's."""
    return unit.price if unit.price is not None else product.price


# -- products and variations ------------------------------------------------------------------


def same_name(a: object, b: str) -> bool:
    """WooCommerce compares custom attribute names case-insensitively."""
    return isinstance(a, str) and a.strip().lower() == b.strip().lower()


def serial_options(product: Json, option_name: str) -> list[str]:
    """The options of the product's serial attribute (empty if it has none)."""
    for attribute in product.get("attributes") or []:
        if isinstance(attribute, dict) and same_name(attribute.get("name"), option_name):
            return [str(o) for o in attribute.get("options") or []]
    return []


def serial_attribute(option_name: str, options: Iterable[str]) -> Json:
    """The product-level serial attribute: used for variations, listing every live serial."""
    return {
        "name": option_name,
        "visible": True,
        "variation": True,
        "options": list(options),
    }


def attributes_with_serials(product: Json, option_name: str, options: Iterable[str]) -> list[Json]:
    """The product's attributes for a PUT: the others kept as they are, the serials replaced.

    A PUT replaces the whole attribute list, so every other attribute is sent back unchanged.
    """
    kept: list[Json] = []
    for attribute in product.get("attributes") or []:
        if not isinstance(attribute, dict) or same_name(attribute.get("name"), option_name):
            continue
        kept.append(
            {
                key: attribute[key]
                for key in ("id", "name", "position", "visible", "variation", "options")
                if key in attribute
            }
        )
    return [*kept, serial_attribute(option_name, options)]


def new_product_payload(product: Product, serials: Iterable[str]) -> Json:
    """The POST body of a new variable product, its serial options included from the start."""
    attributes = [
        {"name": name, "visible": True, "variation": False, "options": [value]}
        for name, value in product.attributes.items()
        if not same_name(name, product.option_name)
    ]
    payload: Json = {
        "name": product.title,
        "type": "variable",
        "status": "publish",
        "sku": product.sku,
        "description": product.description,
        "attributes": [*attributes, serial_attribute(product.option_name, serials)],
    }
    if product.images:
        payload["images"] = [{"src": src} for src in product.images]
    return payload


def variation_fields(unit: SerializedUnit, product: Product, *, stock: int) -> Json:
    """What a variation must hold for one unit (without its id or image)."""
    return {
        "sku": unit.integration_id,
        "regular_price": money(unit_price(unit, product)),
        "manage_stock": True,
        "stock_quantity": stock,
        # With stock managed and backorders off, WooCommerce derives stock_status itself.
        "backorders": "no",
        "attributes": [{"name": product.option_name, "option": unit.serial}],
    }


def variation_matches(current: Json, wanted: Json) -> bool:
    """True when an existing variation already holds every wanted field."""
    for key, value in wanted.items():
        if key == "attributes":
            have = {
                (str(a.get("name", "")).lower(), str(a.get("option", "")))
                for a in current.get("attributes") or []
                if isinstance(a, dict)
            }
            if not all((a["name"].lower(), a["option"]) in have for a in value):
                return False
        elif key == "regular_price":
            if _decimal(current.get(key)) != _decimal(value):
                return False
        elif current.get(key) != value:
            return False
    return True


def item_error(item: Any) -> tuple[str, str, Json] | None:
    """``(code, message, data)`` when a batch answer item is an error, else ``None``."""
    if not isinstance(item, dict):
        return "invalid_batch_item", f"unexpected batch item {item!r:.80}", {}
    error = item.get("error")
    if not error:
        return None
    data = error.get("data") if isinstance(error, dict) else None
    return (
        str(error.get("code") or "unknown_error") if isinstance(error, dict) else "unknown_error",
        str(error.get("message") or "") if isinstance(error, dict) else str(error),
        data if isinstance(data, dict) else {},
    )


def error_is_retryable(code: str, data: Json) -> bool:
    """Whether sending the same item again later may succeed (server-side trouble only)."""
    status = data.get("status")
    if isinstance(status, int):
        return status >= 500 or status in (408, 429)
    return code in ("internal_server_error", "woocommerce_rest_cannot_create")


# -- orders -----------------------------------------------------------------------------------


def attribute_slug(name: str) -> str:
    """WordPress's ``sanitize_title`` as WooCommerce uses it for order item meta keys."""
    return re.sub(r"[^a-z0-9_-]+", "-", name.strip().lower()).strip("-")


def line_serial(line: Json, attribute: str) -> str | None:
    """The serial a line was sold with, from its attribute meta (kept after the variation goes)."""
    slug = attribute_slug(attribute)
    for meta in line.get("meta_data") or []:
        if not isinstance(meta, dict):
            continue
        key = str(meta.get("key", ""))
        if key in (slug, f"attribute_{slug}") or same_name(meta.get("display_key"), attribute):
            value = meta.get("value")
            if isinstance(value, str) and value.strip():
                return value.strip()
    return None


def line_raw_sku(line: Json, attribute: str, parent_sku: Callable[[int], str | None]) -> str | None:
    """The SKU a line was sold as.

    ``sku`` is read from the *current* product: it is null once the variation is deleted (and a
    variation without SKU shows its parent's). Then the integration id is rebuilt from the
    serial in the line's meta and the parent product's SKU.
    """
    sku = line.get("sku")
    sku = sku if isinstance(sku, str) and sku else None
    if sku is not None and (_is_integration_id(sku) or "|||" in sku):
        # Sold under an id of ours, or a damaged one: exactly as sold, so a damaged id is
        # quarantined for what it is, not rebuilt from the attribute into another unit's id.
        return sku
    serial = line_serial(line, attribute)
    product_id = line.get("product_id")
    if serial is None or not isinstance(product_id, int) or not product_id:
        return sku
    parent = parent_sku(product_id)
    if not parent:
        return sku
    try:
        return compose(parent, serial)
    except IntegrationIdError:
        # Not one of ours (or a damaged serial): keep what the line said, for the quarantine.
        return sku


def _is_integration_id(text: str) -> bool:
    try:
        return parse(text).is_serialized
    except IntegrationIdError:
        return False


def order_status(raw: Json) -> FinancialStatus:
    """The canonical status; a paid order with refunds short of its total is partly refunded."""
    status = ORDER_STATUSES.get(str(raw.get("status", "")), FinancialStatus.PENDING)
    if status is FinancialStatus.PAID and raw.get("refunds"):
        return FinancialStatus.PARTIALLY_REFUNDED
    return status


def gmt(value: Any) -> datetime:
    """A WooCommerce ``*_gmt`` date (no zone, UTC) as an aware datetime."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"missing date {value!r}")
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def order_from_json(
    raw: Json, *, channel: str, attribute: str, parent_sku: Callable[[int], str | None]
) -> Order:
    """One WooCommerce order as a canonical :class:`Order`."""
    billing = raw.get("billing") if isinstance(raw.get("billing"), dict) else {}
    assert isinstance(billing, dict)
    name = " ".join(p for p in (billing.get("first_name"), billing.get("last_name")) if p)
    lines = tuple(
        OrderLine(
            line_id=str(line.get("id")),
            raw_sku=line_raw_sku(line, attribute, parent_sku),
            quantity=int(line.get("quantity") or 0),
            price=_decimal(line.get("price")) or Decimal("0"),
            title=str(line.get("name") or ""),
        )
        for line in raw.get("line_items") or []
        if isinstance(line, dict)
    )
    created = gmt(raw.get("date_created_gmt"))
    modified = raw.get("date_modified_gmt") or raw.get("date_created_gmt")
    return Order(
        channel=channel,
        order_id=str(raw.get("id")),
        order_number=str(raw.get("number") or raw.get("id")),
        status=order_status(raw),
        lines=lines,
        currency=str(raw.get("currency") or "USD"),
        total=_decimal(raw.get("total")) or Decimal("0"),
        customer_name=name or None,
        customer_email=billing.get("email") or None,
        created_at=created,
        updated_at=gmt(modified),
    )


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None

"""WooCommerce JSON <-> the canonical model: products, variations, batch items, orders.

A POS product is one ``variable`` product whose SKU is the POS SKU; its serials are the options
of one custom attribute (``Product.option_name``, "Serial") with ``variation: true``; each unit
is one variation whose SKU is the integration id ``SKU|||SERIAL``.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError
from serialsync import (
    FinancialStatus,
    IntegrationIdError,
    Order,
    OrderLine,
    Product,
    SerializedUnit,
    UnreadableRecord,
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


def product_content(product: Product) -> Json:
    """The product's own fields as a ``PUT /products/{id}`` body: its title, description and
    photos (WooCommerce replaces the gallery with the list given, fetching each ``src``; none
    in the POS leaves the store's as they are)."""
    content: Json = {"name": product.title, "description": product.description}
    if product.images:
        content["images"] = [{"src": src} for src in product.images]
    if product.brand:
        # By name here (what a digest remembers); sent as ``brands: [id]`` (see with_brand).
        content["brands"] = product.brand
    return content


def with_brand(body: Json, brand_id: int | None) -> Json:
    """``body`` with its brand (a name, see :func:`product_content`) as WooCommerce takes it:
    ``brands: [id]`` (the Brands REST documentation's form, which core's brands since 9.6
    read too: ``WC_Brands::rest_api_add_brands_to_product``), or left out when the store
    carries no brands. An empty list would remove nothing there: a brand taken off the POS
    stays on the product."""
    if "brands" not in body:
        return body
    rest = {k: v for k, v in body.items() if k != "brands"}
    return rest if brand_id is None else {**rest, "brands": [brand_id]}


def _digest(value: object) -> str:
    encoded = json.dumps(value, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def content_digest(product: Product) -> str:
    """A fingerprint of each field of :func:`product_content` (``name:<hash>,…``), remembered
    with each unit's ids so that only the fields the product does not hold yet are sent."""
    return ",".join(f"{k}:{_digest(v)[:8]}" for k, v in sorted(product_content(product).items()))


def content_changes(product: Product, remembered: str | None) -> Json:
    """The fields of :func:`product_content` the product does not hold, by what its units'
    ids remember (:func:`content_digest`): every field when nothing is remembered. A digest
    written before photos were sent (one hash of the title and description) still tells
    whether those two are held."""
    fields = product_content(product)
    if remembered and ":" in remembered:
        known = dict(item.split(":", 1) for item in remembered.split(","))
        return {k: v for k, v in fields.items() if known.get(k) != _digest(v)[:8]}
    legacy = {"name": product.title, "description": product.description}
    if remembered == _digest(legacy):
        return {k: v for k, v in fields.items() if k not in legacy}
    return fields


#: Prefix of the variation meta keys that carry a unit's attributes (``serialsync_finish``):
#: kept apart from other plugins' meta, and from WooCommerce's own (``_``-prefixed) keys.
META_PREFIX = "serialsync_"


def meta_key(name: str) -> str:
    """The variation meta key of one unit attribute: ``Wood grain`` -> ``serialsync_wood_grain``."""
    return META_PREFIX + (re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_") or "attr")


def unit_meta(unit: SerializedUnit, previous: Iterable[str] = ()) -> list[Json]:
    """The unit's attributes as variation ``meta_data``, one entry per attribute.

    ``previous`` names the meta keys the last publish sent: a key no attribute carries any more
    is sent empty, since WooCommerce's REST API updates meta by key and never removes one.
    """
    meta: dict[str, str] = {}
    for name, value in sorted(unit.attributes.items()):
        key = meta_key(name)
        # Two names that slug alike ("Body wood", "body-wood") are kept both, never one lost.
        meta[key if key not in meta else f"{key}_{len(meta)}"] = value
    for key in previous:
        meta.setdefault(key, "")
    return [{"key": key, "value": value} for key, value in meta.items()]


def unit_description(unit: SerializedUnit) -> str:
    """A short per-unit summary for the variation's ``description`` (shown by the storefront
    when the shopper picks the serial): the serial and each attribute, HTML-escaped."""
    parts = [f"Serial {unit.serial}"]
    parts.extend(f"{name}: {value}" for name, value in sorted(unit.attributes.items()))
    return "<p>" + html.escape(" · ".join(parts)) + "</p>"


def variation_fields(
    unit: SerializedUnit, product: Product, *, stock: int, previous_meta: Iterable[str] = ()
) -> Json:
    """What a variation must hold for one unit (without its id or image)."""
    return {
        "sku": unit.integration_id,
        "regular_price": money(unit_price(unit, product)),
        "manage_stock": True,
        "stock_quantity": stock,
        # With stock managed and backorders off, WooCommerce derives stock_status itself.
        "backorders": "no",
        "attributes": [{"name": product.option_name, "option": unit.serial}],
        "description": unit_description(unit),
        "meta_data": unit_meta(unit, previous_meta),
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
        elif key == "meta_data":
            have_meta = {
                str(m.get("key")): m.get("value")
                for m in current.get("meta_data") or []
                if isinstance(m, dict)
            }
            if any(have_meta.get(m["key"], "") != m["value"] for m in value):
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


class UnmappableOrderError(ValueError):
    """An order this mapping cannot read. The message is the quarantine reason: it names the
    field and the value at fault, never the customer's data."""


#: Fields of an order that only serve the shopper's own access or the payment gateway: kept
#: out of a quarantined payload (the order key opens the order's page on the storefront).
_PRIVATE_FIELDS = ("order_key", "payment_url", "cart_hash")


def order_status(raw: Json, extra: Mapping[str, FinancialStatus] | None = None) -> FinancialStatus:
    """The canonical status; a paid order with refunds short of its total is partly refunded.

    ``extra`` maps the custom statuses a store's plugins add (``shipped``, ...). A status in
    neither map is refused: read as pending, a paid order's sale would never be reported.
    """
    value = raw.get("status")
    if not isinstance(value, str) or not value:
        raise UnmappableOrderError("missing field 'status'")
    status = (extra or {}).get(value) or ORDER_STATUSES.get(value)
    if status is None:
        raise UnmappableOrderError(
            f"unknown order status {value[:40]!r} (map it with the connector's order_statuses)"
        )
    if status is FinancialStatus.PAID and raw.get("refunds"):
        return FinancialStatus.PARTIALLY_REFUNDED
    return status


def gmt(value: Any, field: str = "date") -> datetime:
    """A WooCommerce ``*_gmt`` date (no zone, UTC) as an aware datetime."""
    if not isinstance(value, str) or not value:
        raise UnmappableOrderError(f"missing field {field!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UnmappableOrderError(f"{field} {value[:40]!r} is not a date") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _whole_number(value: Any, what: str) -> int:
    """A count as WooCommerce sends it (an integer); anything else is refused, not rounded."""
    if isinstance(value, bool) or value is None or value == "":
        raise UnmappableOrderError(f"missing field {what!r}")
    number = _decimal(value)
    if number is None or not number.is_finite() or number != number.to_integral_value():
        raise UnmappableOrderError(f"{what} {str(value)[:20]!r} is not a whole number")
    if number < 0:
        raise UnmappableOrderError(f"{what} {number} is negative")
    return int(number)


def _money(value: Any, what: str) -> Decimal:
    number = _decimal(value)
    if number is None or not number.is_finite():
        if value is None or value == "":
            raise UnmappableOrderError(f"missing field {what!r}")
        raise UnmappableOrderError(f"{what} {str(value)[:20]!r} is not an amount")
    return number


def _optional_money(value: Any) -> Decimal | None:
    number = _decimal(value)
    return number if number is not None and number.is_finite() else None


def _item_id(item: Json, what: str) -> str:
    value = item.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise UnmappableOrderError(f"missing field {what!r}")
    return str(value)


def product_line(line: Any, attribute: str, parent_sku: Callable[[int], str | None]) -> OrderLine:
    """One ``line_items`` entry: a product line (``product_id`` 0 and ``sku`` null for a
    custom line or a product since deleted, ``sku`` "" for a product without one)."""
    if not isinstance(line, dict):
        raise UnmappableOrderError("a line item is not a JSON object")
    line_id = _item_id(line, "line_items.id")
    where = f"line {line_id}"
    return OrderLine(
        line_id=line_id,
        raw_sku=line_raw_sku(line, attribute, parent_sku),
        quantity=_whole_number(line.get("quantity"), f"{where} quantity"),
        price=_money(line.get("price"), f"{where} price"),
        title=str(line.get("name") or ""),
    )


def fee_line(fee: Any) -> OrderLine:
    """One ``fee_lines`` entry (a tip, a surcharge, shipping protection) as a line without a
    SKU: it is no product, has no quantity, and its ``total`` may be negative (a discount)."""
    if not isinstance(fee, dict):
        raise UnmappableOrderError("a fee line is not a JSON object")
    line_id = _item_id(fee, "fee_lines.id")
    return OrderLine(
        line_id=line_id,
        raw_sku=None,
        quantity=1,
        price=_money(fee.get("total"), f"fee {line_id} total"),
        title=str(fee.get("name") or ""),
    )


def _items(raw: Json, field: str, *, required: bool) -> list[Any]:
    items = raw.get(field)
    if items is None and not required:
        return []
    if not isinstance(items, list):
        raise UnmappableOrderError(f"missing field {field!r}")
    return items


def order_from_json(
    raw: Json,
    *,
    channel: str,
    attribute: str,
    parent_sku: Callable[[int], str | None],
    statuses: Mapping[str, FinancialStatus] | None = None,
) -> Order:
    """One WooCommerce order as a canonical :class:`Order`.

    :raises UnmappableOrderError: when a field the sale needs is missing or makes no sense
        (no id, an unknown status, a negative quantity); the message says which.
    """
    if not isinstance(raw, dict):
        raise UnmappableOrderError("the order is not a JSON object")
    order_id = _item_id(raw, "id")
    billing = raw.get("billing") if isinstance(raw.get("billing"), dict) else {}
    assert isinstance(billing, dict)
    name = " ".join(p for p in (billing.get("first_name"), billing.get("last_name")) if p)
    lines = tuple(
        product_line(line, attribute, parent_sku)
        for line in _items(raw, "line_items", required=True)
    ) + tuple(fee_line(fee) for fee in _items(raw, "fee_lines", required=False))
    created = gmt(raw.get("date_created_gmt"), "date_created_gmt")
    modified = raw.get("date_modified_gmt")
    return Order(
        channel=channel,
        order_id=order_id,
        order_number=str(raw.get("number") or order_id),
        status=order_status(raw, statuses),
        lines=lines,
        currency=str(raw.get("currency") or "USD"),
        total=_money(raw.get("total"), "total"),
        customer_name=name or None,
        customer_email=billing.get("email") or None,
        # Optional: an order without them (or with an unreadable one) is still read.
        tax=_optional_money(raw.get("total_tax")),
        shipping=_optional_money(raw.get("shipping_total")),
        gateway=str(raw.get("payment_method") or "") or None,
        created_at=created,
        updated_at=gmt(modified, "date_modified_gmt") if modified else created,
    )


def read_order(
    raw: Any,
    *,
    channel: str,
    attribute: str,
    parent_sku: Callable[[int], str | None],
    statuses: Mapping[str, FinancialStatus] | None = None,
) -> Order | UnreadableRecord:
    """One order as an :class:`Order`, or as an :class:`UnreadableRecord` with its reason.

    An order this mapping cannot read is handed back whole (its raw JSON, without the fields
    that open it to anyone: :data:`_PRIVATE_FIELDS`), so the engine quarantines it and reads on.
    """
    try:
        return order_from_json(
            raw, channel=channel, attribute=attribute, parent_sku=parent_sku, statuses=statuses
        )
    except UnmappableOrderError as exc:
        reason = str(exc)
    except ValidationError as exc:
        # Field names and messages only: pydantic's own text would quote the values.
        reason = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # A shape no rule above foresaw: still one order, never the whole stream. The
        # exception's own text may quote the order's data, so only its kind is kept.
        reason = f"unexpected order shape ({type(exc).__name__})"
    return unreadable_order(raw, reason)


def unreadable_order(raw: Any, reason: str) -> UnreadableRecord:
    """``raw`` as an :class:`UnreadableRecord`: keyed by its id (or a digest of it when it has
    none), dated by its last change when that much can be read."""
    if isinstance(raw, dict):
        kept = {k: v for k, v in raw.items() if k not in _PRIVATE_FIELDS}
        payload = json.dumps(kept, sort_keys=True, default=str)
        key = raw.get("id")
        stamp = raw.get("date_modified_gmt") or raw.get("date_created_gmt")
    else:
        payload, key, stamp = json.dumps(raw, default=str), None, None
    if isinstance(key, bool) or not isinstance(key, int | str) or not str(key).strip():
        key = "unidentified-" + hashlib.sha256(payload.encode()).hexdigest()[:12]
    try:
        updated = gmt(stamp)
    except UnmappableOrderError:
        updated = None
    return UnreadableRecord(key=str(key), reason=reason, payload=payload, updated_at=updated)


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None

"""Magento JSON <-> the canonical model: product payloads, url keys, orders and their states."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
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

from serialsync_magento.settings import MagentoSettings

#: Magento product visibility: 1 = not visible individually (a child), 4 = catalog and search.
VISIBILITY_NOT_VISIBLE = 1
VISIBILITY_BOTH = 4
#: Magento product status: 1 = enabled, 2 = disabled.
STATUS_ENABLED = 1
STATUS_DISABLED = 2

#: Order states → what the POS cares about. ``closed`` is Magento's "fully refunded".
ORDER_STATES: dict[str, FinancialStatus] = {
    "new": FinancialStatus.PENDING,
    "pending_payment": FinancialStatus.PENDING,
    "payment_review": FinancialStatus.PENDING,
    "holded": FinancialStatus.PENDING,
    "processing": FinancialStatus.PAID,
    "complete": FinancialStatus.PAID,
    "canceled": FinancialStatus.CANCELLED,
    "closed": FinancialStatus.REFUNDED,
}

MAGENTO_TIME = "%Y-%m-%d %H:%M:%S"


def fingerprint(payload: Any) -> str:
    """A short stable hash of a JSON-able payload, kept to skip writes that change nothing."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


@functools.lru_cache(maxsize=64)
def _title_slug(title: str) -> str:
    # Every child of a product, and its parent, share the title: slugged once a product.
    return _slug(title)[:60]


def url_key(title: str, sku: str) -> str:
    """A url_key unique per SKU: Magento refuses two products with the same one.

    Slugs of different SKUs can coincide (``A+B`` / ``a-b``), so a hash of the exact SKU
    is appended; the slug keeps it readable.
    """
    digest = hashlib.sha256(sku.encode()).hexdigest()[:8]
    readable = "-".join(part for part in (_title_slug(title), _slug(sku)[:80]) if part)
    return f"{readable}-{digest}" if readable else digest


def _money(value: Decimal) -> float:
    # The schema types price as a JSON number.
    return float(value)


def parent_payload(
    settings: MagentoSettings, product: Product, extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The configurable parent of a POS SKU, without its links (see :func:`with_links`) or
    its photos (see :func:`media_entry`); ``extra``: more custom attributes (the brand's code
    and value)."""
    sku = settings.parent_sku(product.sku)
    custom = [{"attribute_code": "url_key", "value": url_key(product.title, sku)}]
    if product.description:
        custom.append({"attribute_code": "description", "value": product.description})
    custom += [{"attribute_code": k, "value": v} for k, v in sorted((extra or {}).items())]
    return {
        "sku": sku,
        "name": product.title,
        "attribute_set_id": settings.attribute_set_id,
        "price": _money(product.price),
        "status": STATUS_ENABLED,
        "visibility": VISIBILITY_BOTH,
        "type_id": "configurable",
        "extension_attributes": {"website_ids": list(settings.website_ids)},
        "custom_attributes": custom,
    }


def parent_images(settings: MagentoSettings, product: Product) -> list[str]:
    """The photos the parent shows: the product's own, each once (none when images are not
    uploaded)."""
    return list(dict.fromkeys(product.images)) if settings.upload_images else []


def parent_digest(
    settings: MagentoSettings, product: Product, extra: Mapping[str, str] | None = None
) -> str:
    """A hash of what the parent shows: its payload, and its photos' URLs when it has any
    (so a parent without photos keeps the hash it had before photos were sent)."""
    payload = parent_payload(settings, product, extra)
    images = parent_images(settings, product)
    return fingerprint([payload, images] if images else payload)


#: Prefix of a custom attribute among :func:`parent_fields` (the brand's code).
CUSTOM = "custom:"
#: The key of the parent's photos among :func:`parent_fields`.
IMAGES = "images"


def parent_fields(
    product: Product, extra: Mapping[str, str] | None = None, images: Sequence[str] = ()
) -> dict[str, Any]:
    """The parent's fields a change in the POS can move after creation, each as the PUT
    names it (the description is a custom attribute; the url_key is left as created, so a
    renamed product keeps its address); ``extra`` as ``custom:<code>``, and the photos' URLs
    (see :func:`parent_images`) when there are any."""
    fields: dict[str, Any] = {
        "name": product.title,
        "price": _money(product.price),
        "description": product.description,
    }
    fields.update({CUSTOM + k: v for k, v in (extra or {}).items()})
    if images:
        fields[IMAGES] = list(images)
    return fields


def field_digests(fields: Mapping[str, Any]) -> str:
    """``name:<hash>,price:<hash>,…``: remembered with each unit, to tell which of the
    parent's fields changed since the last publish."""
    return ",".join(f"{k}:{fingerprint(v)[:8]}" for k, v in sorted(fields.items()))


def changed_fields(fields: Mapping[str, Any], remembered: str) -> dict[str, Any]:
    """The fields of ``fields`` whose digest differs from ``remembered`` (see
    :func:`field_digests`); a custom attribute remembered but no longer given is cleared
    (``""``: Magento keeps an attribute left out of a save)."""
    known = dict(item.rsplit(":", 1) for item in remembered.split(",") if ":" in item)
    changed = {k: v for k, v in fields.items() if known.get(k) != fingerprint(v)[:8]}
    for key in known:
        if key.startswith(CUSTOM) and key not in fields:
            changed[key] = ""
        elif key == IMAGES and key not in fields:
            changed[key] = []  # every photo taken off: an empty gallery
    return changed


def parent_update(sku: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """``PUT /V1/products/{sku}`` body setting only ``fields`` (see :func:`parent_fields`)."""
    body: dict[str, Any] = {"sku": sku}
    custom = []
    for key, value in fields.items():
        if key == "description":
            custom.append({"attribute_code": "description", "value": value})
        elif key.startswith(CUSTOM):
            custom.append({"attribute_code": key.removeprefix(CUSTOM), "value": value})
        elif key != IMAGES:  # photos go as gallery entries, made by the caller
            body[key] = value
    if custom:
        body["custom_attributes"] = custom
    return body


def with_links(
    parent: Mapping[str, Any],
    *,
    attribute_id: int,
    label: str,
    option_ids: Sequence[int],
    child_ids: Sequence[int],
) -> dict[str, Any]:
    """The parent payload carrying its configurable option and every child link.

    Magento replaces the parent's whole link set with ``configurable_product_links``, so
    ``child_ids`` must list every child, old and new.
    """
    payload = dict(parent)
    extension = dict(payload["extension_attributes"])
    extension["configurable_product_options"] = [
        {
            "attribute_id": str(attribute_id),
            "label": label,
            "position": 0,
            "values": [{"value_index": option_id} for option_id in sorted(set(option_ids))],
        }
    ]
    extension["configurable_product_links"] = sorted(set(child_ids))
    payload["extension_attributes"] = extension
    return payload


def child_name(product: Product, unit: SerializedUnit) -> str:
    """A child's name: the product title and the serial (names must not all be equal)."""
    return f"{product.title} ({unit.serial})"


def child_payload(
    settings: MagentoSettings,
    product: Product,
    unit: SerializedUnit,
    integration_id: str,
    option_id: int,
    codes: Mapping[str, str],
) -> dict[str, Any]:
    """One unit as a simple child: its own serial option, not visible individually; each of
    its attributes under its Magento code (``codes``: POS name -> code)."""
    price = unit.price if unit.price is not None else product.price
    custom = [
        {"attribute_code": settings.serial_attribute, "value": str(option_id)},
        {"attribute_code": "url_key", "value": url_key(product.title, integration_id)},
    ]
    custom += sorted(
        (
            {"attribute_code": codes[name], "value": value}
            for name, value in unit.attributes.items()
        ),
        key=lambda item: item["attribute_code"],
    )
    return {
        "sku": integration_id,
        "name": child_name(product, unit),
        "attribute_set_id": settings.attribute_set_id,
        "price": _money(price),
        "status": STATUS_ENABLED,
        "visibility": VISIBILITY_NOT_VISIBLE,
        "type_id": "simple",
        "extension_attributes": {"website_ids": list(settings.website_ids)},
        "custom_attributes": custom,
    }


def image_of(product: Product, unit: SerializedUnit) -> str | None:
    """The URL of the photo a child shows: the unit's own, else the product's."""
    images = unit.images or product.images
    return images[0] if images else None


#: What Magento's image validator accepts (its ``ContentValidator``: JPEG, PNG, GIF), by the
#: first bytes of the file: the declared type must be the one sniffed from the content.
_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(content: bytes) -> str:
    """The MIME type Magento will find in ``content``.

    :raises ValueError: not a JPEG, PNG or GIF image (Magento refuses any other).
    """
    for magic, mime in _IMAGE_MAGIC:
        if content.startswith(magic):
            return mime
    raise ValueError("not a JPEG, PNG or GIF image: Magento takes no other")


def media_entry(label: str, content: bytes, content_type: str, name: str) -> dict[str, Any]:
    """One ``media_gallery_entries`` item uploading an image as base64 (Magento takes no URLs)."""
    return {
        "media_type": "image",
        "label": label,
        "position": 1,
        "disabled": False,
        "types": ["image", "small_image", "thumbnail"],
        "content": {
            "base64_encoded_data": base64.b64encode(content).decode("ascii"),
            "type": content_type,
            "name": name,
        },
    }


def option_body(label: str) -> dict[str, Any]:
    """The ``option`` of an attribute-option request: Magento picks the id (value "")."""
    return {"label": label, "value": "", "sort_order": 0, "is_default": False}


def source_item(sku: str, source_code: str, *, in_stock: bool) -> dict[str, Any]:
    """One MSI source item: quantity 1 and in stock, or 0 and out of stock."""
    return {
        "sku": sku,
        "source_code": source_code,
        "quantity": 1 if in_stock else 0,
        "status": 1 if in_stock else 0,
    }


def custom_attribute(product: Mapping[str, Any], code: str) -> str | None:
    """A product's custom attribute value, as Magento returns it (a string, or None)."""
    for item in product.get("custom_attributes") or ():
        if item.get("attribute_code") == code:
            value = item.get("value")
            return None if value is None else str(value)
    return None


# -- orders -----------------------------------------------------------------------------------


def parse_time(value: str | None) -> datetime:
    """Magento's ``YYYY-MM-DD HH:MM:SS`` (stored in UTC) as an aware UTC datetime."""
    if not value:
        raise ValueError("missing timestamp")
    text = value.strip().replace("T", " ")
    try:
        parsed = datetime.strptime(text[:19], MAGENTO_TIME)
    except ValueError:
        parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """A datetime as Magento filters on it: UTC, ``YYYY-MM-DD HH:MM:SS``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime(MAGENTO_TIME)


class UnmappableOrderError(ValueError):
    """An order this mapping cannot read. The message is the quarantine reason: it names the
    field and the value at fault, never the customer's data."""


#: Order fields kept out of a quarantined payload: ``protect_code`` opens a guest's order to
#: anyone holding it, and ``payment`` carries the gateway's data.
_PRIVATE_FIELDS = ("protect_code", "payment")


def _amount(value: Any, what: str) -> Decimal:
    """A money amount; a missing or unreadable one is refused, never read as zero."""
    if value is None or value == "" or isinstance(value, bool):
        raise UnmappableOrderError(f"missing field {what!r}")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite():
        raise UnmappableOrderError(f"{what} {str(value)[:20]!r} is not an amount")
    return number


def _optional_amount(value: Any) -> Decimal | None:
    """An amount the order may leave out: ``None`` when absent or unreadable."""
    try:
        return _amount(value, "amount")
    except UnmappableOrderError:
        return None


def _payment_method(payment: Any) -> str | None:
    """The order's payment method code (``payment.method``: ``checkmo``, ``braintree``…)."""
    method = payment.get("method") if isinstance(payment, Mapping) else None
    return method.strip() or None if isinstance(method, str) else None


def _count(value: Any, what: str) -> int:
    """A quantity (Magento sends ``1.0``): a whole number, never rounded or made up."""
    number = _amount(value, what)
    if number != number.to_integral_value():
        raise UnmappableOrderError(f"{what} {number} is not a whole number")
    if number < 0:
        raise UnmappableOrderError(f"{what} {number} is negative")
    return int(number)


def _time(value: Any, what: str) -> datetime:
    if not isinstance(value, str) or not value.strip():
        raise UnmappableOrderError(f"missing field {what!r}")
    try:
        return parse_time(value)
    except ValueError:
        raise UnmappableOrderError(f"{what} {value[:40]!r} is not a date") from None


def _id(record: Mapping[str, Any], field: str) -> str:
    value = record.get(field)
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).strip():
        raise UnmappableOrderError(f"missing field {field!r}")
    return str(value)


def order_status(raw: Mapping[str, Any]) -> FinancialStatus:
    """The order's state mapped; a paid order with a refund is partially refunded.

    Magento's states are a fixed set (a store adds *statuses* within them), so a state outside
    it is refused: read as pending, a paid order's sale would never be reported.
    """
    state = raw.get("state")
    if not isinstance(state, str) or not state:
        raise UnmappableOrderError("missing field 'state'")
    status = ORDER_STATES.get(state)
    if status is None:
        raise UnmappableOrderError(f"unknown order state {state[:40]!r}")
    refunded = raw.get("total_refunded")
    if status is FinancialStatus.PAID and refunded and _amount(refunded, "total_refunded") > 0:
        return FinancialStatus.PARTIALLY_REFUNDED
    return status


def order_lines(items: Sequence[Any]) -> tuple[OrderLine, ...]:
    """The lines of an order, each configurable line counted once.

    Magento lists a configurable line twice: the parent row (``product_type: configurable``,
    carrying the child's SKU, the price and quantities) and the child row pointing to it with
    ``parent_item_id``. The parent row is kept; its child row is dropped. A row with an empty
    SKU, or none (a custom line an extension or an import added; Magento leaves null fields out
    of its answers), is a line with ``raw_sku`` None.
    """
    if any(not isinstance(item, Mapping) for item in items):
        raise UnmappableOrderError("an order item is not a JSON object")
    configurable_ids = {
        str(item.get("item_id"))
        for item in items
        if item.get("product_type") == "configurable" and item.get("item_id") is not None
    }
    lines = []
    for item in items:
        parent = item.get("parent_item_id")
        if parent is not None and str(parent) in configurable_ids:
            continue
        line_id = _id(item, "item_id")
        sku = item.get("sku")
        refunded = item.get("qty_refunded")
        lines.append(
            OrderLine(
                line_id=line_id,
                raw_sku=sku if isinstance(sku, str) and sku else None,
                quantity=_count(item.get("qty_ordered"), f"item {line_id} qty_ordered"),
                price=_amount(item.get("price"), f"item {line_id} price"),
                title=str(item.get("name") or ""),
                quantity_refunded=(
                    _count(refunded, f"item {line_id} qty_refunded") if refunded is not None else 0
                ),
            )
        )
    return tuple(lines)


def order_from(raw: Mapping[str, Any], channel: str) -> Order:
    """One Magento order as the canonical :class:`Order`.

    :raises UnmappableOrderError: when a field the sale needs is missing or makes no sense
        (no id, an unknown state, a negative quantity); the message says which.
    """
    if not isinstance(raw, Mapping):
        raise UnmappableOrderError("the order is not a JSON object")
    order_id = _id(raw, "entity_id")
    first = raw.get("customer_firstname") or ""
    last = raw.get("customer_lastname") or ""
    name = f"{first} {last}".strip() or None
    items = raw.get("items")
    if not isinstance(items, list):
        raise UnmappableOrderError("missing field 'items'")
    created = _time(raw.get("created_at"), "created_at")
    return Order(
        channel=channel,
        order_id=order_id,
        order_number=str(raw.get("increment_id") or order_id),
        status=order_status(raw),
        lines=order_lines(items),
        currency=str(raw.get("order_currency_code") or "USD"),
        total=_amount(raw.get("grand_total"), "grand_total"),
        customer_name=name,
        customer_email=raw.get("customer_email"),
        # Optional for the POS: absent or unreadable, the order is still read without them.
        tax=_optional_amount(raw.get("tax_amount")),
        shipping=_optional_amount(raw.get("shipping_amount")),
        gateway=_payment_method(raw.get("payment")),
        created_at=created,
        updated_at=_time(raw["updated_at"], "updated_at") if raw.get("updated_at") else created,
    )


def read_order(raw: Any, channel: str) -> Order | UnreadableRecord:
    """One order as an :class:`Order`, or as an :class:`UnreadableRecord` with its reason.

    An order this mapping cannot read is handed back whole (its raw JSON, without
    :data:`_PRIVATE_FIELDS`), so the engine quarantines it and reads on past it.
    """
    try:
        return order_from(raw, channel)
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
    """``raw`` as an :class:`UnreadableRecord`, keyed by its ``entity_id`` (a digest of it when
    it has none) and dated by its last update when that much can be read."""
    key: Any = None
    stamp: Any = None
    if isinstance(raw, Mapping):
        kept = {k: v for k, v in raw.items() if k not in _PRIVATE_FIELDS}
        payload = json.dumps(kept, sort_keys=True, default=str)
        key, stamp = raw.get("entity_id"), raw.get("updated_at") or raw.get("created_at")
    else:
        payload = json.dumps(raw, default=str)
    if isinstance(key, bool) or not isinstance(key, int | str) or not str(key).strip():
        key = "unidentified-" + hashlib.sha256(payload.encode()).hexdigest()[:12]
    try:
        updated: datetime | None = _time(stamp, "updated_at")
    except UnmappableOrderError:
        updated = None
    return UnreadableRecord(key=str(key), reason=reason, payload=payload, updated_at=updated)

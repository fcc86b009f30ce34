"""BigCommerce JSON <-> the canonical model: bodies we send, records we read.

Nothing here talks HTTP; :mod:`.client` does. Dates on orders v2 are RFC 2822
(``Tue, 20 Nov 2012 00:00:00 +0000``); they become timezone-aware UTC datetimes.
"""

from __future__ import annotations

import email.utils
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from serialsync import (
    FinancialStatus,
    Order,
    OrderLine,
    Product,
    SerializedUnit,
    UnreadableRecord,
)

#: BigCommerce order status ids (``GET /v2/order_statuses``) -> what the POS cares about.
#:
#: * 0 Incomplete, 1 Pending, 7 Awaiting Payment, 12 Manual Verification Required: placed,
#:   not paid yet -> PENDING (the unit is reserved, not sold).
#: * 2 Shipped, 3 Partially Shipped, 8 Awaiting Pickup, 9 Awaiting Shipment, 10 Completed,
#:   11 Awaiting Fulfillment: paid -> PAID.
#: * 13 Disputed: the money was taken and a chargeback is open; the unit is gone until the
#:   dispute ends as a refund -> PAID.
#: * 4 Refunded -> REFUNDED; 14 Partially Refunded -> PARTIALLY_REFUNDED.
#: * 5 Cancelled and 6 Declined (payment refused) -> CANCELLED: either way the unit was never
#:   sold.
STATUS_MAP: dict[int, FinancialStatus] = {
    0: FinancialStatus.PENDING,
    1: FinancialStatus.PENDING,
    7: FinancialStatus.PENDING,
    12: FinancialStatus.PENDING,
    2: FinancialStatus.PAID,
    3: FinancialStatus.PAID,
    8: FinancialStatus.PAID,
    9: FinancialStatus.PAID,
    10: FinancialStatus.PAID,
    11: FinancialStatus.PAID,
    13: FinancialStatus.PAID,
    4: FinancialStatus.REFUNDED,
    5: FinancialStatus.CANCELLED,
    6: FinancialStatus.CANCELLED,
    14: FinancialStatus.PARTIALLY_REFUNDED,
}


class UnmappableOrderError(ValueError):
    """An order record that cannot be mapped to the model; the message names the fault."""


def financial_status(status_id: int) -> FinancialStatus:
    """The :class:`FinancialStatus` of a BigCommerce status id.

    Raises :class:`UnmappableOrderError` for an id this table does not know (a newer status,
    or a broken record): reading it as paid, pending or cancelled would be a guess, and each
    guess costs something (a sale reported or a unit held or offered wrongly). The order is
    quarantined for a person instead.
    """
    try:
        return STATUS_MAP[status_id]
    except KeyError:
        raise UnmappableOrderError(f"unknown status id {status_id!r}") from None


def parse_rfc2822(value: str) -> datetime:
    """An orders v2 date (RFC 2822) as a timezone-aware UTC datetime."""
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"not an RFC 2822 date: {value!r}") from exc
    if parsed.tzinfo is None:
        # RFC 2822 "-0000" means "UTC, origin unknown"; Python returns it naive.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_rfc2822(value: datetime) -> str:
    """A datetime as RFC 2822 in UTC, as orders v2 filters take it."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return email.utils.format_datetime(value.astimezone(UTC))


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal("0")
    except InvalidOperation:
        return Decimal("0")


def _optional_decimal(value: Any) -> Decimal | None:
    """An amount as orders v2 writes it (a decimal string); ``None`` when absent or unreadable."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def order_from_json(
    channel: str, record: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]
) -> Order:
    """One ``/v2/orders`` record and its ``/products`` lines as a canonical :class:`Order`.

    Raises :class:`UnmappableOrderError` naming the fault when the record cannot be mapped.
    """
    billing = record.get("billing_address") or {}
    name = " ".join(
        part for part in (billing.get("first_name"), billing.get("last_name")) if part
    ).strip()
    status_id = _whole(record.get("status_id"), "the order's status_id")
    return Order(
        channel=channel,
        order_id=str(_required(record, "id", "the order")),
        # BigCommerce shows the order id to shoppers as the order number.
        order_number=str(record["id"]),
        status=financial_status(status_id),
        lines=tuple(line_from_json(line) for line in lines),
        currency=str(record.get("currency_code") or "USD"),
        total=_decimal(record.get("total_inc_tax")),
        customer_name=name or None,
        customer_email=billing.get("email") or None,
        # Optional for the POS: absent or unreadable, the order is still read without them.
        tax=_optional_decimal(record.get("total_tax")),
        shipping=_optional_decimal(record.get("shipping_cost_ex_tax")),
        gateway=str(record.get("payment_method") or "").strip() or None,
        created_at=_date(record, "date_created"),
        updated_at=_date(record, "date_modified"),
    )


def line_from_json(line: Mapping[str, Any]) -> OrderLine:
    """One ``/v2/orders/{id}/products`` record; ``raw_sku`` exactly as sold.

    A custom product (added to the order by hand) has ``product_id`` 0 and the SKU it was
    given, often none (``""``): ``raw_sku`` is then ``None``. A product of the store that
    serialsync does not sell keeps its own SKU. Raises :class:`UnmappableOrderError` for a
    line without an id or a whole, non-negative quantity.
    """
    line_id = str(_required(line, "id", "a line"))
    quantity = _whole(line.get("quantity"), f"line {line_id}'s quantity")
    if quantity < 0:
        raise UnmappableOrderError(f"line {line_id} has a negative quantity ({quantity})")
    refunded = _whole(line.get("quantity_refunded") or 0, f"line {line_id}'s quantity_refunded")
    sku = line.get("sku")
    return OrderLine(
        line_id=line_id,
        raw_sku=str(sku) if sku not in (None, "") else None,
        quantity=quantity,
        quantity_refunded=max(0, min(quantity, refunded)),
        price=_decimal(line.get("price_inc_tax", line.get("base_price"))),
        title=str(line.get("name") or ""),
    )


def unreadable_order(
    record: Mapping[str, Any], lines: Sequence[Mapping[str, Any]], reason: str
) -> UnreadableRecord:
    """A record for quarantine: the order as received, its lines gathered in, and the fault.

    ``updated_at`` is its ``date_modified`` when that much can be read, so the cursor may
    move past it.
    """
    try:
        updated_at: datetime | None = parse_rfc2822(str(record["date_modified"]))
    except (KeyError, ValueError):
        updated_at = None
    return UnreadableRecord(
        key=str(record.get("id") or "(no id)"),
        reason=reason,
        payload=json.dumps({**record, "products": list(lines)}, default=str),
        updated_at=updated_at,
    )


def _required(record: Mapping[str, Any], field: str, what: str) -> Any:
    value = record.get(field)
    if value is None or value == "":
        raise UnmappableOrderError(f"{what} has no {field}")
    return value


def _whole(value: Any, what: str) -> int:
    """A whole number as BigCommerce sends it (a number or a numeric string)."""
    if isinstance(value, bool) or value is None:
        raise UnmappableOrderError(f"{what} is missing")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise UnmappableOrderError(f"{what} {value!r} is not a number") from None
    if number != number.to_integral_value():
        raise UnmappableOrderError(f"{what} {value!r} is not a whole number")
    return int(number)


def _date(record: Mapping[str, Any], field: str) -> datetime:
    value = _required(record, field, "the order")
    try:
        return parse_rfc2822(str(value))
    except ValueError:
        raise UnmappableOrderError(f"the order's {field} {value!r} is not a date") from None


# -- catalog --------------------------------------------------------------------------------


def unit_price(product: Product, unit: SerializedUnit) -> float:
    """The price a unit is listed at: its own, else the product's."""
    return float(unit.price if unit.price is not None else product.price)


def unit_image(unit: SerializedUnit) -> str | None:
    """The one image BigCommerce holds per variant: the unit's first photo."""
    return unit.images[0] if unit.images else None


def _with_image(item: dict[str, Any], image: str | None) -> dict[str, Any]:
    # The variant's one image travels inside the variant itself; left out, the variant keeps
    # the image it has, so an unchanged photo is simply not sent.
    if image is not None:
        item["image_url"] = image
    return item


def new_variant(
    product: Product, unit: SerializedUnit, *, image: str | None = None
) -> dict[str, Any]:
    """A variant inside ``POST /v3/catalog/products``: the option value is made by label.

    ``image`` (a public URL) becomes the variant's ``image_url``.
    """
    item = {
        "sku": unit.integration_id,
        "price": unit_price(product, unit),
        "inventory_level": 1,
        "option_values": [{"option_display_name": product.option_name, "label": unit.serial}],
    }
    return _with_image(item, image)


def new_product(
    product: Product,
    units: Sequence[SerializedUnit],
    *,
    name: str,
    images: Sequence[str | None] | None = None,
) -> dict[str, Any]:
    """``POST /v3/catalog/products`` body: the product and every unit as a variant, at once.

    ``images[i]`` is the ``image_url`` of ``units[i]``'s variant (``None``: none sent).
    """
    wanted = list(images) if images is not None else [None] * len(units)
    body: dict[str, Any] = {
        "name": name,
        "type": "physical",
        # A sibling product (part 2, 3, …) is told apart by its own product-level SKU.
        "sku": product.listing_sku,
        "price": float(product.price),
        "weight": 0,
        "description": product.description,
        # Stock is counted per variant: one unit, one variant, inventory 1.
        "inventory_tracking": "variant",
        "is_visible": True,
        "variants": [
            new_variant(product, unit, image=image)
            for unit, image in zip(units, wanted, strict=True)
        ],
    }
    if product.images:
        body["images"] = [
            {"image_url": url, "is_thumbnail": i == 0} for i, url in enumerate(product.images)
        ]
    if product.brand:
        body["brand_name"] = product.brand
    return body


def product_content(product: Product) -> dict[str, Any]:
    """``PUT /v3/catalog/products/{id}`` body of the product's own fields (its title,
    description and brand); a sibling carries its own title.

    The brand goes by ``brand_name``: BigCommerce adds the product to the brand of that name,
    making the brand when the store has none, so no brand is looked up first. Without a brand
    in the POS, the store's is left as it is."""
    content: dict[str, Any] = {"name": product.title, "description": product.description}
    if product.brand:
        content["brand_name"] = product.brand
    return content


def content_fields(product: Product) -> dict[str, Any]:
    """Every product field a change in the POS can move after creation: those of
    :func:`product_content`, and its photos (their own resources on BigCommerce; none in the
    POS leaves the store's as they are)."""
    fields = product_content(product)
    if product.images:
        fields["images"] = list(product.images)
    return fields


def _digest(value: object) -> str:
    encoded = json.dumps(value, sort_keys=True).encode()
    return hashlib.sha256(encoded).hexdigest()[:16]


def content_digest(product: Product) -> str:
    """A fingerprint of each of :func:`content_fields` (``name:<hash>,…``), remembered with
    each unit's ids so that only what the product does not hold yet is sent."""
    return ",".join(f"{k}:{_digest(v)[:8]}" for k, v in sorted(content_fields(product).items()))


def content_changes(product: Product, remembered: str | None) -> dict[str, Any]:
    """The fields of :func:`content_fields` the product does not hold, by what its units' ids
    remember: every field when nothing is. A digest from before per-field digests (one hash
    of the name and description, with the brand once brands were sent) still tells those
    are held."""
    fields = content_fields(product)
    if remembered and ":" in remembered:
        known = dict(item.split(":", 1) for item in remembered.split(","))
        return {k: v for k, v in fields.items() if known.get(k) != _digest(v)[:8]}
    if remembered == _digest(product_content(product)):
        return {k: v for k, v in fields.items() if k == "images"}
    return fields


def batch_create(
    product: Product,
    unit: SerializedUnit,
    product_id: int,
    option_id: int,
    value_id: int,
    *,
    image: str | None = None,
) -> dict[str, Any]:
    """A create item of ``PUT /v3/catalog/variants``: needs the option value's ids."""
    item = {
        "product_id": product_id,
        "sku": unit.integration_id,
        "price": unit_price(product, unit),
        "inventory_level": 1,
        "option_values": [{"id": value_id, "option_id": option_id}],
    }
    return _with_image(item, image)


def batch_upsert(
    product: Product,
    unit: SerializedUnit,
    variant_id: int,
    *,
    sku: str | None = None,
    image: str | None = None,
) -> dict[str, Any]:
    """An update item of ``PUT /v3/catalog/variants`` listing the unit (stock 1).

    ``sku`` rewrites the variant's SKU: an adopted variant whose SKU differs only in case is
    set to the exact integration id, so its order lines parse back to the POS's own SKU.
    ``image`` replaces the variant's image (sent only when it changed).
    """
    item: dict[str, Any] = {
        "id": variant_id,
        "price": unit_price(product, unit),
        "inventory_level": 1,
    }
    if sku is not None:
        item["sku"] = sku
    return _with_image(item, image)


def held_back(item: dict[str, Any]) -> dict[str, Any]:
    """A variant item (of the product create or the batch) that lists its unit, sent at
    stock 0 instead: the unit sold while the call was on the wire."""
    return {**item, "inventory_level": 0}


def batch_withdraw(variant_id: int) -> dict[str, Any]:
    """An update item of ``PUT /v3/catalog/variants`` withdrawing the unit (stock 0)."""
    return {"id": variant_id, "inventory_level": 0}


@dataclass(frozen=True)
class RemoteVariant:
    """A variant as read back from the catalog: what adoption and comparison need."""

    id: int
    product_id: int
    sku: str
    price: float | None
    inventory_level: int
    image_url: str
    #: The ids of its option values (its serial's value).
    option_value_ids: tuple[int, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RemoteVariant:
        """Read the fields we use from a catalog v3 variant."""
        price = data.get("price")
        return cls(
            id=int(data["id"]),
            product_id=int(data["product_id"]),
            sku=str(data.get("sku") or ""),
            price=float(price) if price is not None else None,
            inventory_level=int(data.get("inventory_level") or 0),
            image_url=str(data.get("image_url") or ""),
            option_value_ids=tuple(
                int(v["id"]) for v in data.get("option_values") or () if v.get("id") is not None
            ),
        )


@dataclass(frozen=True)
class RemoteOption:
    """The product's serial option: its id and its values' ids by label (casefolded)."""

    id: int
    display_name: str
    values: dict[str, int]
    raw_values: tuple[Mapping[str, Any], ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RemoteOption:
        """Read an option of ``include=options``."""
        raw = tuple(data.get("option_values") or ())
        return cls(
            id=int(data["id"]),
            display_name=str(data.get("display_name") or ""),
            values={str(v.get("label", "")).casefold(): int(v["id"]) for v in raw},
            raw_values=raw,
        )


@dataclass(frozen=True)
class RemoteProduct:
    """A product with its variants and options (``include=variants,options``)."""

    id: int
    sku: str
    inventory_tracking: str
    variants: tuple[RemoteVariant, ...]
    options: tuple[RemoteOption, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RemoteProduct:
        """Read a catalog v3 product."""
        return cls(
            id=int(data["id"]),
            sku=str(data.get("sku") or ""),
            inventory_tracking=str(data.get("inventory_tracking") or "none"),
            variants=tuple(
                RemoteVariant.from_json(v)
                for v in data.get("variants") or ()
                # The base variant of a product with options has no option values: not a unit.
                if v.get("option_values")
            ),
            options=tuple(RemoteOption.from_json(o) for o in data.get("options") or ()),
        )

    def option(self, name: str) -> RemoteOption | None:
        """The option named ``name`` (case-insensitive), if the product has it."""
        for option in self.options:
            if option.display_name.casefold() == name.casefold():
                return option
        return None

    def variant_by_sku(self) -> dict[str, RemoteVariant]:
        """Variants by casefolded SKU: BigCommerce SKUs are case-insensitive."""
        return {v.sku.casefold(): v for v in self.variants}

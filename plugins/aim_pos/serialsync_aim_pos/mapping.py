"""AIM JSON <-> the canonical model: items and serials in, sales out.

Field names come from AIM's published operation metadata where it shows them
(``SearchInventory``, ``InventoryDetail``, ``SerialDetail``'s ``InventoryDetailBySerial``,
``ThirdPartyOrder``/``ThirdPartyOrderItem``). Where the metadata does not show a field we need,
the name below is an **assumption**, marked so, and read defensively.

Dates: AIM writes them in the store's local time without an offset, either ISO 8601
(``2026-11-23T10:15:00``) or ServiceStack's ``/Date(1700000000000-0600)/``. Both are read here
and turned into timezone-aware UTC.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from serialsync import (
    FinancialStatus,
    PermanentRemoteError,
    Product,
    Sale,
    SerializedUnit,
    UnitKey,
    UnitStatus,
    UnreadableRecord,
)

_WCF_DATE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")

#: AIM serial statuses (free text in ``InventoryDetailBySerial.Status``; the values are an
#: assumption) mapped to the unit lifecycle, by keyword.
_STATUS_WORDS: tuple[tuple[UnitStatus, tuple[str, ...]], ...] = (
    (UnitStatus.SOLD, ("SOLD", "INVOICED")),
    (UnitStatus.DEFECTIVE, ("DEFECT", "DAMAGE", "RMA", "REPAIR")),
    (UnitStatus.RETURNED, ("RETURN",)),
    (UnitStatus.RESERVED, ("HOLD", "LAYAWAY", "RESERV", "ORDER", "RENT", "TRANSFER", "PENDING")),
    (UnitStatus.IN_STOCK, ("AVAILABLE", "INSTOCK", "STOCK", "ACTIVE")),
)

#: Prices in the order a web listing should use them: the Active-e (web) price first.
WEB_PRICE_FIELDS = ("ActiveEPrice", "SalePrice", "OurPrice", "Retail")


# -- dates ------------------------------------------------------------------------------------


def parse_aim_date(value: Any, zone: ZoneInfo) -> datetime | None:
    """An AIM date as aware UTC; ``None`` for empty or AIM's "no date" (year 1)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    match = _WCF_DATE.match(text)
    if match:
        millis = int(match.group(1))
        # The epoch milliseconds are UTC; the offset suffix only says where it was written.
        when = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=millis)
        return None if when.year <= 1 else when
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.year <= 1:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(UTC)


def format_aim_date(when: datetime, zone: ZoneInfo) -> str:
    """``when`` in the store's local time, as AIM expects dates it is sent."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(zone).replace(tzinfo=None).isoformat(timespec="seconds")


# -- small readers ----------------------------------------------------------------------------


def _money(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def web_price(fields: Mapping[str, Any]) -> Decimal | None:
    """The price to sell at online: the first set of ActiveEPrice, SalePrice, OurPrice, Retail.

    AIM uses 0 for "not set", so a 0 passes to the next field. Any other amount is the price,
    even a negative or absurd one: the engine refuses to list at it and quarantines the unit
    ("no price in the POS"), where skipping it would hide the mistake behind another price.
    """
    for name in WEB_PRICE_FIELDS:
        amount = _money(fields.get(name))
        if amount is not None and amount != 0:
            return amount
    return None


def unit_status(text: Any) -> UnitStatus:
    """An AIM serial status as a lifecycle status; unknown text is ``reserved`` (not sold
    online, and reversible) rather than ``in_stock``."""
    return _status_of(str(text or ""))


# A catalogue has a handful of status texts, each read once per unit of every whole read:
# each is worked out once (bounded, should a POS send many).
@functools.lru_cache(maxsize=1024)
def _status_of(text: str) -> UnitStatus:
    norm = re.sub(r"[^A-Z]", "", text.upper())
    if not norm:
        return UnitStatus.IN_STOCK
    for status, words in _STATUS_WORDS:
        if any(word in norm for word in words):
            return status
    return UnitStatus.RESERVED


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes", "y")
    return bool(value)


def _text(value: Any) -> str:
    return str(value).strip() if value is not None else ""


def attributes_of(value: Any) -> dict[str, str]:
    """``[{Name, Value}]`` (AIM's ``InventoryDetailAttribute``; field names assumed) as a dict."""
    result: dict[str, str] = {}
    if isinstance(value, Mapping):
        return {str(k): _text(v) for k, v in value.items() if _text(v)}
    for item in value or ():
        if isinstance(item, Mapping):
            name, val = _text(item.get("Name")), _text(item.get("Value"))
            if name and val:
                result[name] = val
    return result


def images_of(value: Any) -> tuple[str, ...]:
    """Image URLs of AIM ``ImageInfo`` objects (the URL field's name is assumed)."""
    urls: list[str] = []
    for item in value or ():
        url = item if isinstance(item, str) else None
        if isinstance(item, Mapping):
            url = item.get("Url") or item.get("ImageUrl") or item.get("FullSizeUrl")
        if url and str(url) not in urls:
            urls.append(str(url))
    return tuple(urls)


# -- inventory --------------------------------------------------------------------------------


@dataclass
class ItemResult:
    """What one AIM item contributes to an inventory page."""

    product: Product | None = None
    deleted: list[UnitKey] = field(default_factory=list)
    unpriced: list[str] = field(default_factory=list)
    #: Serial rows (or the whole item) that could not be mapped: quarantined, never dropped.
    unreadable: list[UnreadableRecord] = field(default_factory=list)


def raw_json(*parts: Any) -> str:
    """The records as received, as one JSON text (for a quarantined record's payload)."""
    return json.dumps(parts[0] if len(parts) == 1 else list(parts), default=str)


def unreadable_item(key: str, reason: str, *parts: Any) -> UnreadableRecord:
    """An AIM item (or part of one) that cannot be mapped, with its raw records as payload.

    ``key`` is the item's SKU when that much could be read, so the engine releases the record
    once the item maps whole again; otherwise ``item/<Pk>``.
    """
    return UnreadableRecord(key=key, reason=reason, payload=raw_json(*parts))


class _UnreadableError(ValueError):
    """A field of an AIM record that cannot be read; the message says which and why."""


def _identifier(value: Any, name: str) -> str:
    """An identifier exactly as AIM sent it: never stripped or cleaned (the engine refuses
    one a system would alter). Only a value that is not text at all cannot be read."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a number is written the one way it reads
    raise _UnreadableError(f"{name} is {'missing' if value is None else type(value).__name__}")


def map_item(
    record: Mapping[str, Any],
    detail: Mapping[str, Any] | None,
    *,
    zone: ZoneInfo,
    since: datetime | None,
    locations: Iterable[str] = (),
) -> ItemResult:
    """Map one ``SearchInventory`` record and its ``InventoryDetail`` to a product and deletions.

    Only items with ``SellSerialsOnline`` set are products; every serial of an item that is
    deleted, or no longer flagged, is named as deleted (the engine withdraws what it listed).
    A serial is deleted too when AIM marks it deleted or it sits in a location not sold from.
    Sold and deleted serials that did not change since ``since`` are left out: they were
    reported before. ``detail`` is ``None`` when AIM no longer knows the item.

    SKUs and serials are passed on exactly as AIM holds them (the engine quarantines one that
    breaks a rule). Serial rows that cannot be read (no serial, not an object) are returned as
    one ``unreadable`` record of the item, keyed by its SKU, beside the units that could be
    read; so is the whole item when its own fields cannot be. Prices are passed on
    as AIM holds them (a unit's own first, else the product's) for the engine to judge; a unit
    without one never borrows a sibling's.
    """
    result = ItemResult()
    pk = record.get("Pk")
    try:
        sku = _identifier(record.get("Sku"), "Sku")
    except _UnreadableError as exc:
        result.unreadable.append(unreadable_item(f"item/{pk}", f"AIM item {pk}: {exc}", record))
        return result
    if detail is None:
        return result
    rows = detail.get("Serials") or ()
    if not isinstance(rows, list):
        reason = f"AIM item {pk} ({sku!r}): Serials is {type(rows).__name__}, not a list"
        result.unreadable.append(unreadable_item(sku, reason, record, detail))
        return result
    wanted = {loc.upper() for loc in locations}
    # Assumed field names: "Deleted" on the item and on each serial, "Serials" for the
    # IncludeSerialInfo list (documented entries: InventoryDetailBySerial).
    item_gone = _truthy(record.get("Deleted")) or _truthy(detail.get("Deleted"))
    offered = not item_gone and _truthy(detail.get("SellSerialsOnline"))
    own_price = web_price(detail) or _money(record.get("CustomerPrice")) or None
    units: list[SerializedUnit] = []
    broken: list[str] = []
    for number, serial_info in enumerate(rows):
        try:
            unit = _map_serial(
                serial_info, sku, zone=zone, since=since, wanted=wanted, offered=offered
            )
        except _UnreadableError as exc:
            row_pk = serial_info.get("SasPk") if isinstance(serial_info, Mapping) else None
            row = f"serial row {row_pk}" if row_pk is not None else f"serial row #{number + 1}"
            broken.append(f"{row}: {exc}")
            continue
        if unit is None:
            continue
        if isinstance(unit, UnitKey):
            result.deleted.append(unit)
            continue
        if unit.price is None and own_price is None and unit.status is UnitStatus.IN_STOCK:
            result.unpriced.append(unit.serial)
        units.append(unit)
    if broken:
        # One record per item, keyed by its SKU: the engine lets it go once the item is read
        # whole again (see InventoryPage), and the rest of the item is not held back by it.
        reason = f"AIM item {pk} ({sku!r}): " + "; ".join(broken)
        result.unreadable.append(unreadable_item(sku, reason, record, detail))
    if not offered:
        return result
    prices = [u.price for u in units if u.price is not None]
    if own_price is not None:
        product_price = own_price
    elif prices and len(prices) == len(units):
        # Every unit carries its own price: the lowest stands for the product on channels
        # that show one. A unit without a price never borrows a sibling's.
        product_price = min(prices)
    else:
        # No price for the product: its unpriced units are quarantined by the engine.
        product_price = Decimal("0")
    attributes = attributes_of(detail.get("Attributes"))
    for name, key in (
        ("model", "Model"),
        ("category", "CategoryDescription"),
        ("subcategory", "SubCategoryDescription"),
    ):
        value = _text(detail.get(key) or record.get(key))
        if value:
            attributes.setdefault(name, value)
    web_info = detail.get("ActiveEInfo")
    web_description = web_info.get("WebDescription") if isinstance(web_info, Mapping) else None
    result.product = Product(
        sku=sku,
        title=_text(record.get("Description") or detail.get("Description")) or sku,
        description=_text(web_description or detail.get("Notes")),
        brand=_text(detail.get("Mfg") or record.get("Manufacturer")) or None,
        price=product_price,
        images=images_of(detail.get("Images")),
        attributes=attributes,
        units=tuple(units),
    )
    return result


def _map_serial(
    serial_info: Any,
    sku: str,
    *,
    zone: ZoneInfo,
    since: datetime | None,
    wanted: set[str],
    offered: bool,
) -> SerializedUnit | UnitKey | None:
    """One ``InventoryDetailBySerial`` row: a unit, the key of a unit gone (its item no longer
    offered, the serial deleted, or in a location not sold from), or ``None`` when it is gone
    or not in stock and unchanged since ``since`` (reported before). Raises
    :class:`_UnreadableError` for a row that cannot be read."""
    if not isinstance(serial_info, Mapping):
        raise _UnreadableError(f"the row is {type(serial_info).__name__}, not an object")
    serial = _identifier(serial_info.get("Serial"), "Serial")
    if not offered:
        return UnitKey(sku=sku, serial=serial)
    changed = parse_aim_date(serial_info.get("ChangedDate"), zone)
    stale = since is not None and changed is not None and changed < since
    location = _text(serial_info.get("Location")) or None
    serial_gone = _truthy(serial_info.get("Deleted"))
    elsewhere = bool(wanted) and (location or "").upper() not in wanted
    if serial_gone or elsewhere:
        return None if stale else UnitKey(sku=sku, serial=serial)
    # SerialDetail nests a serial's prices and status under Details{}; a row without it
    # (older answers) carries them beside the serial.
    details = serial_info.get("Details")
    fields: Mapping[str, Any] = details if isinstance(details, Mapping) else serial_info
    status = unit_status(fields.get("Status", serial_info.get("Status")))
    if stale and status is not UnitStatus.IN_STOCK:
        return None
    return SerializedUnit(
        sku=sku,
        serial=serial,
        status=status,
        location=location,
        price=web_price(fields),
        attributes=attributes_of(serial_info.get("Attributes")),
        images=images_of(serial_info.get("Images")),
        changed_at=changed,
    )


# -- sales ------------------------------------------------------------------------------------

#: ``TransactionState`` per financial status. AIM publishes no value list for it; "Paid" and
#: "Pending" are assumed (see ``docs/aim.md``), and ``aim probe`` reports whether the store's
#: metadata names the field at all.
TRANSACTION_STATES = {
    FinancialStatus.PAID: "Paid",
    FinancialStatus.PENDING: "Pending",
    FinancialStatus.PARTIALLY_REFUNDED: "Paid",
}


def aim_order_number(sale: Sale, template: str) -> str:
    """The AIM order number of a sale (``order_number_format`` filled in)."""
    return template.format(
        order_number=sale.order_number, order_id=sale.order_id, channel=sale.channel
    )


def payment_type(gateway: str | None, types: Mapping[str, str], default: str) -> str:
    """The AIM payment type of a channel's payment gateway (``payment_types``, no case)."""
    wanted = (gateway or "").strip().lower()
    for name, aim_type in types.items():
        if name.strip().lower() == wanted:
            return aim_type
    return default


def sale_to_order(
    sale: Sale,
    *,
    order_number: str,
    zone: ZoneInfo,
    location: str | None,
    connector: str,
    payment: str = "Web",
) -> dict[str, Any]:
    """The ``ThirdPartyOrder`` for a sale; each serialized line with its own Sku and serial.

    Money stays :class:`~decimal.Decimal` (sent as exact JSON numbers by the client);
    ``WebNumber`` is the channel's own order number; ``payment`` the AIM payment type.
    Refuses (:class:`PermanentRemoteError`, nothing sent) what AIM must not receive: a
    cancelled or refunded order, a serialized line of quantity other than 1, no lines.
    """
    state = TRANSACTION_STATES.get(sale.status)
    if state is None:
        raise PermanentRemoteError(
            f"sale {sale.channel}:{sale.order_number} is {sale.status.value}; "
            "a cancelled or refunded order is not posted to AIM",
            connector=connector,
        )
    lines: list[dict[str, Any]] = []
    for line in sale.lines:
        if line.serial is not None and line.quantity != 1:
            raise PermanentRemoteError(
                f"sale {sale.channel}:{sale.order_number} line {line.line_id} sells serial "
                f"{line.serial!r} with quantity {line.quantity}; a serial is one unit",
                connector=connector,
            )
        if line.quantity <= 0:
            continue
        item: dict[str, Any] = {
            "Sku": line.sku,
            "ProductName": line.title or line.sku,
            "Qty": line.quantity,
            "Price": line.price,
            # The channel's own number (#1001), which staff search for; OrderNumber is AIM's.
            "WebNumber": sale.order_number,
        }
        if line.serial is not None:
            item["SerialNumber"] = line.serial
        if location:
            item["Location"] = location
        lines.append(item)
    if not lines:
        raise PermanentRemoteError(
            f"sale {sale.channel}:{sale.order_number} has no line to post", connector=connector
        )
    subtotal = sum((line.price * line.quantity for line in sale.lines), Decimal("0"))
    order: dict[str, Any] = {
        "OrderNumber": order_number,
        "WebNumber": sale.order_number,
        "OrderDate": format_aim_date(sale.placed_at, zone),
        "TransactionState": state,
        "PaymentMethod": payment,
        "OrderNotes": f"serialsync: {sale.channel} order {sale.order_id}",
        "Total": sale.total,
        "SubTotal": subtotal,
        "LineItems": lines,
    }
    # Only what the channel reported: an absent tax is unknown, not zero.
    optional = {
        "Tax": sale.tax,
        "Shipping": sale.shipping,
        "CustomerName": sale.customer_name,
        "Email": sale.customer_email,
    }
    order.update({key: value for key, value in optional.items() if value is not None})
    return order


#: A sentence of AIM's refusal naming a SKU it does not carry: ``Sku 'PLAIN-STRAP' not found.``
#: (an assumption: AIM documents no error codes, and integrators quote it so). A sentence about
#: a serial (``Serial 'X' of Sku 'Y' not found.``) names a unit, not a SKU, and does not match.
_SKU_NOT_CARRIED = re.compile(
    r"""(?:^|[:.!]\s+)Sku\s+(?P<q>['"])(?P<sku>.+?)(?P=q)\s+(?:not found|does not exist)""",
    re.IGNORECASE,
)


def refused_lines(sale: Sale, refusal: str) -> tuple[str, ...]:
    """The ids of the lines of ``sale`` selling a SKU that AIM's refusal says it does not carry.

    ``CustomerOrders`` refuses a whole order for such a SKU (see :data:`_SKU_NOT_CARRIED`).
    """
    named = {match["sku"] for match in _SKU_NOT_CARRIED.finditer(refusal)}
    return tuple(line.line_id for line in sale.lines if line.sku in named)


def same_order(existing: Mapping[str, Any], order: Mapping[str, Any]) -> bool:
    """Whether the order AIM has under this number sells the SKUs of ``order``.

    ``ECommerceOrderStatus`` lists line SKUs and quantities (no serials); an order number that
    another channel's order already used shows different SKUs.
    """
    # Sets, not lists: AIM may list two serials of one SKU as one line of quantity 2.
    theirs = {_text(li.get("Sku")) for li in existing.get("LineItems") or ()}
    ours = {_text(li.get("Sku")) for li in order.get("LineItems") or ()}
    # An AIM answer without lines tells nothing either way: trust the number.
    return not theirs or theirs == ours

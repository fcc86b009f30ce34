"""The AIM connector: serialized inventory in (``fetch_inventory``), sales out (``report_sale``).

Inventory, one page per call:

1. ``SearchInventory`` lists serialized items changed at or after the cursor (AIM's
   ``ChangedDate`` filter, in store-local time), ``page_size`` at a time, deleted items included;
2. ``InventoryDetail`` (``IncludeSerialInfo``) of each listed item gives its "sell individual
   serials online" flag and its serials with prices, status and location: one request per
   *product*, never per unit.

Sales: look the order up (``ECommerceOrderStatus``, type 3) and return the existing receipt if
AIM has it; only then post it (``CustomerOrders``). AIM has no idempotency key, so the lookup is
what makes a repeated report harmless. When AIM refuses the order for SKUs it names (a plain
product it does not carry), the refusal is a :class:`~serialsync.SaleLinesRefusedError` naming
those lines, and the host reports the units without them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from serialsync import (
    AuthenticationError,
    Connector,
    ConnectorContext,
    InventoryPage,
    PermanentRemoteError,
    ProbeReport,
    Product,
    Sale,
    SaleLinesRefusedError,
    SaleReceipt,
    UnitKey,
    UnreadableRecord,
    hookimpl,
)

from serialsync_aim_pos.client import AimClient
from serialsync_aim_pos.mapping import (
    ItemResult,
    aim_order_number,
    format_aim_date,
    map_item,
    parse_aim_date,
    payment_type,
    refused_lines,
    sale_to_order,
    same_order,
    unreadable_item,
)
from serialsync_aim_pos.probe import CONTRACT, compare, operations_of, types_of
from serialsync_aim_pos.settings import MAX_PAGE_SIZE, AimSettings

_PAGE_PREFIX = "offset:"


class AimConnector(Connector[AimSettings]):
    """One configured AIM store. Its methods are the POS hook implementations."""

    def __init__(self, settings: AimSettings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        self.client = AimClient(settings, context)
        #: The wall clock that bounds the inventory cursor (tests set their own).
        self.wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def close(self) -> None:
        """Close the HTTP connections."""
        self.client.close()

    # -- hooks --------------------------------------------------------------------------------

    @hookimpl
    def check_connection(self) -> str:
        """Log in and read one inventory record: proves key, app id, login and licence."""
        found = self.client.search_inventory(changed_since=None, offset=0, count=1)
        total = found.get("TotalRecords")
        host = httpx.URL(self.settings.discovery_url).host
        count = f"{total} serialized items" if total is not None else "inventory readable"
        return f"AIM via {host}: logged in as employee {self.settings.username}, {count}"

    @hookimpl
    def probe_contract(self) -> ProbeReport:
        """Compare :data:`~serialsync_aim_pos.probe.CONTRACT` with the store's metadata."""
        page, types = self.client.metadata()
        report = compare(operations_of(page), types_of(types, connector=self.name), CONTRACT)
        self.log.info("aim.probe", checked=report.checked, missing=len(report.missing))
        return report

    @hookimpl
    def fetch_inventory(self, since: datetime | None, page: str | None) -> InventoryPage:
        """One page of items flagged to sell serials online, changed at or after ``since``.

        AIM pages by offset over items in change order. An item changed while the pages are
        read moves to the end and the items after its old place move up one, so the next page
        would start one item too far and skip one. Each page after the first therefore starts
        one item early: when that item is not the one the previous page ended with, the order
        shifted, and the pass gives no cursor past ``since`` (the next pass reads the span
        again, skipped item included). Pages before the last carry ``since`` as their cursor
        for the same reason; the last carries the pass's own (see :meth:`_bounded`).
        """
        token = _parse_page(page)
        started = token.started or self.wall_clock().astimezone(UTC).replace(microsecond=0)
        size = self.settings.page_size
        overlap = token.offset > 0 and token.last_pk is not None
        offset = token.offset - 1 if overlap else token.offset
        # One more record when overlapping, so a page still brings ``size`` new items.
        count = size + 1 if overlap and size < MAX_PAGE_SIZE else size
        found = self.client.search_inventory(
            changed_since=format_aim_date(since, self.settings.zone) if since is not None else None,
            offset=offset,
            count=count,
        )
        records = self.client.require_list(found.get("Records"), "SearchInventory Records")
        shifted = token.shifted
        if overlap:
            if records and _pk_of(records[0]) == token.last_pk:
                records_new = records[1:]
            else:
                shifted = True
                self.log.info("aim.items_moved_mid_pass", offset=token.offset)
                records_new = records
        else:
            records_new = records
        products: list[Product] = []
        deleted: list[UnitKey] = []
        unreadable: list[UnreadableRecord] = []
        high_water = token.high_water
        for record in records_new:
            changed, result = self._read_item(record, since)
            if changed is not None and (high_water is None or changed > high_water):
                high_water = changed
            if result.product is not None:
                products.append(result.product)
            deleted.extend(result.deleted)
            unreadable.extend(result.unreadable)
        remaining = found.get("RemainingRecords")
        more = remaining > 0 if isinstance(remaining, int) else len(records) >= count
        next_page = (
            _PageToken(
                offset=offset + len(records),
                started=started,
                high_water=high_water,
                shifted=shifted,
                last_pk=_pk_of(records[-1]),
            ).encode()
            if records and more
            else None
        )
        self.log.info(
            "aim.inventory_page",
            offset=offset,
            items=len(records_new),
            products=len(products),
            units=sum(len(p.units) for p in products),
            deleted=len(deleted),
            unreadable=len(unreadable),
            more=next_page is not None,
        )
        cursor = since
        if next_page is None and not shifted:
            # Every page boundary checked, none shifted: the pass read AIM's order whole.
            cursor = self._bounded(high_water, since, started)
        return InventoryPage(
            products=tuple(products),
            deleted=tuple(deleted),
            unreadable=tuple(unreadable),
            next_page=next_page,
            high_water=cursor,
        )

    def _read_item(
        self, record: dict[str, Any], since: datetime | None
    ) -> tuple[datetime | None, ItemResult]:
        """One ``SearchInventory`` record, completed by its ``InventoryDetail`` and mapped."""
        zone = self.settings.zone
        # SearchInventoryApiResult nests the item under "Detail" beside "CustomerPrice".
        inner = record.get("Detail")
        item = {**(inner if isinstance(inner, dict) else record)}
        item.setdefault("CustomerPrice", record.get("CustomerPrice"))
        changed = parse_aim_date(item.get("ChangedDate"), zone)
        pk = item.get("Pk")
        if not isinstance(pk, int) or isinstance(pk, bool):
            # Without its Pk the item's serials cannot be asked for: quarantined, not skipped.
            self.log.warning("aim.item_without_pk", sku=ascii(item.get("Sku")))
            sku = item.get("Sku")
            reason = f"AIM item {sku!a} has no Pk, so its serials cannot be read"
            key = sku if isinstance(sku, str) and sku else f"item-without-pk/{sku}"
            return changed, ItemResult(unreadable=[unreadable_item(key, reason, record)])
        detail = self.client.inventory_detail(pk)
        if detail is None:
            # Its serials cannot be named, so they cannot be withdrawn from here.
            self.log.warning("aim.item_vanished", sku=item.get("Sku"), pk=pk)
        result = map_item(item, detail, zone=zone, since=since, locations=self.settings.locations)
        if result.unpriced:
            self.log.warning("aim.unpriced_serials", sku=item.get("Sku"), serials=result.unpriced)
        return changed, result

    def _bounded(
        self,
        high_water: datetime | None,
        since: datetime | None,
        started: datetime,
    ) -> datetime | None:
        """The cursor this page allows: never past the pass's start minus the margin.

        Offsets shift when an item changes mid-pass (it moves in AIM's order), so a page may
        skip an item; the change that shifted it happened after the pass started, so starting
        the next pass from before that instant reads the skipped item again.

        AIM dates have whole seconds and the cursor is inclusive, so the last second seen would
        be read again on every pass (every item of a bulk change made in one second, on every
        pass). When the pass read AIM's order whole (one request, or page boundaries that did
        not shift) and that second ended before the margin, nothing can still appear in it: the
        cursor moves one second past it.
        """
        if high_water is None:
            return None
        high_water += timedelta(seconds=1)
        ceiling = started - timedelta(seconds=self.settings.cursor_margin_seconds)
        if since is not None:
            ceiling = max(ceiling, since)
        return min(high_water, ceiling)

    @hookimpl
    def report_sale(self, sale: Sale) -> SaleReceipt:
        """Post the sale as an AIM open order, unless AIM already has it (idempotent)."""
        number = aim_order_number(sale, self.settings.order_number_format)
        # Built (and checked) first: bad input is refused before anything is sent.
        order = sale_to_order(
            sale,
            order_number=number,
            zone=self.settings.zone,
            location=self.settings.order_location,
            connector=self.name,
            payment=payment_type(
                sale.gateway, self.settings.payment_types, self.settings.default_payment_type
            ),
        )
        if self.settings.order_location is None:
            # Else the location AIM logs the integration's employee in at (Security's
            # UserDetails.Location), asked only once the sale is known to be postable.
            location = self.client.login_location()
            if location:
                for line in order["LineItems"]:
                    line["Location"] = location
        log = self.log.bind(order_number=number, key=sale.idempotency_key)
        existing = self.client.order_status(number)
        if existing is not None:
            if not same_order(existing, order):
                raise PermanentRemoteError(
                    f"AIM already has an order numbered {number!r} with other items than "
                    f"{sale.channel} order {sale.order_id}; set order_number_format (for "
                    'example "{channel}-{order_number}") so numbers cannot collide',
                    connector=self.name,
                )
            log.info("aim.sale_already_recorded", aim_status=existing.get("OrderStatus"))
            return SaleReceipt(pos_order_id=number, already_recorded=True)
        try:
            self.client.post_order(order)
        except PermanentRemoteError as exc:
            refused = () if isinstance(exc, AuthenticationError) else refused_lines(sale, str(exc))
            if not refused:
                raise
            # AIM took nothing (one order is all or nothing) and named what it will not carry:
            # say which lines, so the host can report the units without them.
            raise SaleLinesRefusedError(
                str(exc), line_ids=refused, connector=self.name, status=exc.status, code=exc.code
            ) from None
        log.info("aim.sale_recorded", lines=len(order["LineItems"]))
        return SaleReceipt(pos_order_id=number)


@dataclass(frozen=True)
class _PageToken:
    """Where a pass is: the next offset, when it started, the latest change it has seen, the
    Pk the last page ended with, and whether AIM's order shifted under it."""

    offset: int
    started: datetime | None
    high_water: datetime | None = None
    shifted: bool = False
    last_pk: int | None = None

    def encode(self) -> str:
        started = int(self.started.timestamp()) if self.started else 0
        high = int(self.high_water.timestamp()) if self.high_water else ""
        last = "" if self.last_pk is None else self.last_pk
        return f"{_PAGE_PREFIX}{self.offset}:{started}:{high}:{int(self.shifted)}:{last}"


def _pk_of(record: dict[str, Any]) -> int | None:
    inner = record.get("Detail")
    pk = (inner if isinstance(inner, dict) else record).get("Pk")
    return pk if isinstance(pk, int) and not isinstance(pk, bool) else None


def _parse_page(page: str | None) -> _PageToken:
    """The :class:`_PageToken` of ``offset:<offset>:<start>:<high water>:<shifted>:<last pk>``."""
    if page is None:
        return _PageToken(0, None)
    parts = page.split(":")
    if (
        len(parts) == 6
        and f"{parts[0]}:" == _PAGE_PREFIX
        and all(p.isdigit() for p in parts[1:3])
        and all(p.isdigit() or p == "" for p in (parts[3], parts[5]))
        and parts[4] in ("0", "1")
    ):
        return _PageToken(
            offset=int(parts[1]),
            started=datetime.fromtimestamp(int(parts[2]), UTC),
            high_water=datetime.fromtimestamp(int(parts[3]), UTC) if parts[3] else None,
            shifted=parts[4] == "1",
            last_pk=int(parts[5]) if parts[5] else None,
        )
    raise ValueError(f"not an AIM inventory page token: {page!r}")

"""The AIM connector: serialized inventory in (``fetch_inventory``), sales out (``report_sale``).

Inventory, one page per call:

1. ``SearchInventory`` lists serialized items changed at or after the cursor (AIM's
   ``ChangedDate`` filter, in store-local time), ``page_size`` at a time, deleted items included;
2. ``InventoryDetail`` (``IncludeSerialInfo``) of each listed item gives its "sell individual
   serials online" flag and its serials with prices, status and location: one request per
   *product*, never per unit.

Sales: look the order up (``ECommerceOrderStatus``, type 3) and return the existing receipt if
AIM has it; only then post it (``CustomerOrders``). AIM has no idempotency key, so the lookup is
what makes a repeated report harmless.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from serialsync import (
    Connector,
    ConnectorContext,
    InventoryPage,
    PermanentRemoteError,
    Product,
    Sale,
    SaleReceipt,
    UnitKey,
    hookimpl,
)

from serialsync_aim_pos.client import AimClient
from serialsync_aim_pos.mapping import (
    ItemResult,
    aim_order_number,
    format_aim_date,
    map_item,
    parse_aim_date,
    sale_to_order,
    same_order,
)
from serialsync_aim_pos.settings import AimSettings

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
    def fetch_inventory(self, since: datetime | None, page: str | None) -> InventoryPage:
        """One page of items flagged to sell serials online, changed at or after ``since``."""
        offset, started = _parse_page(page)
        if started is None:
            started = self.wall_clock().astimezone(UTC).replace(microsecond=0)
        size = self.settings.page_size
        found = self.client.search_inventory(
            changed_since=format_aim_date(since, self.settings.zone) if since is not None else None,
            offset=offset,
            count=size,
        )
        records = self.client.require_list(found.get("Records"), "SearchInventory Records")
        products: list[Product] = []
        deleted: list[UnitKey] = []
        high_water: datetime | None = None
        for record in records:
            changed, result = self._read_item(record, since)
            if changed is not None and (high_water is None or changed > high_water):
                high_water = changed
            if result.product is not None:
                products.append(result.product)
            deleted.extend(result.deleted)
        remaining = found.get("RemainingRecords")
        more = remaining > 0 if isinstance(remaining, int) else len(records) >= size
        next_page = (
            f"{_PAGE_PREFIX}{offset + len(records)}:{int(started.timestamp())}"
            if records and more
            else None
        )
        self.log.info(
            "aim.inventory_page",
            offset=offset,
            items=len(records),
            products=len(products),
            units=sum(len(p.units) for p in products),
            deleted=len(deleted),
            more=next_page is not None,
        )
        return InventoryPage(
            products=tuple(products),
            deleted=tuple(deleted),
            next_page=next_page,
            high_water=self._bounded(
                high_water, since, started, whole_pass=offset == 0 and next_page is None
            ),
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
            self.log.warning("aim.item_without_pk", sku=item.get("Sku"))
            return changed, ItemResult()
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
        *,
        whole_pass: bool,
    ) -> datetime | None:
        """The cursor this page allows: never past the pass's start minus the margin.

        Offsets shift when an item changes mid-pass (it moves in AIM's order), so a page may
        skip an item; the change that shifted it happened after the pass started, so starting
        the next pass from before that instant reads the skipped item again.

        AIM dates have whole seconds and the cursor is inclusive, so the last second seen would
        be read again on every pass. When one request covered the whole pass (no shift
        possible) and that second ended before the margin, nothing can still appear in it: the
        cursor moves one second past it.
        """
        if high_water is None:
            return None
        if whole_pass:
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
        )
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
        self.client.post_order(order)
        log.info("aim.sale_recorded", lines=len(order["LineItems"]))
        return SaleReceipt(pos_order_id=number)


def _parse_page(page: str | None) -> tuple[int, datetime | None]:
    """``(offset, pass start)`` from a page token ``offset:<offset>:<epoch seconds>``."""
    if page is None:
        return 0, None
    parts = page.split(":")
    if len(parts) == 3 and f"{parts[0]}:" == _PAGE_PREFIX and all(p.isdigit() for p in parts[1:]):
        return int(parts[1]), datetime.fromtimestamp(int(parts[2]), UTC)
    raise ValueError(f"not an AIM inventory page token: {page!r}")

"""In-process POS and channel connectors for engine tests (no HTTP, real hook calls).

They behave as a careful platform would: the channel finds variants by SKU before creating one
(so a repeated create after a crash adopts instead of duplicating) and the POS answers a repeated
sale with the receipt it already gave. Their state can live in a JSON file, so that a runner
killed with SIGKILL and restarted meets the same "remote" platforms.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from serialsync import (
    ConnectorContext,
    ConnectorSettings,
    ConnectorType,
    ConnectorTypeRegistrar,
    FinancialStatus,
    InventoryPage,
    ListingAction,
    ListingChange,
    Order,
    OrderLine,
    OrdersPage,
    PermanentRemoteError,
    Product,
    PublishOutcome,
    PublishResult,
    RemoteIds,
    Role,
    Sale,
    SaleLinesRefusedError,
    SaleReceipt,
    SerializedUnit,
    UnitKey,
    UnreadableRecord,
    hookimpl,
)

#: Where the fakes' clocks start: recent, as a shop's orders are, so that a first read of a
#: channel (which looks back ``sync.order_lookback`` from the real clock) finds them.
T0 = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(days=1)


class _Persisted:
    """Keeps ``self.state`` (JSON-ready) in a file when one is given, written atomically."""

    def __init__(self, path: Path | None, initial: dict[str, Any]) -> None:
        self.path = path
        if path is not None and path.exists():
            self.state = json.loads(path.read_text())
        else:
            self.state = initial
            self.save()

    def save(self) -> None:
        if self.path is None:
            return
        fd, tmp = tempfile.mkstemp(dir=self.path.parent)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.state, handle)
        os.replace(tmp, self.path)


class MemoryPos(_Persisted):
    """A POS: products with units, changed-since paging, idempotent sales."""

    def __init__(self, path: Path | None = None, *, page_size: int = 50) -> None:
        super().__init__(
            path,
            {
                "products": {},
                "units": {},
                "deleted": {},
                "orders": {},
                "calls": 0,
                "calls_by_order": {},
            },
        )
        self.page_size = page_size
        self.clock = T0
        self.report_failures: list[Exception] = []
        #: The plain (non-serialized) SKUs the POS carries; ``None`` takes any plain SKU.
        self.plain_skus: set[str] | None = None

    # -- staff actions ------------------------------------------------------------------------

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def add_product(self, sku: str, serials: Sequence[str], *, price: str = "1000.00") -> None:
        self.state["products"][sku] = {"sku": sku, "title": f"Guitar {sku}", "price": price}
        for serial in serials:
            self.set_unit(sku, serial)
        self.save()

    def set_unit(self, sku: str, serial: str, **fields: Any) -> None:
        # Keyed by SKU and serial: a real POS can hold one serial under two SKUs by mistake.
        key = f"{sku}\x00{serial}"
        unit = self.state["units"].get(key, {"sku": sku, "serial": serial, "status": "in_stock"})
        unit.update({k: (str(v) if isinstance(v, Decimal) else v) for k, v in fields.items()})
        unit["changed_at"] = self.tick().isoformat()
        self.state["units"][key] = unit
        self.state["deleted"].pop(key, None)
        self.save()

    def delete_unit(self, sku: str, serial: str) -> None:
        key = f"{sku}\x00{serial}"
        self.state["units"].pop(key)
        self.state["deleted"][key] = {"sku": sku, "serial": serial, "at": self.tick().isoformat()}
        self.save()

    @property
    def orders(self) -> dict[str, Any]:
        return dict(self.state["orders"])

    # -- hooks --------------------------------------------------------------------------------

    @hookimpl
    def fetch_inventory(
        self, connector: str, since: datetime | None, page: str | None
    ) -> InventoryPage:
        changed = sorted(
            (
                u
                for u in self.state["units"].values()
                if since is None or _t(u["changed_at"]) >= since
            ),
            key=lambda u: (u["changed_at"], u["serial"]),
        )
        offset = int(page or 0)
        chunk = changed[offset : offset + self.page_size]
        by_sku: dict[str, list[SerializedUnit]] = {}
        for u in chunk:
            by_sku.setdefault(u["sku"], []).append(
                SerializedUnit.model_validate({**u, "changed_at": _t(u["changed_at"])})
            )
        products = tuple(
            Product.model_validate({**self.state["products"][sku], "units": units})
            for sku, units in by_sku.items()
        )
        last = offset + self.page_size >= len(changed)
        deleted: tuple[UnitKey, ...] = ()
        if last:
            gone = [
                d for d in self.state["deleted"].values() if since is None or _t(d["at"]) >= since
            ]
            deleted = tuple(UnitKey(sku=d["sku"], serial=d["serial"]) for d in gone)
            stamps_deleted = [_t(d["at"]) for d in gone]
        else:
            stamps_deleted = []
        stamps = [_t(u["changed_at"]) for u in chunk] + stamps_deleted
        return InventoryPage(
            products=products,
            deleted=deleted,
            next_page=None if last else str(offset + self.page_size),
            high_water=max(stamps) if stamps else None,
        )

    def report_calls(self, order_number: str, channel: str) -> int:
        """How many times ``report_sale`` was called for one order (repeats included)."""
        return int(self.state["calls_by_order"].get(f"{order_number}@{channel}", 0))

    @hookimpl
    def report_sale(self, connector: str, sale: Sale) -> SaleReceipt:
        key = sale.order_number + "@" + sale.channel
        self.state["calls"] += 1
        self.state["calls_by_order"][key] = self.state["calls_by_order"].get(key, 0) + 1
        self.save()
        existing = self.state["orders"].get(key)
        if existing is not None:
            return SaleReceipt(pos_order_id=existing["pos_id"], already_recorded=True)
        if self.report_failures:
            raise self.report_failures.pop(0)
        if self.plain_skus is not None:
            unknown = [
                ln for ln in sale.lines if ln.serial is None and ln.sku not in self.plain_skus
            ]
            if unknown:
                raise SaleLinesRefusedError(
                    f"unknown SKU {unknown[0].sku!r}",
                    line_ids=tuple(ln.line_id for ln in unknown),
                )
        pos_id = f"AIM-{len(self.state['orders']) + 1}"
        self.state["orders"][sale.order_number + "@" + sale.channel] = {
            "pos_id": pos_id,
            "lines": [[ln.sku, ln.serial, ln.quantity] for ln in sale.lines],
            "key": sale.idempotency_key,
        }
        self.save()
        return SaleReceipt(pos_order_id=pos_id)

    @hookimpl
    def check_connection(self, connector: str) -> str:
        return f"memory POS with {len(self.state['units'])} units"


class MemoryChannel(_Persisted):
    """A web shop: variants by SKU, orders, and a count of every write request."""

    def __init__(self, path: Path | None = None, *, page_size: int = 2) -> None:
        super().__init__(path, {"variants": {}, "orders": {}, "writes": 0, "publish_calls": 0})
        self.page_size = page_size
        self.clock = T0
        self.refuse: dict[str, str] = {}  # serial -> error code the platform answers
        #: Every change publish_variants was given, in order (what the host asked for).
        self.received: list[ListingChange] = []
        #: Raised, one per call, by the next fetch_orders calls (a channel that cannot answer).
        self.fetch_failures: list[Exception] = []

    @property
    def variants(self) -> dict[str, dict[str, Any]]:
        variants: dict[str, dict[str, Any]] = self.state["variants"]
        return variants

    @property
    def writes(self) -> int:
        return int(self.state["writes"])

    def live(self) -> set[str]:
        return {sku for sku, v in self.variants.items() if v["stock"] > 0}

    # -- shopper and staff actions ------------------------------------------------------------

    def place_order(
        self,
        lines: Sequence[tuple[str | None, int]],
        *,
        status: FinancialStatus = FinancialStatus.PAID,
        order_id: str | None = None,
    ) -> str:
        self.clock += timedelta(seconds=1)
        order_id = order_id or str(1000 + len(self.state["orders"]) + 1)
        self.state["orders"][order_id] = {
            "order_id": order_id,
            "order_number": f"#{order_id}",
            "status": status.value,
            "lines": [
                {"line_id": f"{order_id}-{i}", "raw_sku": sku, "quantity": qty, "price": "999.00"}
                for i, (sku, qty) in enumerate(lines, 1)
            ],
            "created_at": self.clock.isoformat(),
            "updated_at": self.clock.isoformat(),
        }
        for sku, qty in lines:
            if sku in self.variants:
                self.variants[sku]["stock"] = max(0, self.variants[sku]["stock"] - qty)
        self.save()
        return order_id

    def edit_order(self, order_id: str) -> None:
        """Staff change what the POS does not care about (fulfilled, a note, the address)."""
        self.clock += timedelta(seconds=1)
        self.state["orders"][order_id]["updated_at"] = self.clock.isoformat()
        self.save()

    def set_order_status(self, order_id: str, status: FinancialStatus) -> None:
        self.clock += timedelta(seconds=1)
        self.state["orders"][order_id]["status"] = status.value
        self.state["orders"][order_id]["updated_at"] = self.clock.isoformat()
        self.save()

    # -- hooks --------------------------------------------------------------------------------

    @hookimpl
    def publish_variants(
        self, connector: str, product: Product, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        self.state["publish_calls"] += 1
        self.received.extend(changes)
        outcomes = []
        for change in changes:
            unit = change.unit
            sku = unit.integration_id
            code = self.refuse.get(unit.serial)
            if code is not None:
                outcomes.append(
                    PublishOutcome(
                        sku=unit.sku,
                        serial=unit.serial,
                        result=PublishResult.FAILED,
                        reason="refused by the platform",
                        code=code,
                        retryable=code != "INVALID",
                    )
                )
                continue
            self.state["writes"] += 1
            existing = self.variants.get(sku)
            if change.action == ListingAction.WITHDRAW:
                if existing is not None:
                    existing["stock"] = 0
                result = PublishResult.WITHDRAWN
            else:
                price = str(unit.price or product.price)
                if existing is None:
                    self.variants[sku] = {"stock": 1, "price": price, "product": product.sku}
                    result = PublishResult.CREATED
                else:
                    existing.update(stock=1, price=price)
                    result = PublishResult.UPDATED
                if unit.attributes:  # the unit's own attributes, as a channel shows them
                    self.variants[sku]["attributes"] = dict(unit.attributes)
            self.save()
            outcomes.append(
                PublishOutcome(
                    sku=unit.sku,
                    serial=unit.serial,
                    result=result,
                    remote=RemoteIds(product_id=product.sku, variant_id=sku),
                )
            )
        return outcomes

    @hookimpl
    def fetch_orders(self, connector: str, since: datetime | None, page: str | None) -> OrdersPage:
        if self.fetch_failures:
            raise self.fetch_failures.pop(0)
        found = sorted(
            (
                o
                for o in self.state["orders"].values()
                if since is None or _t(o["updated_at"]) >= since
            ),
            key=lambda o: (o["updated_at"], o["order_id"]),
        )
        offset = int(page or 0)
        chunk = [self._map(connector, o) for o in found[offset : offset + self.page_size]]
        last = offset + self.page_size >= len(found)
        return OrdersPage(
            orders=tuple(o for o in chunk if isinstance(o, Order)),
            unreadable=tuple(o for o in chunk if isinstance(o, UnreadableRecord)),
            next_page=None if last else str(offset + self.page_size),
        )

    @hookimpl
    def fetch_order(self, connector: str, order_id: str) -> Order | UnreadableRecord | None:
        found = self.state["orders"].get(order_id)
        return None if found is None else self._map(connector, found)

    @staticmethod
    def _map(connector: str, o: dict[str, Any]) -> Order | UnreadableRecord:
        """An order, or (as a careful plugin does) an unreadable record: never an exception."""
        try:
            return Order(
                channel=connector,
                order_id=o["order_id"],
                order_number=o["order_number"],
                status=FinancialStatus(o["status"]),
                lines=tuple(OrderLine.model_validate(line) for line in o["lines"]),
                customer_name=o.get("name"),
                customer_email=o.get("email"),
                created_at=_t(o["created_at"]),
                updated_at=_t(o["updated_at"]),
            )
        except (KeyError, ValueError) as exc:
            return UnreadableRecord(
                key=str(o.get("order_id")),
                reason=" ".join(f"{type(exc).__name__}: {exc}".split()),
                payload=json.dumps(o),
                updated_at=_t(o["updated_at"]) if "updated_at" in o else None,
            )

    @hookimpl
    def check_connection(self, connector: str) -> str:
        return "memory channel"


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- as a plugin: so Host.from_settings can build these from a settings file ------------------


class MemorySettings(ConnectorSettings):
    state_file: Path | None = None


def _pos_factory(settings: MemorySettings, context: ConnectorContext) -> MemoryPos:
    return MemoryPos(settings.state_file)


def _channel_factory(settings: MemorySettings, context: ConnectorContext) -> MemoryChannel:
    return MemoryChannel(settings.state_file)


class MemoryPlugin:
    """A plugin object declaring the two memory connector types."""

    @hookimpl
    def register_connector_types(self, registrar: ConnectorTypeRegistrar) -> None:
        registrar.add(ConnectorType("memory_pos", Role.POS, MemorySettings, _pos_factory))
        registrar.add(
            ConnectorType("memory_channel", Role.CHANNEL, MemorySettings, _channel_factory)
        )


POS_TYPE = ConnectorType("memory_pos", Role.POS, MemorySettings, _pos_factory)
CHANNEL_TYPE = ConnectorType("memory_channel", Role.CHANNEL, MemorySettings, _channel_factory)


class RefusedError(PermanentRemoteError):
    """A POS refusal for tests."""


def as_dict(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")

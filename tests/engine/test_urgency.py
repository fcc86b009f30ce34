"""Which work the engine marks urgent (``serialsync.urgent``), as the plugins' pacing sees it.

Reading orders and withdrawing what they sold is urgent, in the order pass's channel threads
too; a publish's creates are not, but a publish call that only withdraws is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from serialsync import (
    ListingChange,
    OrdersPage,
    Product,
    PublishOutcome,
    hookimpl,
    is_urgent,
)
from serialsync.model import Order, UnreadableRecord
from serialsync.service import OrderWorker

from tests.engine.test_withdraw import BatchingChannel, LoggingChannel, _world


class Noting:
    """What each hook call was asked, and whether the work was urgent then."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, bool]] = []

    def note(self, hook: str, detail: str) -> None:
        self.calls.append((hook, detail, is_urgent()))


class NotingPublish:
    """Notes the urgency of each ``publish_variants`` call (mixed into a channel)."""

    noted: Noting

    @hookimpl
    def publish_variants(
        self, connector: str, product: Product, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        actions = ",".join(sorted({c.action.value for c in changes}))
        self.noted.note("publish_variants", f"{connector} {actions}")
        return super().publish_variants(connector, product, changes)  # type: ignore[misc,no-any-return]


class NotingBatchingChannel(NotingPublish, BatchingChannel):
    """A channel with ``withdraw_units`` that notes the urgency of every call."""

    def __init__(self, noted: Noting) -> None:
        super().__init__()
        self.noted = noted

    @hookimpl
    def withdraw_units(
        self, connector: str, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        self.noted.note("withdraw_units", connector)
        return super().withdraw_units(connector, changes)

    @hookimpl
    def fetch_orders(self, connector: str, since: datetime | None, page: str | None) -> OrdersPage:
        self.noted.note("fetch_orders", connector)
        return super().fetch_orders(connector, since, page)

    @hookimpl
    def fetch_order(self, connector: str, order_id: str) -> Order | UnreadableRecord | None:
        self.noted.note("fetch_order", connector)
        return super().fetch_order(connector, order_id)


class NotingLoggingChannel(NotingPublish, LoggingChannel):
    """A channel without ``withdraw_units`` (withdrawals go through ``publish_variants``)."""

    def __init__(self, noted: Noting) -> None:
        super().__init__()
        self.noted = noted


def test_the_order_pass_is_urgent_in_every_channel_thread_and_the_publish_is_not(
    tmp_path: Path,
) -> None:
    noted = Noting()
    a, b = NotingBatchingChannel(noted), NotingLoggingChannel(noted)
    w = _world(tmp_path, a, b, workers=2)  # channels side by side, in a pool's threads
    w.host.order_pass()  # the channels' orders read once: publishing waits for that
    w.host.inventory_pass()
    publish = [c for c in noted.calls if c[0] == "publish_variants"]
    assert publish and not any(urgent for _, _, urgent in publish)
    noted.calls.clear()
    b.place_order([("P1|||A1", 1)])

    w.host.order_pass()

    assert {c[0] for c in noted.calls} == {"fetch_orders", "withdraw_units", "publish_variants"}
    assert all(urgent for _, _, urgent in noted.calls), noted.calls
    assert not is_urgent()  # the mark ends with the pass
    w.store.close()


def test_a_publish_call_that_only_withdraws_is_urgent(tmp_path: Path) -> None:
    noted = Noting()
    a, b = NotingLoggingChannel(noted), NotingLoggingChannel(noted)
    w = _world(tmp_path, a, b)
    w.host.order_pass()
    w.host.inventory_pass()
    # The POS deletes one unit and changes another's price: the next publish withdraws the
    # first (a call of its own, as the publish sends withdrawals) and updates the second.
    w.pos.delete_unit("P1", "A1")
    w.pos.set_unit("P2", "B1", price="1.00")
    noted.calls.clear()

    w.host.inventory_pass()

    by_detail = {(hook, detail): urgent for hook, detail, urgent in noted.calls}
    assert by_detail[("publish_variants", "shop_a withdraw")] is True
    assert by_detail[("publish_variants", "shop_a upsert")] is False
    w.store.close()


def test_the_webhook_worker_reads_and_withdraws_an_order_urgently(tmp_path: Path) -> None:
    noted = Noting()
    a, b = NotingBatchingChannel(noted), NotingLoggingChannel(noted)
    w = _world(tmp_path, a, b, workers=2)
    w.host.order_pass()
    w.host.inventory_pass()
    order_id = a.place_order([("P2|||B1", 1)])
    noted.calls.clear()

    OrderWorker(w.host).work("shop_a", order_id)

    assert ("fetch_order", "shop_a", True) in noted.calls
    assert ("publish_variants", "shop_b withdraw", True) in noted.calls
    assert all(urgent for _, _, urgent in noted.calls), noted.calls
    w.store.close()


def test_reporting_to_the_pos_is_not_urgent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serialsync.engine import orders
    from serialsync.service import worker

    reports: list[tuple[str, bool]] = []

    def noting(kind: str, report: Callable[..., None]) -> Callable[..., None]:
        def noted(*args: Any) -> None:
            reports.append((kind, is_urgent()))
            report(*args)

        return noted

    monkeypatch.setattr(orders, "report_sales", noting("pass", orders.report_sales))
    monkeypatch.setattr(worker, "report_one", noting("webhook", orders.report_one))
    noted = Noting()
    a, b = NotingBatchingChannel(noted), NotingLoggingChannel(noted)
    w = _world(tmp_path, a, b)
    w.host.order_pass()
    w.host.inventory_pass()
    b.place_order([("P1|||A1", 1)])
    w.host.order_pass()
    order_id = a.place_order([("P2|||B1", 1)])
    OrderWorker(w.host).work("shop_a", order_id)

    # No shopper waits for a report: a publish's requests need not yield to it.
    assert ("pass", False) in reports and ("webhook", False) in reports
    assert not any(urgent for _, urgent in reports)
    w.store.close()

"""A publish plans a product again after its last call only when something else wrote to it.

After the call that sends a plan's last changes, the product's change mark (raised by every
write that can change its work) says whether anything but the publish's own record was written
since the plan was read. Nothing: the listings as recorded stand in for a new plan (one read
of the product per channel). A unit sold meanwhile, with no order pass to ask the publish
(another worker's sale, a POS status), moves the mark: the product is planned again and the
unit withdrawn before the publish lets the product go. Counted in reads and calls, never in time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from serialsync import ListingChange, Product, PublishOutcome, hookimpl
from serialsync.lifecycle import Move, MoveBasis, MoveSource, UnitStatus
from serialsync.store import ListingState

from tests.engine.conftest import World
from tests.engine.test_withdraw import LoggingChannel, _world


class SellingChannel(LoggingChannel):
    """Runs ``during_call`` once, inside the next ``publish_variants`` call."""

    def __init__(self) -> None:
        super().__init__()
        self.during_call: Callable[[], None] | None = None

    @hookimpl
    def publish_variants(
        self, connector: str, product: Product, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        outcomes = super().publish_variants(connector, product, changes)
        if self.during_call is not None:
            during, self.during_call = self.during_call, None
            during()
        return outcomes


def sell(w: World, serial: str, sku: str) -> None:
    """A sale the store learns of with no order pass to ask the publish (as from a POS read in
    another worker): only the product's change mark moves."""
    move = Move(
        from_status=UnitStatus.IN_STOCK,
        to_status=UnitStatus.SOLD,
        reason="sold at the counter",
        source=MoveSource.POS,
        basis=MoveBasis.ASSERTED,
    )
    w.store.record_move(serial, sku, move)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Callable[[World], Counter[str]]:
    """Counts each read of a product's units, by SKU."""

    def counting(w: World) -> Counter[str]:
        counted: Counter[str] = Counter()
        units_of = w.store.units_of

        def count(sku: str) -> list:  # type: ignore[type-arg]
            counted[sku] += 1
            return units_of(sku)

        monkeypatch.setattr(w.store, "units_of", count)
        return counted

    return counting


def test_a_publish_reads_each_product_once_per_channel_when_nothing_else_writes(
    tmp_path: Path, reads: Callable[[World], Counter[str]]
) -> None:
    a, b = LoggingChannel(), LoggingChannel()
    w = _world(tmp_path, a, b)
    counted = reads(w)

    summary = w.host.inventory_pass()

    assert summary.ok
    assert {"P1|||A1", "P2|||B1", "P3|||C2"} <= a.live() & b.live()
    assert counted == Counter({"P1": 2, "P2": 2, "P3": 2})  # one plan per channel
    w.store.close()


def test_a_unit_sold_during_the_last_call_is_withdrawn_before_the_product_goes(
    tmp_path: Path,
) -> None:
    a, b = SellingChannel(), LoggingChannel()
    w = _world(tmp_path, a, b)
    a.during_call = lambda: sell(w, "A1", "P1")  # P1 is shop_a's first call

    w.host.inventory_pass()

    calls = [log for sku, log in a.publish_log if sku == "P1"]
    assert calls == [[("A1", "upsert"), ("A2", "upsert"), ("A3", "upsert")], [("A1", "withdraw")]]
    assert "P1|||A1" not in a.live() | b.live()
    assert {"P1|||A2", "P1|||A3"} <= a.live() & b.live()
    assert w.store.listings_of("shop_a", "P1")["A1"].state == ListingState.WITHDRAWN
    w.store.close()


def test_a_unit_sold_just_after_the_last_record_is_withdrawn_before_the_product_goes(
    tmp_path: Path,
) -> None:
    a, b = LoggingChannel(), LoggingChannel()
    w = _world(tmp_path, a, b)
    done: list[str] = []

    def after_record(step: str) -> None:
        # Between the record of shop_a's call for P1 and its look at the change mark.
        if step == "publish.recorded" and not done and a.publish_log:
            done.append(step)
            sell(w, "A2", "P1")

    w.host.engine.checkpoint = after_record

    w.host.inventory_pass()

    calls = [log for sku, log in a.publish_log if sku == "P1"]
    assert calls == [[("A1", "upsert"), ("A2", "upsert"), ("A3", "upsert")], [("A2", "withdraw")]]
    assert "P1|||A2" not in a.live() | b.live()
    w.store.close()

"""A publish never leaves a sold unit on sale: it asks before it lists, and its withdrawals do
not depend on its success.

* ``still_for_sale``: a plugin that creates units unsellable and lists them in a last request
  asks the host which are still for sale; a unit sold while the call was on the wire is never
  listed, and is recorded withdrawn without a call of its own.
* A call that raised for its upserts sends its withdrawals again on their own.
* A publish that breaks after its call withdraws the unit an order pass asked it about before it
  lets the product go, not at the next order pass.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from serialsync import (
    ListingAction,
    ListingChange,
    Product,
    PublishOutcome,
    PublishResult,
    RetryableRemoteError,
    StillForSale,
    hookimpl,
)
from serialsync.engine.context import EngineContext
from serialsync.engine.publish import next_chunk, still_for_sale
from serialsync.lifecycle import UnitStatus
from serialsync.manager import PluginManager
from serialsync.model import SerializedUnit
from serialsync.store import ListingState
from serialsync.store.sqlite import SQLiteStore

from tests.engine.conftest import World
from tests.engine.test_withdraw import BatchingChannel, BlockingChannel, LoggingChannel, _world


class AskingChannel(LoggingChannel):
    """Creates units at stock 0 and lists them in a last step, after asking ``still_for_sale``
    (as the Magento plugin does with its source-items save). ``during_call`` runs between the
    two steps: the test sells a unit there, while the call is on the wire."""

    def __init__(self) -> None:
        super().__init__()
        self.during_call: Callable[[], None] | None = None
        self.asked: list[list[str]] = []
        #: Integration ids that had stock while the host's store held them sold.
        self.listed_after_sale: list[str] = []
        self.sold: set[str] = set()

    @hookimpl
    def publish_variants(  # type: ignore[override]  # takes the optional still_for_sale
        self,
        connector: str,
        product: Product,
        changes: Sequence[ListingChange],
        still_for_sale: StillForSale,
    ) -> list[PublishOutcome]:
        self.publish_log.append((product.sku, [(c.unit.serial, c.action.value) for c in changes]))
        outcomes = super(LoggingChannel, self).publish_variants(connector, product, changes)
        upserts = [c.unit for c in changes if c.action == ListingAction.UPSERT]
        for unit in upserts:
            self.variants[unit.integration_id]["stock"] = 0  # created unsellable
        if self.during_call is not None:
            during, self.during_call = self.during_call, None
            during()
        asked = [u.serial for u in upserts]
        self.asked.append(asked)
        keep = still_for_sale(asked)
        assert keep <= set(asked)
        result = []
        for outcome in outcomes:
            unit_id = f"{outcome.sku}|||{outcome.serial}"
            if outcome.serial in asked and outcome.serial not in keep:
                result.append(outcome.model_copy(update={"result": PublishResult.WITHDRAWN}))
                continue
            if outcome.serial in asked:
                self.variants[unit_id]["stock"] = 1
                if unit_id in self.sold:
                    self.listed_after_sale.append(unit_id)
            result.append(outcome)
        return result


def test_a_unit_sold_while_the_call_is_on_the_wire_is_never_listed(tmp_path: Path) -> None:
    a, b = AskingChannel(), LoggingChannel()
    w = _world(tmp_path, a, b)
    w.host.inventory_pass()
    assert {"P1|||A1", "P1|||A2", "P1|||A3"} <= a.live()
    for serial in ("A1", "A2", "A3"):  # a new price: P1's units are sent again, stock 1
        w.pos.set_unit("P1", serial, price="1.00")
    a.variants["P1|||A1"]["stock"] = 0  # as if shop_a had it at 0 (created, not yet listed)

    def sell_a1_elsewhere() -> None:
        b.place_order([("P1|||A1", 1)])
        a.sold.add("P1|||A1")
        w.host.order_pass()  # claims A1 and asks shop_a's publish (it holds P1) about it

    a.during_call = sell_a1_elsewhere
    a.publish_log.clear()
    w.host.inventory_pass()

    assert a.listed_after_sale == []
    assert "P1|||A1" not in a.live() | b.live()
    assert {"P1|||A2", "P1|||A3"} <= a.live()
    assert w.store.listings_of("shop_a", "P1")["A1"].state == ListingState.WITHDRAWN
    # Recorded withdrawn from the call's own answer: no call of its own withdraws it.
    calls = [log for sku, log in a.publish_log if sku == "P1"]
    assert calls == [[("A1", "upsert"), ("A2", "upsert"), ("A3", "upsert")]]
    assert w.store.get_claim("A1") is not None
    w.host.order_pass()  # nothing left to do for A1 anywhere
    assert [log for sku, log in a.publish_log if sku == "P1"] == calls
    w.store.close()


def test_a_plugin_that_does_not_take_still_for_sale_keeps_working(tmp_path: Path) -> None:
    a, b = LoggingChannel(), LoggingChannel()  # publish_variants(connector, product, changes)
    w = _world(tmp_path, a, b)
    w.host.inventory_pass()
    assert {"P1|||A1", "P2|||B1", "P3|||C2"} <= a.live() & b.live()
    w.store.close()


def test_still_for_sale_reads_only_the_units_it_is_asked_about(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = SQLiteStore.open(tmp_path / "state.db")
    product = Product(sku="BIG", title="Strings", price=Decimal("5"))
    with store.transaction():
        store.put_product(product, pos="aim")
        for n in range(2000):
            status = UnitStatus.SOLD if n % 100 == 7 else UnitStatus.IN_STOCK
            store.put_unit(SerializedUnit(sku="BIG", serial=f"S{n:04d}"), status=status)
        store.set_unit_deleted("S0008", True)
        store.put_unit(SerializedUnit(sku="OTHER", serial="O1"), status=UnitStatus.IN_STOCK)

    def whole_product(sku: str) -> list[object]:
        raise AssertionError(f"read every unit of {sku} to answer about a few")

    monkeypatch.setattr(store, "units_of", whole_product)
    ask = still_for_sale(
        EngineContext(plugins=PluginManager(load_entrypoints=False), store=store), product
    )
    batch = [f"S{n:04d}" for n in range(100)] + ["O1", "nope"]  # another SKU's, an unknown
    assert ask(batch) == {f"S{n:04d}" for n in range(100)} - {"S0007", "S0008"}
    assert ask([]) == frozenset()
    store.close()


def test_a_withdrawal_asked_during_a_call_goes_alone_in_the_next() -> None:
    def change(serial: str, action: ListingAction) -> tuple[ListingChange, str | None]:
        unit = SerializedUnit(sku="P1", serial=serial)
        return ListingChange(unit=unit, action=action), None

    planned = [
        change("A1", ListingAction.WITHDRAW),
        change("A2", ListingAction.UPSERT),
        change("A3", ListingAction.UPSERT),
    ]
    sent = {("A1", ListingAction.UPSERT)}  # A1 went out in the call under way, then sold
    assert [c.unit.serial for c, _ in next_chunk(planned, sent, 50)] == ["A1"]
    sent |= {("A1", ListingAction.WITHDRAW)}
    assert [c.unit.serial for c, _ in next_chunk(planned, sent, 50)] == ["A2", "A3"]


class _BreaksUpserts(LoggingChannel):
    """Refuses every call that carries an upsert while ``broken`` (a product-level error)."""

    broken = False

    @hookimpl
    def publish_variants(
        self, connector: str, product: Product, changes: Sequence[ListingChange]
    ) -> list[PublishOutcome]:
        if self.broken and any(c.action == ListingAction.UPSERT for c in changes):
            raise RetryableRemoteError("the product save failed", connector=connector)
        return super().publish_variants(connector, product, changes)


class BrokenUpsertsChannel(_BreaksUpserts):
    """Without ``withdraw_units``: the withdrawals go again through ``publish_variants``."""


class BrokenUpsertsBatchingChannel(_BreaksUpserts, BatchingChannel):
    """With ``withdraw_units``: the withdrawals go again through it."""


@pytest.mark.parametrize("batching", [False, True], ids=["publish_variants", "withdraw_units"])
def test_the_withdrawals_of_a_call_that_raised_are_sent_on_their_own(
    tmp_path: Path, batching: bool
) -> None:
    a: BrokenUpsertsChannel | BrokenUpsertsBatchingChannel = (
        BrokenUpsertsBatchingChannel() if batching else BrokenUpsertsChannel()
    )
    b = LoggingChannel()
    w = _world(tmp_path, a, b)
    w.host.inventory_pass()
    w.pos.set_unit("P1", "A1", status="sold")  # sold in the shop's own till
    w.pos.set_unit("P1", "A2", price="1.00")  # and a price change: one call carries both
    a.broken = True

    w.host.inventory_pass()

    assert "P1|||A1" not in a.live() | b.live()
    listings = w.store.listings_of("shop_a", "P1")
    assert listings["A1"].state == ListingState.WITHDRAWN
    assert listings["A2"].state == ListingState.FAILED and listings["A2"].retryable
    if isinstance(a, BrokenUpsertsBatchingChannel):
        assert a.withdraw_calls == [["P1|||A1"]]
    else:
        assert a.publish_log[-1] == ("P1", [("A1", "withdraw")])
    w.store.close()


def test_a_publish_that_breaks_withdraws_what_it_was_asked_before_letting_go(
    tmp_path: Path,
) -> None:
    a, b = BlockingChannel("P1"), LoggingChannel()
    w: World = _world(tmp_path, a, b)
    a.entered.set()
    w.host.inventory_pass()
    a.entered.clear()
    for serial in ("A1", "A2", "A3"):
        w.pos.set_unit("P1", serial, price="1.00")
    broke: list[str] = []

    def checkpoint(step: str) -> None:
        # The store goes away as the call under way returns: its outcomes are not recorded.
        if step == "publish.after_call" and a.release.is_set() and not broke:
            broke.append(step)
            raise RuntimeError("the store went away")

    w.host.engine.checkpoint = checkpoint
    failure: list[BaseException] = []

    def inventory() -> None:
        try:
            w.host.inventory_pass()
        except BaseException as exc:  # seen by the test
            failure.append(exc)

    thread = threading.Thread(target=inventory)
    thread.start()
    try:
        assert a.entered.wait(30)  # shop_a's call for P1 (A1 in it) is on the wire
        b.place_order([("P1|||A1", 1)])
        w.host.order_pass()  # withdraws A1 from shop_b, asks shop_a's publish for P1
    finally:
        a.release.set()
        thread.join(30)
    assert not thread.is_alive()

    assert broke, "the publish never broke"
    assert "P1|||A1" not in a.live(), "the broken publish left the sold unit on sale"
    assert w.store.listings_of("shop_a", "P1")["A1"].state == ListingState.WITHDRAWN
    assert a.publish_log[-1] == ("P1", [("A1", "withdraw")])
    w.store.close()

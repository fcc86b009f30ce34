"""``first_publish``: the host tells a channel plugin when it never recorded a listing of a
product there (issue 22 §3), and a plugin that does not take the argument keeps working."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from serialsync import ListingChange, Product, PublishOutcome, StillForSale, hookimpl

from tests.engine.test_withdraw import LoggingChannel, _world


class TellingChannel(LoggingChannel):
    """Remembers, per call, the product and the host's ``first_publish``."""

    def __init__(self) -> None:
        super().__init__()
        self.told: list[tuple[str, bool]] = []

    @hookimpl
    def publish_variants(  # type: ignore[override]  # takes the optional arguments
        self,
        connector: str,
        product: Product,
        changes: Sequence[ListingChange],
        still_for_sale: StillForSale,
        first_publish: bool,
    ) -> list[PublishOutcome]:
        self.told.append((product.sku, first_publish))
        return super().publish_variants(connector, product, changes)


def test_only_a_product_never_recorded_on_the_channel_is_a_first_publish(tmp_path: Path) -> None:
    a, b = TellingChannel(), LoggingChannel()  # b takes neither optional argument
    w = _world(tmp_path, a, b)
    w.host.inventory_pass()
    assert sorted(a.told) == [("P1", True), ("P2", True), ("P3", True)]
    assert {"P1|||A1", "P2|||B1"} <= b.live()

    a.told.clear()
    w.pos.set_unit("P1", "A9")  # a unit added to a listed product comes alone
    w.pos.add_product("P4", ["D1"])
    w.pos.set_unit("P2", "B1", status="sold")
    w.host.inventory_pass()

    assert sorted(a.told) == [("P1", False), ("P2", False), ("P4", True)]
    assert "P1|||A9" in a.live() & b.live()
    w.store.close()


def test_a_product_whose_first_call_failed_is_no_first_publish_again(tmp_path: Path) -> None:
    # A failed outcome is a listing record too: the channel may hold what the call created.
    a, b = TellingChannel(), LoggingChannel()
    w = _world(tmp_path, a, b)
    a.refuse = {"B1": "TEMP", "B2": "TEMP"}  # P2's units, refused retryably
    w.host.inventory_pass()
    assert ("P2", True) in a.told
    a.refuse = {}
    a.told.clear()

    w.host.inventory_pass()

    assert a.told == [("P2", False)]
    w.store.close()

"""Messy point-of-sale records for the chaos runs (issue 15: "Done when").

A merchant's AIM holds more than clean units. :func:`messy_products` adds to a world's
catalogue what a real store's data holds (identifiers with padding, controls, no-break and
zero-width characters, empty and blank serials; an item with no price); :func:`mess_up_pos`
makes, later in the run, the changes staff make at the counter (a listed unit's price keyed in
wrong, a serial row damaged so it cannot be read, a unit flagged defective, a unit sold online
put back on the shelf). :func:`check_pos_mess` then proves what serialsync made of each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from serialsync import Product, SerializedUnit, UnitStatus
from serialsync.sandbox import Sandbox
from serialsync.store import Store

from tests.reliability.harness import PlacedOrder, Scenario, live_on, variants_on

#: What the quarantine may hold besides the double sales' conflicts once the mess is in.
KINDS = frozenset({"unit", "pos_item", "discrepancy"})

IDS_SKU, FREE_SKU, ROWS_SKU = "MESS-IDS", "MESS-FREE", "MESS-ROWS"
#: Serials no system may alter, each with words its quarantine reason must hold.
BAD_SERIALS = {
    " RSPAD001": "U+0020 SPACE at position 1",
    "RSPAD002 ": "U+0020 SPACE",
    "RSNB\u00a0001": "U+00A0 NO-BREAK SPACE",
    "RSESC\x1b001": "U+001B ESCAPE",
    "RSNUL\x00001": "U+0000 NULL",
    "RSZW\u200b001": "U+200B ZERO WIDTH SPACE",
    "": "is empty",
    "   ": "is blank",
}
UNREADABLE, DEFECTIVE = "RSROW0001", "RSDEF0001"


@dataclass
class PosMess:
    """What was done to the POS, so the checks know what to expect."""

    unpriced: set[str] = field(default_factory=lambda: {f"{FREE_SKU}|||RSFREE0001"})
    back_on_the_shelf: set[str] = field(default_factory=set)


def messy_products() -> list[Product]:
    """Items to stock beside a world's catalogue; none of their units is ever sold online."""

    def units(sku: str, serials: list[str]) -> tuple[SerializedUnit, ...]:
        return tuple(SerializedUnit(sku=sku, serial=s, location="showroom") for s in serials)

    return [
        Product(sku=IDS_SKU, title="Messy ids", price=Decimal("999.00"),
                units=units(IDS_SKU, list(BAD_SERIALS))),
        Product(sku=FREE_SKU, title="No price yet", price=Decimal("0"),
                units=units(FREE_SKU, ["RSFREE0001"])),
        Product(sku=ROWS_SKU, title="Counter changes", price=Decimal("899.00"),
                units=units(ROWS_SKU, [UNREADABLE, DEFECTIVE, "RSROW0002"])),
    ]  # fmt: skip


def mess_up_pos(sandbox: Sandbox, scenario: Scenario, units: list[SerializedUnit]) -> PosMess:
    """Phase 3's counter changes: a wrong price, a damaged row, a defect, a return."""
    aim: Any = next(iter(sandbox.pos_fakes().values()))
    mess = PosMess()
    ordered = {serial for placed in scenario.orders for serial in placed.serials}
    spare = next(u for u in units if u.serial not in ordered)
    aim.set_price(spare.sku, spare.serial, "-1.00")  # listed until now: taken off sale
    mess.unpriced.add(spare.integration_id)
    aim.override_serial_fields(ROWS_SKU, UNREADABLE, Serial=None)
    aim.set_status(ROWS_SKU, DEFECTIVE, "Defective")
    paid: PlacedOrder | None = next((o for o in scenario.orders if o.kind == "paid"), None)
    if paid is not None:
        # Reported to AIM, and the staff put it back on the shelf: a discrepancy for a person.
        serial = paid.serials[0]
        sku = next(u.sku for u in units if u.serial == serial)
        aim.set_status(sku, serial, "Available")
        mess.back_on_the_shelf.add(f"{sku}|||{serial}")
    return mess


def check_pos_mess(store: Store, sandbox: Sandbox, mess: PosMess | None) -> None:
    """Nothing messy reached a shopper, and each case waits for a person with its reason."""
    quarantined: dict[str, dict[str, str]] = {}
    for q in store.quarantined():
        quarantined.setdefault(q.kind, {})[q.key] = q.reason
    every = {sku for fake in sandbox.channel_fakes().values() for sku in variants_on(fake)}
    live = {sku for fake in sandbox.channel_fakes().values() for sku in live_on(fake)}
    # Identifiers: never stored, never on a channel under any spelling, each reason exact.
    assert not any(sku.startswith(f"{IDS_SKU}|||") for sku in every), every
    for serial, words in BAD_SERIALS.items():
        assert store.get_unit(serial) is None and store.get_unit(serial.strip()) is None
        reason = quarantined.get("unit", {}).get(f"{IDS_SKU}|||{serial}")
        assert reason is not None and words in reason, (serial, reason)
    # Prices: stored, never for sale, quarantined as "no price in the POS".
    expected_unpriced = mess.unpriced if mess else {f"{FREE_SKU}|||RSFREE0001"}
    assert not expected_unpriced & live, expected_unpriced & live
    for key in expected_unpriced:
        assert quarantined.get("unit", {}).get(key, "").startswith("no price in the POS"), key
    if mess is None:
        return
    # A row AIM cannot give: quarantined, and the rest of its item went on.
    assert any(
        f"{ROWS_SKU!r}" in r and "Serial is missing" in r
        for r in quarantined.get("pos_item", {}).values()
    ), quarantined.get("pos_item")
    assert f"{ROWS_SKU}|||RSROW0002" in live
    # A defect the POS asserts: one move, marked so.
    last = store.history(DEFECTIVE)[-1]
    assert (last.from_status, last.to_status, last.asserted) == (
        UnitStatus.IN_STOCK, UnitStatus.DEFECTIVE, True,
    )  # fmt: skip
    # Sold online, back on the shelf in AIM: a discrepancy, never relisted on its own.
    assert set(quarantined.get("discrepancy", {})) == mess.back_on_the_shelf
    assert not mess.back_on_the_shelf & live

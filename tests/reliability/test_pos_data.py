"""Messy point-of-sale data never reaches a shopper (issue 15 #3, #5, #6, #7, #9).

Each case goes through the fake AIM and the four channel fakes over real HTTP:

* a unit without a valid price (missing, zero, negative, absurd) is never listed, is
  quarantined with "no price in the POS", and is listed once the POS gives it a price;
* a SKU or serial holding padding, controls, no-break or zero-width characters, or an
  unpaired surrogate is quarantined naming the character and its position, never trimmed
  and listed under a cleaned name; an empty or blank serial is quarantined, never dropped;
* an AIM record the plugin cannot map is quarantined and the pass goes on past it;
* a status the POS asserts is one move, marked so, with no invented steps;
* a unit sold online whose sale was reported, and that AIM shows available again, is a
  discrepancy a person sees, and is sold again only after ``serialsync serials restock``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from serialsync import FinancialStatus, Product, SerializedUnit, UnitStatus
from serialsync.cli import app
from serialsync.host import Host
from serialsync.sandbox import Sandbox
from serialsync.store import OutboxState
from typer.testing import CliRunner

from tests.history import assert_history_follows_the_lifecycle
from tests.reliability import harness as h

pytestmark = [pytest.mark.reliability, pytest.mark.e2e, pytest.mark.timeout(h.timeout())]

CLOCK = h.VirtualTime()


@dataclass
class World:
    sandbox: Sandbox
    config: Path
    host: Host

    @property
    def aim(self) -> Any:
        return self.sandbox.pos_fakes()[h.POS]

    def reopen(self) -> None:
        self.host.close()
        self.host = h.open_host(self.config, CLOCK)

    def cli(self, *args: str) -> Any:
        """Run a command as an operator would; the runner's store lock is let go first."""
        self.host.close()
        try:
            return CliRunner().invoke(app, [*args, "--config", str(self.config)])
        finally:
            self.host = h.open_host(self.config, CLOCK)

    def live(self) -> set[str]:
        """Variant SKUs for sale on any channel."""
        return {sku for fake in self.sandbox.channel_fakes().values() for sku in h.live_on(fake)}

    def every_variant(self) -> set[str]:
        return {
            sku for fake in self.sandbox.channel_fakes().values() for sku in h.variants_on(fake)
        }


class PosClock:
    """AIM's clock (whole seconds): the catalogue stocked an hour ago, each change ten seconds
    after the one before, so two changes made between passes never share a second."""

    def __init__(self) -> None:
        self._next = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def __call__(self) -> datetime:
        self._next += timedelta(seconds=10)
        return self._next


def _world(tmp_path: Path, catalogue: list[Product]) -> Iterator[World]:
    options = {"aim_pos": {"clock": PosClock()}}
    sandbox = Sandbox(catalogue=catalogue, plugins=h.sandbox_plugins(CLOCK, options)).start()
    config = h.write_config(sandbox, tmp_path, sync={"workers": 1, "serial_pattern": ".*"})
    world = World(sandbox, config, h.open_host(config, CLOCK))
    try:
        yield world
        assert_history_follows_the_lifecycle(world.host.store)
    finally:
        world.host.close()
        sandbox.stop()


def _product(sku: str, serials: list[str], price: str = "1299.99", **unit: Any) -> Product:
    return Product(
        sku=sku,
        title=f"Guitar {sku}",
        price=Decimal(price),
        units=tuple(
            SerializedUnit(sku=sku, serial=s, location="showroom", **unit) for s in serials
        ),
    )


def _quarantined(host: Host, kind: str) -> dict[str, str]:
    return {q.key: q.reason for q in host.store.quarantined(kind=kind)}


# -- #5: prices --------------------------------------------------------------------------------


@pytest.fixture
def priced(tmp_path: Path) -> Iterator[World]:
    yield from _world(
        tmp_path,
        [
            _product("GOOD-1", ["GOOD1A", "GOOD1B"]),
            _product("FREE-1", ["FREE1A"], price="0"),  # $0.00: no price at all
            _product("NEG-1", ["NEG1A"], price="-1.00"),
            _product("ODD-1", ["ODD1A", "ODD1B"]),
        ],
    )


def test_a_unit_without_a_valid_price_is_never_listed_and_is_listed_once_priced(
    priced: World,
) -> None:
    aim = priced.aim
    aim.set_price("ODD-1", "ODD1A", "2000000000.00")  # over 10^9: a slip of the keyboard
    priced.host.run_once()
    priced.host.run_once()

    bad = {"FREE-1|||FREE1A", "NEG-1|||NEG1A", "ODD-1|||ODD1A"}
    assert not bad & priced.every_variant(), "a unit without a price reached a channel"
    assert {"GOOD-1|||GOOD1A", "GOOD-1|||GOOD1B", "ODD-1|||ODD1B"} <= priced.live()
    reasons = _quarantined(priced.host, "unit")
    assert set(reasons) == bad
    assert all(r.startswith("no price in the POS") for r in reasons.values()), reasons
    h.check_listings(priced.host.store, priced.sandbox)

    # A unit listed at a good price whose price goes bad is taken off sale.
    aim.set_price("GOOD-1", "GOOD1B", "-5.00")
    priced.host.run_once()
    assert "GOOD-1|||GOOD1B" not in priced.live()
    assert "GOOD-1|||GOOD1B" in _quarantined(priced.host, "unit")

    aim.set_item_price("FREE-1", "499.00")
    aim.set_price("NEG-1", "NEG1A", "599.00")
    aim.set_price("ODD-1", "ODD1A", "2000.00")
    aim.set_price("GOOD-1", "GOOD1B", "1199.00")
    priced.host.run_once()
    priced.host.run_once()

    assert bad | {"GOOD-1|||GOOD1B"} <= priced.live()
    assert _quarantined(priced.host, "unit") == {}
    h.check_listings(priced.host.store, priced.sandbox)


# -- #6: identifiers ---------------------------------------------------------------------------

BAD_SERIALS = {
    " PAD01": "U+0020 SPACE at position 1",
    "PAD02 ": "U+0020 SPACE at position 6",
    "NB\u00a0X1": "U+00A0 NO-BREAK SPACE",
    "ESC\x1bX1": "U+001B ESCAPE",
    "TAB\tX1": "U+0009 CHARACTER TABULATION",
    "NUL\x00X1": "U+0000 NULL",
    "NL\nX1": "U+000A LINE FEED",
    "DEL\x7fX1": "U+007F DELETE",
    "C1\x85X1": "U+0085",
    "ZW\u200bX1": "U+200B ZERO WIDTH SPACE",
    "BOM\ufeffX1": "U+FEFF",
    "SUR\ud800X1": "U+D800",
    "": "is empty",
    "   ": "is blank",
}


@pytest.fixture
def messy(tmp_path: Path) -> Iterator[World]:
    yield from _world(
        tmp_path,
        [
            _product("MESSY-1", ["CLEAN01", *BAD_SERIALS]),
            _product("PADDED-SKU ", ["PADSKU01"]),
            _product("CLEAN-2", ["CLEAN02"]),
        ],
    )


def test_identifiers_are_never_trimmed_or_cleaned_but_quarantined_by_character(
    messy: World,
) -> None:
    messy.host.run_once()
    messy.host.run_once()

    variants = messy.every_variant()
    assert variants >= {"MESSY-1|||CLEAN01", "CLEAN-2|||CLEAN02"}
    # Nothing under a cleaned-up name either: "PAD01" is not " PAD01".
    assert variants <= {"MESSY-1|||CLEAN01", "CLEAN-2|||CLEAN02"}, variants
    reasons = {
        q.payload and json.loads(q.payload).get("serial"): q.reason
        for q in messy.host.store.quarantined(kind="unit")
    }
    for serial, words in BAD_SERIALS.items():
        key = serial.encode("utf-8", "backslashreplace").decode()
        assert key in reasons or serial in reasons, f"{serial!r} was not quarantined"
        reason = reasons.get(serial) or reasons[key]
        assert words in reason, (serial, reason)
    assert "PADSKU01" in reasons and "U+0020 SPACE at position 11" in reasons["PADSKU01"]
    assert messy.host.store.get_unit("PAD01") is None
    h.check_listings(messy.host.store, messy.sandbox)
    # The pass went on: every clean unit is listed, the run ended without errors.
    summary = messy.host.run_once()
    assert not any(c.errors for c in summary.connectors.values())


# -- #3: an AIM record the plugin cannot map ---------------------------------------------------


def test_an_aim_record_the_plugin_cannot_map_is_quarantined_and_the_pass_goes_on(
    tmp_path: Path,
) -> None:
    for world in _world(
        tmp_path,
        [
            _product("ITEM-1", ["ROW01", "ROW02"]),
            _product("ITEM-2", ["ROW03"]),
            _product("ITEM-3", ["ROW04"]),
        ],
    ):
        world.aim.override_serial_fields("ITEM-1", "ROW02", Serial=None)
        world.aim.override_item_fields("ITEM-2", Pk=None)
        world.host.run_once()
        world.host.run_once()

        unreadable = _quarantined(world.host, "pos_item")
        assert len(unreadable) == 2, unreadable
        assert "Serial is missing" in unreadable[f"{h.POS}:ITEM-1"]
        assert "has no Pk" in unreadable[f"{h.POS}:ITEM-2"]
        assert {"ITEM-1|||ROW01", "ITEM-3|||ROW04"} <= world.live()
        assert world.host.store.get_cursor(h.POS, "inventory") is not None
        h.check_listings(world.host.store, world.sandbox)

        # Staff put both items right in AIM: read whole again, they leave the quarantine.
        world.aim.clear_overrides("ITEM-1")
        world.aim.clear_overrides("ITEM-2")
        world.host.run_once()

        assert _quarantined(world.host, "pos_item") == {}
        assert {"ITEM-1|||ROW02", "ITEM-2|||ROW03"} <= world.live()


# -- #7: what the POS asserts is one move ------------------------------------------------------


def test_a_unit_the_pos_flags_defective_is_one_asserted_move(tmp_path: Path) -> None:
    for world in _world(tmp_path, [_product("LIFE-1", ["LIFE01", "LIFE02"])]):
        world.host.run_once()
        world.aim.set_status("LIFE-1", "LIFE01", "Defective")
        world.host.run_once()

        moves = world.host.store.history("LIFE01")
        assert [(m.from_status, m.to_status, m.asserted) for m in moves] == [
            (UnitStatus.IN_STOCK, UnitStatus.IN_STOCK, True),
            (UnitStatus.IN_STOCK, UnitStatus.DEFECTIVE, True),  # no invented sale before it
        ]
        assert "LIFE-1|||LIFE01" not in world.live()


# -- #9: sold online, available in the POS again -----------------------------------------------


def test_a_reported_sale_the_pos_shows_available_again_is_a_discrepancy_until_restocked(
    tmp_path: Path,
) -> None:
    for world in _world(tmp_path, [_product("RET-1", ["RET01", "RET02"])]):
        unit = "RET-1|||RET01"
        world.host.run_once()
        woo = world.sandbox.channel_fakes()["woocommerce"]
        order = woo.create_order([(unit, 1)])
        world.host.run_once()
        record = world.host.store.get_outbox("woocommerce", order)
        assert record is not None and record.state == OutboxState.REPORTED
        world.aim.set_status("RET-1", "RET01", "Sold")  # AIM invoices the web order
        world.host.run_once()
        assert _quarantined(world.host, "discrepancy") == {}

        world.aim.set_status("RET-1", "RET01", "Available")  # returned at the counter
        for _ in range(3):
            world.host.run_once()

        # Never relisted on its own while the web sale stands, and a person sees why.
        assert unit not in world.live()
        assert world.host.store.get_unit("RET01").status == UnitStatus.SOLD  # type: ignore[union-attr]
        discrepancy = _quarantined(world.host, "discrepancy")
        assert set(discrepancy) == {unit}
        assert "available again" in discrepancy[unit]
        assert "serialsync serials restock RET01" in discrepancy[unit]
        status = world.cli("status", "--json")
        assert status.exit_code == 0, status.output
        shown = json.loads(status.stdout)["discrepancies"]
        assert [d["key"] for d in shown] == [unit]
        assert "available again" in shown[0]["explanation"]
        listing = world.cli("quarantine", "list", "--json")
        [row] = [
            r
            for r in json.loads(listing.stdout)["quarantine"]
            if r["kind"] == "discrepancy" and r["key"] == unit
        ]
        retry = world.cli("quarantine", "retry", str(row["id"]))
        assert retry.exit_code == 1 and "serials restock RET01" in retry.stdout
        text = world.cli("status")
        assert "discrepancies" in text.stdout and "RET-1|||RET01" in text.stdout

        refused = world.cli("serials", "restock", "RET02")  # in stock, nothing to restock
        assert refused.exit_code == 1
        done = world.cli("serials", "restock", "RET01")
        assert done.exit_code == 0, done.output
        world.host.run_once()

        assert unit in world.live()
        assert _quarantined(world.host, "discrepancy") == {}
        last = world.host.store.history("RET01")[-1]
        assert (last.from_status, last.to_status, last.asserted) == (
            UnitStatus.SOLD,
            UnitStatus.IN_STOCK,
            True,
        )
        assert last.source.value == "operator"
        h.check_listings(world.host.store, world.sandbox)


def test_the_pos_invoicing_the_web_order_settles_the_discrepancy(tmp_path: Path) -> None:
    for world in _world(tmp_path, [_product("INV-1", ["INV01"])]):
        world.host.run_once()
        shop = world.sandbox.channel_fakes()["shopify"]
        shop.create_order([("INV-1|||INV01", 1)], status=FinancialStatus.PAID)
        world.host.run_once()
        world.aim.set_status("INV-1", "INV01", "On Hold")
        world.host.run_once()
        world.aim.set_status("INV-1", "INV01", "Available")  # shown available again
        world.host.run_once()
        assert set(_quarantined(world.host, "discrepancy")) == {"INV-1|||INV01"}

        world.aim.set_status("INV-1", "INV01", "Sold")  # invoiced after all
        world.host.run_once()

        assert _quarantined(world.host, "discrepancy") == {}
        assert "INV-1|||INV01" not in world.live()

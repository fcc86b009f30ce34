"""What each line of a channel order is to serialsync: a unit to claim, a plain SKU, or neither.

One line never holds the rest of its order hostage. Each line is one of:

* **a unit**: ``SKU|||SERIAL`` naming a known unit exactly, quantity 1. Claimed, withdrawn
  everywhere and reported.
* **a unit sold more than once**: the same, quantity above 1. The unit is claimed and reported
  once; the excess is a conflict for a person (a one-of-a-kind unit cannot be sold twice).
* **a protected unit**: a line that is wrong (a malformed id, a serial of another SKU) but whose
  serial part names a known unit exactly. Selling that unit twice is the expensive mistake, so
  it is claimed and withdrawn first; the line is quarantined with its reason, not reported.
* **a problem**: a serialized-looking line that names no known unit. Quarantined with its reason.
* **a plain SKU**: text without ``|||``. Reported as a plain SKU line (the POS may refuse it;
  the sale is then reported without it).
* **left out**: no SKU at all (custom lines, tips, gift cards), a SKU no POS can carry, or
  quantity 0 (a line removed by an order edit; it claims nothing). Not reported; the sale's
  note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from serialsync.errors import IntegrationIdError
from serialsync.integration_id import SEPARATOR, parse
from serialsync.model import Order, OrderLine
from serialsync.store import Store, UnitRecord


@dataclass(frozen=True)
class SerializedLine:
    """An order line naming one known unit. ``reported`` is false for a protected unit."""

    line: OrderLine
    unit: UnitRecord
    reported: bool = True


@dataclass
class OrderLines:
    """An order's lines, sorted by what becomes of them."""

    #: Lines whose unit the order claims (reported or only protected).
    units: list[SerializedLine] = field(default_factory=list)
    #: Plain SKU lines, with their SKU.
    plain: list[tuple[OrderLine, str]] = field(default_factory=list)
    #: Why each line left out of the sale is left out (the sale's note).
    left_out: list[str] = field(default_factory=list)
    #: Lines that could not be processed, with their reason (quarantined).
    problems: list[str] = field(default_factory=list)
    #: Units sold with a quantity above 1: the excess, for a person.
    excess: list[str] = field(default_factory=list)

    @property
    def reported_units(self) -> list[SerializedLine]:
        """The unit lines the sale reports."""
        return [u for u in self.units if u.reported]


def _label(line: OrderLine) -> str:
    return f"line {line.line_id}" + (f" ({line.title})" if line.title else "")


def read_lines(store: Store, order: Order) -> OrderLines:
    """Sort ``order``'s lines by what becomes of them (see the module docstring)."""
    lines = OrderLines()
    for line in order.lines:
        raw = line.raw_sku
        if raw is None or not raw.strip():
            lines.left_out.append(f"{_label(line)} has no SKU: left out of the POS order")
            continue
        if line.quantity <= 0:
            # Removed from the order (an order edit leaves the line at 0): it sells nothing.
            lines.left_out.append(f"{_label(line)} has quantity 0: left out of the POS order")
            continue
        try:
            parsed = parse(raw)
        except IntegrationIdError as exc:
            if SEPARATOR not in raw:
                lines.left_out.append(
                    f"{_label(line)}: {raw!r} is not a SKU the POS can carry ({exc}): "
                    "left out of the POS order"
                )
                continue
            _protect_or_refuse(store, lines, line, f"line {line.line_id}: {exc}")
            continue
        if parsed.serial is None:
            lines.plain.append((line, parsed.sku))
            continue
        record = store.get_unit(parsed.serial)
        if record is None:
            lines.problems.append(f"line {line.line_id}: unknown serial {parsed.serial!r}")
            continue
        if record.unit.sku != parsed.sku:
            reason = (
                f"line {line.line_id}: serial {parsed.serial!r} belongs to SKU "
                f"{record.unit.sku!r}, not {parsed.sku!r}"
            )
            lines.units.append(SerializedLine(line, record, reported=False))
            lines.problems.append(reason + "; the unit is held until a person settles it")
            continue
        lines.units.append(SerializedLine(line, record))
        if line.quantity > 1:
            lines.excess.append(
                f"line {line.line_id}: serialized unit {raw!r} sold with quantity "
                f"{line.quantity} (a unit is one of a kind): the unit is sold and reported "
                f"once; the other {line.quantity - 1} is a conflict for a person to refund"
            )
    return lines


def _protect_or_refuse(store: Store, lines: OrderLines, line: OrderLine, reason: str) -> None:
    """A malformed unit line: claim the unit its serial part names exactly, if any."""
    assert line.raw_sku is not None
    serial = line.raw_sku.rpartition(SEPARATOR)[2]
    record = store.get_unit(serial) if serial else None
    if record is None:
        lines.problems.append(reason)
        return
    lines.units.append(SerializedLine(line, record, reported=False))
    lines.problems.append(
        f"{reason}; it names unit {record.unit.integration_id!r}, held until a person settles it"
    )

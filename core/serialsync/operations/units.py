"""What a unit carries beside its status: lot, warehouse, location, purchase date, warranty.

The POS gives what it has (AIM: the location of each serial); a person records the rest with
``serialsync serials import FILE.csv`` (:func:`import_details`). Both are kept apart (the POS's
data is rewritten by every pass, what a person records never is) and read together: the POS's
value where it has one, the recorded one otherwise (:func:`details_of`).

A file is imported whole or not at all: every row is checked first (a known serial, dates as
``YYYY-MM-DD``, only the columns below), and one bad row refuses the file with every problem
and its line number (:class:`ImportRefusedError`), nothing applied.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field, fields, replace
from datetime import date
from typing import Any

from serialsync.errors import SerialsyncError
from serialsync.lifecycle import UnitStatus
from serialsync.store import Store, UnitDetails, UnitRecord
from serialsync.store.records import DETAIL_FIELDS

#: The columns ``serials import`` reads: ``serial`` and any of the detail fields.
IMPORT_COLUMNS = ("serial", *DETAIL_FIELDS)
_DATES = ("purchase_date", "warranty_expiry")


class ImportRefusedError(SerialsyncError):
    """A file of unit details refused whole; ``problems`` lists each with its line number."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"the file was refused, nothing was applied ({len(problems)} problem(s)): "
            + "; ".join(problems)
        )


@dataclass(frozen=True)
class UnitView:
    """One unit as the registry shows it: the store's record, its details and their source
    (``"pos"`` or ``"import"`` per field)."""

    record: UnitRecord
    details: UnitDetails
    sources: dict[str, str] = field(default_factory=dict)


def details_of(record: UnitRecord, recorded: UnitDetails | None) -> UnitView:
    """The unit's details: the POS's value where it has one, else what a person recorded."""
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name in DETAIL_FIELDS:
        pos_value = getattr(record.unit, name)
        mine = getattr(recorded, name) if recorded is not None else None
        if pos_value not in (None, ""):
            values[name], sources[name] = pos_value, "pos"
        elif mine is not None:
            values[name], sources[name] = mine, "import"
    return UnitView(record=record, details=UnitDetails(**values), sources=sources)


def view_unit(store: Store, record: UnitRecord) -> UnitView:
    """One unit with its details (see :func:`details_of`)."""
    return details_of(record, store.unit_details().get(record.unit.serial))


def import_details(store: Store, text: str) -> int:
    """Record the details of a CSV file (see the module), all rows or none; returns how many
    units it touched. An empty cell leaves that field as it was. Call it inside a transaction.
    """
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    problems: list[str] = []
    unknown = [c for c in header if c not in IMPORT_COLUMNS]
    if unknown:
        problems.append(
            f"line 1: unknown column(s) {', '.join(map(repr, unknown))} "
            f"(the columns are: {', '.join(IMPORT_COLUMNS)})"
        )
    if "serial" not in header:
        problems.append("line 1: no column 'serial'")
    if problems:
        raise ImportRefusedError(problems)
    recorded = store.unit_details()
    planned: dict[str, UnitDetails] = {}
    seen_at: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if None in row:
            problems.append(f"line {line}: more cells than columns")
            continue
        serial = row.get("serial") or ""
        if not serial:
            problems.append(f"line {line}: no serial")
            continue
        if serial in seen_at:
            problems.append(
                f"line {line}: serial {serial!r} again (first on line {seen_at[serial]})"
            )
            continue
        seen_at[serial] = line
        if store.get_unit(serial) is None:
            problems.append(f"line {line}: no unit with serial {serial!r}")
            continue
        changes: dict[str, Any] = {}
        for name in DETAIL_FIELDS:
            cell = row.get(name)
            if cell is None or cell == "":
                continue
            if name in _DATES:
                try:
                    changes[name] = date.fromisoformat(cell)
                except ValueError:
                    problems.append(f"line {line}: {name} {cell!r} is not a date (YYYY-MM-DD)")
            else:
                changes[name] = cell
        details = replace(recorded.get(serial, UnitDetails()), **changes)
        if (
            details.purchase_date
            and details.warranty_expiry
            and details.warranty_expiry < details.purchase_date
        ):
            problems.append(
                f"line {line}: warranty_expiry {details.warranty_expiry} is before "
                f"purchase_date {details.purchase_date}"
            )
        planned[serial] = details
    if problems:
        raise ImportRefusedError(problems)
    for serial, details in planned.items():
        store.put_unit_details(serial, details)
    return len(planned)


@dataclass(frozen=True)
class UnitFilter:
    """Which units ``serials list`` shows; ``None`` is no filter."""

    status: UnitStatus | None = None
    lot: str | None = None
    warehouse: str | None = None
    warranty_before: date | None = None

    def keeps(self, view: UnitView, *, ignore_status: bool = False) -> bool:
        """Whether the unit passes every filter (the status one too unless ``ignore_status``)."""
        d = view.details
        if not ignore_status and self.status is not None and view.record.status != self.status:
            return False
        if self.lot is not None and d.lot != self.lot:
            return False
        if self.warehouse is not None and d.warehouse != self.warehouse:
            return False
        return self.warranty_before is None or (
            d.warranty_expiry is not None and d.warranty_expiry < self.warranty_before
        )


@dataclass(frozen=True)
class UnitPage:
    """One page of units, by SKU and serial, and how many units stand in each status among
    those the other filters keep (what a tab per status would show)."""

    units: list[UnitView]
    page: int
    page_size: int
    total: int
    counts: dict[str, int]

    @property
    def pages(self) -> int:
        """How many pages the filtered units fill (at least 1)."""
        return max(1, -(-self.total // self.page_size))


def list_units(store: Store, where: UnitFilter, *, page: int = 1, page_size: int = 50) -> UnitPage:
    """The units ``where`` keeps, page ``page`` (from 1) of ``page_size``, in a stable order
    (SKU, then serial), with the counts per status."""
    recorded = store.unit_details()
    views = [details_of(r, recorded.get(r.unit.serial)) for r in store.all_units()]
    counts = {s.value: 0 for s in UnitStatus}
    kept = []
    for view in views:
        if where.keeps(view, ignore_status=True):
            counts[view.record.status.value] += 1
            if where.keeps(view):
                kept.append(view)
    start = (page - 1) * page_size
    return UnitPage(
        units=kept[start : start + page_size],
        page=page,
        page_size=page_size,
        total=len(kept),
        counts=counts,
    )


def warranty(view: UnitView, today: date) -> str:
    """``"in warranty until …"``, ``"expired on …"`` or ``"no warranty recorded"``."""
    expiry = view.details.warranty_expiry
    if expiry is None:
        return "no warranty recorded"
    if expiry >= today:
        return f"in warranty until {expiry.isoformat()}"
    return f"expired on {expiry.isoformat()}"


def details_json(view: UnitView) -> dict[str, Any]:
    """The details as JSON values (dates as ``YYYY-MM-DD``), every field named."""
    out: dict[str, Any] = {}
    for f in fields(UnitDetails):
        value = getattr(view.details, f.name)
        out[f.name] = value.isoformat() if isinstance(value, date) else value
    return out

"""``serialsync serials list|find|show|warranty|import|mark|restock``: the units, by integration
id, what each carries and its life; recording what the POS does not carry; a person's moves of a
unit; and putting a unit the POS shows available again back on sale."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from serialsync.cli.render import receipt_text, table, when
from serialsync.cli.runtime import ConfigOption, JsonOption, Runtime, fail, runtime
from serialsync.lifecycle import UnitStatus
from serialsync.operations.acts import record_mark, record_restock
from serialsync.operations.discrepancies import RestockRefusedError, restock
from serialsync.operations.history import unit_story
from serialsync.operations.marking import ACTIONS, MarkRefusedError, actions_from, mark
from serialsync.operations.units import (
    ImportRefusedError,
    UnitFilter,
    UnitView,
    details_json,
    import_details,
    list_units,
    view_unit,
    warranty,
)
from serialsync.store import Store, UnitRecord

app = typer.Typer(
    help="The units: integration id, status, and where each is listed.", no_args_is_help=True
)

MIN_FIND = 3
# `show` looks for a unit's orders among this many outbox rows (newest included).
_OUTBOX_SCAN = 1_000_000

LimitOption = Annotated[int, typer.Option("--limit", min=1, help="At most this many units.")]


def _unit_row(store: Store, record: UnitRecord, view: UnitView | None = None) -> dict[str, Any]:
    unit = record.unit
    view = view or view_unit(store, record)
    return {
        "integration_id": unit.integration_id,
        "sku": unit.sku,
        "serial": unit.serial,
        "status": record.status.value,
        "deleted": record.deleted,
        **details_json(view),
        "reference": ref.ref if (ref := store.ref_of_unit(unit.serial)) else None,
        "listings": {
            listing.connector: listing.state.value
            for listing in store.listings_of_unit(unit.serial)
        },
    }


def _print_units(rt: Runtime, rows: list[dict[str, Any]], json_out: bool) -> None:
    if json_out:
        rt.print_json({"units": rows})
        return
    if not rows:
        rt.out.print("no units")
        return
    grid = table(None, "Integration ID", "status", "listed")
    for row in rows:
        status = row["status"] + (" (deleted in the POS)" if row["deleted"] else "")
        listed = ", ".join(f"{c}: {s}" for c, s in row["listings"].items()) or "-"
        grid.add_row(row["integration_id"], status, listed)
    rt.out.print(grid)
    rt.out.print(f"{len(rows)} unit(s)")


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"{option} {text!r} is not a date (YYYY-MM-DD)") from None


@app.command("list")
def list_command(
    ctx: typer.Context,
    config: ConfigOption = None,
    status: Annotated[
        UnitStatus | None, typer.Option("--status", help="Only units in this status.")
    ] = None,
    lot: Annotated[str | None, typer.Option("--lot", help="Only units of this lot.")] = None,
    warehouse: Annotated[
        str | None, typer.Option("--warehouse", help="Only units in this warehouse.")
    ] = None,
    warranty_before: Annotated[
        str | None,
        typer.Option("--warranty-before", help="Only units whose warranty ends before DATE."),
    ] = None,
    page: Annotated[int, typer.Option("--page", min=1, help="Which page, from 1.")] = 1,
    page_size: Annotated[
        int, typer.Option("--page-size", "--limit", min=1, help="Units per page.")
    ] = 1000,
    json_out: JsonOption = False,
) -> None:
    """The units, by SKU and serial, a page at a time, with the count in each status."""
    where = UnitFilter(
        status=status,
        lot=lot,
        warehouse=warehouse,
        warranty_before=_day(warranty_before, "--warranty-before"),
    )
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        found = list_units(store, where, page=page, page_size=page_size)
        rows = [_unit_row(store, v.record, v) for v in found.units]
    if json_out:
        rt.print_json(
            {
                "units": rows,
                "counts": found.counts,
                "page": found.page,
                "pages": found.pages,
                "page_size": found.page_size,
                "total": found.total,
            }
        )
        return
    tabs = "  ".join(
        f"[{name} {n}]" if name == (status.value if status else None) else f"{name} {n}"
        for name, n in found.counts.items()
    )
    rt.out.print(tabs, markup=False)
    _print_units(rt, rows, False)
    if found.pages > 1:
        rt.out.print(f"page {found.page} of {found.pages} ({found.total} unit(s))")


@app.command("find")
def find_units(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="At least 3 characters of a serial or SKU.")],
    config: ConfigOption = None,
    limit: LimitOption = 100,
    json_out: JsonOption = False,
) -> None:
    """Units whose serial or SKU contains TEXT (case-insensitive)."""
    if len(text.strip()) < MIN_FIND:
        raise fail(f"`serials find` needs at least {MIN_FIND} characters, got {text.strip()!r}")
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        rows = [_unit_row(store, r) for r in store.find_units(text.strip(), limit=limit)]
    _print_units(rt, rows, json_out)


@app.command("show")
def show_unit(
    ctx: typer.Context,
    serial: Annotated[str, typer.Argument(help="The unit's serial.")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """One unit's whole history: POS data, lifecycle moves, listings, and orders.

    Exit code 1 when no unit has this serial.
    """
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        record = store.get_unit(serial)
        if record is None:
            raise fail(f"no unit with serial {serial!r} (try `serialsync serials find`)", 1)
        data = unit_story(store, record)
    if json_out:
        rt.print_json(data)
        return
    _print_history(rt, data)


@app.command("warranty")
def warranty_command(
    ctx: typer.Context,
    serial: Annotated[str, typer.Argument(help="The unit's serial.")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Whether a unit is in warranty: "in warranty until …", "expired on …" or "no warranty
    recorded". Exit code 1 when no unit has this serial."""
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        record = store.get_unit(serial)
        if record is None:
            raise fail(f"no unit with serial {serial!r} (try `serialsync serials find`)", 1)
        view = view_unit(store, record)
    answer = warranty(view, datetime.now(UTC).date())
    if json_out:
        rt.print_json({"serial": serial, **details_json(view), "warranty": answer})
        return
    rt.out.print(f"{record.unit.integration_id}: {answer}")


@app.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A CSV file: serial and the columns to record.")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Record lot, warehouse, location, purchase date and warranty expiry from a CSV file.

    Columns: serial, lot, warehouse, location, purchase_date, warranty_expiry (dates as
    YYYY-MM-DD; an empty cell leaves the field as it was). Every row is checked first: one bad
    row refuses the whole file, with each problem's line number, and nothing is applied
    (exit code 1).
    """
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from None
    rt = runtime(ctx)
    with rt.operator_host(rt.settings(config)) as host:
        try:
            with host.store.transaction():
                count = import_details(host.store, text)
        except ImportRefusedError as exc:
            if json_out:
                rt.print_json({"imported": 0, "problems": exc.problems})
                raise typer.Exit(1) from None
            raise fail(str(exc), 1) from None
    if json_out:
        rt.print_json({"imported": count, "problems": []})
        return
    rt.out.print(f"recorded the details of {count} unit(s) from {file}")


@app.command("mark")
def mark_command(
    ctx: typer.Context,
    serial: Annotated[str, typer.Argument(help="The unit's serial.")],
    action: Annotated[
        str, typer.Argument(help="sold | reserved | returned | defective | in-stock")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why; kept in the unit's history.")],
    by: Annotated[str, typer.Option("--by", help="Who acts (default: an operator).")] = (
        "an operator"
    ),
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Move a unit through its lifecycle, as the table allows (see `serials show`).

    From in_stock: sold, reserved. From reserved: sold, in-stock. From sold: returned,
    defective. From returned: in-stock, defective. From defective: in-stock. Anything else is
    refused (exit code 1) with the actions the unit allows. A mark other than in-stock holds the
    unit in that status whatever the POS says, until a person returns it to stock. The next
    pass withdraws a unit not in stock from every channel and lists a unit back in stock.
    """
    if action not in ACTIONS:
        raise fail(f"no action {action!r}; the actions are: {', '.join(ACTIONS)}")
    rt = runtime(ctx)
    with rt.operator_host(rt.settings(config)) as host:
        try:
            with host.store.transaction():
                done = mark(host.store, serial, action, reason=reason, by=by)
                record_mark(host.store, done, reason=reason, by=by)
        except MarkRefusedError as exc:
            raise fail(str(exc), 1) from None
    data = {
        "integration_id": f"{done.sku}|||{done.serial}",
        "from_status": done.from_status.value,
        "to_status": done.to_status.value,
        "held": done.held,
        "next_actions": actions_from(done.to_status),
    }
    if json_out:
        rt.print_json({"marked": data})
        return
    effect = (
        "held against the POS until returned to stock; the next pass withdraws it everywhere"
        if done.held
        else "the next pass lists it on every channel"
    )
    rt.out.print(
        f"{data['integration_id']}: {done.from_status.value} -> {done.to_status.value}; {effect}"
    )


@app.command("restock")
def restock_unit(
    ctx: typer.Context,
    serial: Annotated[str, typer.Argument(help="The unit's serial.")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Sell a unit again that was sold online and that the POS shows available again.

    Only for a unit with a discrepancy (see `serialsync status`): check the unit first (was it
    returned at the counter, or is the web order still to be invoiced?). The next pass lists it
    on every channel. Exit code 1 when the unit is unknown or has no discrepancy.
    """
    rt = runtime(ctx)
    with rt.operator_host(rt.settings(config)) as host:
        try:
            with host.store.transaction():
                done = restock(host.store, serial, who="an operator (serials restock)")
                record_restock(host.store, done, reason="serials restock", by="an operator")
        except RestockRefusedError as exc:
            raise fail(str(exc), 1) from None
    data = {
        "integration_id": f"{done.sku}|||{done.serial}",
        "from_status": done.from_status.value,
        "released_order": done.released_order,
    }
    if json_out:
        rt.print_json({"restocked": data})
        return
    released = (
        f"; web order {done.released_order} no longer holds it" if done.released_order else ""
    )
    rt.out.print(
        f"{data['integration_id']}: {done.from_status.value} -> in_stock{released}; "
        "the next pass lists it on every channel"
    )


def _print_history(rt: Runtime, data: dict[str, Any]) -> None:
    out = rt.out
    status = data["status"] + (" (deleted in the POS)" if data["deleted"] else "")
    out.print(Text.assemble((data["integration_id"], "bold"), f"  status: {status}"))
    hold = data["hold"]
    if hold:
        disagreement = (
            f"; the POS says {hold['pos_says']} (the hold stands)" if hold["pos_says"] else ""
        )
        out.print(
            f"held {hold['status']} by {hold['by']} since {when(hold['since'])}: "
            f"{hold['reason']}{disagreement}"
        )
    out.print(f"actions: {', '.join(data['actions']) or 'none'}")
    if data["reference"]:
        out.print(f"serial reference: {data['reference']}")
    product = data["product"]
    if product:
        out.print(
            f"product: {product['title']} ({data['sku']}), {product['price']}, "
            f"from POS {product['pos']}"
        )
    details = table("unit", "field", "value", "from")
    for key, value in data["details"].items():
        if value is not None:
            details.add_row(key, str(value), data["details_source"].get(key, "-"))
    details.add_row("warranty", data["warranty"], "")
    out.print(details)
    pos = {k: v for k, v in data["pos"].items() if v not in (None, {}, [], ())}
    pos_grid = table("POS data", "field", "value")
    for key, value in pos.items():
        pos_grid.add_row(key, str(value))
    out.print(pos_grid)
    moves = table("lifecycle", "when", "from", "to", "why", "source")
    for m in data["moves"]:
        source = m["source"] + (f" {m['source_ref']}" if m["source_ref"] else "")
        if m["basis"] != "table":
            source += f" ({m['basis']})"
        moves.add_row(when(m["at"]), m["from"], m["to"], m["reason"], source)
    out.print(moves if data["moves"] else "lifecycle: no moves yet")
    listings = table("channels", "channel", "state", "remote ids", "last error", "updated")
    for li in data["listings"]:
        remote = li["remote"] or {}
        ids = ", ".join(f"{k}={v}" for k, v in remote.items() if v) or "-"
        listings.add_row(
            li["channel"], li["state"], ids, li["last_error"] or "-", when(li["updated_at"])
        )
    out.print(listings if data["listings"] else "channels: not listed anywhere")
    if data["claim"]:
        claim = data["claim"]
        out.print(f"held by order {claim['order_id']} on {claim['channel']}")
    orders = table("orders", "channel", "order", "state", "payment", "receipt / note")
    for o in data["orders"]:
        detail = receipt_text(o["receipt"]) or o["note"] or o["last_error"] or "-"
        orders.add_row(
            o["channel"],
            f"{o['order_number']} ({o['order_id']})",
            o["state"],
            o["financial_status"],
            detail,
        )
    out.print(orders if data["orders"] else "orders: none")

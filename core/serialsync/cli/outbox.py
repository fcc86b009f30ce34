"""``serialsync sales …`` and ``serialsync quarantine …``: what needs a person, and acting on it.

Listing reads the store without its lock; ``retry`` and ``drop`` write without the runner lock
too, so they work while ``serialsync run`` runs: each is one transaction that waits its turn
with the runner's writes and reads again what it depends on (see ``Runtime.operator_store``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from serialsync.cli.render import receipt, receipt_text, table, when
from serialsync.cli.runtime import ConfigOption, JsonOption, fail, runtime
from serialsync.engine.inventory import POS_ITEM
from serialsync.integration_id import IntegrationId
from serialsync.operations import acts
from serialsync.operations.acts import ActRefusedError
from serialsync.operations.discrepancies import DISCREPANCY
from serialsync.operations.marking import HOLD_DISAGREEMENT
from serialsync.store import OutboxRecord, OutboxState, QuarantineRecord

sales_app = typer.Typer(
    help="The sale outbox: channel orders on their way to the POS.", no_args_is_help=True
)
quarantine_app = typer.Typer(
    help="Records that could not be processed, with the reason.", no_args_is_help=True
)

_LIST_LIMIT = 100_000

ReasonOption = Annotated[
    str, typer.Option("--reason", help="Why; kept in the operator log with the act.")
]
ByOption = Annotated[str, typer.Option("--by", help="Who acts (default: an operator).")]
#: What the operator log says when the command line gives no reason.
NO_REASON = "from the command line"
ANYONE = "an operator"


class QuarantineKind(StrEnum):
    """The kinds of quarantined record (``quarantine list --kind``)."""

    POS_ITEM = POS_ITEM  # a POS item the plugin could not read
    UNIT = "unit"  # a POS unit refused (integration id, serial pattern, duplicate serial)
    ORDER = "order"  # a channel order that could not be read or mapped
    ORDER_LINE = "order_line"  # one line of an order
    CONFLICT = "conflict"  # a unit sold on two channels
    DISCREPANCY = DISCREPANCY  # sold online, available in the POS again
    HOLD = HOLD_DISAGREEMENT  # an operator's hold the POS disagrees with


def _sale_row(record: OutboxRecord) -> dict[str, Any]:
    sale = record.sale
    return {
        "channel": record.channel,
        "order_id": record.order_id,
        "order_number": record.order_number,
        "state": record.state.value,
        "financial_status": record.financial_status,
        "integration_ids": [str(IntegrationId(line.sku, line.serial)) for line in sale.lines],
        "attempts": record.attempts,
        "last_error": record.last_error,
        "note": record.note,
        "receipt": receipt(record.receipt),
        "next_attempt_at": record.next_attempt_at,
        "created_at": record.created_at,
        "reported_at": record.reported_at,
    }


@sales_app.command("list")
def list_sales(
    ctx: typer.Context,
    state: Annotated[
        OutboxState | None, typer.Option("--state", help="Only sales in this state.")
    ] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Channel orders in the outbox, oldest first."""
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        states = (state,) if state is not None else ()
        rows = [_sale_row(r) for r in store.outbox(states=states, limit=_LIST_LIMIT)]
    if json_out:
        rt.print_json({"sales": rows})
        return
    if not rows:
        rt.out.print("no sales" + (f" in state {state.value}" if state else ""))
        return
    grid = table(
        None, "channel", "order", "state", "payment", "units", "attempts", "receipt / error / note"
    )
    for r in rows:
        # The note too, beside the receipt or the error: what was left out of the POS order.
        detail = "\n".join(
            part for part in (receipt_text(r["receipt"]) or r["last_error"], r["note"]) if part
        )
        grid.add_row(
            r["channel"],
            f"{r['order_number']} ({r['order_id']})",
            r["state"],
            r["financial_status"],
            "\n".join(r["integration_ids"]),
            str(r["attempts"]),
            detail or "-",
        )
    rt.out.print(grid)


@sales_app.command("retry")
def retry_sale(
    ctx: typer.Context,
    channel: Annotated[str, typer.Argument(help="The channel connector's name.")],
    order_id: Annotated[str, typer.Argument(help="The order's id on that channel.")],
    reason: ReasonOption = NO_REASON,
    by: ByOption = ANYONE,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Put a failed (or backing-off) sale back, to be reported in the next pass (recorded in
    the operator log). Exit code 1 when there is no failed or pending sale with this key.
    """
    rt = runtime(ctx)
    with rt.operator_host(rt.settings(config)) as host:
        try:
            acts.retry_sale(host, channel, order_id, reason=reason, by=by)
            refusal = None
        except ActRefusedError as exc:
            refusal = str(exc)
    if json_out:
        rt.print_json({"channel": channel, "order_id": order_id, "retry": refusal is None})
    elif refusal is None:
        rt.out.print(f"sale {channel}/{order_id} will be reported in the next pass")
    if refusal is not None:
        raise fail(refusal, 1)


def _quarantine_row(record: QuarantineRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "kind": record.kind,
        "key": record.key,
        "connector": record.connector,
        "reason": record.reason,
        "count": record.count,
        "first_seen": record.first_seen,
        "last_seen": record.last_seen,
    }


@quarantine_app.command("list")
def list_quarantine(
    ctx: typer.Context,
    kind: Annotated[
        QuarantineKind | None,
        typer.Option("--kind", help="Only records of this kind.", case_sensitive=False),
    ] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Quarantined records, oldest first, with the reason each was refused."""
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        rows = [
            _quarantine_row(r)
            for r in store.quarantined(kind=kind.value if kind is not None else None)
        ]
    if json_out:
        rt.print_json({"quarantine": rows})
        return
    if not rows:
        rt.out.print("nothing in quarantine")
        return
    grid = table(None, "id", "kind", "key", "connector", "reason", "seen", "last seen")
    for r in rows:
        grid.add_row(
            str(r["id"]),
            r["kind"],
            # A key may hold the very characters it was refused for: escaped, never emitted.
            r["key"] if r["key"].isprintable() else ascii(r["key"]),
            r["connector"],
            r["reason"],
            f"{r['count']}x",
            when(r["last_seen"]),
        )
    rt.out.print(grid)


RecordId = Annotated[int, typer.Argument(help="The record's id (see `quarantine list`).")]


@quarantine_app.command("retry")
def retry_quarantined(
    ctx: typer.Context,
    record_id: RecordId,
    reason: ReasonOption = NO_REASON,
    by: ByOption = ANYONE,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Read a quarantined order again from its channel and process it, once its cause is fixed.

    A channel whose plugin cannot read one order by id (no ``fetch_order``) processes the
    order as it was stored, or says so when the order could not be read at all. Exit code 1
    when it is still quarantined, unknown, not an order, or could not be read again.
    """
    rt = runtime(ctx)
    with rt.operator_host(rt.settings(config)) as host:
        try:
            outcome = acts.retry_quarantined(host, record_id, reason=reason, by=by)
        except ActRefusedError:
            outcome = "not found"
    if json_out:
        rt.print_json({"id": record_id, "outcome": outcome})
    else:
        rt.out.print(f"quarantined record {record_id}: {outcome}")
    raise typer.Exit(0 if outcome == "processed" else 1)


@quarantine_app.command("drop")
def drop_quarantined(
    ctx: typer.Context,
    record_id: RecordId,
    reason: ReasonOption = NO_REASON,
    by: ByOption = ANYONE,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Forget a quarantined record (recorded in the operator log). Exit code 1 when there is
    none with this id."""
    rt = runtime(ctx)
    with rt.operator_host(rt.settings(config)) as host:
        try:
            acts.drop_quarantined(host, record_id, reason=reason, by=by)
            dropped = True
        except ActRefusedError:
            dropped = False
    if json_out:
        rt.print_json({"id": record_id, "dropped": dropped})
    elif dropped:
        rt.out.print(f"quarantined record {record_id} dropped")
    if not dropped:
        raise fail(f"no quarantined record {record_id}", 1)

"""``serialsync refs …``: serial references, in groups and batches: mint, list, find, delete,
export, print labels, and assign one to a unit (see :mod:`serialsync.registry`)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from serialsync.cli.render import table, when
from serialsync.cli.runtime import ConfigOption, JsonOption, Runtime, fail, runtime
from serialsync.operations.references import (
    LabelsUnavailableError,
    export_csv,
    labels_pdf,
)
from serialsync.registry import (
    BATCH_CAP,
    DEFAULT_ALPHABET,
    DEFAULT_LENGTH,
    DEFAULT_LIMIT,
    RefusedError,
    assign,
    create_group,
    delete,
    find,
    mint_batch,
    mint_one,
)
from serialsync.registry.references import get_group
from serialsync.store import Reference

app = typer.Typer(
    help="Serial references: unique codes minted in groups and batches.", no_args_is_help=True
)
group_app = typer.Typer(help="Groups of references.", no_args_is_help=True)
batch_app = typer.Typer(help="Batches of a batch group.", no_args_is_help=True)
app.add_typer(group_app, name="group")
app.add_typer(batch_app, name="batch")

PAGE_SIZE = 100


class Kind(StrEnum):
    """How a group mints."""

    CONTINUOUS = "continuous"
    BATCH = "batch"


class Symbology(StrEnum):
    """What each label carries."""

    QR = "qr"
    CODE128 = "code128"


class Format(StrEnum):
    """What `refs export` writes."""

    CSV = "csv"


GroupArg = Annotated[str, typer.Argument(help="The group's name.")]
BatchOption = Annotated[str | None, typer.Option("--batch", help="Only this batch.")]


def _write(rt: Runtime, config: Path | None, action: Any) -> Any:
    with rt.host(rt.settings(config)) as host:
        try:
            with host.store.transaction():
                return action(host.store)
        except RefusedError as exc:
            raise fail(str(exc), 1) from None


def _ref_row(r: Reference) -> dict[str, Any]:
    return {
        "reference": r.ref,
        "group": r.group,
        "batch": r.batch,
        "serial": r.serial,
        "created_at": r.created_at,
    }


def _print_refs(rt: Runtime, refs: list[Reference], json_out: bool, **extra: Any) -> None:
    if json_out:
        rt.print_json({"references": [_ref_row(r) for r in refs], **extra})
        return
    if not refs:
        rt.out.print("no references")
        return
    grid = table(None, "reference", "group", "batch", "unit", "minted")
    for r in refs:
        grid.add_row(r.ref, r.group, r.batch or "-", r.serial or "-", when(r.created_at))
    rt.out.print(grid)


@group_app.command("create")
def group_create(
    ctx: typer.Context,
    name: GroupArg,
    kind: Annotated[Kind, typer.Option("--type", help="continuous or batch.")],
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="At most this many live references.")
    ] = DEFAULT_LIMIT,
    alphabet: Annotated[
        str, typer.Option("--alphabet", help="The characters references are drawn from.")
    ] = DEFAULT_ALPHABET,
    length: Annotated[int, typer.Option("--length", help="Characters per reference.")] = (
        DEFAULT_LENGTH
    ),
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create a group of references (at most 1,000 by default)."""
    rt = runtime(ctx)
    group = _write(
        rt,
        config,
        lambda s: create_group(s, name, kind.value, limit=limit, alphabet=alphabet, length=length),
    )
    if json_out:
        rt.print_json({"group": {"name": group.name, "type": group.kind, "limit": group.limit}})
        return
    rt.out.print(f"group {group.name}: {group.kind}, at most {group.limit} references")


@group_app.command("list")
def group_list(
    ctx: typer.Context, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """Every group, with how many references it holds."""
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        rows: list[dict[str, Any]] = [
            {
                "name": g.name,
                "type": g.kind,
                "limit": g.limit,
                "held": store.count_refs(g.name),
                "alphabet": g.alphabet,
                "length": g.length,
            }
            for g in store.ref_groups()
        ]
    if json_out:
        rt.print_json({"groups": rows})
        return
    grid = table(None, "group", "type", "held", "limit")
    for row in rows:
        grid.add_row(row["name"], row["type"], str(row["held"]), str(row["limit"]))
    rt.out.print(grid if rows else "no groups")


@app.command("create")
def ref_create(
    ctx: typer.Context, group: GroupArg, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """Mint one reference in a continuous group."""
    rt = runtime(ctx)
    code = _write(rt, config, lambda s: mint_one(s, group))
    if json_out:
        rt.print_json({"reference": code, "group": group})
        return
    rt.out.print(code)


@batch_app.command("create")
def batch_create(
    ctx: typer.Context,
    group: GroupArg,
    count: Annotated[int, typer.Option("--count", help=f"How many (1 to {BATCH_CAP}).")],
    name: Annotated[
        str | None, typer.Option("--name", help="The batch's name (default: date and time).")
    ] = None,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Mint a batch of up to 500 references in a batch group."""
    rt = runtime(ctx)
    batch, codes = _write(rt, config, lambda s: mint_batch(s, group, count, name=name))
    if json_out:
        rt.print_json({"group": group, "batch": batch, "references": codes})
        return
    rt.out.print(f"batch {batch!r} of group {group}: {len(codes)} reference(s)")


@batch_app.command("list")
def batch_list(
    ctx: typer.Context, group: GroupArg, config: ConfigOption = None, json_out: JsonOption = False
) -> None:
    """A batch group's batches, oldest first."""
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        batches = store.ref_batches(group)
    rows: list[dict[str, Any]] = [
        {"name": n, "created_at": at, "references": k} for n, at, k in batches
    ]
    if json_out:
        rt.print_json({"group": group, "batches": rows})
        return
    grid = table(None, "batch", "minted", "references")
    for row in rows:
        grid.add_row(row["name"], when(row["created_at"]), str(row["references"]))
    rt.out.print(grid if rows else "no batches")


@app.command("list")
def ref_list(
    ctx: typer.Context,
    group: GroupArg,
    batch: BatchOption = None,
    page: Annotated[int, typer.Option("--page", min=1, help="Which page, from 1.")] = 1,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """A group's references (of one batch), in minting order, 100 a page."""
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        refs = store.refs(group=group, batch=batch, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    _print_refs(rt, refs, json_out, page=page)


@app.command("find")
def ref_find(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="At least 3 characters of a reference.")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """References containing TEXT (case-insensitive); at least 3 characters."""
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        try:
            refs = find(store, text)
        except RefusedError as exc:
            raise fail(str(exc)) from None
    _print_refs(rt, refs, json_out)


@app.command("delete")
def ref_delete(
    ctx: typer.Context,
    refs: Annotated[list[str], typer.Argument(help="The references to delete.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Delete references (they are never minted again), after confirmation."""
    rt = runtime(ctx)
    if not yes and not typer.confirm(
        f"delete {len(refs)} reference(s) ({', '.join(refs[:5])}{'…' if len(refs) > 5 else ''})?"
    ):
        rt.out.print("nothing deleted")
        raise typer.Exit(1)
    gone = _write(rt, config, lambda s: delete(s, refs))
    if json_out:
        rt.print_json({"deleted": gone})
        return
    rt.out.print(f"deleted {len(gone)} reference(s)")


@app.command("export")
def ref_export(
    ctx: typer.Context,
    group: GroupArg,
    batch: BatchOption = None,
    fmt: Annotated[Format, typer.Option("--format", help="csv.")] = Format.CSV,
    out: Annotated[Path | None, typer.Option("--out", help="A file (default: stdout).")] = None,
    config: ConfigOption = None,
) -> None:
    """A group's references (of one batch) as CSV."""
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        try:
            get_group(store, group)
        except RefusedError as exc:
            raise fail(str(exc), 1) from None
        text = export_csv(store.refs(group=group, batch=batch))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")


@app.command("labels")
def ref_labels(
    ctx: typer.Context,
    group: GroupArg,
    out: Annotated[Path, typer.Option("--out", help="The PDF to write.")],
    batch: BatchOption = None,
    code: Annotated[Symbology, typer.Option("--code", help="qr or code128.")] = Symbology.QR,
    config: ConfigOption = None,
) -> None:
    """Printable labels: a PDF with a QR code (or Code 128 barcode) per reference."""
    rt = runtime(ctx)
    with rt.read_store(rt.settings(config)) as store:
        refs = store.refs(group=group, batch=batch)
    if not refs:
        raise fail(f"no references in group {group!r}{f' batch {batch!r}' if batch else ''}", 1)
    try:
        out.write_bytes(labels_pdf(refs, code.value))
    except LabelsUnavailableError as exc:
        raise fail(str(exc)) from None
    rt.out.print(f"{len(refs)} label(s) written to {out}")


@app.command("assign")
def ref_assign(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="The reference.")],
    serial: Annotated[str, typer.Argument(help="The unit's serial.")],
    config: ConfigOption = None,
    json_out: JsonOption = False,
) -> None:
    """Link a reference to a unit; the next pass shows it on every channel with the unit."""
    rt = runtime(ctx)
    done = _write(rt, config, lambda s: assign(s, ref, serial))
    if json_out:
        rt.print_json({"assigned": _ref_row(done)})
        return
    rt.out.print(f"reference {done.ref} is on unit {serial}; the next pass publishes it")

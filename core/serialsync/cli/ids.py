"""``serialsync id compose|parse``: the integration id codec at the shell."""

from __future__ import annotations

from typing import Annotated

import typer

from serialsync.cli.runtime import JsonOption, fail, runtime
from serialsync.errors import IntegrationIdError
from serialsync.integration_id import compose, parse

app = typer.Typer(help="The integration id SKU|||SERIAL: compose and parse.", no_args_is_help=True)


@app.command("compose")
def compose_id(
    ctx: typer.Context,
    sku: Annotated[str, typer.Argument(help="The product's SKU.")],
    serial: Annotated[str, typer.Argument(help="The unit's serial.")],
    json_out: JsonOption = False,
) -> None:
    """Print the integration id of SKU and SERIAL (exit 2, naming the rule, if they break one)."""
    try:
        text = compose(sku, serial)
    except IntegrationIdError as exc:
        raise fail(f"{exc} (rule: {exc.rule})") from None
    if json_out:
        runtime(ctx).print_json({"integration_id": text, "sku": sku, "serial": serial})
    else:
        typer.echo(text)


@app.command("parse")
def parse_id(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="A channel's variant SKU.")],
    json_out: JsonOption = False,
) -> None:
    """Split TEXT into SKU and serial; text without '|||' is a plain SKU (no serial)."""
    try:
        parsed = parse(text)
    except IntegrationIdError as exc:
        raise fail(f"{exc} (rule: {exc.rule})") from None
    if json_out:
        runtime(ctx).print_json(
            {"sku": parsed.sku, "serial": parsed.serial, "serialized": parsed.is_serialized}
        )
        return
    typer.echo(f"sku:    {parsed.sku}")
    typer.echo(f"serial: {parsed.serial if parsed.serial is not None else '(none: a plain SKU)'}")

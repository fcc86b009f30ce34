"""``serialsync new-plugin NAME``: scaffold a third-party plugin package that passes its tests."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from serialsync.cli.runtime import fail, runtime
from serialsync.scaffold import ScaffoldError, new_plugin
from serialsync.scaffold.generate import next_steps


def new_plugin_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The connector type name, e.g. 'reverb'.")],
    role: Annotated[
        str, typer.Option("--role", help="'channel' (a web shop) or 'pos' (a point of sale).")
    ] = "channel",
    directory: Annotated[
        Path, typer.Option("--dir", help="Where to create serialsync-NAME/.", file_okay=False)
    ] = Path("."),
) -> None:
    """Write a plugin package: settings, client, hooks, a fake, and the conformance tests."""
    rt = runtime(ctx)
    if role not in ("channel", "pos"):
        raise fail(f"--role must be 'channel' or 'pos', not {role!r}")
    directory.mkdir(parents=True, exist_ok=True)
    try:
        package = new_plugin(name, directory, role="pos" if role == "pos" else "channel")
    except ScaffoldError as exc:
        raise fail(str(exc)) from None
    rt.out.print(f"wrote {package}\n{next_steps(package)}", soft_wrap=True)

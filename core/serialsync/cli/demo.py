"""``serialsync demo`` and ``serialsync sandbox serve``: thin wrappers over the sandbox.

The sandbox is imported inside the commands, so the rest of the CLI works without it.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from serialsync.cli.render import table
from serialsync.cli.runtime import fail, runtime
from serialsync.errors import ConfigurationError
from serialsync.settings import load_settings
from serialsync.testing import Faults

sandbox_app = typer.Typer(
    help="Every platform's fake, served over HTTP on loopback.", no_args_is_help=True
)

#: ``--faults`` names → :class:`Faults` fields.
FAULT_NAMES = {
    "429": "rate_429",
    "5xx": "rate_5xx",
    "timeout": "rate_timeout",
    "drop": "rate_drop",
    "malformed": "rate_malformed",
    "latency": "latency",
}


def parse_faults(spec: str) -> Faults:
    """``"429=0.1,5xx=0.05,latency=0.05"`` → :class:`Faults`; a bad spec is a ConfigurationError."""
    values: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, number = item.partition("=")
        field = FAULT_NAMES.get(name.strip())
        if not sep or field is None:
            known = ", ".join(FAULT_NAMES)
            raise ConfigurationError(
                f"--faults: {item!r} is not NAME=NUMBER with NAME one of {known}"
            )
        try:
            values[field] = float(number)
        except ValueError:
            raise ConfigurationError(f"--faults: {item!r}: {number!r} is not a number") from None
    try:
        return Faults(**values)
    except ValidationError as exc:
        problems = "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in exc.errors(include_url=False))
        raise ConfigurationError(f"--faults: {problems}") from None


def demo_command(
    ctx: typer.Context,
    folder: Annotated[
        Path,
        typer.Option(
            "--dir", help="Where the demo writes its configuration and store.", file_okay=False
        ),
    ] = Path("serialsync-demo"),
) -> None:
    """The first command to try: a whole sync against the sandbox, no account needed."""
    rt = runtime(ctx)
    from serialsync.sandbox import run_demo  # configures logging itself (to a file)

    raise typer.Exit(run_demo(workdir=folder, console=rt.out))


def serve_command(
    ctx: typer.Context,
    faults: Annotated[
        str | None,
        typer.Option(
            "--faults",
            help="Fault rates for every fake, e.g. "
            "429=0.1,5xx=0.05,timeout=0.02,drop=0.02,malformed=0.01,latency=0.05",
        ),
    ] = None,
    write_config: Annotated[
        Path | None,
        typer.Option(
            "--write-config", help="Also write the configuration to this file.", dir_okay=False
        ),
    ] = None,
    store: Annotated[
        Path, typer.Option("--store", help="The state store the printed configuration names.")
    ] = Path("serialsync-sandbox.db"),
    seed: Annotated[int, typer.Option("--seed", help="Seed of the sample catalogue.")] = 7,
    again: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A configuration the sandbox wrote before (the demo's): serve its fakes again, "
            "on its ports.",
            dir_okay=False,
            exists=True,
        ),
    ] = None,
) -> None:
    """Keep the fakes running and print a configuration to use with `serialsync run`."""
    rt = runtime(ctx)
    rt.setup_logging()
    parsed = parse_faults(faults) if faults else None
    from serialsync.sandbox import Sandbox
    from serialsync.sandbox.sandbox import is_sandbox_config, sandbox_ports

    per_fake = {"*": parsed} if parsed is not None else None  # "*": every fake
    stop = {"now": False}

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop["now"] = True

    previous: dict[int, Any] = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        ports: dict[str, int] = {}
        if again is not None:
            if not is_sandbox_config(again):
                raise fail(f"{again} was not written by the sandbox: nothing to serve again")
            ports = sandbox_ports(again)
            store = Path(load_settings(again).store.path)
        types = list(ports) if ports else None
        with Sandbox(faults=per_fake, seed=seed, types=types, ports=ports) as sandbox:
            config = sandbox.config_toml(store.absolute())
            if write_config is not None:
                write_config.write_text(config, encoding="utf-8")
            grid = table("sandbox endpoints", "connector", "base URL")
            for name, url in sandbox.endpoints().items():
                grid.add_row(name, url)
            rt.out.print(grid)
            rt.out.print("# configuration for `serialsync run --config FILE`:")
            rt.out.print(config, markup=False, highlight=False, soft_wrap=True)  # copy-pasteable
            if write_config is not None:
                rt.out.print(f"(written to {write_config})")
            rt.out.print("serving; Ctrl-C or SIGTERM stops the sandbox")
            while not stop["now"]:
                time.sleep(0.2)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    rt.out.print("sandbox stopped")


sandbox_app.command("serve")(serve_command)

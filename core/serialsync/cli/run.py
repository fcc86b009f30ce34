"""``serialsync run``: passes on an interval until SIGTERM / Ctrl-C, or one pass (``--once``).

Stopping is cooperative. The signal handler only sets a flag; the engine calls
``checkpoint(step)`` at every committed boundary of a pass, and there the flag turns into
:class:`StopRequested`, which unwinds the pass with nothing half-done (the host closes the
pass's run record as interrupted). Between passes the
runner sleeps in short slices, so a signal ends the wait at once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from types import FrameType
from typing import Annotated, Any

import structlog
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from serialsync.cli.render import summary_errors, summary_table
from serialsync.cli.runtime import ConfigOption, JsonOption, Runtime, runtime
from serialsync.engine.summary import PassSummary
from serialsync.host import Host

MIN_INTERVAL = 5.0
_SLICE = 0.2  # seconds: how long a signal may wait to be noticed between passes

_log = structlog.get_logger("serialsync.cli")

_TASK_LABELS = {
    "fetch_inventory": "reading inventory",
    "publish": "publishing",
    "fetch_orders": "reading orders",
    "report_sale": "reporting sales",
}


class StopRequested(BaseException):
    """Raised at a checkpoint once a stop was asked for.

    A ``BaseException``, so that the engine's "one connector's failure must not stop the others"
    handlers (``except Exception``) let it through.
    """


class Stopper:
    """Turns SIGTERM / SIGINT into a flag, and the flag into :class:`StopRequested`."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Handle SIGTERM and SIGINT (until :meth:`restore`)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            self._previous[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        """Put back the handlers that were there before."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: the operator will not wait
        # Only set the flag: logging from a signal handler could interleave with a log line.
        self.requested = True
        self.signal_name = signal.Signals(signum).name

    def checkpoint(self, step: str) -> None:
        """The engine's checkpoint: raise :class:`StopRequested` once a stop was asked for.

        Not at ``*.after_call``: there a remote call is done but not yet recorded. Stopping
        would be safe (the next pass adopts what was sent) but would waste the call; the
        record is committed a moment later, at the next checkpoint.
        """
        if self.requested and not step.endswith(".after_call"):
            raise StopRequested(step)

    def wait(self, seconds: float, sleep: Callable[[float], None] = time.sleep) -> None:
        """Sleep ``seconds`` in short slices, returning early when a stop is asked for."""
        deadline = time.monotonic() + seconds
        while not self.requested:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            sleep(min(_SLICE, remaining))


class ProgressBars:
    """The engine's ``progress`` callback, drawn as rich progress bars (one per task)."""

    def __init__(self, console: Console) -> None:
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[tuple[str, str], TaskID] = {}

    def __call__(self, task: str, connector: str, done: int, total: int | None) -> None:
        key = (task, connector)
        task_id = self._tasks.get(key)
        if task_id is None:
            label = f"{connector}: {_TASK_LABELS.get(task, task)}"
            task_id = self.progress.add_task(label, total=total)
            self._tasks[key] = task_id
        self.progress.update(task_id, completed=done, total=total)

    def __enter__(self) -> ProgressBars:
        self._tasks.clear()
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()
        for task_id in self._tasks.values():
            self.progress.remove_task(task_id)


@dataclass
class _Schedule:
    """When each kind of pass is next due (``time.monotonic`` seconds)."""

    inventory_every: float
    orders_every: float
    next_inventory: float = 0.0
    next_orders: float = 0.0

    def due(self, now: float) -> tuple[bool, bool]:
        return now >= self.next_inventory, now >= self.next_orders

    def ran(self, started: float, inventory: bool, orders: bool) -> None:
        if inventory:
            self.next_inventory = started + self.inventory_every
        if orders:
            self.next_orders = started + self.orders_every

    def wait_from(self, now: float) -> float:
        return max(0.0, min(self.next_inventory, self.next_orders) - now)


def _seconds(value: timedelta | None, default: float) -> float:
    return default if value is None else max(MIN_INTERVAL, value.total_seconds())


class _Runner:
    """One ``run`` invocation: the host, the stopper, and how each pass is shown."""

    def __init__(self, rt: Runtime, host: Host, stopper: Stopper, json_out: bool) -> None:
        self.rt = rt
        self.host = host
        self.stopper = stopper
        self.json_out = json_out
        show_bars = rt.err.is_terminal and not json_out
        self.bars = ProgressBars(rt.err) if show_bars else None
        if self.bars is not None:
            host.engine.progress = self.bars
        host.engine.checkpoint = stopper.checkpoint

    def one_pass(self, inventory: bool, orders: bool) -> PassSummary:
        """Run the passes that are due, show their summary, and return it."""
        if self.bars is not None:
            with self.bars:
                summary = self._passes(inventory, orders)
        else:
            summary = self._passes(inventory, orders)
        self.show(summary)
        return summary

    def _passes(self, inventory: bool, orders: bool) -> PassSummary:
        if inventory and orders:
            return self.host.run_once()
        return self.host.inventory_pass() if inventory else self.host.order_pass()

    def show(self, summary: PassSummary) -> None:
        if self.json_out:
            self.rt.print_json_line(summary.as_dict())
            return
        self.rt.out.print(summary_table(summary))
        for line in summary_errors(summary):
            self.rt.out.print(Text.assemble(("  error ", "red"), line))


def run_command(
    ctx: typer.Context,
    config: ConfigOption = None,
    once: Annotated[bool, typer.Option("--once", help="Run one pass, then exit.")] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            min=MIN_INTERVAL,
            help="Seconds between passes (overrides sync.interval; at least 5).",
            show_default=False,
        ),
    ] = None,
    json_out: JsonOption = False,
) -> None:
    """Run passes forever on an interval (or one, with --once); SIGTERM / Ctrl-C stop cleanly.

    Exit code: 0 when the pass went cleanly (or the runner was stopped), 1 when --once had
    failures, 2 on bad configuration.
    """
    rt = runtime(ctx)
    settings = rt.settings(config)
    sync = settings.sync
    every = interval if interval is not None else _seconds(sync.interval, 300.0)
    schedule = _Schedule(
        inventory_every=_seconds(sync.inventory_interval, every),
        orders_every=_seconds(sync.orders_interval, every),
    )
    host = rt.host(settings)
    stopper = Stopper()
    runner = _Runner(rt, host, stopper, json_out)
    stopper.install()
    code = 0
    stopped: StopRequested | None = None
    try:
        if once:
            code = 0 if runner.one_pass(True, True).ok else 1
        else:
            _log.info(
                "run.started",
                inventory_every=schedule.inventory_every,
                orders_every=schedule.orders_every,
            )
            while not stopper.requested:
                started = time.monotonic()
                inventory, orders = schedule.due(started)
                if inventory or orders:
                    runner.one_pass(inventory, orders)
                    schedule.ran(started, inventory, orders)
                stopper.wait(schedule.wait_from(time.monotonic()))
            stopped = StopRequested("between passes")
    except StopRequested as stop:
        stopped = stop  # the host closed the interrupted pass's run record
    finally:
        stopper.restore()
        host.close()
    if stopped is not None:
        _log.info("run.stopped", signal=stopper.signal_name, at=str(stopped))
        _said_stopped(rt, json_out)
    raise typer.Exit(code)


def _said_stopped(rt: Runtime, json_out: bool) -> None:
    # With --json, stdout stays a clean stream of pass records.
    if json_out:
        typer.echo("stopped cleanly", err=True)
    else:
        rt.out.print("stopped cleanly")

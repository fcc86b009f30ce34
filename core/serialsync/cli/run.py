"""``serialsync run``: loops of passes until SIGTERM / Ctrl-C, or one of each pass (``--once``).

Two loops run side by side, each in its own thread and on its own schedule (a
:class:`Scheduler` of named :class:`Loop` s): **inventory** every ``[sync] inventory_interval``
(default ``[sync] interval``) and **orders** every ``[sync] orders_interval`` (default 60 s, or
the interval when shorter). A long publish therefore never delays reading orders, withdrawing
sold units and reporting sales. The two share the store (its transactions are serialized) and
never work on the same product of the same channel at once (the engine's listing locks).

Stopping is cooperative. The signal handler only sets a flag (setting an Event from a handler
could deadlock on the Event's own lock); the main thread, which only watches the loops, relays
the flag to the host's stop event. The engine calls ``checkpoint(step)`` at every committed
boundary of a pass, and there the flag turns into :class:`StopRequested`, which unwinds the pass
with nothing half-done (the host closes the pass's run record as interrupted); the stop event
ends the connectors' retry waits and pacing pauses at once and keeps their next request from
being sent. Between passes each loop sleeps in short slices, so a signal ends the wait at once;
``run`` returns once every loop has stopped. Even ``--once`` runs its passes off the main thread,
for the same reason.
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
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
from serialsync.engine.reconcile import ReconcileReport, reconcile
from serialsync.engine.summary import PassSummary
from serialsync.host import Host
from serialsync.service import Service
from serialsync.settings import SyncSettings
from serialsync.stopping import StopRequested as StopRequested  # where it was first defined

MIN_INTERVAL = 5.0
ORDERS_EVERY = 60.0  # seconds: the order loop's default interval (issue 16: orders never wait)
_SLICE = 0.2  # seconds: how long a signal may wait to be noticed between passes

_log = structlog.get_logger("serialsync.cli")

_TASK_LABELS = {
    "fetch_inventory": "reading inventory",
    "publish": "publishing",
    "fetch_orders": "reading orders",
    "withdraw": "withdrawing sold units",
    "report_sale": "reporting sales",
}


class Stopper:
    """Turns SIGTERM / SIGINT into a flag, and the flag into :class:`StopRequested`.

    ``event`` is the host's stop event: :meth:`relay` sets it from the main thread once the flag
    is up, which ends the connectors' waits.
    """

    def __init__(self, event: threading.Event | None = None) -> None:
        self.requested = False
        self.signal_name: str | None = None
        self.event = event if event is not None else threading.Event()
        self._previous: dict[int, Any] = {}

    def relay(self) -> None:
        """Pass a stop asked for on to the stop event (from the main thread, not a handler)."""
        if self.requested and not self.event.is_set():
            self.event.set()

    @property
    def exit_code(self) -> int:
        """The shell's code for the signal that stopped the run (128 + its number), else 1."""
        if self.signal_name is None:
            return 1
        return 128 + int(signal.Signals[self.signal_name])

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

    def wait(
        self,
        seconds: float,
        sleep: Callable[[float], None] = time.sleep,
        check: Callable[[], None] = lambda: None,
    ) -> None:
        """Sleep ``seconds`` in short slices, returning early when a stop is asked for.

        ``check`` runs at every slice (the store still in place): what it raises ends the wait.
        """
        deadline = time.monotonic() + seconds
        while not self.requested:
            check()
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
        # Passes of both loops draw on one display; the kinds of bar they add never overlap
        # (an inventory pass reads inventory and publishes, an order pass does the rest).
        self._lock = threading.Lock()
        self._users = 0
        self._tasks: dict[tuple[str, str], TaskID] = {}

    def __call__(self, task: str, connector: str, done: int, total: int | None) -> None:
        key = (task, connector)
        with self._lock:  # the engine calls this from its channel threads
            task_id = self._tasks.get(key)
            if task_id is None:
                label = f"{connector}: {_TASK_LABELS.get(task, task)}"
                task_id = self.progress.add_task(label, total=total)
                self._tasks[key] = task_id
        self.progress.update(task_id, completed=done, total=total)

    @contextlib.contextmanager
    def showing(self, tasks: Collection[str] | None = None) -> Iterator[ProgressBars]:
        """Draw the bars while one pass runs; its bars (of ``tasks``, or all) go when it ends."""
        with self._lock:
            self._users += 1
            if self._users == 1:
                self.progress.start()
        try:
            yield self
        finally:
            with self._lock:
                for key in [k for k in self._tasks if tasks is None or k[0] in tasks]:
                    self.progress.remove_task(self._tasks.pop(key))
                self._users -= 1
                if self._users == 0:
                    self.progress.stop()

    def __enter__(self) -> ProgressBars:
        self._session = self.showing()
        return self._session.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._session.__exit__(None, None, None)


#: The bars each kind of pass draws.
INVENTORY_TASKS = ("fetch_inventory", "publish")
ORDER_TASKS = ("fetch_orders", "withdraw", "report_sale")


@dataclass
class Loop:
    """A job run again and again, ``every`` seconds from the start of the last run."""

    name: str
    every: float
    job: Callable[[], object]


@dataclass
class Scheduler:
    """Runs named loops side by side, a thread each, until the stopper is asked to stop.

    A loop whose job raises :class:`StopRequested` ends quietly; any other error stops the other
    loops too and is raised again by :meth:`run` once every loop has ended. Signals reach the
    main thread only, so :meth:`run` waits there in short slices.
    """

    stopper: Stopper
    #: Run at every slice of a loop's wait (the store still in place); what it raises is
    #: that loop's failure.
    check: Callable[[], None] = lambda: None
    loops: list[Loop] = field(default_factory=list)
    stopped: list[StopRequested] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)

    def add(self, name: str, every: float, job: Callable[[], object]) -> None:
        """Add a loop (before :meth:`run`)."""
        self.loops.append(Loop(name, every, job))

    def run(self) -> None:
        """Run every loop until a stop is asked for (or one fails); wait for all of them."""
        threads = [
            # Daemons: a second Ctrl-C (KeyboardInterrupt in the main thread) must not wait.
            threading.Thread(target=self._loop, args=(loop,), name=f"{loop.name}-loop", daemon=True)
            for loop in self.loops
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(_SLICE)
                self.stopper.relay()
        if self.failures:
            raise self.failures[0]

    def _loop(self, loop: Loop) -> None:
        try:
            while not self.stopper.requested:
                started = time.monotonic()
                loop.job()
                self.stopper.wait(started + loop.every - time.monotonic(), check=self.check)
        except StopRequested as stop:
            self.stopped.append(stop)
        except BaseException as exc:  # stop the other loops, and let run() raise it
            _log.error("run.loop_failed", loop=loop.name, error=f"{type(exc).__name__}: {exc}")
            self.failures.append(exc)
            self.stopper.requested = True


def run_watched(stopper: Stopper, job: Callable[[], PassSummary]) -> PassSummary:
    """Run ``job`` in a thread while the main thread relays a signal to the stop event.

    The job's error (:class:`StopRequested` included) is raised again here.
    """
    outcome: list[PassSummary] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(job())
        except BaseException as exc:  # handed to the main thread, which raises it
            failure.append(exc)

    # A daemon: a second Ctrl-C (KeyboardInterrupt in the main thread) must not wait for it.
    thread = threading.Thread(target=target, name="once", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(_SLICE)
        stopper.relay()
    if failure:
        raise failure[0]
    return outcome[0]


class Reconciler:
    """The ``reconcile`` loop's job: skips the loop's first turn (the first inventory pass is
    publishing then), then reconciles every channel and repairs its drift."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.turns = 0

    def __call__(self) -> ReconcileReport | None:
        """One turn of the loop; the report, or ``None`` on the first turn."""
        self.turns += 1
        if self.turns == 1:
            return None
        self.host.store.check_in_place()
        report = reconcile(self.host.engine)
        for channel in report.channels:
            _log.info(
                "run.reconciled",
                connector=channel.channel,
                drift=len(channel.drifts),
                repaired=channel.repaired,
                error=channel.error or "; ".join(channel.repair_errors) or None,
            )
        return report


def _seconds(value: timedelta | None, default: float) -> float:
    return default if value is None else max(MIN_INTERVAL, value.total_seconds())


def intervals(sync: SyncSettings, interval: float | None = None) -> tuple[float, float]:
    """Seconds between inventory passes and between order passes.

    Inventory: ``inventory_interval``, else ``--interval``, else ``interval``. Orders:
    ``orders_interval``, else 60 s (or that interval when it is shorter).
    """
    every = interval if interval is not None else _seconds(sync.interval, 300.0)
    return (
        _seconds(sync.inventory_interval, every),
        _seconds(sync.orders_interval, min(every, ORDERS_EVERY)),
    )


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
        host.engine.checkpoint = self.checkpoint
        self._show_lock = threading.Lock()

    def checkpoint(self, step: str) -> None:
        """Stop here if asked to; fail here if the store file was deleted or replaced.

        A runner that went on with a store nobody will read again would relist and report
        from a state that is gone: a :class:`StoreError` stops it, with exit code 3.
        """
        self.stopper.checkpoint(step)
        self.host.store.check_in_place()

    def one_pass(
        self, step: Callable[[], PassSummary], tasks: Collection[str] | None = None
    ) -> PassSummary:
        """Run one pass (``host.inventory_pass`` …), show its summary, and return it.

        :param tasks: the progress bars the pass draws (``None``: any).
        """
        self.host.store.check_in_place()
        if self.bars is not None:
            with self.bars.showing(tasks):
                summary = step()
        else:
            summary = step()
        self.show(summary)
        return summary

    def show(self, summary: PassSummary) -> None:
        """Print a pass's summary (a table, or one JSON line); safe from both loops."""
        with self._show_lock:
            if self.json_out:
                self.rt.print_json_line(summary.as_dict())
                return
            self.rt.out.print(summary_table(summary))
            errors = list(summary_errors(summary))
            for line in errors:
                self.rt.out.print(Text.assemble(("  error ", "red"), line))
            hint = self.rt.sandbox_hint() if any("cannot reach" in e for e in errors) else None
            if hint is not None:
                self.rt.out.print(hint, soft_wrap=True)


def run_command(
    ctx: typer.Context,
    config: ConfigOption = None,
    once: Annotated[
        bool, typer.Option("--once", help="Run one inventory pass and one order pass, then exit.")
    ] = False,
    interval: Annotated[
        float | None,
        typer.Option(
            "--interval",
            min=MIN_INTERVAL,
            help=(
                "Seconds between inventory passes (overrides sync.interval; at least 5); "
                "order passes run every sync.orders_interval (default 60 s, or this when shorter)."
            ),
            show_default=False,
        ),
    ] = None,
    json_out: JsonOption = False,
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help=(
                "Make the (first) inventory pass re-read the whole POS catalogue, ignoring the "
                "cursor (also done every sync.full_resync_every, daily by default)."
            ),
        ),
    ] = False,
    new_store: Annotated[
        bool,
        typer.Option(
            "--new-store",
            help=(
                "Start a new state store where one was used before (it was lost, or another "
                "file is in its place). Its first pass reads the channels' recent orders "
                "(sync.order_lookback) before it lists anything."
            ),
        ),
    ] = False,
) -> None:
    """Run inventory and order passes, each on its own interval (or one of each, with --once).

    The two loops run side by side, so orders are read, sold units withdrawn and sales reported
    while a long publish is under way. SIGTERM / Ctrl-C stop both cleanly.

    SIGTERM / Ctrl-C stop at once: retry waits end, no new pass or step starts, what was
    committed stays, and "stopped cleanly" is printed (a second Ctrl-C does not wait).

    Exit code: 0 when the pass went cleanly, or the looping runner was stopped; 1 when --once
    had failures; 2 on bad configuration; 3 when the state store cannot be used (missing where
    one was used before, replaced, damaged, read-only, disk full, in use by another runner, or
    deleted or replaced while running), with one line saying what to do; 130 (Ctrl-C) or 143
    (SIGTERM) when --once was stopped before its passes ended.
    """
    rt = runtime(ctx)
    settings = rt.settings(config)
    inventory_every, orders_every = intervals(settings.sync, interval)
    host = rt.host(settings, new_store=new_store)
    stopper = Stopper(host.stop_event)
    runner = _Runner(rt, host, stopper, json_out)
    # Webhooks, /healthz and /metrics beside the loops (not for a single pass).
    service = Service(
        host,
        webhooks=settings.webhooks,
        metrics=settings.metrics,
        panel=settings.panel,
        every={
            "inventory": timedelta(seconds=inventory_every),
            "orders": timedelta(seconds=orders_every),
        },
    )
    stopper.install()
    code = 0
    stopped: StopRequested | None = None
    try:
        if once:
            both = partial(host.run_once, full=full)
            summary = run_watched(stopper, partial(runner.one_pass, both))
            code = 0 if summary.ok else 1
        else:
            if service.enabled:
                service.start()
                for url in service.urls:
                    _log.info("run.serving", url=url)
            _log.info("run.started", inventory_every=inventory_every, orders_every=orders_every)
            scheduler = Scheduler(stopper, check=host.store.check_in_place)
            whole = [full]  # --full: the first inventory pass only

            def inventory() -> PassSummary:
                first, whole[0] = whole[0], False
                return runner.one_pass(partial(host.inventory_pass, full=first), INVENTORY_TASKS)

            scheduler.add("inventory", inventory_every, inventory)
            scheduler.add(
                "orders", orders_every, lambda: runner.one_pass(host.order_pass, ORDER_TASKS)
            )
            reconcile_every = settings.sync.reconcile_every.total_seconds()
            if reconcile_every > 0:
                scheduler.add("reconcile", max(MIN_INTERVAL, reconcile_every), Reconciler(host))
            scheduler.run()
            # Each interrupted pass closed its run record; name the first stop seen.
            stopped = scheduler.stopped[0] if scheduler.stopped else StopRequested("between passes")
    except StopRequested as stop:
        stopped = stop  # the host closed the interrupted pass's run record
        if once:
            code = stopper.exit_code  # a cron job must not take a cut pass for a whole one
    finally:
        stopper.restore()
        service.stop()
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

"""``serialsync worker`` and ``serialsync schedule``: passes of many merchants, as jobs.

A worker takes jobs from the deployment's queue (PostgreSQL, through Procrastinate): each job is
one pass of one merchant. Run as many workers, on as many machines, as the merchants need; two
passes of one flow of a merchant never run at once (an order pass runs beside an inventory
pass). Every worker also runs the tick that defers the passes that are due and gives a dead
worker's jobs to the others.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Annotated

import typer

from serialsync.cli.merchants import DeploymentOption
from serialsync.cli.runtime import JsonOption, Runtime, extra_plugins, runtime
from serialsync.errors import ConfigurationError
from serialsync.settings import Settings

if TYPE_CHECKING:
    from serialsync.workers.flows import WorkerResources


def worker_command(
    ctx: typer.Context,
    deployment: DeploymentOption = None,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            min=1,
            help="Jobs run at once by this worker (each one merchant's pass, in a thread).",
        ),
    ] = 4,
    name: Annotated[
        str | None, typer.Option("--name", help="The worker's name in logs.", show_default=False)
    ] = None,
    heartbeat: Annotated[
        float,
        typer.Option(
            "--heartbeat",
            min=0.5,
            help="Seconds between the worker's heartbeats; a worker silent for 3 of them (at "
            "least 30 s) is taken for dead and its jobs are run by others.",
        ),
    ] = 10.0,
    burst: Annotated[
        bool,
        typer.Option("--burst", help="Stop once the queue is empty (a cron job's worker)."),
    ] = False,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            help="Also serve every merchant's webhooks here (HOST:PORT): POST "
            "/m/<merchant>/webhooks/<connector>, each order queued as the merchant's order pass.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run a worker: take the deployment's jobs (merchants' passes) until stopped (Ctrl-C)."""
    from serialsync.workers import apply_schema, build_app
    from serialsync.workers.flows import WorkerResources

    rt = runtime(ctx)
    settings = rt.deployment_settings(deployment)
    stalled_after = max(3 * heartbeat, 30.0) if heartbeat >= 10 else 3 * heartbeat
    # One store connection per job running, and a few for the register and webhook deliveries.
    resources = WorkerResources(settings, max_size=concurrency + 4)
    app = build_app(
        settings, plugins=extra_plugins(), stalled_after=stalled_after, resources=resources
    )
    if apply_schema(app, settings):
        rt.err.print("serialsync: created the job queue's tables")
    rt.err.print(f"serialsync: worker started (concurrency {concurrency}); Ctrl-C stops it")
    with contextlib.closing(resources), _webhooks_served(rt, settings, listen, resources):
        app.run_worker(
            queues=["serialsync"],
            concurrency=concurrency,
            name=name,
            update_heartbeat_interval=heartbeat,
            stalled_worker_timeout=stalled_after,
            delete_jobs="successful",
            install_signal_handlers=True,
            wait=not burst,
        )
    rt.err.print("serialsync: worker stopped")


@contextlib.contextmanager
def _webhooks_served(
    rt: Runtime, settings: Settings, listen: str | None, resources: WorkerResources
) -> Iterator[None]:
    """Serve the deployment's webhooks on ``listen`` while the block runs (nothing if None)."""
    if listen is None:
        yield
        return
    from serialsync.sandbox.server import LoopbackServer
    from serialsync.service.server import split_listen
    from serialsync.workers import build_app
    from serialsync.workers.webhooks import DeploymentWebhooks, queue_deferrer

    # A queue of its own to defer from the server's threads, opened synchronously: the worker's
    # app runs on its own event loop.
    queue = build_app(settings)
    queue.open()
    webhooks = DeploymentWebhooks(
        settings, queue_deferrer(queue), plugins=extra_plugins(), resources=resources
    )
    host, port = split_listen(listen)
    server = LoopbackServer(webhooks.app(), name=f"webhooks {listen}", host=host, port=port)
    try:
        try:
            server.start()
        except OSError as exc:
            raise ConfigurationError(f"cannot listen on {listen}: {exc.strerror}") from None
        rt.err.print(f"serialsync: webhooks served at {server.base_url}/m/<merchant>/webhooks/")
        yield
    finally:
        server.stop()
        webhooks.close()
        queue.close()


def schedule_command(
    ctx: typer.Context,
    deployment: DeploymentOption = None,
    now: Annotated[
        bool,
        typer.Option("--now", help="Queue every enabled merchant's every flow now, due or not."),
    ] = False,
    json_out: JsonOption = False,
) -> None:
    """Queue the passes that are due (workers do it by themselves every few seconds)."""
    from procrastinate import exceptions as pexc

    from serialsync.workers import apply_schema, build_app, flow_deferrer, take_due

    rt = runtime(ctx)
    settings = rt.deployment_settings(deployment)
    app = build_app(settings)
    apply_schema(app, settings)
    due = take_due(settings, everything=now)
    queued: list[dict[str, str]] = []
    with app.open():
        for merchant, flow in due:
            try:
                flow_deferrer(app, merchant, flow).defer(merchant=merchant, flow=str(flow))
            except pexc.AlreadyEnqueued:
                continue
            queued.append({"merchant": merchant, "flow": str(flow)})
    if json_out:
        rt.print_json({"due": len(due), "queued": queued})
        return
    rt.out.print(f"{len(queued)} pass(es) queued ({len(due)} due)")

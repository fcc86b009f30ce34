"""The Procrastinate app of a deployment: its jobs, its tick, and where its tables live.

Procrastinate keeps its queue in the deployment's PostgreSQL database, in a schema of its own
(``<register>_jobs``, reached through the connections' ``search_path``), so a deployment's
queue, register and merchants' stores sit side by side in one database.

Jobs:

* ``serialsync.flow(merchant, flow)``: one pass of one merchant (:func:`run_flow`). Its
  Procrastinate ``lock`` is the merchant and flow: two inventory passes (or two order passes)
  of one merchant never run at once on any machine, but an order pass runs beside an inventory
  pass, as the two loops of ``serialsync run`` do: a 10,000-unit publish lasts many minutes, and
  orders must not wait for it. What keeps the two off one listing is a lock per merchant,
  channel and product across processes (:mod:`serialsync.workers.locks`), the engine's listing
  locks as ``run`` uses them. Its ``queueing_lock`` is the same: a flow is never queued twice.
  Orders go first (:data:`PRIORITY`). A job that raises is retried with a growing pause.
* ``serialsync.order(merchant, connector, order_id)``: one order a webhook delivery named
  (:func:`run_order`), fetched and worked as ``serialsync run`` works it, at the highest
  priority. Its lock and queueing lock are the order: deliveries of one order fold into one
  job, and one arriving while it runs is worked after it. It runs beside the merchant's passes.
* ``serialsync.tick``: every few seconds (a periodic task: each tick is deferred once whatever
  the number of workers), it gives stalled jobs back to the queue — those of a worker that
  stopped sending heartbeats, killed with its job under way — and defers the flows that are due.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from serialsync.errors import ConfigurationError
from serialsync.settings import Settings
from serialsync.workers.flows import PRIORITY, Flow, WorkerResources, run_flow, run_order
from serialsync.workers.schedule import take_due

QUEUE = "serialsync"
FLOW_TASK = "serialsync.flow"
ORDER_TASK = "serialsync.order"
#: A webhook's order goes before every pass.
ORDER_PRIORITY = 20
TICK_TASK = "serialsync.tick"
#: How often the tick runs (croniter's sixth field is seconds).
TICK_CRON = "* * * * * */5"
#: A worker silent for this long is taken for dead, and its jobs are given to others.
STALLED_AFTER = 30.0

if TYPE_CHECKING:  # procrastinate is imported when an app is built (the postgres extra)
    import procrastinate


def jobs_schema(deployment: Settings) -> str:
    """The PostgreSQL schema of the deployment's job queue."""
    return f"{deployment.merchants.db_schema}_jobs"


def build_app(
    deployment: Settings,
    *,
    plugins: dict[str, object] | None = None,
    tick_cron: str = TICK_CRON,
    stalled_after: float = STALLED_AFTER,
    resources: WorkerResources | None = None,
) -> procrastinate.App:
    """The Procrastinate app of the deployment that ``deployment`` configures.

    :param plugins: extra plugin objects every job's host registers (tests, embedding).
    :param resources: the worker process's pool and listing locks, shared by its jobs (each
        job opens and closes its own when not given); the caller closes them.
    :param tick_cron: when the tick runs.
    :param stalled_after: seconds without a heartbeat after which a worker's jobs are retried.
    """
    try:
        import procrastinate
        from procrastinate import exceptions as pexc
        from psycopg.errors import UniqueViolation
    except ImportError:  # pragma: no cover - part of the postgres extra
        raise ConfigurationError(
            "workers need the postgres extra: pip install 'serialsync[postgres]'"
        ) from None
    if deployment.store.url is None:
        raise ConfigurationError(
            "workers serve merchants of a PostgreSQL deployment: set [store] url in its "
            "configuration"
        )
    options: dict[str, Any] = {
        "options": f"-c search_path={jobs_schema(deployment)}",
        "application_name": "serialsync worker",
    }
    if deployment.store.password is not None:
        options["password"] = deployment.store.password.get_secret_value()
    connector = procrastinate.PsycopgConnector(
        conninfo=deployment.store.url, kwargs=options, min_size=1, max_size=8
    )
    app = procrastinate.App(connector=connector, periodic_defaults={"max_delay": 60})
    app.job_manager = _lock_race_tolerant()(connector=connector)

    @app.task(
        name=FLOW_TASK,
        queue=QUEUE,
        retry=procrastinate.RetryStrategy(max_attempts=8, exponential_wait=2),
    )
    def flow_job(merchant: str, flow: str) -> dict[str, Any]:
        return run_flow(
            deployment, merchant, Flow(flow), plugins=plugins, resources=resources
        ).as_dict()

    @app.task(
        name=ORDER_TASK,
        queue=QUEUE,
        # Few: the merchant's next order pass reads the order anyway (polling is the net).
        retry=procrastinate.RetryStrategy(max_attempts=3, exponential_wait=2),
    )
    def order_job(merchant: str, connector: str, order_id: str) -> dict[str, Any]:
        return run_order(
            deployment, merchant, connector, order_id, plugins=plugins, resources=resources
        )

    @app.periodic(cron=tick_cron, periodic_id="tick")
    @app.task(name=TICK_TASK, queue=QUEUE, queueing_lock=TICK_TASK, pass_context=True)
    async def tick(context: procrastinate.JobContext, timestamp: int) -> dict[str, Any]:
        manager = context.app.job_manager
        stalled = list(await manager.get_stalled_jobs(seconds_since_heartbeat=stalled_after))
        superseded = 0
        for job in stalled:
            try:
                await manager.retry_job(job)
            except (pexc.UniqueViolation, UniqueViolation):
                # Its flow was queued again while it sat in 'doing' (the queueing lock holds
                # only 'todo' jobs): that twin does the work. Retrying it anyway raised every
                # tick, so no flow was deferred any more, and the dead job kept the merchant's
                # lock for ever. It goes; the twin runs once the lock is free.
                await manager.finish_job(
                    job, status=procrastinate.jobs.Status.FAILED, delete_job=True
                )
                superseded += 1
        due = await asyncio.to_thread(take_due, deployment)
        deferred = 0
        for merchant, flow in due:
            try:
                await flow_deferrer(context.app, merchant, flow).defer_async(
                    merchant=merchant, flow=str(flow)
                )
                deferred += 1
            except pexc.AlreadyEnqueued:
                pass  # the flow is queued already and not started: one is enough
        return {
            "retried": len(stalled) - superseded,
            "superseded": superseded,
            "due": len(due),
            "deferred": deferred,
        }

    del flow_job, order_job, tick  # registered on the app
    return app


def _lock_race_tolerant() -> type:
    """A JobManager whose fetch survives two workers fetching jobs of one lock at once."""
    from procrastinate import exceptions as pexc
    from procrastinate import manager

    class LockRaceTolerantJobManager(manager.JobManager):
        """Procrastinate's fetch picks a job whose lock no running job holds, but two workers
        fetching at the same instant can each pick a job of the same lock (a merchant's),
        and the second is refused by the one-running-job-per-lock index. That refusal is not
        an error of the worker: it takes no job this time and fetches again. Left alone, the
        exception ends the worker process (seen in the chaos test with three workers)."""

        async def fetch_job(self, queues: Any, worker_id: int) -> Any:
            try:
                return await super().fetch_job(queues=queues, worker_id=worker_id)
            except pexc.UniqueViolation as exc:
                if exc.constraint_name != "procrastinate_jobs_lock_idx_v1":
                    raise
                return None

    return LockRaceTolerantJobManager


def flow_lock(merchant: str, flow: Flow) -> str:
    """The Procrastinate lock of a merchant's flow: one job of it running at a time."""
    return f"merchant:{merchant}:{flow}"


def flow_deferrer(app: procrastinate.App, merchant: str, flow: Flow) -> Any:
    """A deferrer of ``flow`` for ``merchant``, with its locks and priority."""
    return app.configure_task(
        FLOW_TASK,
        lock=flow_lock(merchant, flow),
        queueing_lock=f"{flow}:{merchant}",
        priority=PRIORITY[flow],
    )


def order_deferrer(app: procrastinate.App, merchant: str, connector: str, order_id: str) -> Any:
    """A deferrer of the job that works one order of ``merchant`` a webhook named."""
    key = f"order:{merchant}:{connector}:{order_id}"
    return app.configure_task(ORDER_TASK, lock=key, queueing_lock=key, priority=ORDER_PRIORITY)


def apply_schema(app: procrastinate.App, deployment: Settings) -> bool:
    """Create the job queue's schema and tables when missing; True when it created them.

    Under an advisory lock, so workers starting together on several machines create it once.
    """
    from psycopg import sql

    from serialsync.store.postgres import connect_settings

    schema = jobs_schema(deployment)
    with connect_settings(deployment.store, autocommit=True) as db, db.transaction():
        db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (schema,))
        found = db.execute(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = %s AND table_name = 'procrastinate_jobs'",
            (schema,),
        ).fetchone()
        if found is not None:
            return False
        db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        db.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        db.execute(app.schema_manager.get_schema())
    return True

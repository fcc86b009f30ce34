"""One merchant's flow, run once: what a worker's job does.

A job names a merchant and a flow. It reads the merchant's settings from the register (sealed
there; the worker holds ``SERIALSYNC_SECRET_KEY``), opens the merchant's store (its own schema,
taking the runner lock *shared*: the merchant's other jobs hold it beside it, while a
``serialsync --merchant NAME run`` of the same merchant, which takes it alone, refuses to start,
and the job is retried later), builds the host, runs one pass, and closes it all. Every pass is
idempotent by design, so a job run twice (a killed worker's job picked up again) repeats nothing
that was done: claims, outbox rows and cursors are committed as they go.

A merchant's inventory pass and order pass may run at once, in one process or two: the host's
listing locks are the merchant's :class:`~serialsync.workers.locks.SharedListingLocks`, which
keep them off the same product of the same channel across processes as ``serialsync run``'s
keep its two loops apart. A worker process shares its :class:`WorkerResources` between its
jobs: one pool of database connections (the register's and the stores') and one connection of
listing locks.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from serialsync.engine.reconcile import reconcile
from serialsync.host import Host
from serialsync.merchants.registry import MerchantNotFoundError, MerchantRegistry
from serialsync.settings import Settings
from serialsync.store.opening import open_store

if TYPE_CHECKING:
    from psycopg_pool import ConnectionPool

    from serialsync.workers.locks import ProcessLocks


class Flow(StrEnum):
    """What a job does for its merchant."""

    INVENTORY = "inventory"
    ORDERS = "orders"
    RECONCILE = "reconcile"


#: Jobs of higher priority run first: a sale waiting to be withdrawn goes before a publish.
PRIORITY = {Flow.ORDERS: 10, Flow.INVENTORY: 0, Flow.RECONCILE: -10}


class WorkerResources:
    """What the jobs and webhook deliveries of one worker process share, opened on first use:
    a pool of connections to the deployment's database (the register and the merchants' stores
    take theirs from it and give it back) and the process's listing locks.

    :param max_size: connections in the pool at most: one per job running at once, and a few
        for the register and webhook deliveries.
    """

    def __init__(self, deployment: Settings, *, max_size: int = 8) -> None:
        self.deployment = deployment
        self._max_size = max_size
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Any] | None = None
        self._locks: ProcessLocks | None = None

    def __repr__(self) -> str:
        return f"WorkerResources(max_size={self._max_size})"

    @property
    def pool(self) -> ConnectionPool[Any]:
        """The process's pool of connections."""
        from serialsync.store.postgres import connection_pool

        with self._lock:
            if self._pool is None:
                store = self.deployment.store
                if store.url is None:
                    raise ValueError("a worker's deployment has a [store] url")
                password = store.password.get_secret_value() if store.password else None
                self._pool = connection_pool(
                    store.url, password=password, min_size=1, max_size=self._max_size
                )
            return self._pool

    @property
    def locks(self) -> ProcessLocks:
        """The process's listing locks."""
        from serialsync.workers.locks import ProcessLocks

        with self._lock:
            if self._locks is None:
                self._locks = ProcessLocks.open(self.deployment)
            return self._locks

    def registry(self) -> MerchantRegistry:
        """The register, on a connection of the pool (close it to give it back)."""
        return MerchantRegistry.open(self.deployment, pool=self.pool)

    def close(self) -> None:
        """Close the pool and the locks' connection (the process is ending)."""
        with self._lock:
            pool, self._pool = self._pool, None
            locks, self._locks = self._locks, None
        if locks is not None:
            locks.close()
        if pool is not None:
            pool.close()


@dataclass
class FlowOutcome:
    """What one job did."""

    merchant: str
    flow: Flow
    ok: bool
    skipped: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (a Procrastinate job's result)."""
        return {
            "merchant": self.merchant,
            "flow": str(self.flow),
            "ok": self.ok,
            "skipped": self.skipped,
            "summary": self.summary,
        }


def run_flow(
    deployment: Settings,
    merchant: str,
    flow: Flow,
    *,
    plugins: dict[str, object] | None = None,
    resources: WorkerResources | None = None,
) -> FlowOutcome:
    """Run ``flow`` once for ``merchant`` of the deployment that ``deployment`` configures.

    A disabled or removed merchant is skipped (its jobs may have been queued before).

    :param plugins: extra plugin objects, as ``serialsync`` commands take them (tests).
    :param resources: the worker process's pool and listing locks (opened for this job alone,
        and closed after it, when not given).
    """
    with (
        _resources(deployment, resources) as shared,
        merchant_host(deployment, merchant, shared, plugins=plugins) as host,
    ):
        if isinstance(host, str):
            return FlowOutcome(merchant, flow, ok=True, skipped=host)
        return _run(host, merchant, flow)


def run_order(
    deployment: Settings,
    merchant: str,
    connector: str,
    order_id: str,
    *,
    plugins: dict[str, object] | None = None,
    resources: WorkerResources | None = None,
) -> dict[str, Any]:
    """Work one order a webhook delivery named, as ``serialsync run`` works it: fetched from
    ``connector`` (``fetch_order``), applied as an order pass would, its units withdrawn from
    every channel and the sale reported (:meth:`~serialsync.service.worker.OrderWorker.work`).
    An order the channel cannot show yet, or a fetch that fails, is left to the next order pass
    (polling never moved its cursor past it). Returns what came of it (the job's result)."""
    from serialsync.service.worker import OrderWorker

    done: dict[str, Any] = {"merchant": merchant, "connector": connector, "order_id": order_id}
    with (
        _resources(deployment, resources) as shared,
        merchant_host(deployment, merchant, shared, plugins=plugins) as host,
    ):
        if isinstance(host, str):
            return done | {"skipped": host}
        return done | {"result": OrderWorker(host).work(connector, order_id).value}


@contextlib.contextmanager
def _resources(
    deployment: Settings, resources: WorkerResources | None
) -> Iterator[WorkerResources]:
    """``resources``, or some of this job's own (closed after it)."""
    if resources is not None:
        yield resources
        return
    own = WorkerResources(deployment, max_size=2)
    try:
        yield own
    finally:
        own.close()


@contextlib.contextmanager
def merchant_host(
    deployment: Settings,
    merchant: str,
    resources: WorkerResources,
    *,
    plugins: dict[str, object] | None = None,
) -> Iterator[Host | str]:
    """The host of one merchant's job: its store on a pooled connection (the runner lock taken
    shared), its listing locks the process's; or why there is none (``"removed"``,
    ``"disabled"``). Closed, and its connection given back, when the block ends."""
    with resources.registry() as registry:
        try:
            found = registry.get(merchant)
        except MerchantNotFoundError:
            yield "removed"
            return
        if not found.enabled:
            yield "disabled"
            return
        settings = registry.settings(merchant)
    store = open_store(settings.store, pool=resources.pool, shared=True)
    try:
        host = Host.from_settings(settings, plugins=plugins, store=store)
    except BaseException:
        store.close()
        raise
    try:
        host.engine.locks = resources.locks.for_store(settings.store.db_schema)
        yield host
    finally:
        host.close()
        store.close()  # the host may leave a store it was given open; closing twice is harmless


def _run(host: Host, merchant: str, flow: Flow) -> FlowOutcome:
    if flow is Flow.INVENTORY:
        summary = host.inventory_pass()
        return FlowOutcome(merchant, flow, ok=summary.ok, summary=summary.as_dict())
    if flow is Flow.ORDERS:
        summary = host.order_pass()
        return FlowOutcome(merchant, flow, ok=summary.ok, summary=summary.as_dict())
    report = reconcile(host.engine)
    ok = all(not c.error and not c.repair_errors for c in report.channels)
    return FlowOutcome(merchant, flow, ok=ok, summary=report.as_dict())

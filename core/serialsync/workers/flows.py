"""One merchant's flow, run once: what a worker's job does.

A job names a merchant and a flow. It reads the merchant's settings from the register (sealed
there; the worker holds ``SERIALSYNC_SECRET_KEY``), opens the merchant's store (its own schema,
taking the runner lock: a ``serialsync --merchant NAME run`` of the same merchant refuses to
start beside it, and the job is retried later), builds the host, runs one pass, and closes it
all. Every pass is idempotent by design, so a job run twice (a killed worker's job picked up
again) repeats nothing that was done: claims, outbox rows and cursors are committed as they go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from serialsync.engine.reconcile import reconcile
from serialsync.host import Host
from serialsync.merchants.registry import MerchantRegistry
from serialsync.settings import Settings
from serialsync.store.opening import open_store


class Flow(StrEnum):
    """What a job does for its merchant."""

    INVENTORY = "inventory"
    ORDERS = "orders"
    RECONCILE = "reconcile"


#: Jobs of higher priority run first: a sale waiting to be withdrawn goes before a publish.
PRIORITY = {Flow.ORDERS: 10, Flow.INVENTORY: 0, Flow.RECONCILE: -10}


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
) -> FlowOutcome:
    """Run ``flow`` once for ``merchant`` of the deployment that ``deployment`` configures.

    A disabled or removed merchant is skipped (its jobs may have been queued before).

    :param plugins: extra plugin objects, as ``serialsync`` commands take them (tests).
    """
    with MerchantRegistry.open(deployment) as registry:
        found = {m.name: m for m in registry.list()}.get(merchant)
        if found is None:
            return FlowOutcome(merchant, flow, ok=True, skipped="removed")
        if not found.enabled:
            return FlowOutcome(merchant, flow, ok=True, skipped="disabled")
        settings = registry.settings(merchant)
    store = open_store(settings.store)
    try:
        host = Host.from_settings(settings, plugins=plugins, store=store)
    except BaseException:
        store.close()
        raise
    try:
        return _run(host, merchant, flow)
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

"""The host: plugins, connectors and the state store, with one call per pass.

Build it from settings (what the CLI does)::

    host = Host.from_settings(load_settings("serialsync.toml"))

or from objects, embedding serialsync in another application::

    host = Host(plugins=manager, store=SQLiteStore.open("state.db"))

then call :meth:`Host.run_once`, :meth:`Host.inventory_pass` or :meth:`Host.order_pass`; each
returns a :class:`PassSummary` of counts per connector.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from functools import partial
from typing import Any

import httpx
from pydantic import ValidationError

from serialsync.connector import ConnectorContext
from serialsync.engine.context import EngineContext, Progress
from serialsync.engine.inventory import inventory_pass
from serialsync.engine.order_payloads import order_from_payload
from serialsync.engine.orders import order_pass, process_order, quarantine_unreadable_order
from serialsync.engine.summary import PassSummary
from serialsync.errors import ConfigurationError, SerialsyncError
from serialsync.logging import adapt_logger
from serialsync.manager import PluginManager
from serialsync.metering import metering
from serialsync.model import UnreadableRecord
from serialsync.operations.discrepancies import DISCREPANCY
from serialsync.settings import Settings, SyncSettings
from serialsync.stopping import raise_if_stopped
from serialsync.store import OutboxState, Store
from serialsync.store.opening import open_store
from serialsync.store.sql import utcnow


class Host:
    """serialsync, assembled: call a pass, read its summary."""

    def __init__(
        self,
        *,
        plugins: PluginManager,
        store: Store,
        sync: SyncSettings | None = None,
        now: Callable[[], datetime] = utcnow,
        logger: Any = None,
        checkpoint: Callable[[str], None] | None = None,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
        owns_store: bool = False,
    ) -> None:
        self.plugins = plugins
        self.store = store
        #: Whether :meth:`close` closes the store: only one the host opened itself.
        self.owns_store = owns_store
        logger = adapt_logger(logger)
        #: Set it to stop: no pass starts after, and connectors' waits and requests stop at once
        #: (those built by :meth:`from_settings`, or given this event in their context).
        self.stop_event = stop if stop is not None else threading.Event()
        #: Called with each pass's summary once it ended (``ok`` false when it was interrupted
        #: or failed): the service's metrics listen here.
        self.pass_observers: list[Callable[[PassSummary, bool], None]] = []
        self.engine = EngineContext(
            plugins=plugins, store=store, sync=sync or SyncSettings(), now=now, logger=logger
        )
        if checkpoint is not None:
            self.engine.checkpoint = checkpoint
        if progress is not None:
            self.engine.progress = progress

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        store: Store | None = None,
        logger: Any = None,
        plugins: Mapping[str, object] | None = None,
        load_entrypoints: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        stop: threading.Event | None = None,
        fail_fast: bool = False,
        owns_store: bool | None = None,
    ) -> Host:
        """Build the host from settings: load plugins, build each enabled connector, open the store.

        :param transport: an httpx transport every connector's client uses (embedding, tests).
        :param store: a store to use instead of opening the one ``settings.store`` names.
        :param plugins: extra plugin objects to register by name (besides entry points).
        :param sleep: how connectors wait (retries, pacing); tests and benchmarks replace it.
        :param clock: the monotonic clock connectors pace by (a benchmark's scaled time).
        :param stop: the host's stop event (:attr:`stop_event`; a new one when not given).
        :param fail_fast: connectors give up at once on a host they cannot reach (``check``).
        :param owns_store: whether :meth:`close` closes the store; by default only the store
            it opened itself (one passed as ``store`` stays open for its owner).
        :param logger: a structlog logger or a ``logging.Logger`` (see :func:`adapt_logger`).
        """
        logger = adapt_logger(logger)
        stop = stop if stop is not None else threading.Event()
        manager = PluginManager(
            load_entrypoints=load_entrypoints,
            allow=settings.plugins.allow,
            deny=settings.plugins.deny,
            plugins=plugins,
        )
        for name, section in settings.connectors.items():
            if not section.enabled:
                continue
            context = ConnectorContext(
                name=name,
                transport=transport,
                logger=logger,
                sleep=sleep,
                clock=clock,
                stop=stop,
                fail_fast=fail_fast,
            )
            manager.add_connector(
                name, section.plugin, section.options(reveal_secrets=True), context
            )
        opened = store if store is not None else open_store(settings.store)
        return cls(
            plugins=manager,
            store=opened,
            sync=settings.sync,
            logger=logger,
            stop=stop,
            owns_store=store is None if owns_store is None else owns_store,
        )

    # -- passes ---------------------------------------------------------------------------------

    def inventory_pass(self, *, full: bool = False) -> PassSummary:
        """POS → state → every channel. Sends each channel only what changed.

        ``full`` re-reads each POS's whole catalogue, ignoring its cursor (also done on its own
        every ``[sync] full_resync_every``).
        """
        return self._run("inventory", partial(inventory_pass, full=full))

    def order_pass(self) -> PassSummary:
        """Orders → units reserved or sold → withdrawn from every channel → reported to the POS."""
        return self._run("orders", order_pass)

    def run_once(self, *, full: bool = False) -> PassSummary:
        """An inventory pass (a whole one with ``full``), then an order pass; merged."""
        inventory = self.inventory_pass(full=full)
        self.engine.checkpoint("run_once.between_passes")
        return inventory.merge(self.order_pass())

    def _run(self, kind: str, step: Callable[[EngineContext, PassSummary], None]) -> PassSummary:
        raise_if_stopped(self.stop_event, f"{kind}_pass.start")  # no pass starts after a stop
        summary = PassSummary(kind=kind, started_at=self.engine.now())
        run_id = self.store.start_run(kind)
        log = self.engine.log(operation=f"{kind}_pass", run=run_id)
        log.info("pass.started")
        try:
            with metering() as meter:
                try:
                    step(self.engine, summary)
                finally:
                    # The requests of the pass, per connector, go in its record either way.
                    summary.add_requests(meter.snapshot())
        except BaseException as stop:
            # Stopped (SIGTERM at a checkpoint) or failed: what ran is committed; say so.
            summary.finished_at = self.engine.now()
            record = summary.as_dict() | {"interrupted": True, "why": type(stop).__name__}
            self.store.finish_run(run_id, ok=False, summary=record)
            log.warning("pass.interrupted", why=type(stop).__name__)
            self._observed(summary, False)
            raise
        summary.finished_at = self.engine.now()
        self.store.finish_run(run_id, ok=summary.ok, summary=summary.as_dict())
        log.info("pass.finished", ok=summary.ok, **_totals(summary))
        self._observed(summary, summary.ok)
        return summary

    def _observed(self, summary: PassSummary, ok: bool) -> None:
        for observer in list(self.pass_observers):
            try:
                observer(summary, ok)
            except Exception:  # an observer's bug must never fail a pass
                self.engine.log(operation="pass").exception("pass.observer_failed")

    # -- what needs a person ------------------------------------------------------------------

    def retry_sale(self, channel: str, order_id: str) -> bool:
        """Put a failed (or backing-off) sale back to be reported in the next pass."""
        with self.store.transaction():
            record = self.store.get_outbox(channel, order_id)
            if record is None or record.state not in (OutboxState.FAILED, OutboxState.PENDING):
                return False
            self.store.put_outbox(
                replace(record, state=OutboxState.PENDING, next_attempt_at=None, last_error=None)
            )
        return True

    def retry_quarantined(self, record_id: int) -> str:
        """Process a quarantined order again (after its cause was fixed); say what happened.

        The order is read again from its channel when the channel's plugin implements
        ``fetch_order`` (so an order the plugin could not map, or one fixed on the channel, is
        seen as it is now); otherwise the order as it was stored is processed again, and an
        order that could not even be read waits for the channel to send it again. Returns
        ``"processed"`` when the order is out of quarantine, else a sentence saying why not.
        """
        record = self.store.get_quarantined(record_id)
        if record is None:
            return "not found"
        if record.kind == DISCREPANCY:
            serial = record.key.rpartition("|||")[2]
            return (
                f"a discrepancy is settled by a person: check the unit, then `serialsync serials "
                f"restock {serial}`; or it settles when the POS shows the unit sold again"
            )
        if record.kind != "order":
            return (
                f"a quarantined {record.kind} is processed again when its source sends it again "
                "(fix it in the POS, or drop it)"
            )
        channel = record.connector
        order_id = record.key.removeprefix(f"{channel}:")
        try:
            can_fetch = self.plugins.implements(channel, "fetch_order")
        except ConfigurationError:
            return f"the connector {channel!r} is not configured; drop the record or configure it"
        summary = PassSummary(kind="retry", started_at=self.engine.now())
        if can_fetch:
            try:
                found = self.plugins.fetch_order(channel, order_id)
            except SerialsyncError as exc:
                return f"could not read order {order_id} from {channel} again: {exc}"
            if found is None:
                return (
                    f"{channel} has no order {order_id} any more; "
                    f"drop the record (`serialsync quarantine drop {record_id}`)"
                )
            with self.store.transaction():
                if isinstance(found, UnreadableRecord):
                    quarantine_unreadable_order(self.engine, summary, channel, found)
                else:
                    process_order(self.engine, summary, channel, found)
        else:
            try:
                # Its shopper was not kept (see serialsync.engine.order_payloads).
                order = order_from_payload(record.payload or "")
            except ValidationError:
                plugin = self.plugins.connector(channel).type.plugin
                return (
                    f"the {plugin!r} plugin of connector {channel!r} cannot read one order again "
                    "(it does not implement fetch_order); the order is processed when the "
                    "channel sends it again, or drop the record"
                )
            with self.store.transaction():
                process_order(self.engine, summary, channel, order)
        still = next((q for q in self.store.quarantined(kind="order") if q.id == record_id), None)
        return f"still quarantined: {still.reason}" if still else "processed"

    def drop_quarantined(self, record_id: int) -> bool:
        """Forget a quarantined record."""
        with self.store.transaction():
            return self.store.drop_quarantined(record_id)

    def close(self) -> None:
        """Close the connectors, and the store when the host opened it (:attr:`owns_store`)."""
        self.plugins.close()
        if self.owns_store:
            self.store.close()

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _totals(summary: PassSummary) -> dict[str, int]:
    names = (
        "created",
        "updated",
        "withdrawn",
        "failed",
        "orders",
        "sales_reported",
        "conflicts",
        "quarantined",
    )
    totals = {name: summary.total(name) for name in names}
    totals["requests"] = sum(c.http.requests for c in summary.connectors.values())
    totals["throttled"] = sum(c.http.throttled for c in summary.connectors.values())
    return totals

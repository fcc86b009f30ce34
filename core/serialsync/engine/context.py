"""What every step of a pass needs: the plugins, the store, the settings, the clock, a logger."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from serialsync.logging import get_logger
from serialsync.manager import PluginManager
from serialsync.settings import SyncSettings
from serialsync.store import Store


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _no_checkpoint(_step: str) -> None:
    return None


def _no_progress(_task: str, _connector: str, _done: int, _total: int | None) -> None:
    return None


def _no_withdrawn(_channel: str, _serial: str, _at: datetime) -> None:
    return None


Progress = Callable[[str, str, int, int | None], None]
"""``progress(task, connector, done, total)``: called as a pass advances (for progress bars)."""


class ListingLocks:
    """One lock per channel and product, so that the two loops never cross on one listing.

    The inventory loop holds a product's lock from planning its publish to recording the
    outcomes; the order loop holds it from planning a withdrawal to recording it. A unit sold
    while its product is being published is therefore withdrawn *after* that publish call and
    from what it recorded: the publish already under way can never re-list it afterwards.
    A publish holds one lock at a time, so the order loop, which may hold many, cannot deadlock
    with it.
    """

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[tuple[str, str], threading.Lock] = {}

    def _lock(self, channel: str, sku: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault((channel, sku), threading.Lock())

    @contextlib.contextmanager
    def hold(self, channel: str, sku: str) -> Iterator[None]:
        """Hold one product's lock on one channel (waiting for it)."""
        with self._lock(channel, sku):
            yield

    @contextlib.contextmanager
    def hold_free(self, channel: str, skus: Iterable[str]) -> Iterator[tuple[list[str], list[str]]]:
        """Hold the locks that are free now; yields ``(held, busy)`` SKUs, busy ones not held."""
        held: list[tuple[str, threading.Lock]] = []
        busy: list[str] = []
        try:
            for sku in skus:
                lock = self._lock(channel, sku)
                if lock.acquire(blocking=False):
                    held.append((sku, lock))
                else:
                    busy.append(sku)
            yield [sku for sku, _ in held], busy
        finally:
            for _, lock in held:
                lock.release()


@dataclass
class EngineContext:
    """The shared machinery of the passes.

    ``checkpoint`` is called with the name of each step boundary (``"publish.after_call"``,
    ``"report.after_call"`` …), where everything before is committed. Crash tests make it raise
    to prove that a pass interrupted at any boundary loses nothing and repeats nothing; the CLI
    makes it raise to stop cleanly on SIGTERM. ``progress`` reports how far a pass has got.
    ``locks`` keep an inventory pass and an order pass running side by side (``serialsync
    run``) off the same product on the same channel at the same time. ``withdrawn`` hears of
    each unit withdrawn from a channel as it is recorded.
    """

    plugins: PluginManager
    store: Store
    sync: SyncSettings = field(default_factory=SyncSettings)
    now: Callable[[], datetime] = _utcnow
    logger: Any = None
    checkpoint: Callable[[str], None] = _no_checkpoint
    progress: Progress = _no_progress
    locks: ListingLocks = field(default_factory=ListingLocks)
    #: ``withdrawn(channel, serial, at)``: a unit's withdrawal from a channel was recorded
    #: (the service's metrics time the oversell window from it).
    withdrawn: Callable[[str, str, datetime], None] = _no_withdrawn

    def log(self, **bind: Any) -> Any:
        """A structlog logger bound with ``bind``."""
        return (self.logger or get_logger("serialsync.engine")).bind(**bind)

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
from serialsync.store import SaleWindow, Store


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _no_checkpoint(_step: str) -> None:
    return None


def _no_progress(_task: str, _connector: str, _done: int, _total: int | None) -> None:
    return None


def _no_window(_window: SaleWindow) -> None:
    return None


Progress = Callable[[str, str, int, int | None], None]
"""``progress(task, connector, done, total)``: called as a pass advances (for progress bars)."""


class ListingTurn:
    """The products one holder of :class:`ListingLocks` holds, and how it gives them back.

    A holder plans, sends and records; then :meth:`finish` gives back every product nobody
    asked for meanwhile and returns those someone asked for (still held): the holder plans them
    again, sends what that plan holds and calls :meth:`finish` again, until it returns nothing.
    """

    def __init__(self, locks: ListingLocks, channel: str, held: Iterable[str]) -> None:
        self._locks = locks
        self.channel = channel
        #: The SKUs held now.
        self.held = list(held)

    def finish(self) -> list[str]:
        """Give back what nobody asked for; return the SKUs asked for (kept, to plan again)."""
        self.held = self._locks._finish(self.channel, self.held)
        return list(self.held)


class ListingLocks:
    """One lock per channel and product, so that the two loops never cross on one listing.

    The inventory loop holds a product's lock from planning its publish to recording the
    outcomes; the order loop holds it from planning a withdrawal to recording it. A withdrawal
    never waits for a product someone holds: it *asks* the holder (:meth:`hold_or_ask`), which
    plans that product again after the call under way and before it gives the product back
    (:meth:`ListingTurn.finish`), so it withdraws the unit itself. The ask is made after the
    order's claim is committed and the holder's last plan is made after the ask, so a unit an
    order claimed is never left sellable by a call that was already under way; and a withdrawal
    is not delayed by a publish longer than that one call.

    A publish holds one lock at a time and a withdrawal never waits, so nothing can deadlock.

    These locks keep the threads of one process apart (``serialsync run``'s loops). A subclass
    reaches other processes too by overriding the ``_…_elsewhere`` methods (a deployment's
    workers: :class:`serialsync.workers.locks.SharedListingLocks`); the engine sees one
    interface either way.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._held: set[tuple[str, str]] = set()
        self._asked: set[tuple[str, str]] = set()

    @contextlib.contextmanager
    def hold(self, channel: str, sku: str) -> Iterator[ListingTurn]:
        """Hold one product's lock on one channel (waiting for it)."""
        key = (channel, sku)
        with self._cond:
            while key in self._held:
                self._cond.wait()
            self._held.add(key)
        try:
            self._wait_elsewhere(channel, sku)
        except BaseException:
            with self._cond:
                self._release_locked(channel, [sku])
            raise
        turn = ListingTurn(self, channel, [sku])
        try:
            yield turn
        finally:
            self._release(channel, turn.held)

    @contextlib.contextmanager
    def hold_or_ask(self, channel: str, skus: Iterable[str]) -> Iterator[ListingTurn]:
        """Hold the products that are free now; ask the holders of the others to plan them
        again before they give them back. Never waits. The turn holds the free ones."""
        free: list[str] = []
        with self._cond:
            for sku in skus:
                key = (channel, sku)
                if key in self._held:
                    self._asked.add(key)
                else:
                    self._held.add(key)
                    free.append(sku)
        try:
            taken = self._take_elsewhere(channel, free)
        except BaseException:
            with self._cond:
                self._release_locked(channel, free)
            raise
        if len(taken) < len(free):
            mine = set(taken)
            with self._cond:
                self._release_locked(channel, [s for s in free if s not in mine])
        turn = ListingTurn(self, channel, taken)
        try:
            yield turn
        finally:
            self._release(channel, turn.held)

    def _finish(self, channel: str, skus: list[str]) -> list[str]:
        with self._cond:
            local = [s for s in skus if (channel, s) in self._asked]
            for sku in local:
                self._asked.discard((channel, sku))
            elsewhere = self._finish_elsewhere(channel, skus, local)
            asked = set(local) | set(elsewhere)
            self._release_locked(channel, [s for s in skus if s not in asked])
            return [s for s in skus if s in asked]

    def _release(self, channel: str, skus: list[str]) -> None:
        with self._cond:
            try:
                self._release_elsewhere(channel, skus)
            finally:
                self._release_locked(channel, skus)

    def _release_locked(self, channel: str, skus: list[str]) -> None:
        for sku in skus:
            # An ask left by a holder that failed is dropped with the lock: a publish that
            # breaks withdraws its product's sold units first (``publish.withdraw_only``), and
            # what that could not do is left to the next order pass (``skus_to_withdraw``).
            self._asked.discard((channel, sku))
            self._held.discard((channel, sku))
        self._cond.notify_all()

    # -- other processes: locks that reach past this one override these (see
    # :class:`serialsync.workers.locks.SharedListingLocks`); this process's threads are kept
    # apart above before any of them is called, one thread per product at a time.

    def _wait_elsewhere(self, channel: str, sku: str) -> None:
        """Wait until no other process holds the product, and hold it there too."""

    def _take_elsewhere(self, channel: str, skus: list[str]) -> list[str]:
        """Hold there too those no other process holds; ask the holders of the others.
        Returns those held. Never waits."""
        return skus

    def _finish_elsewhere(self, channel: str, skus: list[str], keep: list[str]) -> list[str]:
        """Let go there of the products nobody asked for there, but ``keep`` (asked for here);
        return those asked for there (still held)."""
        return []

    def _release_elsewhere(self, channel: str, skus: list[str]) -> None:
        """Let go there of every product, and drop what was asked for them there."""


@dataclass
class EngineContext:
    """The shared machinery of the passes.

    ``checkpoint`` is called with the name of each step boundary (``"publish.after_call"``,
    ``"report.after_call"`` …), where everything before is committed. Crash tests make it raise
    to prove that a pass interrupted at any boundary loses nothing and repeats nothing; the CLI
    makes it raise to stop cleanly on SIGTERM. ``progress`` reports how far a pass has got.
    ``locks`` keep an inventory pass and an order pass running side by side (``serialsync
    run``) off the same product on the same channel at the same time. ``window_closed`` hears
    of each oversell window as it closes (see :mod:`serialsync.engine.windows`).
    """

    plugins: PluginManager
    store: Store
    sync: SyncSettings = field(default_factory=SyncSettings)
    now: Callable[[], datetime] = _utcnow
    logger: Any = None
    checkpoint: Callable[[str], None] = _no_checkpoint
    progress: Progress = _no_progress
    locks: ListingLocks = field(default_factory=ListingLocks)
    #: ``window_closed(window)``: a sold unit became unsellable on every other channel, its
    #: window recorded closed (the service's metrics observe it).
    window_closed: Callable[[SaleWindow], None] = _no_window

    def log(self, **bind: Any) -> Any:
        """A structlog logger bound with ``bind``."""
        return (self.logger or get_logger("serialsync.engine")).bind(**bind)

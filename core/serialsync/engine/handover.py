"""Hand-overs from the order pass's reads to each channel's withdrawal, coalesced per channel.

When the channels are read side by side, each channel's read hands the units its orders claimed
to withdrawal as soon as it ends (see :func:`~serialsync.engine.orders.order_pass`). A burst
therefore makes as many hand-overs as there are channels, each naming products on every channel.
Withdrawing each hand-over on its own would send every channel one withdrawal per hand-over, and
a product whose units sold on two channels would be sent twice, a request each time.

:class:`ChannelWithdrawals` keeps, per channel, at most one withdrawal under way: what is handed
over while it runs waits in that channel's pending set and goes in the channel's next
withdrawal, all of it at once. The first hand-over never waits, so a lone sale is withdrawn as
soon as it was read; a later one waits at most for the channel's withdrawal already under way.
A slow channel (WooCommerce's one request per product) delays only its own withdrawals.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType

from serialsync.engine.context import EngineContext
from serialsync.engine.summary import PassSummary
from serialsync.engine.withdraw import withdraw_channel
from serialsync.metering import in_this_context


class ChannelWithdrawals:
    """Per channel, one withdrawal at a time, each taking every SKU handed over until it starts.

    Use it as a context manager: leaving the block waits for every withdrawal (what was handed
    over last included) and raises the first error one of them raised, as the engine's channel
    pool does. A channel whose withdrawal raised is started again by the next hand-over; what it
    held stays due in the store, for the order pass's sweep.
    """

    def __init__(self, ctx: EngineContext, summary: PassSummary, channels: Sequence[str]) -> None:
        self._ctx = ctx
        self._summary = summary
        self._channels = list(channels)
        self._lock = threading.Lock()
        self._pending: dict[str, set[str]] = {}
        self._running: set[str] = set()
        self._futures: list[Future[None]] = []
        self._pool = ThreadPoolExecutor(
            max_workers=max(1, min(ctx.sync.workers, len(self._channels))),
            thread_name_prefix="withdraw",
        )

    def hand_over(self, skus: Collection[str]) -> None:
        """Withdraw the units of ``skus`` that are no longer for sale from every channel: now on
        a channel with no withdrawal under way, else in its next one. Returns at once.

        Called from the thread whose context the withdrawal runs in (urgent, and its requests
        counted in the pass: :func:`~serialsync.metering.in_this_context`).
        """
        if not skus:
            return
        with self._lock:
            for channel in self._channels:
                self._pending.setdefault(channel, set()).update(skus)
                if channel not in self._running:
                    self._running.add(channel)
                    drain = in_this_context(self._drain)
                    self._futures.append(self._pool.submit(drain, channel))

    def _drain(self, channel: str) -> None:
        """Withdraw what is pending on ``channel`` until nothing is."""
        try:
            while True:
                with self._lock:
                    skus = self._pending.pop(channel, set())
                    if not skus:
                        self._running.discard(channel)
                        return
                withdraw_channel(self._ctx, self._summary, channel, skus)
        except BaseException:
            with self._lock:
                # Not running any more: the next hand-over starts the channel again, and what
                # is pending now is still due in the store (the pass's sweep withdraws it).
                self._running.discard(channel)
            raise

    def wait(self) -> None:
        """Wait for every withdrawal handed over so far, raising the first error of one."""
        done = 0
        while True:
            with self._lock:
                futures = self._futures[done:]
            if not futures:
                return
            for future in futures:
                future.result()
            done += len(futures)

    def __enter__(self) -> ChannelWithdrawals:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc is None:
                self.wait()
        finally:
            self._pool.shutdown(wait=True)

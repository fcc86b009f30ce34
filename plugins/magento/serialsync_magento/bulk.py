"""Magento's asynchronous bulk API: many product saves in one request, then polling.

``POST /async/bulk/V1/products`` takes an array of ``{"product": …}`` bodies and answers 202
with a ``bulk_uuid``: each item "accepted" into the message queue, which says nothing about
success. The store's ``async.operations.all`` consumer then runs each operation as the
synchronous endpoint would, one at a time per consumer process; ``GET
/V1/bulk/{uuid}/detailed-status`` gives each operation's status (1 complete, 2 failed but
retriable, 3 failed, 4 open, 5 rejected), its message, and for a completed save the
serialized answer of the synchronous call (the saved product, with its id).

A store whose consumers do not run (no cron, no supervisor) leaves every operation open for
good. Whether they run is learnt from the first bulk (``bulk = "auto"``, the default): if
none of its operations leaves "open" within ``bulk_detect_timeout``, the consumers are taken
for not running and the synchronous path is used, for ``bulk_redetect_after``; then the next
bulk detects again, so a merchant who starts the consumers later gets bulk back without a
restart (a store whose consumers stay off pays one detection wait per interval). An
operation still open when it is given up is left to the caller, which saves it synchronously:
should a consumer run it later, it saves the same payload again (an upsert by SKU that sets no
stock), so no unit is listed or re-listed by it.

Consumers that run are not enough to choose bulk: one consumer works one operation at a time,
slower than ``concurrency`` synchronous saves. In ``"auto"`` each bulk, and each product's
children saved synchronously, are timed (:class:`~serialsync_magento.pace.Pace`); a product's
new children go by bulk only while it is expected to be done no later (with ``bulk_margin``)
than the synchronous path. The path not chosen is taken again once its last measurement is
``bulk_redetect_after`` old, so that consumers added (or a store slowed down) are followed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from serialsync import PermanentRemoteError, RemoteError, RetryableRemoteError

from serialsync_magento.client import MagentoClient
from serialsync_magento.pace import Pace

# Confirmed: the operation statuses of GET /V1/bulk/{uuid}/detailed-status (and /status),
# developer.adobe.com/commerce/webapi/rest/use-rest/operation-status-endpoints; Magento's
# OperationProcessor answers 2 only when the save met a database lock wait, deadlock or lost
# connection, 3 for any other refusal (its message, the exception's code as error_code).
COMPLETE, RETRIABLY_FAILED, FAILED, OPEN, REJECTED = 1, 2, 3, 4, 5
#: The first wait after scheduling, and the shortest between polls, in seconds.
FIRST_WAIT = 0.5
SHORTEST_WAIT = 0.2

#: What one item of :meth:`BulkRunner.save_products` comes to: the saved product, the
#: operation's failure, or ``None`` when it never ran (to be saved synchronously).
SaveResult = dict[str, Any] | RemoteError | None


class BulkRunner:
    """Schedules product saves by bulk and waits for them; remembers whether consumers run.

    :param mode: ``"auto"`` (bulk while the consumers run and their measured pace keeps up
        with the synchronous path's, see :meth:`chooses`), ``True`` (always) or ``False``
        (never).
    :param margin: how much longer than the synchronous path a bulk may be expected to take
        and still be chosen, as a fraction.
    """

    def __init__(
        self,
        client: MagentoClient,
        *,
        mode: bool | str,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        poll_interval: float,
        timeout: float,
        detect_timeout: float,
        redetect_after: float,
        margin: float = 0.0,
        connector: str,
        log: Any,
    ) -> None:
        self.client = client
        self.mode = mode
        self._sleep = sleep
        self._clock = clock
        self._interval = poll_interval
        self._timeout = timeout
        self._detect_timeout = detect_timeout
        self._redetect_after = redetect_after
        self._connector = connector
        self._log = log
        #: Whether the store's consumers run: None until a bulk has shown it.
        self.consumers: bool | None = None
        #: When (``clock``) the consumers were last taken for not running.
        self._stopped_at = 0.0
        #: The measured pace of both paths (learnt in ``"auto"`` and forced modes alike).
        self.pace = Pace(margin=margin)
        #: When (``clock``) each path's pace was last measured (None: never).
        self._bulk_at: float | None = None
        self._sync_at: float | None = None
        #: The last choice :meth:`chooses` made by pace, to log when it changes.
        self._by_pace: bool | None = None

    def now(self) -> float:
        """The connector's clock (the one the paces are measured on)."""
        return self._clock()

    def observe_sync(self, saves: int, seconds: float) -> None:
        """A product's new children went by ``saves`` synchronous saves in ``seconds``."""
        self.pace.observe_sync(saves, seconds)
        self._sync_at = self._clock()

    @property
    def usable(self) -> bool:
        """True when product saves should go by bulk now: in ``"auto"``, unless the consumers
        were seen stopped less than ``redetect_after`` ago (after it, the next bulk detects
        again whether they run)."""
        if self.mode == "auto":
            if self.consumers is not False:
                return True
            return self._clock() - self._stopped_at >= self._redetect_after
        return bool(self.mode)

    def chooses(self, count: int) -> bool:
        """Whether ``count`` new children should go by bulk now, rather than as synchronous
        saves side by side.

        In ``"auto"``: not while the consumers were seen stopped (until ``redetect_after``);
        by bulk while it is not known whether they run (the bulk tells); then the two paths
        by turns until each was measured twice (:attr:`Pace.learning`); then by the expected
        times (:meth:`Pace.prefers_bulk`), except that the path not chosen is taken once its
        last measurement is ``redetect_after`` old, so that each estimate keeps up with the
        store.
        """
        if not self.usable:
            return False
        if self.mode != "auto" or self.consumers is not True:
            return True
        learning = self.pace.learning
        if learning is not None:
            return learning
        verdict = bool(self.pace.prefers_bulk(count))
        if verdict != self._by_pace:
            self._by_pace = verdict
            self._log.info(
                "magento.bulk_pace",
                bulk=verdict,
                children=count,
                bulk_seconds=_rounded(self.pace.bulk_time(count)),
                sync_seconds=_rounded(self.pace.sync_time(count)),
                why="the path expected to create a product's children sooner (bulk_margin "
                "in bulk's favour): the consumers' measured pace against the synchronous "
                "saves' in flight",
            )
        other_at = self._sync_at if verdict else self._bulk_at
        stale = other_at is None or self._clock() - other_at >= self._redetect_after
        return verdict != stale

    def save_products(self, payloads: Sequence[Mapping[str, Any]]) -> list[SaveResult]:
        """Upsert products by one bulk; per payload, the saved product, its failure, or
        ``None`` when its operation never ran (the caller saves it synchronously)."""
        started = self._clock()
        uuid = self.client.bulk("products", [{"product": p} for p in payloads], "save products")
        operations = self._wait(uuid, len(payloads))
        done = sum(1 for op in operations if _status(op) != OPEN)
        if done:
            # The whole path's time (the request, the waits, the polls): what it costs.
            self.pace.observe_bulk(done, self._clock() - started)
            self._bulk_at = self._clock()
        return [self._result(operations, index) for index in range(len(payloads))]

    def _wait(self, uuid: str, count: int) -> list[dict[str, Any]]:
        """Poll until no operation is open or the wait is given up; the last operations read.

        The wait after a poll is the time the finished operations took, spread over those
        still open (bounded by ``bulk_poll_interval``): a bulk is polled about once after its
        consumers are done, whatever their number and speed.
        """
        # Consumers seen running get the long wait; unknown (or, with bulk forced on, seen
        # stopped) the short one.
        limit = self._timeout if self.consumers is True else self._detect_timeout
        started = self._clock()
        self._sleep(FIRST_WAIT)
        while True:
            operations = self.client.bulk_detailed_status(uuid)
            done = sum(1 for op in operations if _status(op) != OPEN)
            elapsed = self._clock() - started
            if done and self.consumers is not True:
                self.consumers = True
                self._log.info("magento.bulk_consumers_run", bulk=uuid)
            if operations and done >= count:
                return operations
            if elapsed >= limit:
                self.consumers = False
                self._stopped_at = self._clock()
                self._log.warning(
                    "magento.bulk_consumers_not_running",
                    bulk=uuid,
                    open=len(operations) - done,
                    waited=round(elapsed, 1),
                    why="operations still open: saved synchronously instead (are the store's "
                    "async.operations.all consumers running?)",
                )
                return operations
            # None done yet: wait as long again as so far (the waits double), up to the interval.
            wait = elapsed / done * (count - done) if done else elapsed
            self._sleep(min(max(wait, SHORTEST_WAIT), self._interval, max(0.0, limit - elapsed)))

    def _result(self, operations: Sequence[Mapping[str, Any]], index: int) -> SaveResult:
        op = operations[index] if index < len(operations) else {}
        status = _status(op)
        if status == OPEN:
            return None
        if status == COMPLETE:
            try:
                saved = json.loads(str(op.get("result_serialized_data") or ""))
            except ValueError:
                saved = None
            if isinstance(saved, dict) and saved.get("id") is not None:
                return saved
            # Completed, but the answer does not say which product: saving it again
            # synchronously (an upsert) tells.
            return None
        message = str(op.get("result_message") or "the bulk save did not complete")
        text = f"Magento bulk save products failed (status {status}): {message}"
        if status == RETRIABLY_FAILED:
            return RetryableRemoteError(text, connector=self._connector, code=f"bulk {status}")
        return PermanentRemoteError(text, connector=self._connector, code=f"bulk {status}")


def _rounded(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 2)


def _status(op: Mapping[str, Any]) -> int:
    text = str(op.get("status"))
    return int(text) if text.isdigit() else OPEN

"""Listing locks that reach across processes: PostgreSQL advisory locks, one per merchant, channel
and product, behind the interface of the engine's :class:`~serialsync.engine.context.ListingLocks`.

In ``serialsync run`` the inventory and order loops are threads of one process, and the engine's
listing locks keep them off the same product of the same channel. A deployment's workers run a
merchant's inventory pass and its order pass as two jobs, often in two processes on two machines:
:class:`SharedListingLocks` gives those jobs the same guarantees, so the engine keeps one path.

* **Holding** a product is holding a session advisory lock on ``(merchant, channel, product)``
  (:func:`~serialsync.store.postgres.lock_key` of the merchant's store schema), on the one
  connection of the process's :class:`ProcessLocks`. The server drops the locks of a killed
  worker with its session, so nothing stays held by the dead.
* **Asking** (a withdrawal never waits for a held product) is a row in ``listing_asks``, in the
  register's schema. The holder reads and deletes the asks of its products when it finishes a
  turn (:meth:`ListingTurn.finish`) and plans those products again before it lets them go.
  Trying a lock and leaving an ask, and reading the asks and letting locks go, each run in one
  transaction under the channel's ask lock (``pg_advisory_xact_lock``), so an ask is never left
  behind by a holder that let go at the same moment: either the asker gets the lock (and
  withdraws the unit itself) or the holder sees the ask (and withdraws it before it lets go).
* Within one process, jobs of one merchant (several threads) first pass the in-process locks
  the parent class keeps; a session advisory lock is re-entrant, so the process's one
  connection must never try a key twice, and it never does: one thread at a time holds a key
  locally before it touches the server.

A holder waits for a product (:meth:`SharedListingLocks.hold`) by trying again in short slices:
the other holder is a withdrawal (one call) or a publish's turn, and waiting on the server would
block the process's one connection for every other job.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from serialsync.engine.context import ListingLocks
from serialsync.logging import get_logger
from serialsync.store.postgres import connect_settings, lock_key

if TYPE_CHECKING:
    import psycopg

    from serialsync.settings import Settings

_log = get_logger("serialsync.workers")

#: The first and the longest pause between two tries of a held product's lock.
FIRST_PAUSE, LONGEST_PAUSE = 0.02, 0.25

_ASKS_TABLE = """CREATE UNLOGGED TABLE IF NOT EXISTS {asks} (
    store_schema TEXT NOT NULL,
    channel TEXT NOT NULL,
    sku TEXT NOT NULL,
    asked_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (store_schema, channel, sku)
)"""


def listing_key(store_schema: str, channel: str, sku: str) -> int:
    """The advisory lock key of one product on one channel of one merchant (its store)."""
    return lock_key(f"listing:{channel}:{sku}", store_schema)


def _asks_key(store_schema: str, channel: str) -> int:
    return lock_key(f"listing-asks:{channel}", store_schema)


class ProcessLocks:
    """A process's connection for listing locks, and the lock set of each merchant.

    Open it once per worker process (:meth:`open`) and close it when the process ends; every job
    of a merchant takes that merchant's :meth:`for_store`, the same object for all of them.
    """

    def __init__(self, connection: psycopg.Connection[Any], register_schema: str) -> None:
        from psycopg import sql

        self._db = connection
        self._mutex = threading.Lock()
        self._asks = sql.SQL("{}.listing_asks").format(sql.Identifier(register_schema))
        self._stores: dict[str, SharedListingLocks] = {}
        self._stores_lock = threading.Lock()

    @classmethod
    def open(cls, deployment: Settings) -> ProcessLocks:
        """Connect to the deployment's database (a connection of its own, not pooled: it holds
        the locks for as long as the process lives) and create ``listing_asks`` if missing."""
        from psycopg import sql

        schema = deployment.merchants.db_schema
        db = connect_settings(
            deployment.store, autocommit=True, application_name="serialsync listing locks"
        )
        try:
            with db.transaction():
                # As the register does: CREATE … IF NOT EXISTS races a second process otherwise.
                db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (schema,))
                db.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
                asks = sql.SQL("{}.listing_asks").format(sql.Identifier(schema))
                db.execute(sql.SQL(_ASKS_TABLE).format(asks=asks))
        except BaseException:
            db.close()
            raise
        return cls(db, schema)

    def for_store(self, store_schema: str) -> SharedListingLocks:
        """The listing locks of the merchant whose store is ``store_schema`` (one per process)."""
        with self._stores_lock:
            found = self._stores.get(store_schema)
            if found is None:
                found = self._stores[store_schema] = SharedListingLocks(self, store_schema)
            return found

    def close(self) -> None:
        """Close the connection; the server lets go of whatever it still held."""
        with self._mutex:
            self._db.close()

    @contextlib.contextmanager
    def _session(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection, for one thread at a time."""
        with self._mutex:
            if self._db.closed or self._db.broken:
                # The locks went with the session: a holder that thinks it holds one no longer
                # does. Failing the job (it is retried) is the honest answer.
                raise RuntimeError("the listing locks' database connection was lost")
            yield self._db

    def try_hold(self, store_schema: str, channel: str, sku: str) -> bool:
        """Take one product's lock if it is free (never waits)."""
        with self._session() as db:
            row = db.execute(
                "SELECT pg_try_advisory_lock(%s)", (listing_key(store_schema, channel, sku),)
            ).fetchone()
        return bool(row and row[0])

    def hold_or_ask(self, store_schema: str, channel: str, skus: list[str]) -> list[str]:
        """Take the locks of the free products; leave an ask for each held one. Returns the
        SKUs taken."""
        if not skus:
            return []
        from psycopg import sql

        keys = [listing_key(store_schema, channel, sku) for sku in skus]
        with self._session() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_asks_key(store_schema, channel),))
            rows = db.execute(
                "SELECT t.sku, pg_try_advisory_lock(t.key) FROM unnest(%s::text[], %s::bigint[])"
                " WITH ORDINALITY AS t(sku, key, n) ORDER BY t.n",
                (skus, keys),
            ).fetchall()
            taken = [str(sku) for sku, got in rows if got]
            asked = [str(sku) for sku, got in rows if not got]
            if asked:
                db.execute(
                    sql.SQL(
                        "INSERT INTO {} (store_schema, channel, sku) "
                        "SELECT %s, %s, unnest(%s::text[]) ON CONFLICT DO NOTHING"
                    ).format(self._asks),
                    (store_schema, channel, asked),
                )
        return taken

    def finish(
        self, store_schema: str, channel: str, skus: list[str], keep: Iterable[str] = ()
    ) -> list[str]:
        """Let go of the held products nobody asked for (but those in ``keep``: asked for in
        this process); return those asked for here, on the server (still held)."""
        return self._let_go(store_schema, channel, skus, keep_asked=True, keep=set(keep))

    def release(self, store_schema: str, channel: str, skus: list[str]) -> None:
        """Let go of every held product, and drop the asks left for them."""
        self._let_go(store_schema, channel, skus, keep_asked=False, keep=set())

    def _let_go(
        self,
        store_schema: str,
        channel: str,
        skus: list[str],
        *,
        keep_asked: bool,
        keep: set[str],
    ) -> list[str]:
        if not skus:
            return []
        from psycopg import sql

        with self._session() as db, db.transaction():
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_asks_key(store_schema, channel),))
            rows = db.execute(
                sql.SQL(
                    "DELETE FROM {} WHERE store_schema = %s AND channel = %s "
                    "AND sku = ANY(%s::text[]) RETURNING sku"
                ).format(self._asks),
                (store_schema, channel, skus),
            ).fetchall()
            asked = {str(row[0]) for row in rows} if keep_asked else set()
            going = [
                listing_key(store_schema, channel, s)
                for s in skus
                if s not in asked and s not in keep
            ]
            if going:
                db.execute("SELECT pg_advisory_unlock(k) FROM unnest(%s::bigint[]) AS k", (going,))
        return [s for s in skus if s in asked]


class SharedListingLocks(ListingLocks):
    """One merchant's listing locks, across every process of the deployment (see the module).

    Threads of this process are kept apart by the parent class's in-process locks first; the
    server's advisory locks and asks then keep other processes out.
    """

    def __init__(self, process: ProcessLocks, store_schema: str) -> None:
        super().__init__()
        self._process = process
        self.store_schema = store_schema

    def __repr__(self) -> str:
        return f"SharedListingLocks({self.store_schema!r})"

    def _wait_elsewhere(self, channel: str, sku: str) -> None:
        # Tried again in short slices: blocking on the server would hold the process's one
        # connection away from every other job meanwhile.
        pause = FIRST_PAUSE
        while not self._process.try_hold(self.store_schema, channel, sku):
            time.sleep(pause)
            pause = min(LONGEST_PAUSE, pause * 2)

    def _take_elsewhere(self, channel: str, skus: list[str]) -> list[str]:
        taken = self._process.hold_or_ask(self.store_schema, channel, skus)
        if len(taken) < len(skus):
            _log.info(
                "listing_locks.asked",
                store=self.store_schema,
                connector=channel,
                products=len(skus) - len(taken),
            )
        return taken

    def _finish_elsewhere(self, channel: str, skus: list[str], keep: list[str]) -> list[str]:
        asked = self._process.finish(self.store_schema, channel, skus, keep=keep)
        if asked:
            _log.info(
                "listing_locks.plan_again",
                store=self.store_schema,
                connector=channel,
                products=len(asked),
            )
        return asked

    def _release_elsewhere(self, channel: str, skus: list[str]) -> None:
        self._process.release(self.store_schema, channel, skus)

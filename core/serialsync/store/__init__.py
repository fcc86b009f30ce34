"""The state store: units, listings, cursors, the sale outbox, quarantine and runs."""

from serialsync.store.base import Store
from serialsync.store.records import (
    Claim,
    ListingRecord,
    ListingState,
    OutboxRecord,
    OutboxState,
    QuarantineRecord,
    RunRecord,
    UnitRecord,
)
from serialsync.store.sqlite import SQLiteStore

__all__ = [
    "Claim",
    "ListingRecord",
    "ListingState",
    "OutboxRecord",
    "OutboxState",
    "QuarantineRecord",
    "RunRecord",
    "SQLiteStore",
    "Store",
    "UnitRecord",
]

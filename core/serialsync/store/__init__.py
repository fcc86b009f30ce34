"""The state store: units, listings, cursors, the sale outbox, quarantine and runs."""

from serialsync.store.base import Store
from serialsync.store.records import (
    Claim,
    Hold,
    ListingRecord,
    ListingState,
    OperatorAction,
    OutboxRecord,
    OutboxState,
    PanelLogin,
    PanelUser,
    QuarantineRecord,
    Reference,
    RefGroup,
    RunRecord,
    SaleWindow,
    SkuWork,
    UnitDetails,
    UnitRecord,
    VisibilityRecord,
)
from serialsync.store.sqlite import SQLiteStore

__all__ = [
    "Claim",
    "Hold",
    "ListingRecord",
    "ListingState",
    "OperatorAction",
    "OutboxRecord",
    "OutboxState",
    "PanelLogin",
    "PanelUser",
    "QuarantineRecord",
    "RefGroup",
    "Reference",
    "RunRecord",
    "SQLiteStore",
    "SaleWindow",
    "SkuWork",
    "Store",
    "UnitDetails",
    "UnitRecord",
    "VisibilityRecord",
]

"""The rows of the state store, as plain immutable records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from serialsync.lifecycle import UnitStatus
from serialsync.model import RemoteIds, Sale, SerializedUnit


class ListingState(StrEnum):
    """Where one unit stands on one channel."""

    LIVE = "live"  # listed with stock 1
    WITHDRAWN = "withdrawn"  # stock 0 or variant removed
    FAILED = "failed"  # the last publish failed; see last_error


class OutboxState(StrEnum):
    """Where one channel order stands on its way to the POS."""

    WAITING = "waiting"  # placed, not paid yet: its units are reserved, nothing reported
    PENDING = "pending"  # to be reported to the POS
    REPORTED = "reported"  # the POS gave a receipt
    FAILED = "failed"  # the POS refused it: a person must look (``sales retry``)
    CANCELLED = "cancelled"  # ended before the POS had it (or refused it): nothing to report
    CONFLICT = "conflict"  # a unit of it was already sold elsewhere: a person must look


@dataclass(frozen=True)
class UnitRecord:
    """A unit as the store holds it: the POS's data, serialsync's status, and deletion.

    ``content_hash`` is what the engine recorded of what channels show of the unit when the
    POS's record was stored (``None``: not known; see :mod:`serialsync.engine.publish`)."""

    unit: SerializedUnit
    status: UnitStatus
    deleted: bool = False
    content_hash: str | None = None


@dataclass(frozen=True)
class UnitDetails:
    """What a person recorded about a unit beside the POS (``serials import``); ``None`` where
    nothing was recorded."""

    lot: str | None = None
    warehouse: str | None = None
    location: str | None = None
    purchase_date: date | None = None
    warranty_expiry: date | None = None


#: The fields of :class:`UnitDetails`, in the order the docs and the CSV name them.
DETAIL_FIELDS = ("lot", "warehouse", "location", "purchase_date", "warranty_expiry")


@dataclass(frozen=True)
class Hold:
    """An operator's hold on a unit: its status stands whatever the POS says, until a person
    returns the unit to stock. ``pos_status`` is what the POS said last when it disagreed."""

    serial: str
    status: UnitStatus
    held_by: str
    reason: str
    at: datetime
    pos_status: UnitStatus | None = None


@dataclass(frozen=True)
class VisibilityRecord:
    """Whether a channel's storefront shows one product (or one sibling, ``part``), as
    serialsync last set it, with the ids that name the product there (``remote``: a unit's
    ids, kept after its listing forgot them, so the product can be shown again)."""

    connector: str
    sku: str
    part: int
    visible: bool
    remote: RemoteIds | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ListingRecord:
    """What one channel was last given for one unit."""

    connector: str
    serial: str
    sku: str
    state: ListingState
    content_hash: str | None = None
    remote: RemoteIds | None = None
    last_error: str | None = None
    retryable: bool = True
    attempts: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Claim:
    """An order holding a unit (reserved or sold through that order)."""

    serial: str
    channel: str
    order_id: str
    claimed_at: datetime | None = None


@dataclass(frozen=True)
class OutboxRecord:
    """One channel order in the sale outbox; ``(channel, order_id)`` is its idempotency key."""

    channel: str
    order_id: str
    order_number: str
    state: OutboxState
    financial_status: str
    order_updated_at: datetime
    sale_json: str
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    receipt: str | None = None
    note: str | None = None
    created_at: datetime | None = None
    reported_at: datetime | None = None

    @property
    def sale(self) -> Sale:
        """The sale as it will be (or was) reported."""
        return Sale.model_validate_json(self.sale_json)


@dataclass(frozen=True)
class QuarantineRecord:
    """A record that could not be processed, with the reason."""

    id: int
    kind: str
    key: str
    connector: str
    reason: str
    payload: str | None
    first_seen: datetime
    last_seen: datetime
    count: int


@dataclass(frozen=True)
class RunRecord:
    """One pass: when it ran, whether it went cleanly, and its counts."""

    id: int
    kind: str
    started_at: datetime
    finished_at: datetime | None
    ok: bool | None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RefGroup:
    """A group of serial references: ``kind`` ``"continuous"`` (minted one at a time) or
    ``"batch"`` (minted in named batches); at most ``limit`` live references, each ``length``
    characters of ``alphabet``."""

    name: str
    kind: str
    limit: int
    alphabet: str
    length: int
    created_at: datetime


@dataclass(frozen=True)
class Reference:
    """One minted serial reference; ``serial`` is the unit it is assigned to, if any."""

    ref: str
    group: str
    batch: str | None
    serial: str | None
    deleted: bool
    created_at: datetime


@dataclass(frozen=True)
class PanelUser:
    """A person who may log in to the admin panel: ``role`` ``"viewer"`` (reads) or
    ``"operator"`` (reads and acts). ``password_hash`` is an argon2 hash; its repr hides it."""

    name: str
    role: str
    password_hash: str = field(repr=False)
    created_at: datetime | None = None


@dataclass(frozen=True)
class SaleWindow:
    """One unit an order claimed, and how long it stayed for sale elsewhere: from the order's
    creation on its channel (``placed_at``, as the channel dated it) to the moment the last
    other channel's withdrawal was recorded (``closed_at``; ``None`` while it is still listed
    somewhere else). ``claimed_at`` is when serialsync recorded the order."""

    channel: str
    order_id: str
    serial: str
    placed_at: datetime
    claimed_at: datetime
    closed_at: datetime | None = None

    @property
    def seconds(self) -> float | None:
        """The oversell window in seconds (never below 0: the channel's clock may run ahead of
        ours), or ``None`` while it is open."""
        if self.closed_at is None:
            return None
        return max(0.0, (self.closed_at - self.placed_at).total_seconds())


@dataclass(frozen=True)
class PanelLogin:
    """A one-time login to the panel for ``name``: only its token's hash is kept; ``used_at``
    is set when it is spent."""

    token_hash: str = field(repr=False)
    name: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None


@dataclass(frozen=True)
class OperatorAction:
    """One thing a person did to the state (retry a sale, settle a conflict, mark a unit…):
    who, when, what (``action``), on which record (``target``), why, and what came of it."""

    id: int
    at: datetime
    who: str
    action: str
    target: str
    reason: str
    outcome: str


@dataclass(frozen=True)
class SkuWork:
    """What one product asks of one channel's publish, as the store's query sees it.

    ``todo``: units whose listing on the channel is not what the unit asks for (its content
    hash differs or is unknown, a failure to retry, a withdrawal due); ``sellable``: units in
    stock, not deleted and priced; ``for_sale``: a listing may be for sale there; ``named``: a
    listing holds the channel's ids; ``siblings``: a listing lives in a sibling product;
    ``shown``: the lowest and highest visibility remembered for its parts (``None``: none);
    ``version``: the version of the product's mark the row was read at, for
    :meth:`~serialsync.store.base.Store.settle_work`.
    """

    sku: str
    todo: int
    sellable: int
    for_sale: bool
    named: bool
    siblings: bool
    shown: tuple[int, int] | None
    version: int = 0

"""The life of one serialized unit, and the only moves it may make.

::

    in_stock ──▶ reserved ──▶ sold ──▶ returned ──▶ in_stock
        │           │          │          │
        │           └─▶ in_stock          └─▶ defective ──▶ in_stock
        └──────────────────▶ sold ──▶ defective

Every move carries when it happened, why, and who made it (the POS, a channel's order, an
operator), so a unit's whole life can be traced.

The moves serialsync makes itself follow this table strictly (:func:`move`); anything else
raises :class:`~serialsync.errors.LifecycleError`. Two kinds of record stand outside it, each
marked as what it is, never padded with invented steps to look like it followed the table:

* **asserted** (:func:`asserted_move`): a status another system or a person states, recorded
  as one move from where the unit stood to that status, because the POS (the source of truth)
  says so. A unit the POS flags defective while serialsync holds it in stock is one move
  ``in_stock → defective``, not an invented sale in between.
* **reversal** (:func:`reversal`): serialsync taking back a claim of its own, such as a sale
  cancelled before it was reported to the POS: one move back to where the unit stood before
  the claim, not an invented return.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from serialsync.errors import LifecycleError


class UnitStatus(StrEnum):
    """Where a unit stands. Only ``in_stock`` units are sold online."""

    IN_STOCK = "in_stock"
    RESERVED = "reserved"
    SOLD = "sold"
    RETURNED = "returned"
    DEFECTIVE = "defective"


ALLOWED_MOVES: dict[UnitStatus, frozenset[UnitStatus]] = {
    UnitStatus.IN_STOCK: frozenset({UnitStatus.RESERVED, UnitStatus.SOLD}),
    UnitStatus.RESERVED: frozenset({UnitStatus.SOLD, UnitStatus.IN_STOCK}),
    UnitStatus.SOLD: frozenset({UnitStatus.RETURNED, UnitStatus.DEFECTIVE}),
    UnitStatus.RETURNED: frozenset({UnitStatus.IN_STOCK, UnitStatus.DEFECTIVE}),
    UnitStatus.DEFECTIVE: frozenset({UnitStatus.IN_STOCK}),
}


# Declaration order: the usual life of a unit first, ``defective`` last.
_ORDER = list(UnitStatus)


class MoveSource(StrEnum):
    """Who made a move."""

    POS = "pos"
    CHANNEL = "channel"
    OPERATOR = "operator"


class MoveBasis(StrEnum):
    """On what grounds a move was recorded."""

    TABLE = "table"  # a move the lifecycle table allows, made by serialsync
    ASSERTED = "asserted"  # a status the POS (or a person) states, recorded as one move
    REVERSAL = "reversal"  # serialsync taking back a claim of its own


class Move(BaseModel):
    """One lifecycle move of one unit: from, to, when, why and who.

    ``source_ref`` says which POS, channel order or operator made it, for example
    ``"shopify-main:order/1001"``. ``basis`` says whether it followed the table, records a
    status asserted from outside, or reverses serialsync's own claim (see the module).
    """

    model_config = ConfigDict(frozen=True)

    from_status: UnitStatus
    to_status: UnitStatus
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    reason: str
    source: MoveSource
    source_ref: str = ""
    basis: MoveBasis = MoveBasis.TABLE

    @property
    def asserted(self) -> bool:
        """True when the move records a status stated by the POS (or a person)."""
        return self.basis is MoveBasis.ASSERTED


def can_move(from_status: UnitStatus, to_status: UnitStatus) -> bool:
    """True when the lifecycle allows ``from_status → to_status``."""
    return to_status in ALLOWED_MOVES[from_status]


def move(
    from_status: UnitStatus,
    to_status: UnitStatus,
    *,
    reason: str,
    source: MoveSource,
    source_ref: str = "",
    at: datetime | None = None,
) -> Move:
    """Return the :class:`Move` ``from_status → to_status``, or raise :class:`LifecycleError`.

    Staying in the same status is not a move; callers skip it before asking.
    """
    if not can_move(from_status, to_status):
        allowed = ", ".join(sorted(ALLOWED_MOVES[from_status])) or "nothing"
        raise LifecycleError(
            f"a unit cannot move from {from_status} to {to_status} "
            f"(from {from_status} it may move to: {allowed}); asked by {source}"
            f"{' ' + source_ref if source_ref else ''} because {reason}"
        )
    return Move(
        from_status=from_status,
        to_status=to_status,
        at=at or datetime.now(UTC),
        reason=reason,
        source=source,
        source_ref=source_ref,
    )


def asserted_move(
    from_status: UnitStatus,
    to_status: UnitStatus,
    *,
    reason: str,
    source: MoveSource,
    source_ref: str = "",
    at: datetime | None = None,
) -> Move:
    """The one move that records a status stated from outside, table or not.

    Used when the POS reports a unit's status (or a person confirms what the POS shows): the
    unit goes straight to it, marked asserted, with no intermediate step invented. A channel's
    order never asserts a status; it claims units through :func:`move`.
    """
    if source is MoveSource.CHANNEL:
        raise LifecycleError(
            f"a channel's order cannot assert a status ({from_status} to {to_status}); "
            f"it moves units through the lifecycle table ({source_ref or reason})"
        )
    return Move(
        from_status=from_status,
        to_status=to_status,
        at=at or datetime.now(UTC),
        reason=reason,
        source=source,
        source_ref=source_ref,
        basis=MoveBasis.ASSERTED,
    )


def pos_reports(
    from_status: UnitStatus,
    said: UnitStatus,
    *,
    source_ref: str,
    at: datetime | None = None,
    why: str | None = None,
) -> Move:
    """The move that records the POS's word on a unit: asserted, by the POS, with the one
    reason every such move carries ("the POS reports the unit sold", and ``why`` in brackets
    when the word is applied late, e.g. once the web sale that held the unit ended).

    :param source_ref: ``POS:SKU``, the POS connector and the product it read the unit under.
    """
    reason = f"the POS reports the unit {said.value}"
    return asserted_move(
        from_status,
        said,
        reason=f"{reason} ({why})" if why else reason,
        source=MoveSource.POS,
        source_ref=source_ref,
        at=at,
    )


def reversal(
    from_status: UnitStatus,
    to_status: UnitStatus,
    *,
    reason: str,
    source: MoveSource,
    source_ref: str,
    at: datetime | None = None,
) -> Move:
    """The one move that takes back serialsync's own claim ``source_ref`` made.

    ``to_status`` is where the unit stood before the claim. Where the table allows the move
    back (``reserved → in_stock``) it is an ordinary move; otherwise (``sold → in_stock``, a
    sale cancelled before the POS heard of it) it is recorded as a reversal, not as an
    invented return.
    """
    if can_move(from_status, to_status):
        return move(
            from_status, to_status, reason=reason, source=source, source_ref=source_ref, at=at
        )
    return Move(
        from_status=from_status,
        to_status=to_status,
        at=at or datetime.now(UTC),
        reason=reason,
        source=source,
        source_ref=source_ref,
        basis=MoveBasis.REVERSAL,
    )

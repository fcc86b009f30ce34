"""The life of one serialized unit, and the only moves it may make.

::

    in_stock ──▶ reserved ──▶ sold ──▶ returned ──▶ in_stock
        │           │          │          │
        │           └─▶ in_stock          └─▶ defective ──▶ in_stock
        └──────────────────▶ sold ──▶ defective

Every move carries when it happened, why, and who made it (the POS, a channel's order, an
operator), so a unit's whole life can be traced. Anything else raises
:class:`~serialsync.errors.LifecycleError`.
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


class Move(BaseModel):
    """One lifecycle move of one unit: from, to, when, why and who.

    ``source_ref`` says which POS, channel order or operator made it, for example
    ``"shopify-main:order/1001"``.
    """

    model_config = ConfigDict(frozen=True)

    from_status: UnitStatus
    to_status: UnitStatus
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    reason: str
    source: MoveSource
    source_ref: str = ""


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


def path_to(from_status: UnitStatus, to_status: UnitStatus) -> list[UnitStatus]:
    """The shortest chain of allowed statuses leading from one status to another.

    Used when the POS reports a status the unit cannot reach in one move (a unit sold and
    returned between two passes): the engine records each step instead of one illegal jump.
    Returns ``[]`` when they are equal; raises :class:`LifecycleError` when none exists.
    Between chains of equal length, the one through the earlier statuses of
    :class:`UnitStatus` wins: a sold unit back in stock was ``returned``, not ``defective``.
    """
    if from_status == to_status:
        return []
    frontier: list[list[UnitStatus]] = [[from_status]]
    seen = {from_status}
    while frontier:
        nxt: list[list[UnitStatus]] = []
        for chain in frontier:
            for candidate in sorted(ALLOWED_MOVES[chain[-1]], key=_ORDER.index):
                if candidate in seen:
                    continue
                if candidate == to_status:
                    return [*chain[1:], candidate]
                seen.add(candidate)
                nxt.append([*chain, candidate])
        frontier = nxt
    raise LifecycleError(f"no chain of allowed moves leads from {from_status} to {to_status}")

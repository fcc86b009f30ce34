"""Lifecycle: the 5 x 5 table of moves, and the two records outside it (asserted, reversal)."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serialsync import LifecycleError, MoveSource, UnitStatus
from serialsync.lifecycle import (
    ALLOWED_MOVES,
    MoveBasis,
    asserted_move,
    can_move,
    move,
    reversal,
)

S = UnitStatus
# The table, written out independently of the module under test.
ALLOWED = {
    (S.IN_STOCK, S.RESERVED),
    (S.IN_STOCK, S.SOLD),
    (S.RESERVED, S.SOLD),
    (S.RESERVED, S.IN_STOCK),
    (S.SOLD, S.RETURNED),
    (S.SOLD, S.DEFECTIVE),
    (S.RETURNED, S.IN_STOCK),
    (S.RETURNED, S.DEFECTIVE),
    (S.DEFECTIVE, S.IN_STOCK),
}
ALL_PAIRS = list(product(UnitStatus, repeat=2))
WHEN = datetime(2026, 11, 23, 10, 30, tzinfo=UTC)


def test_there_are_five_statuses_and_nine_allowed_moves():
    assert {s.value for s in UnitStatus} == {
        "in_stock",
        "reserved",
        "sold",
        "returned",
        "defective",
    }
    assert len(ALL_PAIRS) == 25
    assert {(a, b) for a, targets in ALLOWED_MOVES.items() for b in targets} == ALLOWED


@pytest.mark.parametrize(("from_status", "to_status"), sorted(ALLOWED))
def test_allowed_move_carries_when_why_and_source(from_status, to_status):
    done = move(
        from_status,
        to_status,
        reason="sold online",
        source=MoveSource.CHANNEL,
        source_ref="shop:order/1001",
        at=WHEN,
    )
    assert (done.from_status, done.to_status) == (from_status, to_status)
    assert done.at == WHEN
    assert done.reason == "sold online"
    assert done.source is MoveSource.CHANNEL
    assert done.source_ref == "shop:order/1001"
    assert can_move(from_status, to_status)


@pytest.mark.parametrize(("from_status", "to_status"), sorted(set(ALL_PAIRS) - ALLOWED))
def test_forbidden_move_raises_naming_both_statuses(from_status, to_status):
    assert not can_move(from_status, to_status)
    with pytest.raises(LifecycleError) as info:
        move(from_status, to_status, reason="operator fix", source=MoveSource.OPERATOR)
    message = str(info.value)
    assert f"from {from_status} to {to_status}" in message
    assert "operator" in message


def test_the_table_splits_into_9_allowed_and_16_forbidden():
    assert len(ALLOWED) == 9
    assert len(set(ALL_PAIRS) - ALLOWED) == 16


def test_move_defaults_to_now_in_utc():
    before = datetime.now(UTC)
    done = move(S.IN_STOCK, S.SOLD, reason="sold in store", source=MoveSource.POS)
    assert before <= done.at <= datetime.now(UTC)
    assert done.at.tzinfo is not None


def test_move_is_immutable():
    done = move(S.IN_STOCK, S.SOLD, reason="r", source=MoveSource.POS)
    with pytest.raises(ValueError, match="frozen"):
        done.reason = "other"  # type: ignore[misc]


@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS)
def test_a_status_the_pos_asserts_is_one_move_marked_asserted(from_status, to_status):
    done = asserted_move(
        from_status, to_status, reason="the POS says so", source=MoveSource.POS, at=WHEN
    )
    assert (done.from_status, done.to_status) == (from_status, to_status)
    assert done.basis is MoveBasis.ASSERTED
    assert done.asserted


@pytest.mark.parametrize(("from_status", "to_status"), ALL_PAIRS)
def test_a_channel_order_never_asserts_a_status(from_status, to_status):
    with pytest.raises(LifecycleError, match="cannot assert"):
        asserted_move(
            from_status, to_status, reason="paid", source=MoveSource.CHANNEL, source_ref="o/1"
        )


def test_a_reversal_the_table_allows_is_an_ordinary_move():
    done = reversal(
        S.RESERVED, S.IN_STOCK, reason="cancelled", source=MoveSource.CHANNEL, source_ref="o/1"
    )
    assert done.basis is MoveBasis.TABLE
    assert not done.asserted


def test_a_sale_taken_back_is_one_reversal_not_an_invented_return():
    done = reversal(
        S.SOLD, S.IN_STOCK, reason="cancelled", source=MoveSource.CHANNEL, source_ref="o/1"
    )
    assert (done.from_status, done.to_status) == (S.SOLD, S.IN_STOCK)
    assert done.basis is MoveBasis.REVERSAL


def test_there_is_no_chain_builder_left_to_pad_moves():
    import serialsync.lifecycle as lifecycle

    assert not hasattr(lifecycle, "path_to")


@given(st.sampled_from(UnitStatus), st.sampled_from(UnitStatus))
def test_move_is_table_basis_exactly_when_allowed(from_status, to_status):
    if (from_status, to_status) in ALLOWED:
        assert move(from_status, to_status, reason="r", source=MoveSource.POS).basis is (
            MoveBasis.TABLE
        )
    else:
        with pytest.raises(LifecycleError):
            move(from_status, to_status, reason="r", source=MoveSource.POS)

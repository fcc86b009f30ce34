"""Lifecycle: the whole 5 x 5 table of moves, and chains of allowed moves between any two."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import product

import pytest
from hypothesis import given
from hypothesis import strategies as st
from serialsync import LifecycleError, MoveSource, UnitStatus
from serialsync.lifecycle import ALLOWED_MOVES, can_move, move, path_to

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
def test_path_to_every_pair_is_a_chain_of_allowed_moves(from_status, to_status):
    chain = path_to(from_status, to_status)
    if from_status == to_status:
        assert chain == []
        return
    assert chain[-1] == to_status
    steps = list(zip([from_status, *chain], chain, strict=False))
    assert all((a, b) in ALLOWED for a, b in steps)
    # One step exactly when the move is allowed directly; never a detour through a status twice.
    assert (len(chain) == 1) == ((from_status, to_status) in ALLOWED)
    assert len(set(chain)) == len(chain)
    assert from_status not in chain


def test_path_to_is_shortest():
    assert path_to(S.SOLD, S.IN_STOCK) == [S.RETURNED, S.IN_STOCK]
    assert path_to(S.SOLD, S.RESERVED) == [S.RETURNED, S.IN_STOCK, S.RESERVED]
    assert path_to(S.RESERVED, S.DEFECTIVE) == [S.SOLD, S.DEFECTIVE]


@given(st.sampled_from(UnitStatus), st.sampled_from(UnitStatus))
def test_path_to_steps_can_be_replayed_with_move(from_status, to_status):
    current = from_status
    for step in path_to(from_status, to_status):
        current = move(current, step, reason="catch up", source=MoveSource.POS).to_status
    assert current == to_status

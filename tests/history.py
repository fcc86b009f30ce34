"""The lifecycle audit: every stored move either follows the table or says why it does not.

:func:`assert_history_follows_the_lifecycle` reads the stored history of every unit and fails
on any move the lifecycle table does not allow unless it is marked as what it is: asserted by
the POS (or a person, on the POS's word), or the reversal of serialsync's own claim. It also
fails on a history that does not chain (a move starting where the last one did not end) and on
a unit whose status is not where its history ends. Engine and reliability tests call it, so an
engine that records a status bypassing the table goes red.
"""

from __future__ import annotations

from serialsync.lifecycle import Move, MoveBasis, MoveSource, can_move
from serialsync.store import Store


def history_problems(store: Store) -> list[str]:
    """Every way the stored histories break the lifecycle rules (empty when none does)."""
    problems: list[str] = []
    for record in store.all_units():
        serial = record.unit.serial
        moves = store.history(serial)
        if not moves:
            problems.append(f"{serial}: no history at all")
            continue
        for index, done in enumerate(moves):
            problem = _move_problem(moves, index)
            if problem:
                step = f"{done.from_status.value} -> {done.to_status.value}"
                problems.append(f"{serial} move {index + 1} ({step}, {done.reason!r}): {problem}")
        if moves[-1].to_status != record.status:
            problems.append(
                f"{serial}: status {record.status.value} but its history ends at "
                f"{moves[-1].to_status.value}"
            )
    return problems


def _move_problem(moves: list[Move], index: int) -> str | None:
    done = moves[index]
    if index == 0:
        if done.from_status != done.to_status or not done.asserted:
            return "the first record of a unit is its status as first seen, asserted by the POS"
        return None
    if done.from_status != moves[index - 1].to_status:
        return f"starts at {done.from_status.value}, where the previous move did not end"
    if done.basis is MoveBasis.TABLE:
        return None if can_move(done.from_status, done.to_status) else "not allowed by the table"
    if done.basis is MoveBasis.ASSERTED:
        if done.source not in (MoveSource.POS, MoveSource.OPERATOR):
            return f"asserted by {done.source.value}; only the POS or a person asserts a status"
        if done.from_status == done.to_status:
            return "asserts the status the unit already had"
        return None
    # A reversal: it undoes the claim its order made, back to where the unit stood before.
    claim = [m for m in moves[:index] if m.source_ref == done.source_ref]
    if done.source is not MoveSource.CHANNEL or not claim:
        return "a reversal of no claim"
    if claim[-1].to_status != done.from_status or claim[0].from_status != done.to_status:
        return "a reversal that does not lead back to where the claim began"
    return None


def assert_history_follows_the_lifecycle(store: Store) -> None:
    """Fail, naming each one, when a stored move breaks the lifecycle rules."""
    problems = history_problems(store)
    assert not problems, f"{len(problems)} move(s) break the lifecycle:\n" + "\n".join(
        problems[:20]
    )

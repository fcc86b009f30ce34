"""Issue 20 #2: a person moves a unit through the lifecycle table (``serials mark``); every
allowed and every refused action, holds that outrank the POS, and the channels following."""

from __future__ import annotations

import pytest
from serialsync.lifecycle import ALLOWED_MOVES, MoveBasis, MoveSource, UnitStatus
from serialsync.model import SerializedUnit
from serialsync.operations.marking import ACTIONS, MarkRefusedError, mark
from serialsync.store.sql import SQLStore

from tests.cli.conftest import SERIALS_A, SKU_A, CliWorld

A1, A2, _ = SERIALS_A
ID1 = f"{SKU_A}|||{A1}"

#: The seed's table, as a person sees it: from each status, the actions offered.
TABLE = {
    UnitStatus.IN_STOCK: {"sold", "reserved"},
    UnitStatus.RESERVED: {"sold", "in-stock"},
    UnitStatus.SOLD: {"returned", "defective"},
    UnitStatus.RETURNED: {"in-stock", "defective"},
    UnitStatus.DEFECTIVE: {"in-stock"},
}
EVERY = [(status, action) for status in UnitStatus for action in ACTIONS]


def test_the_actions_are_the_lifecycle_table() -> None:
    for status, actions in TABLE.items():
        assert {ACTIONS[a] for a in actions} == set(ALLOWED_MOVES[status])


def _put(store: SQLStore, status: UnitStatus) -> None:
    with store.transaction():
        store.put_unit(SerializedUnit(sku="S", serial="X1"), status=status)


@pytest.mark.parametrize(("status", "action"), [p for p in EVERY if p[1] in TABLE[p[0]]])
def test_every_allowed_action_is_one_operator_move(
    store: SQLStore, status: UnitStatus, action: str
) -> None:
    _put(store, status)
    with store.transaction():
        done = mark(store, "X1", action, reason="checked on the bench", by="kim")
    record = store.get_unit("X1")
    assert record is not None and record.status == ACTIONS[action] == done.to_status
    [moved] = store.history("X1")
    assert (moved.from_status, moved.to_status) == (status, ACTIONS[action])
    assert (moved.source, moved.source_ref, moved.basis) == (
        MoveSource.OPERATOR,
        "kim",
        MoveBasis.TABLE,
    )
    assert "checked on the bench" in moved.reason
    hold = store.get_hold("X1")
    if ACTIONS[action] is UnitStatus.IN_STOCK:
        assert hold is None and not done.held
    else:
        assert hold is not None and hold.status == ACTIONS[action] and hold.held_by == "kim"


@pytest.mark.parametrize(("status", "action"), [p for p in EVERY if p[1] not in TABLE[p[0]]])
def test_every_refused_action_names_the_allowed_ones_and_writes_nothing(
    store: SQLStore, status: UnitStatus, action: str
) -> None:
    _put(store, status)
    with pytest.raises(MarkRefusedError) as refused, store.transaction():
        mark(store, "X1", action, reason="why not", by="kim")
    message = str(refused.value)
    assert f"is {status.value}" in message and "is not allowed" in message
    for allowed in TABLE[status]:
        assert f"({allowed})" in message
    record = store.get_unit("X1")
    assert record is not None and record.status == status
    assert store.history("X1") == [] and store.get_hold("X1") is None


def test_unknown_unit_action_or_empty_reason_is_refused(store: SQLStore) -> None:
    _put(store, UnitStatus.IN_STOCK)
    for serial, action, reason in (
        ("NOPE", "sold", "x"),
        ("X1", "lost", "x"),
        ("X1", "sold", "  "),
    ):
        with pytest.raises(MarkRefusedError), store.transaction():
            mark(store, serial, action, reason=reason, by="kim")
    assert store.history("X1") == []


def test_a_mark_takes_effect_on_the_channels_and_a_hold_outranks_the_pos(
    synced: CliWorld,
) -> None:
    # In stock -> Mark as Sold? No: a customer brought it back broken, so reserve it first...
    refused = synced.invoke("serials", "mark", A1, "returned", "--reason", "brought back")
    assert refused.exit_code == 1
    assert "from in_stock a person may: Mark as Sold (sold), Reserve (reserved)" in (
        refused.stderr.replace("\n", " ")
    )
    sold = synced.invoke("serials", "mark", A1, "sold", "--reason", "sold at a fair", "--by", "kim")
    assert sold.exit_code == 0, sold.output
    broken = synced.invoke(
        "serials", "mark", A1, "defective", "--reason", "cracked neck", "--by", "kim"
    )
    assert broken.exit_code == 0, broken.output
    assert synced.invoke("run", "--once").exit_code == 0
    for name in ("shop_a", "shop_b"):
        assert ID1 not in synced.channel(name).live()
        assert f"{SKU_A}|||{A2}" in synced.channel(name).live()

    # The POS still says in stock (it changes the unit again): the hold stands, shown.
    synced.pos().set_unit(SKU_A, A1, status="in_stock", location="Bench")
    assert synced.invoke("run", "--once").exit_code == 0
    shown = synced.json("serials", "show", A1)
    assert shown["status"] == "defective"
    assert shown["hold"]["status"] == "defective" and shown["hold"]["pos_says"] == "in_stock"
    assert shown["actions"] == ["Return to Stock (in-stock)"]
    assert [(m["to"], m["source"]) for m in shown["moves"]][-2:] == [
        ("sold", "operator"),
        ("defective", "operator"),
    ]
    status = synced.json("status")
    assert status["holds"][0]["pos_says"] == "in_stock"
    kinds = {q["kind"] for q in synced.json("quarantine", "list")["quarantine"]}
    assert "hold" in kinds
    assert "the POS says in_stock (the hold stands)" in synced.invoke("serials", "show", A1).stdout
    assert ID1 not in synced.channel("shop_a").live()

    # A person returns it to stock: the hold is lifted and the unit listed again.
    back = synced.invoke("serials", "mark", A1, "in-stock", "--reason", "neck repaired")
    assert back.exit_code == 0, back.output
    assert synced.invoke("run", "--once").exit_code == 0
    for name in ("shop_a", "shop_b"):
        assert ID1 in synced.channel(name).live()
    assert synced.json("serials", "show", A1)["hold"] is None
    assert synced.json("status")["holds"] == []
    assert "hold" not in {q["kind"] for q in synced.json("quarantine", "list")["quarantine"]}


def test_a_hold_the_pos_agrees_with_shows_no_disagreement(synced: CliWorld) -> None:
    reserve = synced.invoke("serials", "mark", A2, "reserved", "--reason", "on layaway")
    assert reserve.exit_code == 0, reserve.output
    synced.pos().set_unit(SKU_A, A2, status="reserved")
    assert synced.invoke("run", "--once").exit_code == 0
    shown = synced.json("serials", "show", A2)
    assert shown["status"] == "reserved" and shown["hold"]["pos_says"] is None
    assert ID1 in synced.channel("shop_a").live()
    assert f"{SKU_A}|||{A2}" not in synced.channel("shop_a").live()

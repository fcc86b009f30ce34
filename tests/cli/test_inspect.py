"""`status`, `serials`, `sales`, `quarantine`: reading the store and acting on it."""

from __future__ import annotations

import pytest
from serialsync import FinancialStatus
from serialsync.host import Host
from serialsync.settings import load_settings
from serialsync.store import SQLiteStore

from tests.cli.conftest import SERIALS_A, SERIALS_B, SKU_A, SKU_B, CliWorld, table_rows
from tests.cli.plugin import PLUGIN

SOLD = SERIALS_A[0]
SOLD_ID = f"{SKU_A}|||{SOLD}"


@pytest.fixture
def traded(synced: CliWorld) -> CliWorld:
    """One unit sold on shop_a, then sold again on shop_b (a conflict), plus a bad order."""
    synced.sell("shop_a", [SOLD_ID])
    assert synced.invoke("run", "--once").exit_code == 0
    synced.sell("shop_b", [SOLD_ID])  # the unit is gone: conflict
    synced.sell("shop_b", [f"{SKU_B}|||NO-SUCH-SERIAL"])  # quarantined
    assert synced.invoke("run", "--once").exit_code == 1
    return synced


def test_status_per_connector(traded: CliWorld):
    data = traded.json("status")
    assert data["units"] == {"in_stock": 4, "sold": 1}
    by_name = {c["name"]: c for c in data["connectors"]}
    assert set(by_name) == {"aim", "shop_a", "shop_b"}
    a, b = by_name["shop_a"], by_name["shop_b"]
    assert a["units"] == {"live": 4, "withdrawn": 1, "failed": 0}
    assert a["sales"]["reported"] == 1
    assert b["sales"]["conflict"] == 1
    # The conflict and the order with an unknown serial both wait for a person.
    assert b["quarantined"] == 2 and a["quarantined"] == 0
    assert set(b["cursors"]) == {"orders"}
    # The POS: its incremental cursor, and when it was last read whole (full_resync_every).
    assert set(by_name["aim"]["cursors"]) == {"inventory", "inventory_full"}
    assert b["last_pass"]["ok"] is False and a["last_pass"]["ok"] is True
    assert data["last_pass"]["kind"] == "orders"
    human = traded.invoke("status")
    assert human.exit_code == 0
    counts = human.stdout[human.stdout.index("units and sales") :]
    rows = {row[0]: row for row in table_rows(counts)}
    assert rows["shop_a"][1:] == ["4", "1", "0", "0", "0", "1", "0", "0", "0"]
    assert rows["shop_b"][1:] == ["4", "1", "0", "0", "0", "0", "0", "1", "2"]


def test_status_reads_and_a_person_acts_while_a_runner_holds_the_lock(traded: CliWorld):
    [record] = [q for q in traded.json("quarantine", "list")["quarantine"] if q["kind"] == "order"]
    with SQLiteStore.open(traded.folder / "state.db") as runner:  # the lock, as `run` holds it
        result = traded.invoke("status")
        assert result.exit_code == 0, result.output
        assert "shop_a" in result.stdout
        # A person's writes are not refused beside the runner (issue 19): they take their turn.
        unknown = traded.invoke("sales", "retry", "shop_a", "1001")
        dropped = traded.invoke("quarantine", "drop", str(record["id"]))
        marked = traded.invoke(
            "serials", "mark", SERIALS_B[0], "reserved", "--reason", "held for a customer"
        )
        second_runner = traded.invoke("run", "--once")
        # The runner's own connection sees the person's writes at once.
        assert runner.get_quarantined(record["id"]) is None
        assert runner.get_hold(SERIALS_B[0]) is not None
    assert second_runner.exit_code == 3  # a second runner is still refused
    assert "in use by another runner" in second_runner.stderr
    assert unknown.exit_code == 1, unknown.output
    assert "no failed or pending sale shop_a/1001" in unknown.stderr
    assert dropped.exit_code == 0, dropped.output
    assert marked.exit_code == 0, marked.output


def test_status_without_a_store_says_what_to_do(world: CliWorld):
    result = world.invoke("status")
    assert result.exit_code == 2
    assert "serialsync run --once" in result.stderr


def test_serials_list_shows_integration_ids_status_and_listings(traded: CliWorld):
    result = traded.invoke("serials", "list")
    assert result.exit_code == 0
    assert "Integration ID" in result.stdout
    rows = {row[0]: row for row in table_rows(result.stdout)}
    assert rows[SOLD_ID][1] == "sold"
    assert rows[SOLD_ID][2] == "shop_a: withdrawn, shop_b: withdrawn"
    assert rows[f"{SKU_B}|||{SERIALS_B[0]}"][1:] == ["in_stock", "shop_a: live, shop_b: live"]
    data = traded.json("serials", "list")
    assert [u["integration_id"] for u in data["units"]] == sorted(
        [f"{SKU_A}|||{s}" for s in SERIALS_A] + [f"{SKU_B}|||{s}" for s in SERIALS_B]
    )


def test_serials_find_by_part_of_a_serial_or_sku(traded: CliWorld):
    data = traded.json("serials", "find", "mx10")
    assert [u["serial"] for u in data["units"]] == list(SERIALS_B)
    data = traded.json("serials", "find", "3942719")
    assert {u["serial"] for u in data["units"]} == set(SERIALS_A)


def test_serials_find_needs_three_characters(traded: CliWorld):
    result = traded.invoke("serials", "find", "MX")
    assert result.exit_code == 2
    assert "at least 3 characters" in result.stderr


def test_serials_show_tells_the_whole_story(traded: CliWorld):
    data = traded.json("serials", "show", SOLD)
    assert data["integration_id"] == SOLD_ID and data["status"] == "sold"
    assert data["product"]["pos"] == "aim"
    assert [(m["from"], m["to"], m["source"]) for m in data["moves"]] == [
        ("in_stock", "in_stock", "pos"),
        ("in_stock", "sold", "channel"),
    ]
    assert data["moves"][1]["source_ref"] == "shop_a:order/1001"
    assert {li["channel"]: li["state"] for li in data["listings"]} == {
        "shop_a": "withdrawn",
        "shop_b": "withdrawn",
    }
    assert data["listings"][0]["remote"]["variant_id"] == SOLD_ID
    orders = {(o["channel"], o["state"]) for o in data["orders"]}
    assert orders == {("shop_a", "reported"), ("shop_b", "conflict")}
    assert data["claim"]["channel"] == "shop_a"
    human = traded.invoke("serials", "show", SOLD)
    assert human.exit_code == 0
    for text in ("lifecycle", "channels", "orders", "reported", "conflict", "AIM-1"):
        assert text in human.stdout


def test_serials_show_marks_a_status_the_pos_asserted(synced: CliWorld):
    pos = synced.pos()
    pos.set_unit(SKU_B, SERIALS_B[0], status="defective")
    assert synced.invoke("run", "--once").exit_code == 0

    data = synced.json("serials", "show", SERIALS_B[0])

    assert [(m["from"], m["to"], m["basis"]) for m in data["moves"]] == [
        ("in_stock", "in_stock", "asserted"),
        ("in_stock", "defective", "asserted"),  # one move, no invented sale before it
    ]
    human = synced.invoke("serials", "show", SERIALS_B[0])
    assert "(asserted)" in human.stdout


def test_serials_restock_without_a_discrepancy_is_refused(traded: CliWorld):
    result = traded.invoke("serials", "restock", SOLD)
    assert result.exit_code == 1
    assert "has no discrepancy" in result.stderr
    assert traded.json("serials", "show", SOLD)["status"] == "sold"


def test_serials_show_of_an_unknown_serial_exits_1(traded: CliWorld):
    result = traded.invoke("serials", "show", "NOPE123")
    assert result.exit_code == 1
    assert "no unit with serial 'NOPE123'" in result.stderr


def test_sales_list_filters_by_state(traded: CliWorld):
    every = traded.json("sales", "list")["sales"]
    assert {(s["channel"], s["state"]) for s in every} == {
        ("shop_a", "reported"),
        ("shop_b", "conflict"),
    }
    conflicts = traded.json("sales", "list", "--state", "conflict")["sales"]
    assert [s["integration_ids"] for s in conflicts] == [[SOLD_ID]]
    assert traded.invoke("sales", "list", "--state", "nonsense").exit_code == 2


def test_sales_list_shows_what_was_left_out_of_the_pos_order(synced: CliWorld):
    order = synced.channel("shop_a").place_order([(SOLD_ID, 1), (None, 1)])  # a custom line
    assert synced.invoke("run", "--once").exit_code == 0
    [sale] = synced.json("sales", "list")["sales"]
    assert sale["state"] == "reported" and sale["integration_ids"] == [SOLD_ID]
    assert f"line {order}-2 has no SKU: left out of the POS order" in sale["note"]
    human = synced.invoke("sales", "list", "--state", "reported")
    assert human.exit_code == 0, human.output
    text = " ".join(human.stdout.split())
    assert "AIM-1" in text and "has no SKU" in text


def test_sales_retry_puts_a_refused_sale_back(synced: CliWorld):
    synced.write_config(refuse_sales=True)
    order = synced.sell("shop_a", [SOLD_ID])
    assert synced.invoke("run", "--once").exit_code == 1  # the POS refused the sale
    [failed] = synced.json("sales", "list", "--state", "failed")["sales"]
    assert "location closed" in failed["last_error"]
    synced.write_config()  # the POS takes sales again
    result = synced.invoke("sales", "retry", "shop_a", order)
    assert result.exit_code == 0, result.output
    assert "next pass" in result.stdout
    assert synced.json("sales", "list", "--state", "pending")["sales"][0]["order_id"] == order
    assert synced.invoke("run", "--once").exit_code == 0
    assert synced.json("sales", "list", "--state", "reported")["sales"][0]["order_id"] == order
    again = synced.invoke("sales", "retry", "shop_a", order)  # reported: nothing to retry
    assert again.exit_code == 1
    assert "no failed or pending sale" in again.stderr


def test_sales_retry_refuses_a_refused_sale_the_shop_refunded_since(synced: CliWorld):
    synced.write_config(refuse_sales=True)
    order = synced.sell("shop_a", [SOLD_ID])
    assert synced.invoke("run", "--once").exit_code == 1  # the POS refused the sale
    synced.channel("shop_a").set_order_status(order, FinancialStatus.REFUNDED)
    synced.write_config()
    synced.invoke("run", "--once")
    [cancelled] = synced.json("sales", "list", "--state", "cancelled")["sales"]
    assert cancelled["order_id"] == order

    result = synced.invoke("sales", "retry", "shop_a", order)

    assert result.exit_code == 1
    said = " ".join(result.stderr.split())
    assert f"sale shop_a/{order} is cancelled" in said and "cannot be retried" in said
    assert "refunded after the POS refused it" in said
    assert synced.json("sales", "list", "--state", "cancelled")["sales"][0]["order_id"] == order


def test_quarantine_list_retry_and_drop(traded: CliWorld):
    every = traded.json("quarantine", "list")["quarantine"]
    assert {r["kind"] for r in every} == {"order", "conflict"}
    [record] = traded.json("quarantine", "list", "--kind", "order")["quarantine"]
    assert record["connector"] == "shop_b"
    assert "unknown serial 'NO-SUCH-SERIAL'" in record["reason"]
    assert traded.json("quarantine", "list", "--kind", "unit")["quarantine"] == []
    retry = traded.json("quarantine", "retry", str(record["id"]))
    assert retry["id"] == record["id"]
    assert retry["outcome"].startswith("still quarantined: ")
    assert "unknown serial" in retry["outcome"]
    assert traded.invoke("quarantine", "retry", str(record["id"])).exit_code == 1
    dropped = traded.invoke("quarantine", "drop", str(record["id"]))
    assert dropped.exit_code == 0 and "dropped" in dropped.stdout
    assert traded.json("quarantine", "list", "--kind", "order")["quarantine"] == []
    assert traded.invoke("quarantine", "drop", str(record["id"])).exit_code == 1


def test_text_with_brackets_is_printed_as_text(synced: CliWorld):
    synced.sell("shop_a", [f"[/x]|||{SERIALS_B[0]}"])  # a SKU no markup parser should eat
    assert synced.invoke("run", "--once").exit_code == 1
    result = synced.invoke("quarantine", "list")
    assert result.exit_code == 0, result.output
    assert "not '[/x]'" in result.stdout


def test_quarantine_retry_processes_an_order_once_its_cause_is_fixed(synced: CliWorld):
    order = synced.sell("shop_a", [f"{SKU_B}|||MX1003"])  # sold before the POS knew the unit
    assert synced.invoke("run", "--once").exit_code == 1
    [record] = synced.json("quarantine", "list")["quarantine"]
    synced.pos().set_unit(SKU_B, "MX1003")
    # The unit arrives from the POS (an inventory pass only: an order pass would re-read the
    # order and release it by itself).
    with Host.from_settings(load_settings(synced.config), plugins={"memory": PLUGIN}) as host:
        assert host.inventory_pass().ok
    result = synced.invoke("quarantine", "retry", str(record["id"]))
    assert result.exit_code == 0, result.output
    assert "processed" in result.stdout
    assert synced.json("quarantine", "list")["quarantine"] == []
    sales = synced.json("sales", "list")["sales"]
    assert [(s["order_id"], s["state"]) for s in sales] == [(order, "pending")]

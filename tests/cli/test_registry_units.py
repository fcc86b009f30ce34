"""Issue 20 #1: what a unit carries (lot, warehouse, location, purchase date, warranty), the
all-or-nothing CSV import, the filters and pages of ``serials list`` and ``serials warranty``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from serialsync.store import UnitDetails
from serialsync.store.sql import SQLStore

from tests.cli.conftest import SERIALS_A, SERIALS_B, SKU_A, CliWorld

A1, A2, A3 = SERIALS_A
B1, B2 = SERIALS_B
TODAY = datetime.now(UTC).date()


def _csv(world: CliWorld, text: str) -> str:
    path = world.folder / "details.csv"
    path.write_text(text)
    return str(path)


def test_the_store_keeps_details_apart_from_the_pos_data(store: SQLStore) -> None:
    details = UnitDetails(lot="L7", warehouse="north", purchase_date=date(2024, 5, 1))
    with store.transaction():
        store.put_unit_details("S1", details)
    assert store.unit_details() == {"S1": details}
    with store.transaction():
        store.put_unit_details("S1", UnitDetails(lot="L8"))
    assert store.unit_details()["S1"] == UnitDetails(lot="L8")


def test_import_records_details_shown_in_show_and_list(synced: CliWorld) -> None:
    later = (TODAY + timedelta(days=400)).isoformat()
    path = _csv(
        synced,
        "serial,lot,warehouse,purchase_date,warranty_expiry\n"
        f"{A1},LOT-1,north,2024-05-01,{later}\n"
        f"{A2},LOT-1,south,2023-01-01,2024-01-01\n"
        f"{B1},LOT-2,north,,\n",
    )
    result = synced.invoke("serials", "import", path)
    assert result.exit_code == 0, result.output
    assert "3 unit(s)" in result.stdout
    shown = synced.json("serials", "show", A1)
    assert shown["details"] == {
        "lot": "LOT-1",
        "warehouse": "north",
        "location": None,
        "purchase_date": "2024-05-01",
        "warranty_expiry": later,
    }
    assert shown["details_source"]["lot"] == "import"
    assert shown["warranty"] == f"in warranty until {later}"
    human = synced.invoke("serials", "show", A1)
    assert "LOT-1" in human.stdout and "in warranty until" in human.stdout
    # A pass rewrites the POS's data, never what a person recorded.
    assert synced.invoke("run", "--once").exit_code == 0
    assert synced.json("serials", "show", A1)["details"]["lot"] == "LOT-1"

    lot1 = synced.json("serials", "list", "--lot", "LOT-1")["units"]
    assert [u["serial"] for u in lot1] == [A1, A2]
    north = synced.json("serials", "list", "--warehouse", "north")["units"]
    assert [u["serial"] for u in north] == [A1, B1]
    before = synced.json("serials", "list", "--warranty-before", TODAY.isoformat())["units"]
    assert [u["serial"] for u in before] == [A2]

    assert synced.invoke("serials", "warranty", A2).stdout.strip().endswith("expired on 2024-01-01")
    assert synced.invoke("serials", "warranty", B1).stdout.strip().endswith("no warranty recorded")
    assert synced.invoke("serials", "warranty", "NOPE123").exit_code == 1


def test_the_pos_value_wins_where_the_pos_has_one(synced: CliWorld) -> None:
    pos = synced.pos()
    pos.set_unit(SKU_A, A3, location="Aisle 4")
    assert synced.invoke("run", "--once").exit_code == 0
    path = _csv(synced, f"serial,location,lot\n{A3},Back room,L9\n")
    assert synced.invoke("serials", "import", path).exit_code == 0
    shown = synced.json("serials", "show", A3)
    assert shown["details"]["location"] == "Aisle 4"
    assert shown["details_source"] == {"location": "pos", "lot": "import"}


def test_a_bad_file_is_refused_whole_with_line_numbers(synced: CliWorld) -> None:
    good = _csv(synced, f"serial,lot\n{A1},KEEP\n")
    assert synced.invoke("serials", "import", good).exit_code == 0
    path = _csv(
        synced,
        "serial,lot,purchase_date\n"
        f"{A1},NEW,2024-01-01\n"  # fine on its own
        "NOPE999,X,\n"  # line 3: unknown serial
        f"{A2},Y,2024-13-01\n"  # line 4: bad date
        f"{B1},Z,2024-02-02\n",
    )
    result = synced.invoke("serials", "import", path)
    assert result.exit_code == 1
    assert "nothing was applied" in result.stderr
    assert "line 3: no unit with serial 'NOPE999'" in result.stderr
    assert "line 4: purchase_date '2024-13-01' is not a date" in result.stderr
    assert synced.json("serials", "show", A1)["details"]["lot"] == "KEEP"
    assert synced.json("serials", "show", B1)["details"]["lot"] is None

    unknown = _csv(synced, f"serial,colour\n{A1},red\n")
    result = synced.invoke("serials", "import", unknown)
    assert result.exit_code == 1 and "line 1: unknown column(s) 'colour'" in result.stderr
    assert synced.json("serials", "show", A1)["details"]["lot"] == "KEEP"


def test_list_counts_each_status_and_pages_in_a_stable_order(synced: CliWorld) -> None:
    synced.sell("shop_a", [f"{SKU_A}|||{A1}"])
    assert synced.invoke("run", "--once").exit_code == 0
    data = synced.json("serials", "list", "--status", "in_stock", "--page-size", "2")
    assert data["counts"] == {
        "in_stock": 4,
        "reserved": 0,
        "sold": 1,
        "returned": 0,
        "defective": 0,
    }
    assert data["total"] == 4 and data["pages"] == 2
    second = synced.json(
        "serials", "list", "--status", "in_stock", "--page-size", "2", "--page", "2"
    )
    serials = [u["serial"] for u in data["units"]] + [u["serial"] for u in second["units"]]
    assert serials == [A2, A3, B1, B2]
    assert [u["serial"] for u in synced.json("serials", "list", "--status", "sold")["units"]] == [
        A1
    ]
    human = synced.invoke("serials", "list", "--status", "sold")
    assert "[sold 1]" in human.stdout and "in_stock 4" in human.stdout
    assert synced.invoke("serials", "list", "--warranty-before", "soon").exit_code == 2

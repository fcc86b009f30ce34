"""Counts that add up, and failures that name their cause (issue 21 #5)."""

from __future__ import annotations

import re
from pathlib import Path

from serialsync.cli.outbox import QuarantineKind

from tests.cli.conftest import SERIALS_A, SERIALS_B, SKU_A, CliWorld

UNITS = len(SERIALS_A) + len(SERIALS_B)
SOLD_ID = f"{SKU_A}|||{SERIALS_A[0]}"
CORE = Path(__file__).resolve().parents[2] / "core" / "serialsync"


def test_the_first_run_once_counts_each_unit_once(world: CliWorld):
    first = world.json("run", "--once")
    for channel in ("shop_a", "shop_b"):
        counts = first["connectors"][channel]
        # Created, not also "unchanged": the order pass adds nothing to the inventory's count.
        assert (counts["created"], counts["unchanged"]) == (UNITS, 0), counts
    again = world.json("run", "--once")
    for channel in ("shop_a", "shop_b"):
        counts = again["connectors"][channel]
        assert (counts["created"], counts["unchanged"]) == (0, UNITS), counts


def test_status_names_a_conflict_as_the_cause_of_failures(synced: CliWorld):
    synced.sell("shop_a", [SOLD_ID])
    assert synced.invoke("run", "--once").exit_code == 0
    synced.sell("shop_b", [SOLD_ID])  # sold twice: a conflict, and no error text
    assert synced.invoke("run", "--once").exit_code == 1
    data = synced.json("status")
    shop_b = next(c for c in data["connectors"] if c["name"] == "shop_b")
    last = shop_b["last_pass"]
    assert last["ok"] is False and last["errors"] == []
    assert last["causes"] == ["1 conflict(s) (see `serialsync quarantine list --kind conflict`)"]
    human = synced.invoke("status")
    assert "had failures: 1 conflict(s)" in " ".join(human.stdout.split())
    conflicts = synced.json("quarantine", "list", "--kind", "conflict")["quarantine"]
    assert [(c["kind"], c["connector"]) for c in conflicts] == [("conflict", "shop_b")]


def test_quarantine_kind_is_a_validated_choice(synced: CliWorld):
    refused = synced.invoke("quarantine", "list", "--kind", "conflicts")
    assert refused.exit_code == 2
    assert "conflict" in refused.stderr and "order_line" in refused.stderr  # the choices
    assert synced.invoke("quarantine", "list", "--kind", "CONFLICT").exit_code == 0


def test_every_kind_the_host_quarantines_is_a_choice():
    written = set()
    for path in CORE.rglob("*.py"):
        written |= set(re.findall(r'\bkind="([a-z_]+)",\s*key=', path.read_text()))
    assert written  # the scan found the literal kinds
    assert written <= {k.value for k in QuarantineKind}


def test_status_keeps_what_each_last_pass_asked_of_its_platform(synced: CliWorld):
    # These plugins speak no HTTP: zeros, kept in the JSON, left out of the sentence.
    data = synced.json("status")
    for connector in data["connectors"]:
        http = connector["last_pass"]["http"]
        assert http == dict.fromkeys(("requests", "throttled", "retries", "errors"), 0) | {
            "seconds": 0.0,
            "waited": 0.0,
        }
    assert "requests" not in synced.invoke("status").stdout

"""Merchants side by side in one PostgreSQL database, each store in a schema of its own
(``[store] schema``): nothing done through merchant A's settings reads or changes a row of B's,
the CLI's reads and writes included (issue 18 #2, isolated state)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from serialsync import SerializedUnit, UnitStatus
from serialsync.cli import app
from serialsync.store import OutboxRecord, OutboxState
from serialsync.store.sql import SQLStore
from typer.testing import CliRunner

from tests.stores import StoreSpec, new_spec


def _fill(store: SQLStore, merchant: str) -> None:
    """The same keys in every merchant's store, with the merchant's name in the content."""
    with store.transaction():
        store.put_unit(
            SerializedUnit(sku=f"{merchant}-sku", serial="US2100"), status=UnitStatus.SOLD
        )
        store.put_claim("US2100", "shop", "1")
        store.put_outbox(
            OutboxRecord(
                channel="shop",
                order_id="1",
                order_number=f"#{merchant}-1",
                state=OutboxState.FAILED,
                financial_status="paid",
                order_updated_at=datetime(2026, 11, 23, tzinfo=UTC),
                sale_json=json.dumps(
                    {
                        "idempotency_key": "shop:1",
                        "status": "paid",
                        "channel": "shop",
                        "order_id": "1",
                        "order_number": f"#{merchant}-1",
                        "placed_at": "2026-11-23T00:00:00Z",
                        "lines": [],
                    }
                ),
                last_error=f"{merchant} refused",
            )
        )
        store.quarantine(kind="order", key="shop:2", connector="shop", reason=f"{merchant} bad")
        store.set_cursor("shop", "orders", f"{merchant}-cursor")
        store.finish_run(store.start_run("orders"), ok=True, summary={"merchant": merchant})


def _snapshot(store: SQLStore) -> Any:
    return (
        store.all_units(),
        store.outbox(),
        store.quarantined(),
        store.cursors(),
        [(r.kind, r.summary) for r in store.runs()],
        store.get_claim("US2100"),
    )


@pytest.fixture
def merchants(tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, StoreSpec]:
    specs = {name: new_spec("postgres", tmp_path / name, request) for name in ("a", "b")}
    for name, spec in specs.items():
        with spec.open() as store:
            _fill(store, name)
    return specs


def _config(folder: Path, spec: StoreSpec) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "serialsync.toml"
    config.write_text(f'[store]\nurl = "{spec.url}"\nschema = "{spec.schema}"\n')
    return config


def _cli(config: Path, *args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [*args, "--config", str(config), "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout)


def test_merchant_a_reads_only_its_own_rows(merchants, tmp_path) -> None:
    config = _config(tmp_path / "a", merchants["a"])
    [unit] = _cli(config, "serials", "list")["units"]
    assert unit["sku"] == "a-sku"
    assert [u["sku"] for u in _cli(config, "serials", "find", "2100")["units"]] == ["a-sku"]
    [sale] = _cli(config, "sales", "list")["sales"]
    assert (sale["order_number"], sale["last_error"]) == ("#a-1", "a refused")
    [record] = _cli(config, "quarantine", "list")["quarantine"]
    assert record["reason"] == "a bad"
    status = _cli(config, "status")
    assert status["store"].endswith(f"({merchants['a'].schema})")
    assert status["units"] == {"sold": 1}


def test_merchant_a_changes_nothing_of_b(merchants, tmp_path) -> None:
    with merchants["b"].open(lock=False) as b:
        before = _snapshot(b)
        b_record = b.quarantined()[0].id
    config = _config(tmp_path / "a", merchants["a"])
    with merchants["a"].open(lock=False) as a:
        a_record = a.quarantined()[0].id
    assert a_record == b_record  # the same id in both: only the schema tells them apart
    assert _cli(config, "sales", "retry", "shop", "1")["retry"] is True
    assert _cli(config, "quarantine", "drop", str(a_record))["dropped"] is True
    with merchants["a"].open() as a, a.transaction():
        # Every kind of write the engine makes, on the very keys B has too.
        a.put_unit(SerializedUnit(sku="a-sku", serial="US2100"), status=UnitStatus.IN_STOCK)
        a.release_claim("US2100", "shop", "1")
        a.set_cursor("shop", "orders", "a-later")
        a.quarantine(kind="order", key="shop:2", connector="shop", reason="a again")
        a.release_quarantine("order", "shop:2")
    with merchants["b"].open(lock=False) as b:
        assert _snapshot(b) == before
    with merchants["a"].open(lock=False) as a:
        sale = a.get_outbox("shop", "1")
        assert sale is not None and sale.state == OutboxState.PENDING
        assert a.quarantined() == [] and a.get_claim("US2100") is None


def test_the_schema_comes_from_the_environment_too(merchants, tmp_path, monkeypatch) -> None:
    config = _config(tmp_path / "a", merchants["a"])
    monkeypatch.setenv("SERIALSYNC_STORE__SCHEMA", merchants["b"].schema)
    [unit] = _cli(config, "serials", "list")["units"]
    assert unit["sku"] == "b-sku"


def test_a_schema_name_that_is_not_a_plain_identifier_is_refused(tmp_path) -> None:
    config = tmp_path / "serialsync.toml"
    config.write_text(
        '[store]\nurl = "postgresql://app@db/state"\nschema = "a; DROP TABLE units"\n'
    )
    result = CliRunner().invoke(app, ["status", "--config", str(config)])
    assert result.exit_code == 2
    assert "store.schema" in result.stderr

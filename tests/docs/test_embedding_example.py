"""The examples of docs/embedding.md run as written, and do what the page says they do.

Each fenced ``python`` block whose first line is ``# example: <name>`` is extracted and executed
in a fresh namespace (with temporary files under ``tmp_path``); the test then checks the
objects the example left behind.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from serialsync import FinancialStatus, PublishResult, hookspecs
from serialsync.engine.summary import ConnectorCounts, PassSummary
from serialsync.manager import PluginManager

PAGE = Path(__file__).resolve().parents[2] / "docs" / "embedding.md"
_BLOCK = re.compile(r"^```python\n(# example: ([\w-]+)\n.*?)^```$", re.MULTILINE | re.DOTALL)


def examples() -> dict[str, str]:
    """The page's runnable examples by name."""
    return {m.group(2): m.group(1) for m in _BLOCK.finditer(PAGE.read_text(encoding="utf-8"))}


def run_example(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    # The examples keep their state files in tempfile.mkdtemp(): keep those under tmp_path.
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    namespace: dict[str, Any] = {"__name__": f"embedding_example_{name.replace('-', '_')}"}
    code = compile(examples()[name], f"{PAGE}#example-{name}", "exec")
    exec(code, namespace)  # noqa: S102 - the documented example is the thing under test
    return namespace


def test_the_page_has_its_three_examples() -> None:
    assert set(examples()) == {"embedding", "from-settings", "wrapper"}


def test_the_embedding_example_lists_sells_and_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    ns = run_example("embedding", tmp_path, monkeypatch)
    units = [u for p in ns["catalogue"] for u in p.units]
    assert units, "the example must stock the POS"

    inventory, orders = ns["inventory"], ns["orders"]
    assert inventory.ok and orders.ok
    assert inventory.counts("shop").created == len(units)
    sold = ns["unit"]
    on_sale = {
        listing.sku
        for listing in ns["shop_fake"].listings()
        if listing.sellable and listing.stock > 0
    }
    assert on_sale == {u.integration_id for u in units} - {sold.integration_id}
    assert orders.total("sales_reported") == 1
    [recorded] = ns["pos_fake"].recorded_orders()
    assert recorded.lines == ((sold.sku, sold.serial, 1),)
    assert orders.counts("shop").withdrawn == 1, "the sold unit is withdrawn from the shop"

    [order] = ns["page"].orders
    assert order.status == FinancialStatus.PAID
    assert order.lines[0].raw_sku == sold.integration_id
    out = capsys.readouterr().out
    assert f"{len(units)} units listed on the shop" in out
    assert "sales reported: 1" in out
    # The state file went where the example said, and the host closed it.
    assert (ns["folder"] / "serialsync.db").exists()
    assert ns["folder"].is_relative_to(tmp_path)


def test_the_settings_example_builds_the_host_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = run_example("from-settings", tmp_path, monkeypatch)
    summary = ns["summary"]
    assert summary.ok
    assert summary.kind == "inventory+orders"
    pos = ns["fakes"]["aim.invalid"]
    shop = ns["fakes"]["shop.invalid"]
    expected = {u.integration_id for p in ns["demo_catalogue"]()[:1] for u in p.units}
    assert summary.counts("shop").created == len(expected) > 0
    assert {listing.sku for listing in shop.listings()} == expected
    assert pos.requests and shop.requests, "both connectors went through the one transport"
    assert Path(ns["settings"].store.path).is_relative_to(tmp_path)


def test_the_wrapper_example_sees_the_refused_unit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = run_example("wrapper", tmp_path, monkeypatch)
    results = {o.serial: o.result for o in ns["outcomes"]}
    assert results["SN0001"] == PublishResult.CREATED
    assert results["X" * 300] == PublishResult.FAILED
    [(connector, serial, reason)] = ns["alerts"].refused
    assert (connector, serial) == ("shop", "X" * 300)
    assert reason and "255" in reason


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(f"## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def test_the_hook_table_matches_the_plugin_managers_typed_methods() -> None:
    rows = re.findall(r"^\| `(\w+)\(([^)]*)\)` \|", _section("Call one hook"), re.MULTILINE)
    specs = {
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, "serialsync_spec")
    }
    assert {name for name, _ in rows} == specs - {"register_connector_types"}
    for name, arguments in rows:
        method = getattr(PluginManager, name)
        parameters = [p for p in inspect.signature(method).parameters if p != "self"]
        assert [a.strip() for a in arguments.split(",")] == parameters, name


def test_the_summary_section_names_every_count() -> None:
    section = _section("Read the summary")
    for field in dataclasses.fields(ConnectorCounts):
        assert f"`{field.name}`" in section, field.name
    for name in ("ok", "counts", "total", "merge", "as_dict"):
        assert hasattr(PassSummary, name)
        assert f"`{name}" in section

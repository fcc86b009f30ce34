"""``serialsync aim probe``: the store's ServiceStack metadata against what the plugin relies on
(issue 23 #1), over real HTTP on loopback; read-only."""

from __future__ import annotations

import json
import re
from pathlib import Path

from serialsync.cli.app import app
from serialsync.sandbox import Sandbox
from serialsync_aim_pos import FakeAim
from serialsync_aim_pos.probe import CONTRACT, compare, operations_of
from typer.testing import CliRunner

runner = CliRunner()


def _config(sandbox: Sandbox, tmp_path: Path) -> list[str]:
    path = tmp_path / "serialsync.toml"
    path.write_text(sandbox.config_toml(tmp_path / "state.db"))
    return ["--config", str(path)]


def _aim(sandbox: Sandbox) -> FakeAim:
    (fake,) = sandbox.pos_fakes().values()
    assert isinstance(fake, FakeAim)
    return fake


def test_a_store_publishing_everything_probes_clean(tmp_path):
    with Sandbox(types=["aim_pos"]) as sandbox:
        result = runner.invoke(app, ["aim", "probe", "--json", *_config(sandbox, tmp_path)])
        orders_before = _aim(sandbox).recorded_orders()
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)["connectors"]
    assert row["ok"] is True and row["missing"] == []
    assert row["checked"] > 30
    assert orders_before == []


def test_one_missing_operation_and_one_missing_field_are_reported_and_nothing_written(tmp_path):
    with Sandbox(types=["aim_pos"]) as sandbox:
        aim = _aim(sandbox)
        aim.unpublish("SerialDetail")
        aim.unpublish(field=("ThirdPartyOrder", "WebNumber"))
        config = _config(sandbox, tmp_path)
        result = runner.invoke(app, ["aim", "probe", "--json", *config])
        table = runner.invoke(app, ["aim", "probe", *config])
        methods = {method for method, _ in aim.requests}
    assert result.exit_code == 1, result.output
    (row,) = json.loads(result.stdout)["connectors"]
    assert row["ok"] is False
    assert [(g["kind"], g["name"], g["owner"]) for g in row["missing"]] == [
        ("operation", "SerialDetail", ""),
        ("field", "WebNumber", "ThirdPartyOrder"),
    ]
    assert row["missing"][1]["source"] == "assumed"
    assert table.exit_code == 1
    assert "SerialDetail" in table.stdout and "WebNumber" in table.stdout
    # Read-only: metadata GETs and the login's own calls, nothing posted to the store but that.
    posts = [path for method, path in aim.requests if method == "POST"]
    assert all(path.lower().endswith("/security") for path in posts), posts
    assert methods <= {"GET", "POST"}


def test_metadata_links_are_read_as_operation_names():
    page = (
        '<a href="json/metadata?op=Security">Security</a>'
        '<a href="json/metadata?op=CustomerOrders">x</a>'
    )
    assert operations_of(page) == {"Security", "CustomerOrders"}
    report = compare({"Security"}, {"Security": {"Username"}}, CONTRACT[:1])
    assert [g.name for g in report.missing] == [
        "Password",
        "DeviceId",
        "AppId",
        "Acct",
        "DeviceName",
    ]


def test_docs_list_every_name_the_probe_checks():
    text = (Path(__file__).parents[3] / "docs" / "aim.md").read_text()
    for reliance in CONTRACT:
        assert re.search(rf"`[^`]*\b{reliance.type_name}\b[^`]*`", text), reliance.type_name
        for field, _source in reliance.fields:
            assert f"`{field}`" in text, (reliance.type_name, field)

"""[plugins] allow / deny, as `check` and `plugins` report them (issue 21 #6)."""

from __future__ import annotations

import json
from pathlib import Path

from serialsync.cli import app
from typer.testing import CliRunner

runner = CliRunner()

SHOPIFY = """
[connectors.shop]
plugin = "shopify"
shop = "acme.myshopify.com"
"""


def _config(folder: Path, plugins: str) -> Path:
    config = folder / "serialsync.toml"
    config.write_text(f'[store]\npath = "{folder / "state.db"}"\n\n[plugins]\n{plugins}\n{SHOPIFY}')
    return config


def test_a_connector_of_a_plugin_left_out_by_allow_is_named_excluded(tmp_path: Path):
    config = _config(tmp_path, 'allow = ["aim_pos"]')
    result = runner.invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert "shopify is installed but not allowed by [plugins] allow" in result.stderr
    assert "unknown connector type" not in result.stderr


def test_a_denied_plugin_is_named_denied(tmp_path: Path):
    config = _config(tmp_path, 'deny = ["shopify"]')
    result = runner.invoke(app, ["check", "--config", str(config)])
    assert result.exit_code == 2
    assert "shopify is installed but denied by [plugins] deny" in result.stderr


def test_plugins_honours_allow_and_deny(tmp_path: Path):
    config = _config(tmp_path, 'allow = ["aim_pos", "shopify"]\ndeny = ["shopify"]')
    result = runner.invoke(app, ["plugins", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [p["name"] for p in data["plugins"]] == ["aim_pos"]
    excluded = {e["name"]: e["why"] for e in data["excluded"]}
    assert excluded["shopify"] == "denied by [plugins] deny"
    assert excluded["magento"] == "not allowed by [plugins] allow"
    text = runner.invoke(app, ["plugins", "--config", str(config)], env={"COLUMNS": "200"})
    assert "shopify is installed but denied by [plugins] deny" in text.stdout
    # Without a configuration, every installed plugin is listed.
    every = runner.invoke(app, ["plugins", "--json"])
    assert {"aim_pos", "shopify", "magento"} <= {
        p["name"] for p in json.loads(every.stdout)["plugins"]
    }

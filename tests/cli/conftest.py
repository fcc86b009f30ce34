"""A world for CLI tests: a config file whose connectors are file-backed memory connectors."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from serialsync import FinancialStatus
from serialsync.cli import app
from typer.testing import CliRunner, Result

from tests.engine.memory import MemoryChannel, MemoryPos

EXTRA = "memory=tests.cli.plugin:PLUGIN"

#: Secrets in the configuration: no command may ever print one of them.
SECRETS = {
    "aim": "pos-SECRET-7f3a9c1e",
    "shop_a": "shop-a-SECRET-b8d2e4f6",
    "shop_b": "shop-b-SECRET-c0ffee99",
}

SKU_A, SKU_B = "0113942719", "0113942720"
SERIALS_A = ("US210033734", "US210033735", "US210033736")
SERIALS_B = ("MX1001", "MX1002")


@dataclass
class CliWorld:
    folder: Path
    config: Path
    runner: CliRunner

    def invoke(self, *args: str, config: bool = True) -> Result:
        full = [*args, "--config", str(self.config)] if config else list(args)
        result = self.runner.invoke(app, full)
        for secret in SECRETS.values():
            assert secret not in result.stdout, f"secret printed by {args}"
            assert secret not in result.stderr, f"secret logged by {args}"
        return result

    def json(self, *args: str) -> Any:
        result = self.invoke(*args, "--json")
        assert result.exit_code in (0, 1), result.output
        return json.loads(result.stdout)

    def pos(self) -> MemoryPos:
        pos = MemoryPos(self.folder / "aim.json")
        # Each instance's clock starts over; carry on from the latest change instead, so
        # that what the test changes now is newer than the inventory cursor.
        stamps = [u["changed_at"] for u in pos.state["units"].values()]
        if stamps:
            pos.clock = max(datetime.fromisoformat(s) for s in stamps)
        return pos

    def channel(self, name: str) -> MemoryChannel:
        return MemoryChannel(self.folder / f"{name}.json")

    def sell(
        self,
        channel: str,
        skus: Sequence[str],
        status: FinancialStatus = FinancialStatus.PAID,
    ) -> str:
        return self.channel(channel).place_order([(sku, 1) for sku in skus], status=status)

    def write_config(self, **pos_options: Any) -> None:
        self.config.write_text(config_toml(self.folder, **pos_options))


def config_toml(folder: Path, *, channel_extra: str = "", **pos_options: Any) -> str:
    pos_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in pos_options.items())
    channels = "".join(
        f"""
[connectors.{name}]
plugin = "memory_channel"
state_file = "{folder / (name + ".json")}"
api_token = "{SECRETS[name]}"
{channel_extra}
"""
        for name in ("shop_a", "shop_b")
    )
    return f"""
[store]
path = "state.db"

[sync]
workers = 1

[connectors.aim]
plugin = "memory_pos"
state_file = "{folder / "aim.json"}"
api_token = "{SECRETS["aim"]}"
{pos_lines}
{channels}
"""


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An isolated working folder: no stray config, .env or extra plugins from outside."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SERIALSYNC_CONFIG", raising=False)
    monkeypatch.setenv("SERIALSYNC_EXTRA_PLUGINS", EXTRA)
    return tmp_path


@pytest.fixture
def world(cli_env: Path) -> CliWorld:
    pos = MemoryPos(cli_env / "aim.json")
    pos.add_product(SKU_A, SERIALS_A)
    pos.add_product(SKU_B, SERIALS_B, price="1499.00")
    w = CliWorld(cli_env, cli_env / "serialsync.toml", CliRunner())
    w.write_config()
    return w


@pytest.fixture
def synced(world: CliWorld) -> CliWorld:
    """The world after one clean pass: every unit live on both channels."""
    result = world.invoke("run", "--once")
    assert result.exit_code == 0, result.output
    return world


def table_rows(text: str) -> list[list[str]]:
    """The body rows of rich tables in ``text``, as lists of cell texts."""
    return [
        [cell.strip() for cell in line.split("│")[1:-1]]
        for line in text.splitlines()
        if line.startswith("│")
    ]

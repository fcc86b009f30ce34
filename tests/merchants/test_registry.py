"""The register of a deployment's merchants on a real PostgreSQL server (issue 18 #2): each
merchant's configuration sealed at rest, its settings built from it alone, its state in a
schema of its own, and every command of the CLI working on one merchant with ``--merchant``."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from serialsync.cli import app
from serialsync.errors import ConfigurationError
from serialsync.merchants import (
    SECRET_KEY_ENV,
    MerchantExistsError,
    MerchantNotFoundError,
    MerchantRegistry,
    SecretBox,
    new_key,
)
from serialsync.settings import load_settings
from typer.testing import CliRunner

from tests.cli.conftest import SECRETS
from tests.merchants.world import invoke, merchant_file


def _units(deployment: Path, merchant: str) -> list[dict[str, object]]:
    listed = invoke(deployment, "--merchant", merchant, "serials", "list", "--json")
    assert listed.exit_code == 0, listed.output
    units: list[dict[str, object]] = json.loads(listed.stdout)["units"]
    return units


def test_added_merchant_is_listed_and_its_secrets_are_sealed_in_the_database(
    deployment: Path, tmp_path: Path, postgres_database: str
) -> None:
    config = merchant_file(tmp_path / "acme", ("A1", "A2"))
    added = invoke(deployment, "merchants", "add", "acme", "--config", str(config))
    assert added.exit_code == 0, added.output
    listed = json.loads(invoke(deployment, "merchants", "list", "--json").stdout)
    assert [(m["name"], m["enabled"]) for m in listed] == [("acme", True)]
    assert listed[0]["connectors"] == {
        "aim": "memory_pos",
        "shop_a": "memory_channel",
        "shop_b": "memory_channel",
    }
    # Nowhere in the register's rows is a token in clear.
    settings = load_settings(deployment)
    with psycopg.connect(postgres_database) as db:
        rows = db.execute(
            f"SELECT * FROM {settings.merchants.db_schema}.merchants"  # noqa: S608 - test's own
        ).fetchall()
    dumped = repr(rows)
    for secret in SECRETS.values():
        assert secret not in dumped


def test_show_masks_secrets_and_a_wrong_key_cannot_open_the_configuration(
    deployment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = merchant_file(tmp_path / "acme", ("A1",))
    assert invoke(deployment, "merchants", "add", "acme", "--config", str(config)).exit_code == 0
    shown = json.loads(invoke(deployment, "merchants", "show", "acme", "--json").stdout)
    assert shown["connector_settings"]["shop_a"]["plugin"] == "memory_channel"
    assert shown["store_schema"].endswith("__acme")
    monkeypatch.setenv(SECRET_KEY_ENV, new_key())
    refused = invoke(deployment, "merchants", "show", "acme")
    assert refused.exit_code == 2
    assert "cannot be opened" in refused.stderr and SECRET_KEY_ENV in refused.stderr


def test_commands_work_on_one_merchant_and_never_see_anothers_rows(
    deployment: Path, tmp_path: Path
) -> None:
    for name, serials in (("acme", ("A1", "A2")), ("bolt", ("B1",))):
        config = merchant_file(tmp_path / name, serials)
        assert invoke(deployment, "merchants", "add", name, "--config", str(config)).exit_code == 0
    for name in ("acme", "bolt"):
        ran = invoke(deployment, "--merchant", name, "run", "--once")
        assert ran.exit_code == 0, ran.output
    acme = _units(deployment, "acme")
    bolt = _units(deployment, "bolt")
    assert sorted(str(u["serial"]) for u in acme) == ["A1", "A2"]
    assert [u["serial"] for u in bolt] == ["B1"]
    # A write through one merchant changes nothing of the other's.
    marked = invoke(
        deployment, "--merchant", "bolt", "serials", "mark", "B1", "reserved", "--reason", "held"
    )
    assert marked.exit_code == 0, marked.output
    again = _units(deployment, "acme")
    assert again == acme


def test_the_environment_does_not_leak_into_a_merchants_settings(
    deployment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = merchant_file(tmp_path / "acme", ("A1",))
    settings = load_settings(deployment)
    with MerchantRegistry.open(settings) as registry:
        registry.add("acme", config.read_text())
        monkeypatch.setenv("SERIALSYNC_CONNECTORS__SHOP_A__API_TOKEN", "from-the-worker-env")
        monkeypatch.setenv("SERIALSYNC_SYNC__WORKERS", "7")
        merchant = registry.settings("acme")
    options = merchant.connectors["shop_a"].options(reveal_secrets=True)
    assert options["api_token"] == SECRETS["shop_a"]
    assert merchant.sync.workers == 1
    assert merchant.store.url == settings.store.url
    assert merchant.store.db_schema == f"{settings.merchants.db_schema}__acme"


def test_bad_configurations_and_names_are_refused_with_their_reason(
    deployment: Path, tmp_path: Path
) -> None:
    config = merchant_file(tmp_path / "acme", ("A1",))
    with MerchantRegistry.open(load_settings(deployment)) as registry:
        with pytest.raises(ConfigurationError, match="no \\[store\\] section"):
            registry.add("acme", '[store]\npath = "x.db"\n' + config.read_text())
        with pytest.raises(ConfigurationError, match="merchant name"):
            registry.add("Acme-1", config.read_text())
        registry.add("acme", config.read_text())
        with pytest.raises(MerchantExistsError):
            registry.add("acme", config.read_text())
        with pytest.raises(MerchantNotFoundError):
            registry.settings("nobody")
    bad = tmp_path / "bad.toml"
    bad.write_text(config.read_text().replace('plugin = "memory_channel"', 'plugin = "nope"', 1))
    refused = invoke(deployment, "merchants", "add", "bad", "--config", str(bad))
    assert refused.exit_code == 2
    assert "unknown connector type 'nope'" in refused.stderr
    listed = json.loads(invoke(deployment, "merchants", "list", "--json").stdout)
    assert [m["name"] for m in listed] == ["acme"]


def test_disable_enable_and_remove_drops_the_merchants_state(
    deployment: Path, tmp_path: Path, postgres_database: str
) -> None:
    config = merchant_file(tmp_path / "acme", ("A1",))
    assert invoke(deployment, "merchants", "add", "acme", "--config", str(config)).exit_code == 0
    assert invoke(deployment, "--merchant", "acme", "run", "--once").exit_code == 0
    assert invoke(deployment, "merchants", "disable", "acme").exit_code == 0
    listed = json.loads(invoke(deployment, "merchants", "list", "--json").stdout)
    assert listed[0]["enabled"] is False
    assert invoke(deployment, "merchants", "enable", "acme").exit_code == 0
    refused = invoke(deployment, "merchants", "remove", "acme")
    assert refused.exit_code == 2 and "--yes" in refused.stderr
    assert invoke(deployment, "merchants", "remove", "acme", "--yes").exit_code == 0
    schema = f"{load_settings(deployment).merchants.db_schema}__acme"
    with psycopg.connect(postgres_database) as db:
        found = db.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    assert found is None
    assert json.loads(invoke(deployment, "merchants", "list", "--json").stdout) == []


def test_rotate_key_reseals_every_merchant_with_the_new_key(
    deployment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    old = os.environ[SECRET_KEY_ENV]
    for name in ("acme", "bolt"):
        config = merchant_file(tmp_path / name, ("X1",))
        assert invoke(deployment, "merchants", "add", name, "--config", str(config)).exit_code == 0
    new = new_key()
    monkeypatch.setenv(SECRET_KEY_ENV, f"{new},{old}")
    rotated = invoke(deployment, "merchants", "rotate-key")
    assert rotated.exit_code == 0 and "2 merchant" in rotated.stdout
    monkeypatch.setenv(SECRET_KEY_ENV, new)
    with MerchantRegistry.open(load_settings(deployment), box=SecretBox([new])) as registry:
        assert registry.settings("bolt").connectors["aim"].plugin == "memory_pos"


def test_merchants_need_a_postgresql_deployment(tmp_path: Path) -> None:
    config = tmp_path / "serialsync.toml"
    config.write_text('[store]\npath = "state.db"\n')
    result = CliRunner().invoke(app, ["--config", str(config), "merchants", "list"])
    assert result.exit_code == 2
    assert "PostgreSQL" in result.stderr


def test_new_key_prints_a_key_the_box_takes() -> None:
    result = CliRunner().invoke(app, ["merchants", "new-key"])
    assert result.exit_code == 0
    SecretBox([result.stdout.strip()])

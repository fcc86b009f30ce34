"""`check`, `plugins`, `init`, `id`, the sandbox wrappers, and how errors become exit codes."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from serialsync.cli import app
from serialsync.cli.demo import parse_faults
from serialsync.errors import ConfigurationError
from serialsync.manager import PluginManager
from serialsync.settings import load_settings
from serialsync.testing import Faults
from typer.testing import CliRunner

from tests.cli.conftest import SECRETS, CliWorld, config_toml, table_rows
from tests.cli.plugin import PLUGIN

runner = CliRunner()


# -- check ---------------------------------------------------------------------------------


def test_check_lists_every_connector_with_its_result(world: CliWorld):
    result = world.invoke("check")
    assert result.exit_code == 0, result.output
    rows = {row[0]: row for row in table_rows(result.stdout)}
    assert rows["aim"][:4] == ["aim", "memory_pos", "pos", "OK"]
    assert rows["shop_a"][1:4] == ["memory_channel", "channel", "OK"]
    assert rows["aim"][4] == "memory POS with 5 units"


def test_check_exits_1_when_a_connector_fails_and_says_why(world: CliWorld):
    world.write_config(fail_check=True)
    data = world.json("check")
    assert data["ok"] is False
    by_name = {c["connector"]: c for c in data["connectors"]}
    assert by_name["aim"]["ok"] is False
    # One style for every plugin: connector, "credentials refused", the settings to check.
    assert by_name["aim"]["message"] == (
        "aim: credentials refused; check api_token (SERIALSYNC_CONNECTORS__AIM__API_TOKEN)"
    )
    assert by_name["shop_a"]["ok"] is True
    result = world.invoke("check")
    assert result.exit_code == 1
    assert "FAILED aim: credentials refused" in result.stdout
    assert "AuthenticationError" not in result.stdout
    verbose = world.invoke("check", "-v")  # the plugin's own words, with -v only
    assert "[AuthenticationError: the POS refused the credentials]" in verbose.stdout


def test_check_with_no_connector_is_an_error(world: CliWorld):
    world.config.write_text(f'[store]\npath = "{world.folder / "state.db"}"\n')
    result = world.invoke("check")
    assert result.exit_code == 2
    assert "no connector is configured" in result.stderr


def test_check_works_while_a_runner_holds_the_store(synced: CliWorld):
    from serialsync.store import SQLiteStore

    with SQLiteStore.open(synced.folder / "state.db"):
        assert synced.invoke("check").exit_code == 0


# -- exit code 2: configuration and store problems -------------------------------------------


def test_a_bad_configuration_is_one_line_and_exit_2(world: CliWorld):
    world.config.write_text(config_toml(world.folder) + "\n[sync]\nnonsense = 1\n")
    result = world.invoke("run", "--once")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.stderr.startswith("serialsync: ")


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        ('[connectors.x]\nplugin = "no_such_plugin"\n', "unknown connector type 'no_such_plugin'"),
        ('[connectors.shop_a_bad]\nplugin = "memory_channel"\nwhat = 1\n', "what"),
    ],
)
def test_a_bad_connector_section_names_its_key(world: CliWorld, extra: str, says: str):
    world.config.write_text(config_toml(world.folder) + extra)
    result = world.invoke("check")
    assert result.exit_code == 2
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_missing_configuration_file_is_exit_2(cli_env: Path):
    result = runner.invoke(app, ["status", "--config", str(cli_env / "nope.toml")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr and "serialsync init" in result.stderr


def test_no_configuration_at_all_is_exit_2(cli_env: Path):
    result = runner.invoke(app, ["run", "--once"])
    assert result.exit_code == 2
    assert "no configuration file" in result.stderr and "serialsync init" in result.stderr
    assert not (cli_env / "serialsync.db").exists()


def test_config_comes_from_the_root_option_or_the_environment(
    world: CliWorld, monkeypatch: pytest.MonkeyPatch
):
    assert runner.invoke(app, ["--config", str(world.config), "check"]).exit_code == 0
    monkeypatch.setenv("SERIALSYNC_CONFIG", str(world.config))
    assert runner.invoke(app, ["check"]).exit_code == 0
    monkeypatch.delenv("SERIALSYNC_CONFIG")
    assert runner.invoke(app, ["check"]).exit_code == 0  # ./serialsync.toml


def test_a_store_from_a_newer_serialsync_is_exit_3(synced: CliWorld):
    db = sqlite3.connect(synced.folder / "state.db")
    db.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    db.commit()
    db.close()
    result = synced.invoke("status")
    assert result.exit_code == 3  # the store cannot be used
    assert "upgrade serialsync" in result.stderr
    assert "Traceback" not in result.output


# -- plugins ---------------------------------------------------------------------------------


def test_plugins_lists_types_hooks_and_versions_without_a_config(cli_env: Path):
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_name = {p["name"]: p for p in data["plugins"]}
    memory = by_name["memory"]
    assert memory["connector_types"] == [
        {"name": "memory_channel", "role": "channel"},
        {"name": "memory_pos", "role": "pos"},
    ]
    assert {"fetch_inventory", "report_sale", "publish_variants", "fetch_orders"} <= set(
        memory["hooks"]
    )
    aim = by_name["aim_pos"]  # installed through its entry point
    assert aim["version"] and aim["connector_types"] == [{"name": "aim_pos", "role": "pos"}]
    assert "report_sale" in aim["hooks"]
    human = runner.invoke(app, ["plugins"])
    assert "memory_pos (pos)" in human.stdout


def test_plugins_shows_a_broken_plugin_with_its_error(
    cli_env: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv(
        "SERIALSYNC_EXTRA_PLUGINS", "memory=tests.cli.plugin:PLUGIN,bad=tests.cli.test_setup:BROKEN"
    )
    result = runner.invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0, result.output
    [broken] = [b for b in json.loads(result.stdout)["broken"] if b["name"] == "bad"]
    assert "declared by both plugin" in broken["error"]
    human = runner.invoke(app, ["plugins"])
    assert "broken plugins" in human.stdout


class _Clash:
    """A plugin declaring a type name another plugin already took."""

    from serialsync import hookimpl as _hookimpl

    @_hookimpl
    def register_connector_types(self, registrar):
        from serialsync import ConnectorSettings, ConnectorType, Role

        registrar.add(ConnectorType("memory_pos", Role.POS, ConnectorSettings, lambda s, c: s))


BROKEN = _Clash()


def test_a_bad_extra_plugin_spec_is_exit_2(cli_env: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SERIALSYNC_EXTRA_PLUGINS", "tests.cli.nowhere:PLUGIN")
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 2
    assert "SERIALSYNC_EXTRA_PLUGINS" in result.stderr


# -- init ------------------------------------------------------------------------------------


def test_init_writes_a_starter_that_loads_as_written(cli_env: Path):
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.output
    written = cli_env / "serialsync.toml"
    text = written.read_text()
    settings = load_settings(written)
    assert settings.connectors == {}
    assert settings.store.path == cli_env / "serialsync.db"
    sections = ("[store]", "[sync]", "[plugins]", "[log]", "[panel]", "# [connectors.memory_pos]")
    for section in sections:
        assert section in text
    assert "SERIALSYNC_CONNECTORS__MEMORY_POS__API_TOKEN" in text
    assert "# state_file" not in text or "## state_file" in text


def test_an_uncommented_example_section_is_a_valid_connector(cli_env: Path):
    assert runner.invoke(app, ["init", "--path", "conf/s.toml"]).exit_code == 0
    text = (cli_env / "conf" / "s.toml").read_text()
    section = text[text.index("# [connectors.memory_channel]") :].split("\n\n")[0]
    uncommented = "\n".join(line.removeprefix("# ") for line in section.splitlines())
    path = cli_env / "one.toml"
    path.write_text(uncommented + '\npublishing_marker = "m"\n')
    settings = load_settings(path)
    manager = PluginManager(load_entrypoints=False, plugins={"memory": PLUGIN})
    options = settings.connectors["memory_channel"].options(reveal_secrets=True)
    manager.add_connector("memory_channel", "memory_channel", options)


def test_init_refuses_to_overwrite_without_force(cli_env: Path):
    (cli_env / "serialsync.toml").write_text("# mine\n")
    refused = runner.invoke(app, ["init"])
    assert refused.exit_code == 2
    assert "--force" in refused.stderr
    assert (cli_env / "serialsync.toml").read_text() == "# mine\n"
    assert runner.invoke(app, ["init", "--force"]).exit_code == 0
    assert "[sync]" in (cli_env / "serialsync.toml").read_text()


# -- id --------------------------------------------------------------------------------------


def test_id_compose_and_parse_are_inverse_at_the_shell():
    composed = runner.invoke(app, ["id", "compose", "0113942719", "US210033734"])
    assert composed.exit_code == 0
    assert composed.stdout.strip() == "0113942719|||US210033734"
    parsed = runner.invoke(app, ["id", "parse", "0113942719|||US210033734", "--json"])
    assert json.loads(parsed.stdout) == {
        "sku": "0113942719",
        "serial": "US210033734",
        "serialized": True,
    }
    plain = runner.invoke(app, ["id", "parse", "STRAP-01", "--json"])
    assert json.loads(plain.stdout)["serial"] is None
    assert "plain SKU" in runner.invoke(app, ["id", "parse", "STRAP-01"]).stdout
    as_json = runner.invoke(app, ["id", "compose", "A", "B", "--json"])
    assert json.loads(as_json.stdout)["integration_id"] == "A|||B"


@pytest.mark.parametrize(
    ("args", "rule"),
    [
        (["compose", "SKU", "SER|IAL"], "serial-contains-pipe"),
        (["compose", "SKU|", "X1"], "sku-ends-with-pipe"),
        (["compose", " SKU", "X1"], "sku-padded"),
        (["parse", "SKU|||"], "serial-empty"),
        (["parse", "A|||B|||C"], "sku-contains-separator"),
    ],
)
def test_id_refuses_bad_input_naming_the_rule(args: list[str], rule: str):
    result = runner.invoke(app, ["id", *args])
    assert result.exit_code == 2
    assert f"(rule: {rule})" in result.stderr
    assert result.stdout == ""


# -- demo and sandbox ------------------------------------------------------------------------


def test_sandbox_commands_have_help():
    for args in (["demo", "--help"], ["sandbox", "serve", "--help"], ["sandbox", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, (args, result.output)
    assert "--faults" in runner.invoke(app, ["sandbox", "serve", "--help"]).stdout


def test_faults_spec_is_parsed_into_faults():
    faults = parse_faults("429=0.1,5xx=0.05,timeout=0.02,drop=0.02,malformed=0.01,latency=0.05")
    assert faults == Faults(
        rate_429=0.1,
        rate_5xx=0.05,
        rate_timeout=0.02,
        rate_drop=0.02,
        rate_malformed=0.01,
        latency=0.05,
    )


@pytest.mark.parametrize(
    ("spec", "says"),
    [("429=2", "rate_429"), ("teapot=0.1", "NAME one of"), ("5xx=lots", "not a number")],
)
def test_a_bad_faults_spec_is_refused(spec: str, says: str):
    with pytest.raises(ConfigurationError, match=says):
        parse_faults(spec)
    result = runner.invoke(app, ["sandbox", "serve", "--faults", spec])
    assert result.exit_code == 2
    assert says in result.stderr


# -- everywhere ------------------------------------------------------------------------------

COMMANDS = [
    ["run"], ["check"], ["status"], ["plugins"], ["init"], ["demo"],
    ["serials"], ["serials", "list"], ["serials", "find"], ["serials", "show"],
    ["sales"], ["sales", "list"], ["sales", "retry"],
    ["quarantine"], ["quarantine", "list"], ["quarantine", "retry"], ["quarantine", "drop"],
    ["id"], ["id", "compose"], ["id", "parse"], ["sandbox"], ["sandbox", "serve"],
]  # fmt: skip


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str]):
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"Usage: serialsync {' '.join(command)}".rstrip())


def test_no_secret_reaches_any_output(traded_world_outputs: list[str]):
    joined = "\n".join(traded_world_outputs)
    assert "shop_a" in joined  # the outputs are real
    for secret in SECRETS.values():
        assert secret not in joined


@pytest.fixture
def traded_world_outputs(synced: CliWorld) -> list[str]:
    """Every data command, human and JSON, after a sale, a conflict and a refusal."""
    synced.sell("shop_a", ["0113942719|||US210033734"])
    synced.sell("shop_b", ["0113942719|||US210033734"])
    synced.write_config(fail_check=True)
    outputs = []
    # (command, exit code of the human run, exit code of the --json run after it)
    for args, codes in (
        (["run", "--once"], (1, 0)), (["check"], (1, 1)), (["status"], (0, 0)),
        (["serials", "list"], (0, 0)), (["serials", "find", "US2"], (0, 0)),
        (["serials", "show", "US210033734"], (0, 0)), (["sales", "list"], (0, 0)),
        (["quarantine", "list"], (0, 0)),
    ):  # fmt: skip
        for extra, code in zip(([], ["--json"]), codes, strict=True):
            result = synced.invoke(*args, *extra)  # asserts each output free of secrets too
            assert result.exit_code == code, (args, result.output)
            outputs += [result.stdout, result.stderr]
    return outputs


def test_init_names_every_setting_of_every_section_with_its_default(cli_env: Path):
    import re
    from datetime import timedelta

    from pydantic import BaseModel
    from serialsync.settings import Settings

    assert runner.invoke(app, ["init"]).exit_code == 0
    text = (cli_env / "serialsync.toml").read_text()
    for section, field in Settings.model_fields.items():
        model = field.annotation
        if section == "connectors" or not (
            isinstance(model, type) and issubclass(model, BaseModel)
        ):
            continue
        assert f"[{section}]" in text, section
        body = text.split(f"[{section}]\n", 1)[1].split("\n[", 1)[0]
        for name, key_field in model.model_fields.items():
            key = key_field.alias or name
            assert re.search(rf"^#* ?{key}( =|:)", body, re.M), f"[{section}] {key} is not named"
            default = key_field.get_default(call_default_factory=True)
            if default in (None, [], (), "") or hasattr(default, "get_secret_value"):
                continue
            if isinstance(default, timedelta):
                shown = str(int(default.total_seconds()))
            elif isinstance(default, bool):
                shown = str(default).lower()
            else:
                shown = str(default)
            line = next(x for x in body.splitlines() if re.match(rf"^#* ?{key}( =|:)", x))
            assert shown in line, f"[{section}] {key}: default {default!r} not shown"

"""The demo's leftovers say what they are (issue 21 #7)."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from serialsync import ConnectorSettings, ConnectorType, Role, hookimpl
from serialsync.cli import app
from serialsync.manager import PluginManager
from serialsync.sandbox.demo import demo_types
from serialsync.sandbox.sandbox import SANDBOX_MARK
from typer.testing import CliRunner

from tests.cli.unreachable import dead_config, subprocess_env

runner = CliRunner()


def test_the_sandboxs_configuration_is_marked_and_says_how_to_serve_it_again(tmp_path: Path):
    config = dead_config(tmp_path)
    assert config.read_text().splitlines()[0] == SANDBOX_MARK
    hint = (
        "this configuration is the sandbox's: "
        f"start `serialsync sandbox serve --config {config}` first"
    )
    check = runner.invoke(app, ["check", "--config", str(config)], env={"COLUMNS": "300"})
    assert check.exit_code == 1
    assert hint in check.stdout
    run = subprocess.run(
        [sys.executable, "-m", "serialsync.cli", "run", "--once", "--config", str(config)],
        cwd=tmp_path,
        env={
            **subprocess_env(),
            "SERIALSYNC_CONNECTORS__AIM_POS__RETRY__MAX_ATTEMPTS": "1",
            "SERIALSYNC_CONNECTORS__SHOPIFY__RETRY__MAX_ATTEMPTS": "1",
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 1, run.stderr
    assert hint in run.stdout


def test_a_configuration_not_the_sandboxs_gets_no_such_hint(tmp_path: Path):
    config = dead_config(tmp_path)
    config.write_text("\n".join(config.read_text().splitlines()[1:]))  # the mark removed
    check = runner.invoke(app, ["check", "--config", str(config)], env={"COLUMNS": "300"})
    assert check.exit_code == 1
    assert "sandbox" not in check.stdout


def test_sandbox_serve_config_serves_the_fakes_again_on_its_ports(tmp_path: Path):
    config = dead_config(tmp_path)
    serve = subprocess.Popen(
        [sys.executable, "-m", "serialsync.cli", "sandbox", "serve", "--config", str(config)],
        cwd=tmp_path,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert serve.stdout is not None
        for line in serve.stdout:
            if line.startswith("serving"):
                break
        else:
            raise AssertionError(serve.stderr.read() if serve.stderr else "no output")
        check = runner.invoke(app, ["check", "--config", str(config)])
        assert check.exit_code == 0, check.output
    finally:
        serve.send_signal(signal.SIGTERM)
        try:
            serve.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            serve.kill()


class _OtherPos:
    @hookimpl
    def register_connector_types(self, registrar):
        registrar.add(
            ConnectorType(
                name="other_pos",
                role=Role.POS,
                settings_model=ConnectorSettings,
                factory=lambda _settings, _context: object(),
                fake=object,
            )
        )


def test_the_demo_takes_the_aim_fake_as_its_pos_whatever_else_is_installed():
    manager = PluginManager(plugins={"other_pos": _OtherPos()})
    assert "other_pos" in manager.connector_types
    types = demo_types(manager)
    assert types[0] == "aim_pos"
    assert "other_pos" not in types
    assert {"shopify", "bigcommerce", "woocommerce", "magento"} <= set(types)

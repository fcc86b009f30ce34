"""``serialsync new-plugin``: the scaffold at the shell."""

from __future__ import annotations

from serialsync.cli.app import app
from typer.testing import CliRunner


def test_new_plugin_writes_a_package_and_says_what_next(tmp_path) -> None:
    result = CliRunner().invoke(app, ["new-plugin", "reverb", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    package = tmp_path / "serialsync-reverb"
    assert (package / "src" / "serialsync_reverb" / "plugin.py").exists()
    assert (package / "tests" / "test_conformance.py").exists()
    assert 'reverb = "serialsync_reverb.plugin"' in (package / "pyproject.toml").read_text()
    assert "pytest" in result.output


def test_new_plugin_pos_role(tmp_path) -> None:
    result = CliRunner().invoke(
        app, ["new-plugin", "lightspeed", "--role", "pos", "--dir", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert (
        "PosConformance"
        in (tmp_path / "serialsync-lightspeed" / "tests" / "test_conformance.py").read_text()
    )


def test_new_plugin_refuses_bad_input_with_exit_2(tmp_path) -> None:
    bad_role = CliRunner().invoke(
        app, ["new-plugin", "x1", "--role", "both", "--dir", str(tmp_path)]
    )
    assert bad_role.exit_code == 2
    assert "--role" in bad_role.output
    CliRunner().invoke(app, ["new-plugin", "reverb", "--dir", str(tmp_path)])
    again = CliRunner().invoke(app, ["new-plugin", "reverb", "--dir", str(tmp_path)])
    assert again.exit_code == 2
    bad_name = CliRunner().invoke(app, ["new-plugin", "Not A Name", "--dir", str(tmp_path)])
    assert bad_name.exit_code == 2

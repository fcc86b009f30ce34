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


def test_new_plugin_refuses_a_name_an_installed_plugin_holds(tmp_path) -> None:
    taken = CliRunner().invoke(app, ["new-plugin", "shopify", "--dir", str(tmp_path)])
    assert taken.exit_code == 2
    assert "the name 'shopify' is taken: an installed plugin registers it" in taken.stderr
    assert not (tmp_path / "serialsync-shopify").exists()


def test_both_scaffold_commands_take_dir_and_print_one_next_line(tmp_path, capsys) -> None:
    import sys

    from serialsync.scaffold.__main__ import main

    shell = CliRunner().invoke(app, ["new-plugin", "reverb", "--dir", str(tmp_path / "a")])
    assert main(["reverb", "--dir", str(tmp_path / "b")]) == 0
    module = capsys.readouterr().out
    lines = [
        next(line for line in text.splitlines() if line.startswith("next:"))
        for text in (shell.stdout, module)
    ]
    # The same words, with the Python that runs serialsync (not a new venv that lacks it).
    assert [line.replace(str(tmp_path / "b"), str(tmp_path / "a")) for line in lines][1] == lines[0]
    assert f"{sys.executable} -m pip install -e '.[test]'" in lines[0]
    assert "venv" not in lines[0].replace(sys.executable, "")

"""The command line as a new operator meets it (issue 21 #4)."""

from __future__ import annotations

import io

from rich.console import Console
from serialsync import __version__
from serialsync.cli import app
from serialsync.cli.render import table
from typer.testing import CliRunner

from tests.cli.conftest import SKU_A, CliWorld

runner = CliRunner()


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"serialsync {__version__}"


def test_top_level_help_shows_each_commands_summary_whole():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0
    commands = result.stdout.split("Commands:")[1]
    assert "..." not in commands
    text = " ".join(commands.split())
    group = app.registered_commands
    assert group  # the commands registered on the root
    for command in group:
        summary = (command.callback.__doc__ or "").strip().split("\n\n")[0]
        first = " ".join(summary.split())
        assert first in text, first


def test_log_level_and_verbose_on_the_root_reach_any_command(world: CliWorld):
    default = world.invoke("run", "--once")
    assert "pass.started" in default.stderr  # INFO by default
    quiet = runner.invoke(
        app, ["--log-level", "warning", "run", "--once", "--config", str(world.config)]
    )
    assert quiet.exit_code == 0, quiet.output
    assert "pass.started" not in quiet.stderr
    loud = runner.invoke(app, ["-v", "status", "--config", str(world.config)])
    assert loud.exit_code == 0, loud.output
    refused = runner.invoke(app, ["--log-level", "chatty", "status"])
    assert refused.exit_code == 2


def test_a_narrow_table_never_breaks_an_identifier():
    out = io.StringIO()
    grid = table(None, "key", "reason")
    key = f"shop_b:{SKU_A}|||US210033734-LONG-SERIAL"
    grid.add_row(key, "a long reason that folds over several lines to make room " * 2)
    Console(file=out, width=60).print(grid)
    assert key in out.getvalue()  # whole, on one line
    assert len(out.getvalue().splitlines()) > 6  # the reason folded to make room

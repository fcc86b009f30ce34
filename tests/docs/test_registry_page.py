"""docs/registry.md names only commands and options that exist, states the lifecycle table the
CLI enforces, and is linked from the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from serialsync.cli import app
from serialsync.lifecycle import ALLOWED_MOVES
from serialsync.operations.marking import LABELS, actions_from
from typer.testing import CliRunner

PAGE = Path(__file__).resolve().parents[2] / "docs" / "registry.md"
TEXT = PAGE.read_text(encoding="utf-8")
CALLS = re.findall(r"^serialsync ((?:[a-z][a-z-]* ?)+)(.*)$", TEXT, flags=re.M)


def test_the_page_shows_commands() -> None:
    assert len(CALLS) >= 8


@pytest.mark.parametrize(("words", "rest"), CALLS, ids=[c[0] for c in CALLS])
def test_every_command_and_option_on_the_page_exists(words: str, rest: str) -> None:
    command = words.split()
    options = re.findall(r"(--[a-z-]+)", rest.split("#")[0])
    helps = [CliRunner().invoke(app, [*command[:n], "--help"]) for n in (3, 2)]
    # `refs group create NAME` is three words of command, `serials mark SERIAL` two.
    assert any(
        h.exit_code == 0 and h.output.startswith("Usage") and all(o in h.output for o in options)
        for h in helps
    ), (words, options)


def test_the_lifecycle_table_on_the_page_is_the_one_enforced() -> None:
    for status in ALLOWED_MOVES:
        labels = ", ".join(sorted(LABELS[to] for to in ALLOWED_MOVES[status]))
        row = next(
            line
            for line in TEXT.splitlines()
            if line.startswith(f"| {status.value.replace('_', ' ')} |")
        )
        shown = sorted(cell.strip() for cell in row.split("|")[2].split(","))
        assert ", ".join(shown) == labels, row
        assert len(actions_from(status)) == len(ALLOWED_MOVES[status])


def test_the_readme_links_the_page() -> None:
    readme = (PAGE.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "docs/registry.md" in readme

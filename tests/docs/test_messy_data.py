"""docs/messy-data.md names only commands that exist, and every quarantine kind the engine uses.

An operator follows that page under pressure: a command it names that the CLI does not know, or
a kind of record it leaves out, sends them the wrong way.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from serialsync.cli import app
from serialsync.engine.inventory import POS_ITEM
from serialsync.operations.discrepancies import DISCREPANCY
from typer.testing import CliRunner

PAGE = Path(__file__).resolve().parents[2] / "docs" / "messy-data.md"
TEXT = PAGE.read_text(encoding="utf-8")
# `serialsync quarantine drop ID`: the words before the first upper-case placeholder.
COMMANDS = sorted(
    {
        tuple(w for w in found.split() if not w.startswith("-"))
        for found in re.findall(r"`serialsync ([a-z][a-z -]*)", TEXT)
    }
)


def test_the_page_names_commands() -> None:
    assert ("serials", "restock") in {c[:2] for c in COMMANDS}
    assert ("quarantine", "list") in {c[:2] for c in COMMANDS}


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
def test_every_command_on_the_page_exists(words: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("kind", ["unit", POS_ITEM, DISCREPANCY])
def test_every_kind_of_pos_record_is_on_the_page(kind: str) -> None:
    assert f"kind `{kind}`" in TEXT


@pytest.mark.parametrize("kind", ["order", "order_line", "conflict"])
def test_every_kind_of_order_record_is_on_the_page(kind: str) -> None:
    assert f"kind `{kind}`" in TEXT

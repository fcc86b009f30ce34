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


def table_rows() -> list[list[str]]:
    """Every body row of every table on the page, as cells."""
    rows: list[list[str]] = []
    for line in TEXT.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] != "case":
                rows.append(cells)
    return rows


def test_every_case_says_what_it_does_where_it_shows_and_what_settles_it() -> None:
    rows = table_rows()
    assert len(rows) >= 18
    for row in rows:
        assert len(row) == 4 and all(row), row


@pytest.mark.parametrize(
    ("words", "option"),
    sorted(
        {
            (tuple(found[0].split()), option)
            for found in re.findall(r"`serialsync ([a-z][a-z -]*?)( --[a-z-]+)", TEXT)
            for option in [found[1].strip()]
        }
    ),
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else v,
)
def test_every_option_on_the_page_exists(words: tuple[str, ...], option: str) -> None:
    result = CliRunner().invoke(app, [*words, "--help"])
    assert result.exit_code == 0 and option in result.output, result.output


def test_the_store_and_secrets_sections_are_there() -> None:
    assert "## The state store" in TEXT and "## Secrets and customers' personal data" in TEXT
    assert "`serialsync run --new-store`" in TEXT


def test_the_readme_links_the_page() -> None:
    readme = (PAGE.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "docs/messy-data.md" in readme

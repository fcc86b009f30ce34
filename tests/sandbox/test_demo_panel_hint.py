"""The demo's last words when the panel extra is missing name the extra whole: rich read
"[panel]" in "serialsync[panel]" as a markup tag and printed "pip install 'serialsync'"."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from rich.console import Console
from serialsync.sandbox import demo


def test_the_hint_without_the_panel_extra_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "serialsync.panel.users", None)  # import fails, as without it
    out = io.StringIO()
    console = Console(file=out, width=300, color_system=None)
    demo._panel_login(console, tmp_path / "state.db", tmp_path / "serialsync[x].toml")
    text = out.getvalue()
    assert "pip install 'serialsync[panel]'" in text
    assert "--config " + str(tmp_path / "serialsync[x].toml") in text

"""A configuration whose connectors point at hosts that are gone (the sandbox's, stopped)."""

from __future__ import annotations

import os
from pathlib import Path

from serialsync.sandbox.sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]


def dead_config(folder: Path, types: tuple[str, ...] = ("aim_pos", "shopify")) -> Path:
    """A config file for the real plugins of ``types`` whose fakes stopped serving.

    Every connector's host then refuses connections: what an operator sees with a wrong
    ``base_url`` or a host that is down.
    """
    with Sandbox(types=types) as sandbox:
        text = sandbox.config_toml(folder / "state.db")
    config = folder / "serialsync.toml"
    config.write_text(text)
    return config


def subprocess_env() -> dict[str, str]:
    """The environment for ``python -m serialsync.cli`` run from this checkout."""
    return {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}

"""Fixtures of the panel tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.panel.world import World, build_world


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """The panel over a small world of its own (see :mod:`tests.panel.world`), for a test that
    acts on it."""
    yield from build_world(tmp_path)


@pytest.fixture(scope="module")
def shared_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One world for the tests of a module that only read it."""
    yield from build_world(tmp_path_factory.mktemp("panel"))

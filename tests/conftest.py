"""Fixtures shared by the whole test tree."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog
from hypothesis import settings

from tests.readonly import ReadOnly, read_only_paths
from tests.stores import postgres_database, store, store_spec

__all__ = ["postgres_database", "store", "store_spec"]  # fixtures for every test

# Hypothesis's per-example deadline is a wall-clock assertion: on a loaded two-core machine a
# correct property test failed it (the codec round trip). Speed is measured in bench/, never
# asserted in tests, so the deadline is off for the whole tree.
settings.register_profile("serialsync", deadline=None)
settings.load_profile("serialsync")


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    """Undo any structlog configuration a test made (the CLI configures it globally).

    Without this, a CLI test's level filter (info) outlives it, and a later test that
    captures debug events with ``structlog.testing.capture_logs()`` sees none.
    """
    was_configured = structlog.is_configured()
    old = structlog.get_config()
    yield
    if was_configured:
        structlog.configure(**old)
    else:
        structlog.reset_defaults()


@pytest.fixture
def read_only() -> Iterator[ReadOnly]:
    """``read_only(path)`` makes a file or folder read-only for this test (root included)."""
    with read_only_paths() as make:
        yield make

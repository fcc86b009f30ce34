"""serialsync's pytest plugin (entry point ``pytest11``), loaded wherever serialsync is installed.

It makes the conformance suite available to plugin authors without any configuration: subclass
:class:`serialsync.testing.conformance.ChannelConformance` or
:class:`~serialsync.testing.conformance.PosConformance` in a test module. It also offers the
``serialsync_harness`` fixture factory for tests of one's own beyond the suite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from serialsync.testing.conformance import Harness, build_harness
from serialsync.testing.fake import FakePlatform


def pytest_report_header(config: pytest.Config) -> str:
    """Name serialsync's version in the test report header."""
    from serialsync import __version__

    return f"serialsync {__version__} (conformance suite available)"


@pytest.fixture
def serialsync_harness() -> Iterator[Callable[..., Harness]]:
    """A factory: ``serialsync_harness(plugin, "acme", fake, **settings)`` builds a connector of
    the plugin's type talking to ``fake`` through the real plugin manager and HTTP client."""
    built: list[Harness] = []

    def factory(
        plugin: object, connector_type: str, fake: FakePlatform, **settings: Any
    ) -> Harness:
        harness = build_harness(plugin, connector_type, fake, settings)
        built.append(harness)
        return harness

    yield factory
    for harness in built:
        harness.manager.close()

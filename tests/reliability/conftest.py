"""Every reliability test names its seed and scale first, so any failure can be replayed."""

from __future__ import annotations

import pytest

from tests.reliability import harness as h


@pytest.fixture(autouse=True)
def _name_the_seed(request: pytest.FixtureRequest) -> None:
    # Shown with the captured output of a failing test (and always with -s or -rP).
    print(
        f"reliability: {request.node.name} seed={h.seed()} scale={h.scale()} "
        f"(replay: SERIALSYNC_RELIABILITY_SEED={h.seed()} "
        f"SERIALSYNC_RELIABILITY_SCALE={h.scale()})"
    )
